"""Perceiver IO over a set of entities: cross-attend into a small latent array, process it, decode by queries.

Cost is linear in the number of entities N: only the encoder's cross-attention touches all N entities; the latent
self-attention and every MLP run on ``num_latents`` rows (arXiv 2107.14795).
"""

from __future__ import annotations

import torch
from torch import nn

from perceiver_rl.attention import MLP, AttentionBlock, LearnedArray
from perceiver_rl.core import Encoding, EntityCore, QueryDecoder, check_sizes, rollout_step


class PerceiverIO(EntityCore):
    """Perceiver IO core: ``forward(inputs, mask, queries, query_mask=None) -> (B, Q, output_dim)``.

    Data path: entities (B, N, input_dim) -> encoder cross-attention from the latent array -> ``num_layers``
    latent self-attention blocks (repeated ``num_repeats`` times with shared weights) -> (with ``reread``) a second
    cross-attention to the entities -> latents (B, num_latents, latent_dim) -> decoder cross-attention from the
    queries -> (B, Q, output_dim).

    Args:
        input_dim: entity feature width.
        query_dim: decoder query width.
        output_dim: width of each decoded output.
        num_latents: 32, the latent count of the StarCraft II experiment in the paper, which matched AlphaStar's
            entity Transformer on up to 512 entities; a set of tens of entities rarely needs more summary slots.
        latent_dim: 128, the width of AlphaStar's entity Transformer, so the two cores compare at equal width.
        num_layers: 3 latent self-attention blocks, as in the paper's StarCraft II core.
        num_heads: 4 heads in latent self-attention.
        cross_heads: 1 head in the encoder and decoder cross-attentions, the paper's default (its decoder has one
            head too): each latent, and each query, takes one attention distribution over what it reads; the
            N-sized encoder attention stays as cheap as possible, and on a CPU a small batch of many tiny heads
            costs more in kernel overhead than in arithmetic.
        num_repeats: repeat the latent blocks this many times with shared weights (the paper's weight sharing);
            1 = no repeat.
        mlp_ratio: 2, the MLP widening of AlphaStar's entity encoder (128 wide, MLP to 256).
        entity_mlp: give each entity a residual MLP block (``x + MLP(LN(x))``) before the encoder reads it. The
            encoder's latent queries are learned constants, so without it each latent's attention score for an entity
            is a linear function of that entity's (normalised) token: a latent cannot single out "the nearest item"
            or "the item whose two features agree". The Transformer's layers apply such an MLP to every entity after
            each self-attention. Cost: linear in N, and at many entities the largest part of the forward pass.
        entity_mlp_ratio: the entity MLP's widening, apart from ``mlp_ratio`` because it runs on all N entities
            where the other MLPs run on the latents: 0.5 costs a quarter of the 2.0 of the other MLPs.
        reread: after the latent layers, the latents cross-attend to the entities a second time (a block of the
            encoder's shape with weights of its own, as in the Perceiver's iterative attention, arXiv 2103.03206).
            The first read is steered by learned constants only; the second by latents that already hold a summary
            of the whole set, so what a latent reads can depend on the other entities (a relation). Cost: one more
            N-sized cross-attention, still linear in N. Off by default.
        query_residual: keep the query in the decoder's residual path (see :class:`~perceiver_rl.core.QueryDecoder`).
        dropout: 0 by default: PPO's noisy targets are regularisation enough, and dropout would make the policy's
            log-probabilities differ between rollout and update.
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int,
        output_dim: int,
        *,
        num_latents: int = 32,
        latent_dim: int = 128,
        num_layers: int = 3,
        num_heads: int = 4,
        cross_heads: int = 1,
        num_repeats: int = 1,
        mlp_ratio: float = 2.0,
        entity_mlp: bool = False,
        entity_mlp_ratio: float = 2.0,
        reread: bool = False,
        query_residual: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_sizes(1, input_dim=input_dim, query_dim=query_dim, output_dim=output_dim, num_latents=num_latents,
                    latent_dim=latent_dim, num_repeats=num_repeats)
        check_sizes(0, num_layers=num_layers)
        if entity_mlp and int(input_dim * entity_mlp_ratio) < 1:
            raise ValueError(f"entity_mlp_ratio: expected a widening that leaves the entity MLP at least one hidden "
                             f"unit of input_dim={input_dim}, got {entity_mlp_ratio}")
        self.input_dim, self.query_dim, self.output_dim = input_dim, query_dim, output_dim
        self.num_repeats = num_repeats
        self.latents = LearnedArray(num_latents, latent_dim)  # (L, latent_dim), shared by every sample
        self.entity_mlp = (nn.Sequential(nn.LayerNorm(input_dim), MLP(input_dim, entity_mlp_ratio, dropout))
                           if entity_mlp else None)
        self.encoder = AttentionBlock(latent_dim, cross_heads, context_dim=input_dim, mlp_ratio=mlp_ratio,
                                      dropout=dropout)
        self.reread = (AttentionBlock(latent_dim, cross_heads, context_dim=input_dim, mlp_ratio=mlp_ratio,
                                      dropout=dropout) if reread else None)
        self.layers = nn.ModuleList(
            AttentionBlock(latent_dim, num_heads, mlp_ratio=mlp_ratio, dropout=dropout) for _ in range(num_layers)
        )
        self.decoder = QueryDecoder(query_dim, latent_dim, output_dim, num_heads=cross_heads, mlp_ratio=mlp_ratio,
                                    query_residual=query_residual, dropout=dropout)

    def _entities(self, inputs: torch.Tensor) -> torch.Tensor:
        """The entities the encoder reads: (B, N, input_dim), through the entity MLP block if there is one."""
        return inputs if self.entity_mlp is None else inputs + self.entity_mlp(inputs)

    def _encode(self, inputs: torch.Tensor, mask: torch.Tensor) -> Encoding:
        inputs = self._entities(inputs)  # (B, N, input_dim)
        z = self.encoder(self.latents(), inputs, mask)  # (L, latent_dim) queries -> (B, L, latent_dim)
        for _ in range(self.num_repeats):
            for layer in self.layers:
                z = layer(z)  # latent self-attention is never masked
        if self.reread is not None:
            z = self.reread(z, inputs, mask)  # (B, L, latent_dim) queries -> (B, L, latent_dim)
        return Encoding(z, None)

    def _encoding_relevance(self, inputs: torch.Tensor, mask: torch.Tensor) -> tuple[Encoding, torch.Tensor]:
        latents, inputs = self.latents(), self._entities(inputs)  # (L, latent_dim), (B, N, input_dim)
        relevance = self.encoder.attention_map(latents, inputs, mask)  # (B, L, N): latents -> entities
        z = self.encoder(latents, inputs, mask)
        for _ in range(self.num_repeats):
            for layer in self.layers:
                relevance = rollout_step(layer.attention_map(z), relevance)
                z = layer(z)
        if self.reread is not None:
            # a residual cross-attention: half what the latents held, half what they read now (rows sum to 1)
            relevance = 0.5 * self.reread.attention_map(z, inputs, mask) + 0.5 * relevance
            z = self.reread(z, inputs, mask)
        return Encoding(z, None), relevance
