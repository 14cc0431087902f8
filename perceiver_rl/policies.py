"""stable-baselines3 policies whose action logits and value are decoded by queries from an entity core.

Data flow of one step::

    obs ──ObservationTokenizer──> tokens (B, N, D), mask (B, N)  (entities, vectors, categories, image patches)
             ──core.encode──────> encoding (Perceiver: latents (B, L, D); Transformer: entities (B, N, D) + mask)
    queries  = [value query] + one query per decision (learned per dimension, or per actor from its own token)
             ──core.decode──────> (B, Q, D) ──heads──> flat logits (B, sum(choices)), value (B, 1)
                                  (verbs: a readout vector each; pointers: a projection dotted with target keys)
    logits   ──SB3 (Maskable)Categorical / BatchedMultiCategorical──> actions, log-probs, entropy
    (Box actions: one query per dimension -> means (B, dims); with the learned log_std -> SB3 DiagGaussian)

``core="perceiver" | "transformer"`` is the only switch between the two cores; tokens, queries and heads are
identical. The SB3 MLP extractor, action net and value net are replaced by the modules above, and the optimizer is
rebuilt over them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.distributions import DiagGaussianDistribution, Distribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn

from perceiver_rl.actions import action_layout
from perceiver_rl.distributions import BatchedMultiCategorical
from perceiver_rl.image import BYTE_VALUES
from perceiver_rl.network import CoreConfig, ObservationEncoder
from perceiver_rl.queries import ActionQueries, GaussianQueries
from perceiver_rl.tokens import Tokens


class NoFeatures(BaseFeaturesExtractor):
    """The features extractor SB3 builds before ``_build``: these policies read observations with their own encoder,
    so it holds no parameters and is never called (a ``Graph`` or ``Sequence`` space then gets the encoder's advice,
    not SB3's flattening error)."""

    def __init__(self, observation_space: spaces.Space) -> None:
        super().__init__(observation_space, features_dim=1)

    def forward(self, observations: PyTorchObs) -> torch.Tensor:
        """Never called: the policy's encoder reads the observations."""
        raise RuntimeError("NoFeatures is a placeholder: the policy's ObservationEncoder reads observations")


#: SB3 policy arguments of the modules these policies do not build (the MLP extractor, the features extractor, the
#: action and value nets, gSDE), at SB3's defaults: any other value is refused.
UNBUILT_SB3_ARGUMENTS: dict[str, Any] = {
    "net_arch": None, "activation_fn": nn.Tanh, "ortho_init": True, "features_extractor_class": FlattenExtractor,
    "features_extractor_kwargs": None, "share_features_extractor": True, "use_sde": False, "full_std": True,
    "use_expln": False, "squash_output": False,
}


class _EntityActorCritic:
    """What both policies share: building the entity network, and every SB3 entry point routed through it.

    ``action_masks`` is None for the plain policy; MaskablePPO passes one flat (B, sum(choices)) mask.
    """

    observation_space: spaces.Space
    action_space: spaces.Space
    discrete_only = False  # True for the maskable policy (sb3-contrib masks categorical choices only)

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        core: str = "perceiver",
        actor: str | None = None,
        targets: str | None = None,
        contextual_targets: bool = True,
        verb_attention: bool = False,
        **kwargs: Any,
    ) -> None:
        for name, value in (("contextual_targets", contextual_targets), ("verb_attention", verb_attention)):
            if not isinstance(value, bool):
                raise ValueError(f"{name}: expected True or False, got {value!r}")
        if self.discrete_only and not isinstance(action_space, (spaces.Discrete, spaces.MultiDiscrete)):
            raise ValueError(f"action_space: {type(self).__name__} expects Discrete or MultiDiscrete actions (masks "
                             f"apply to choices), got {action_space}; use PerceiverPolicy for Box actions")
        if kwargs.get("use_sde"):
            raise ValueError("use_sde: expected False (the Gaussian head has a state-independent log_std), got True")
        for name, default in UNBUILT_SB3_ARGUMENTS.items():
            value = kwargs.pop(name, default)
            if not (value is default or value == default or (name == "features_extractor_kwargs" and value == {})):
                raise ValueError(
                    f"{name}: {type(self).__name__} builds no MLP extractor, features extractor, action or value net "
                    f"(its core and decoder queries replace them), so it takes only SB3's default {default!r}, got "
                    f"{value!r}; size the core with dim, num_layers, num_heads, num_latents, ... instead"
                )
        sizes = {k: kwargs.pop(k) for k in list(kwargs) if k in CoreConfig.__dataclass_fields__}
        # Set before SB3's constructor, which calls _build().
        self.core_config = CoreConfig(core=core, **sizes)
        self.actor, self.targets, self.contextual_targets = actor, targets, contextual_targets
        self.verb_attention = verb_attention
        super().__init__(observation_space, action_space, lr_schedule, features_extractor_class=NoFeatures, **kwargs)

    def _build(self, lr_schedule: Schedule) -> None:
        # SB3 has divided uint8 images by 255 when normalize_images is on: the image tokenizer scales them back
        byte_scale = float(BYTE_VALUES - 1) if self.normalize_images else 1.0
        self.encoder = ObservationEncoder(self.observation_space, self.core_config, byte_scale=byte_scale)
        layout = action_layout(self.action_space, self.encoder.spec.entities, self.actor, self.targets)
        dim = self.core_config.dim
        # only PerceiverPolicy reaches Box actions (the maskable one refuses them), and it has SB3's log_std_init
        entities = self.encoder.spec.entities
        global_context = entities is not None and entities.global_dim > 0
        self.heads = (GaussianQueries(layout, dim, global_context, self.log_std_init) if layout.box_dims
                      else ActionQueries(layout, dim, global_context, self.contextual_targets, self.verb_attention))
        if isinstance(self.action_space, spaces.MultiDiscrete):  # SB3's is a Categorical per dimension
            self.action_dist = BatchedMultiCategorical(list(self.action_space.nvec))
        kwargs = dict(self.optimizer_kwargs)
        if self.optimizer_class in (torch.optim.Adam, torch.optim.AdamW) and not {"fused", "foreach"} & set(kwargs):
            kwargs["fused"] = True  # the same update, in one pass over all the small tensors
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for name in UNBUILT_SB3_ARGUMENTS:  # SB3 records them (net_arch filled in); this policy took the defaults
            data.pop(name, None)
        data.update(self.core_config.to_dict(), actor=self.actor, targets=self.targets,
                    contextual_targets=self.contextual_targets, verb_attention=self.verb_attention)
        return data

    def tokens(self, obs: PyTorchObs) -> Tokens:
        """The tokens (B, N, D) and mask (B, N) of a batch of observations, preprocessed as SB3 preprocesses them."""
        return self.encoder.tokenizer(preprocess_obs(obs, self.observation_space, self.normalize_images))

    def logits_and_values(self, obs: PyTorchObs) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat action logits (B, sum(choices)) (Box actions: means (B, dims)) and values (B, 1) of a batch."""
        tokens = self.tokens(obs)
        encoding = self.encoder.core.encode(tokens.tokens, tokens.mask)
        return self.heads(tokens, encoding, self.encoder.core)

    def _distribution(
        self, obs: PyTorchObs, action_masks: np.ndarray | None, check_masks: bool = False
    ) -> tuple[Distribution, torch.Tensor]:
        logits, values = self.logits_and_values(obs)
        if isinstance(self.action_dist, DiagGaussianDistribution):
            return self.action_dist.proba_distribution(logits, self.heads.log_std), values
        distribution = self.action_dist.proba_distribution(action_logits=logits)
        if action_masks is not None:
            if check_masks:
                self.heads.check_action_masks(logits, torch.as_tensor(action_masks, device=logits.device))
            distribution.apply_masking(action_masks)
        return distribution, values

    def forward(self, obs: PyTorchObs, deterministic: bool = False, action_masks: np.ndarray | None = None):
        """Actions, values (B, 1) and log-probabilities (B,) for a batch of observations.

        The action masks of an acting step (here and in :meth:`get_distribution`) are checked
        (:meth:`~perceiver_rl.queries.ActionQueries.check_action_masks`); PPO's update reuses them as they were.
        """
        # Acting without gradients (SB3's rollouts and predict): inference mode skips autograd's bookkeeping too.
        with torch.inference_mode(not torch.is_grad_enabled()):
            distribution, values = self._distribution(obs, action_masks, check_masks=True)
            actions = distribution.get_actions(deterministic=deterministic)
            log_prob = distribution.log_prob(actions)
        return actions.reshape((-1, *self.action_space.shape)), values, log_prob

    def evaluate_actions(self, obs: PyTorchObs, actions: torch.Tensor, action_masks: np.ndarray | None = None):
        """Values, log-probabilities and entropies of ``actions`` under the current policy."""
        distribution, values = self._distribution(obs, action_masks)
        return values, distribution.log_prob(actions), distribution.entropy()

    def get_distribution(self, obs: PyTorchObs, action_masks: np.ndarray | None = None) -> Distribution:
        """The action distribution for a batch of observations."""
        return self._distribution(obs, action_masks, check_masks=True)[0]

    def predict_values(self, obs: PyTorchObs) -> torch.Tensor:
        """The value estimates (B, 1)."""
        return self.logits_and_values(obs)[1]


_SIZES_DOC = """
    Args (beyond SB3's):
        core: ``"perceiver"`` (Perceiver IO) or ``"transformer"`` (the baseline core it replaces).
        actor: an entity type ``T``; the action space is then ``MultiDiscrete([A] * max_T)``, one action per slot.
        targets: an entity type ``U``; the last ``max_U`` choices of each dimension point at ``U``'s slots.
        contextual_targets: True (default): point with keys decoded from each target's own query, so they carry the
            context of the whole set; False: keys from each target's token alone
            (:class:`~perceiver_rl.queries.ActionQueries`; docs/DESIGN.md says what it bought).
        verb_attention: True: each verb choice's logit also reads the encoding through an attention head of its own
            (:class:`~perceiver_rl.queries.VerbAttention`); False (default): verbs are read from the decision's
            decoded vector alone. Box actions have no verbs and ignore it.
        dim, num_layers, num_heads, mlp_ratio, num_latents, num_repeats, cross_heads, entity_mlp,
            entity_mlp_ratio, reread: core sizes
            (:class:`~perceiver_rl.network.CoreConfig`).
"""


class PerceiverPolicy(_EntityActorCritic, ActorCriticPolicy):
    """Actor-critic policy for PPO/A2C over any supported observation; actions and value come from decoder queries.

    Observations: the entity convention, 1-D Box, Discrete, MultiDiscrete, MultiBinary, image Box, or a flat Dict of
    these (:func:`~perceiver_rl.observations.parse_observation_space`). Actions: Discrete, MultiDiscrete or Box.
    """

    __doc__ += _SIZES_DOC


class MaskablePerceiverPolicy(_EntityActorCritic, MaskableActorCriticPolicy):
    """The same policy for sb3-contrib's MaskablePPO: invalid choices are masked before sampling (no Box actions)."""

    discrete_only = True

    __doc__ += _SIZES_DOC
