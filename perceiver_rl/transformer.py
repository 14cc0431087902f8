"""The Transformer entity core that Perceiver IO replaces: masked self-attention over all N entities, O(N^2).

It shares the blocks and the query decoder with :class:`~perceiver_rl.PerceiverIO`, so the two differ only in how
the set is encoded: the baseline keeps one token per entity through every layer, as AlphaStar's entity encoder does.
"""

from __future__ import annotations

import torch
from torch import nn

from perceiver_rl.attention import AttentionBlock
from perceiver_rl.core import Encoding, EntityCore, QueryDecoder, check_sizes, rollout_step


class TransformerCore(EntityCore):
    """Transformer core: ``forward(inputs, mask, queries, query_mask=None) -> (B, Q, output_dim)``.

    Data path: entities (B, N, input_dim) -> Linear to ``model_dim`` -> ``num_layers`` pre-LayerNorm masked
    self-attention blocks -> encoded entities (B, N, model_dim) -> decoder cross-attention from the queries over the
    present entities -> (B, Q, output_dim).

    Defaults match :class:`~perceiver_rl.PerceiverIO` (and AlphaStar's entity encoder): 3 layers, 128 wide, MLP
    widening 2, 4 self-attention heads, no dropout, and the same query decoder (``cross_heads=1`` head).
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int,
        output_dim: int,
        *,
        model_dim: int = 128,
        num_layers: int = 3,
        num_heads: int = 4,
        cross_heads: int = 1,
        mlp_ratio: float = 2.0,
        query_residual: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_sizes(1, input_dim=input_dim, query_dim=query_dim, output_dim=output_dim, model_dim=model_dim)
        check_sizes(0, num_layers=num_layers)
        self.input_dim, self.query_dim, self.output_dim = input_dim, query_dim, output_dim
        self.embed = nn.Linear(input_dim, model_dim)
        self.layers = nn.ModuleList(
            AttentionBlock(model_dim, num_heads, mlp_ratio=mlp_ratio, dropout=dropout) for _ in range(num_layers)
        )
        self.decoder = QueryDecoder(query_dim, model_dim, output_dim, num_heads=cross_heads, mlp_ratio=mlp_ratio,
                                    query_residual=query_residual, dropout=dropout)

    def _encode(self, inputs: torch.Tensor, mask: torch.Tensor) -> Encoding:
        x = self.embed(inputs)  # (B, N, model_dim)
        for layer in self.layers:
            x = layer(x, mask=mask)
        return Encoding(x, mask)  # the decoder normalises its context

    def _encoding_relevance(self, inputs: torch.Tensor, mask: torch.Tensor) -> tuple[Encoding, torch.Tensor]:
        x = self.embed(inputs)  # (B, N, model_dim)
        eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        relevance = eye * mask[:, None, :]  # (B, N, N): each present entity is itself
        for layer in self.layers:
            relevance = rollout_step(layer.attention_map(x, mask=mask), relevance)
            x = layer(x, mask=mask)
        return Encoding(x, mask), relevance
