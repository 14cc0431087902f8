"""The contract every entity core fulfils: encode a masked set of entities once, decode any number of query sets.

``core(inputs, mask, queries)`` is ``core.decode(core.encode(inputs, mask), queries)``. The encoding is what queries
attend to: the latent array for :class:`~perceiver_rl.PerceiverIO`, the encoded entities (with their mask) for
:class:`~perceiver_rl.TransformerCore`. A policy encodes once per step and decodes actions, targets and the value.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from perceiver_rl.attention import AttentionBlock


class Encoding(NamedTuple):
    """What decoder queries attend to: tokens (B, M, D) and their presence mask (B, M), or None if all are present."""

    tokens: torch.Tensor
    mask: torch.Tensor | None


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def check_sizes(minimum: int, **sizes: int) -> None:
    """Raise a ``ValueError`` naming the first of ``sizes`` below ``minimum``."""
    for name, value in sizes.items():
        if value < minimum:
            raise ValueError(f"{name}: expected >= {minimum}, got {value}")


def as_bool_mask(mask: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``mask`` as a bool tensor; a float/int mask must hold only 0 and 1 (True/1 = a present entity)."""
    if mask.dtype == torch.bool:
        return mask
    if not mask.is_complex() and bool(((mask == 0) | (mask == 1)).all()):
        return mask != 0
    raise ValueError(
        f"{name}: expected a boolean or 0/1 mask (True/1 = present), got dtype {mask.dtype} with other values"
    )


