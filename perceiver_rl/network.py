"""The encoder half of every policy: observation tokens, then a core (``"perceiver"`` or ``"transformer"``).

:func:`make_core` is the one switch between the cores; everything around it stays the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch
from gymnasium import spaces
from torch import nn

from perceiver_rl.core import Encoding, EntityCore
from perceiver_rl.observations import parse_observation_space
from perceiver_rl.perceiver import PerceiverIO
from perceiver_rl.tokens import ObservationTokenizer, Tokens
from perceiver_rl.transformer import TransformerCore

CORES = ("perceiver", "transformer")


@dataclass(frozen=True)
class CoreConfig:
    """Sizes of a policy's core; the defaults are sized for PPO on a CPU, by learning speed and throughput together.

    PPO runs the network on every minibatch, so the defaults are much smaller than the cores' paper-sized defaults
    (128 wide, 32 latents, 3 layers); docs/DESIGN.md ("Why the policy defaults are small") gives the evidence for each.

    - ``dim``: token, latent and query width; cost grows with its square. 64, the game presets' width: at 32 the
      Perceiver missed the skills suite's XOR on 2 seeds of 5, and both cores needed up to 2.5x the steps elsewhere.
    - ``num_latents``: the summary slots the entities are read into.
    - ``num_layers``: latent self-attention blocks (entity self-attention blocks for the Transformer).
    - ``num_heads``: heads of the self-attention (latents, or entities for the Transformer).
    - ``mlp_ratio``: the MLP widening, AlphaStar's entity encoder's.
    - ``num_repeats``: how many times the latent blocks run, their weights shared (Perceiver IO's repeats).
    - ``cross_heads``: heads of the cross-attentions, Perceiver IO's default of one: the decoder's (both cores) and
      the Perceiver's encoder, where each latent takes one distribution over the entities.
    - ``entity_mlp``: a residual MLP on each entity before the Perceiver's encoder reads it
      (:class:`~perceiver_rl.PerceiverIO`), so that its latents can attend by a nonlinear function of an entity.
    - ``entity_mlp_ratio``: that MLP's widening; it runs on every entity, so at many entities it sets the cost.
    - ``reread``: the Perceiver's latents cross-attend to the entities a second time, after the latent layers.

    Games that need more capacity raise them in a preset. ``num_latents``, ``num_repeats``, the entity MLP and
    ``reread`` shape the Perceiver only; the Transformer keeps one token per entity and ignores them, so that switching
    ``core`` changes nothing else.
    """

    core: str = "perceiver"
    dim: int = 64
    num_layers: int = 1
    num_heads: int = 4
    mlp_ratio: float = 2.0
    num_latents: int = 8
    num_repeats: int = 1
    cross_heads: int = 1
    entity_mlp: bool = False
    entity_mlp_ratio: float = 2.0
    reread: bool = False

    def __post_init__(self) -> None:
        if self.core not in CORES:
            raise ValueError(f"core: expected one of {list(CORES)}, got {self.core!r}")

    def to_dict(self) -> dict:
        """The config as keyword arguments (for ``policy_kwargs`` and saved configs)."""
        return asdict(self)


def make_core(config: CoreConfig, input_dim: int, query_dim: int, output_dim: int) -> EntityCore:
    """Build the core that ``config.core`` names, at the sizes ``config`` gives."""
    shared = dict(num_layers=config.num_layers, num_heads=config.num_heads, cross_heads=config.cross_heads,
                  mlp_ratio=config.mlp_ratio)
    if config.core == "perceiver":
        return PerceiverIO(input_dim, query_dim, output_dim, num_latents=config.num_latents, latent_dim=config.dim,
                           num_repeats=config.num_repeats, entity_mlp=config.entity_mlp,
                           entity_mlp_ratio=config.entity_mlp_ratio, reread=config.reread, **shared)
    return TransformerCore(input_dim, query_dim, output_dim, model_dim=config.dim, **shared)


class ObservationEncoder(nn.Module):
    """Tokens of any supported observation, and the core's encoding of them, which decoder queries then read.

    ``self.spec`` is the :class:`~perceiver_rl.observations.ObservationSpec` of ``observation_space``; ``byte_scale``
    is the :class:`~perceiver_rl.image.ImageTokenizer` argument (255 when SB3 has already scaled uint8 images).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        config: CoreConfig,
        output_dim: int | None = None,
        byte_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.spec, self.config = parse_observation_space(observation_space), config
        self.tokenizer = ObservationTokenizer(self.spec, config.dim, byte_scale)
        self.core = make_core(config, config.dim, config.dim, output_dim or config.dim)

    def forward(self, obs: Mapping[str, torch.Tensor] | torch.Tensor) -> tuple[Tokens, Encoding]:
        """obs (preprocessed by SB3) -> tokens (B, N, dim) and the encoding that queries attend to."""
        tokens = self.tokenizer(obs)
        return tokens, self.core.encode(tokens.tokens, tokens.mask)