class QueryDecoder(nn.Module):
    """Cross-attention from queries to an encoding, then LayerNorm + Linear to ``output_dim``.

    The query residual is on by default: a query derived from an entity (an acting unit, say) must keep that
    entity's own features in its output, not only what the encoding kept. Perceiver IO turns it off for queries
    that are mere position codes; pass ``query_residual=False`` for that use.
    """

    def __init__(
        self,
        query_dim: int,
        memory_dim: int,
        output_dim: int,
        *,
        num_heads: int,
        mlp_ratio: float,
        query_residual: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.block = AttentionBlock(
            query_dim, num_heads, context_dim=memory_dim, mlp_ratio=mlp_ratio, query_residual=query_residual,
            dropout=dropout,
        )
        self.norm = nn.LayerNorm(query_dim)
        self.out = nn.Linear(query_dim, output_dim)

    def forward(self, encoding: Encoding, queries: torch.Tensor) -> torch.Tensor:
        """queries (B, Q, query_dim) -> (B, Q, output_dim)."""
        return self.out(self.norm(self.block(queries, encoding.tokens, encoding.mask)))


def rollout_step(attention: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
    """Carry ``relevance`` (B, M, N) through a residual self-attention layer with map ``attention`` (B, M, M)."""
    return 0.5 * attention @ relevance + 0.5 * relevance


class EntityCore(nn.Module):
    """Base class of the cores: argument checks and the ``forward = decode(encode(...))`` contract.

    Subclasses set ``input_dim`` and ``query_dim``, build ``self.decoder`` (a :class:`QueryDecoder`) and implement
    ``_encode(inputs, mask)`` and ``_encoding_relevance(inputs, mask)`` on checked arguments whose padded rows are
    already zeroed.
    """

    input_dim: int
    query_dim: int
    decoder: QueryDecoder

    def _encode(self, inputs: torch.Tensor, mask: torch.Tensor) -> Encoding:
        raise NotImplementedError

    def _checked(self, inputs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Check the arguments; return the inputs with padded rows zeroed and the mask as bool."""
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_dim:
            raise ValueError(f"inputs: expected shape (B, N, {self.input_dim}), got {_shape(inputs)}")
        if not inputs.is_floating_point():
            raise ValueError(f"inputs: expected a floating-point tensor, got dtype {inputs.dtype}")
        if _shape(mask) != _shape(inputs)[:2]:
            raise ValueError(f"mask: expected shape {_shape(inputs)[:2]} (B, N) to match inputs, got {_shape(mask)}")
        mask = as_bool_mask(mask, "mask")
        # Wipe padded rows so that nothing in them (NaN included) can reach an output through a zero weight.
        return inputs.masked_fill(~mask[..., None], 0.0), mask

    def encode(self, inputs: torch.Tensor, mask: torch.Tensor) -> Encoding:
        """Encode ``inputs`` (B, N, input_dim) where ``mask`` (B, N) is True; padded content never matters."""
        return self._encode(*self._checked(inputs, mask))

    def _encoding_relevance(self, inputs: torch.Tensor, mask: torch.Tensor) -> tuple[Encoding, torch.Tensor]:
        raise NotImplementedError

    def encoding_relevance(self, inputs: torch.Tensor, mask: torch.Tensor) -> tuple[Encoding, torch.Tensor]:
        """The encoding of ``inputs`` and how much each of its M rows draws on each input: (B, M, N).

        Perceiver: the encoder's attention (latents -> entities) carried through the latent layers; Transformer:
        each encoded entity starts as itself and is carried through the self-attention layers. Each self-attention
        layer counts as ``0.5 * attention + 0.5 * identity`` for its residual (attention rollout, Abnar & Zuidema
        2020). Rows are >= 0, exactly 0 on padded inputs, and those that attention can read (present in
        ``encoding.mask``) sum to 1. Anything that attends over the encoding (the decoder,
        :class:`~perceiver_rl.queries.VerbAttention`) composes its attention with it.
        """
        return self._encoding_relevance(*self._checked(inputs, mask))

    def relevance(self, inputs: torch.Tensor, mask: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """How much each query's output draws on each input: (B, Q, N), >= 0, rows summing to 1 over present inputs.

        The decoder's attention (averaged over heads) composed with :meth:`encoding_relevance`. Exactly 0 on padded
        inputs; all 0 for a sample with none present. Runs its own pass: the ordinary forward pass never computes
        it.
        """
        return self.decoder_relevance(*self.encoding_relevance(inputs, mask), queries)

    def decoder_relevance(self, encoding: Encoding, relevance: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """Compose the decoder's attention from ``queries`` over ``encoding`` with the encoding's ``relevance``
        (B, M, N) from :meth:`encoding_relevance`: (B, Q, N). For callers that read the encoding more ways than one."""
        if queries.dim() == 2:
            queries = queries.expand(relevance.shape[0], -1, -1)
        return self.decoder.block.attention_map(queries, encoding.tokens, encoding.mask) @ relevance  # (B, Q, N)

    def decode(self, encoding: Encoding, queries: torch.Tensor, query_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Decode ``queries`` (B, Q, query_dim) or (Q, query_dim) against ``encoding``: (B, Q, output_dim).

        Outputs of queries where ``query_mask`` (B, Q) is False are exactly zero.
        """
        batch = encoding.tokens.shape[0]
        batch_ok = queries.dim() == 2 or (queries.dim() == 3 and queries.shape[0] == batch)
        if not batch_ok or queries.shape[-1] != self.query_dim:
            raise ValueError(
                f"queries: expected shape ({batch}, Q, {self.query_dim}) or (Q, {self.query_dim}), "
                f"got {_shape(queries)}"
            )
        out = self.decoder(encoding, queries)  # (B, Q, output_dim); shared (Q, D) queries are projected once
        if query_mask is None:
            return out
        if _shape(query_mask) != _shape(out)[:2]:
            raise ValueError(f"query_mask: expected shape {_shape(out)[:2]} (B, Q), got {_shape(query_mask)}")
        return out.masked_fill(~as_bool_mask(query_mask, "query_mask")[..., None], 0.0)

    def forward(
        self,
        inputs: torch.Tensor,
        mask: torch.Tensor,
        queries: torch.Tensor,
        query_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """inputs (B, N, input_dim), mask (B, N) bool, queries (B, Q, query_dim) or (Q, query_dim) -> (B, Q, out)."""
        return self.decode(self.encode(inputs, mask), queries, query_mask)
