"""Pre-LayerNorm attention blocks shared by both cores: masked multi-head attention, then an MLP, with residuals.

Masks are boolean with ``True`` = a present entity (a key that may be attended to). A sample whose keys are all absent
gets an attention output of exactly zero, whatever the padded content holds, so that no padded row reaches an output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def attendable(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The keys a query may attend to (B, N), and which samples have none present (B,).

    An all-False row has an undefined softmax (NaN with hand-written attention and older torch builds): such a sample
    attends everywhere instead, and its output must then be wiped explicitly.
    """
    empty = ~mask.any(dim=-1)  # (B,)
    return mask | empty[:, None], empty


def masked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, scale: float | None = None
) -> torch.Tensor:
    """Scaled dot-product attention over keys where ``mask`` is True; rows of an empty key set give zeros.

    Shapes: q (B, H, Q, Dk), k (B, H, N, Dk), v (B, H, N, Dv), mask (B, N) bool or None; returns (B, H, Q, Dv).
    ``scale`` multiplies the scores; ``Dk ** -0.5`` by default.
    """
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    present, empty = attendable(mask)  # (B, N), (B,)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=present[:, None, None, :], scale=scale)
    return out.masked_fill(empty[:, None, None, None], 0.0)


def attention_probs(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The head-averaged attention probabilities that :func:`masked_attention` applies: (B, Q, N).

    Exactly zero on absent keys, and zero rows for an empty key set. For inspection only: the forward pass never
    materialises them. Shapes: q (B, H, Q, Dh), k (B, H, N, Dh), mask (B, N) bool or None.
    """
    scores = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5  # (B, H, Q, N)
    if mask is None:
        return scores.softmax(dim=-1).mean(dim=1)
    probs = scores.masked_fill(~mask[:, None, None, :], float("-inf")).softmax(dim=-1)
    return probs.nan_to_num(0.0).mean(dim=1)  # an empty set's all -inf row gives NaN: it attends to nothing


class LearnedArray(nn.Module):
    """A learned array (num, dim): a latent array or a set of queries, shared by every sample of a batch.

    Truncated-normal initialised (to two standard deviations) with std 0.02 by default, as Perceiver IO initialises
    its latents and queries.
    """

    def __init__(self, num: int, dim: int, std: float = 0.02) -> None:
        super().__init__()
        self.array = nn.Parameter(torch.empty(num, dim))
        nn.init.trunc_normal_(self.array, std=std, a=-2.0 * std, b=2.0 * std)

    def forward(self) -> torch.Tensor:
        """(num, dim), unbatched: attention blocks broadcast it over the batch."""
        return self.array


class MultiHeadAttention(nn.Module):
    """Multi-head attention of ``query_dim`` queries over ``context_dim`` keys/values, projected back to ``query_dim``.

    The query/key width defaults to ``query_dim`` (as in Perceiver IO, where ``qk_channels`` defaults to the query
    channels), so attending into a small latent array never widens it.

    Few queries over many keys (a latent array reading N entities, a decoder's few queries over N tokens) attend in
    the context's own space instead of projecting every key and value: a score ``(W_q x) . (W_k c)`` equals
    ``(W_k^T W_q x) . c`` and an output ``W_v sum(a c)`` equals ``sum(a W_v c)``, so the projections move from the
    N context rows to the few queries. The same parameters, the same output up to rounding, and the multiply-adds
    per context row drop from ``2 * C * I + 2 * Q * I`` (key and value projections, scores, weighted sum; C the
    context width, I the attention width) to ``2 * H * Q * C``; :meth:`attends_in_context_space` picks the cheaper
    way per call.
    """

    def __init__(self, query_dim: int, context_dim: int, num_heads: int, inner_dim: int | None = None) -> None:
        super().__init__()
        inner_dim = inner_dim or query_dim
        if inner_dim % num_heads:
            raise ValueError(f"num_heads: must divide the attention width {inner_dim}, got {num_heads}")
        self.num_heads = num_heads
        self.to_q = nn.Linear(query_dim, inner_dim)
        # Keys and values in one matmul, without biases: a key bias adds the same score to every key of a query
        # (softmax ignores it), and a value bias, weighted by attention that sums to 1, is a constant that
        # to_out's bias already covers. Over N entities they would only cost a copy and a reduction each step.
        self.to_kv = nn.Linear(context_dim, 2 * inner_dim, bias=False)
        self.to_out = nn.Linear(inner_dim, query_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(-3, -2)  # (..., N, H * Dh) -> (..., H, N, Dh)

    def project(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values split into heads: (B, H, Q, Dh), (B, H, N, Dh), (B, H, N, Dh).

        ``x`` may be one query set (Q, query_dim) shared by the batch: it is projected once, then broadcast.
        """
        k, v = self.to_kv(context).chunk(2, dim=-1)
        q = self._heads(self.to_q(x))
        if q.dim() == 3:
            q = q.expand(context.shape[0], -1, -1, -1)  # a view: one projection serves the whole batch
        return q, self._heads(k), self._heads(v)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor,
        mask: torch.Tensor | None = None,
        in_context_space: bool | None = None,
    ) -> torch.Tensor:
        """x (B, Q, query_dim) or (Q, query_dim) attends over context (B, N, context_dim) where mask (B, N) is True.

        Returns (B, Q, query_dim). ``in_context_space`` forces one way of computing it (tests and benchmarks compare
        the two); ``None`` takes the cheaper (:meth:`attends_in_context_space`).
        """
        if in_context_space is None:
            in_context_space = self.attends_in_context_space(x, context)
        if in_context_space:
            out = self._attend_in_context_space(x, context, mask)
        else:
            out = masked_attention(*self.project(x, context), mask)
        return self.to_out(out.transpose(1, 2).flatten(2))  # (B, H, Q, Dh) -> (B, Q, H * Dh) -> (B, Q, query_dim)

    def attends_in_context_space(self, x: torch.Tensor, context: torch.Tensor) -> bool:
        """Whether the forward pass takes the context-space way: fewer multiply-adds per sample for these shapes.

        Per sample, projecting keys costs ``N * C * 2I`` (keys and values) plus ``2 * Q * N * I`` (scores and the
        weighted sum); the context-space way costs ``2 * H * Q * N * C`` plus ``Q * C * I`` (values out), and
        ``Q * I * C`` more for queries of its own (shared queries are moved into context space once per batch).
        """
        n_q, n, c = x.shape[-2], context.shape[-2], context.shape[-1]
        inner, h = self.to_q.out_features, self.num_heads
        projected = n * c * 2 * inner + 2 * n_q * n * inner
        in_context = 2 * h * n_q * n * c + n_q * c * inner * (1 if x.dim() == 2 else 2)
        return in_context < projected

    def _attend_in_context_space(
        self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Attention computed against the context rows themselves (see the class docstring): (B, H, Q, Dh)."""
        w_k, w_v = self.to_kv.weight.unflatten(0, (2, self.num_heads, -1))  # each (H, Dh, C)
        q = self._heads(self.to_q(x))  # (H, Q, Dh), or (B, H, Q, Dh) for queries of each sample's own
        scale = q.shape[-1] ** -0.5  # the scores' scale of the projected way: 1/sqrt(Dh), not 1/sqrt(C)
        # Per-head weights against a batch of queries go through einsum, which folds the batch into the rows of
        # one matmul per head: `@` would broadcast each weight to (B, H, ., .) and, in the backward pass, compute a
        # weight gradient per sample and sum them (1.25-2.65x slower at a minibatch of 64, docs/BENCHMARKS.md).
        q = torch.einsum("...hqd,hdc->...hqc", q, w_k)  # (B, H, Q, C) or (H, Q, C): W_k^T q
        q = q.expand(context.shape[0], -1, -1, -1)  # (B, H, Q, C): once if the queries are shared
        c = context[:, None].expand(-1, self.num_heads, -1, -1)  # (B, H, N, C): one view serves every head
        out = masked_attention(q, c, c, mask, scale=scale)  # (B, H, Q, C): attention-weighted context rows
        return torch.einsum("bhqc,hdc->bhqd", out, w_v)  # (B, H, Q, C) x (H, Dh, C) -> (B, H, Q, Dh)


class MLP(nn.Module):
    """Linear-GELU-Linear, widened by ``ratio`` in the middle (the Perceiver IO / Transformer feed-forward)."""

    def __init__(self, dim: int, ratio: float, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = int(dim * ratio)
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim)."""
        return self.net(x)


class AttentionBlock(nn.Module):
    """A pre-LayerNorm block: ``x = Attn(LN(x), LN(context)) (+ x)``, then ``x = x + MLP(LN(x))``.

    With ``context_dim=None`` it is a self-attention block (the context is ``x`` itself, normalised once). A
    cross-attention block also takes one query array (Q, dim) shared by the batch (a latent array, learned queries):
    its LayerNorm and query projection then run once, not once per sample.
    ``query_residual=False`` drops the first residual, as Perceiver IO's decoder does for queries that should not
    leak their own content into the output.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        context_dim: int | None = None,
        mlp_ratio: float = 2.0,
        query_residual: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.is_self_attention = context_dim is None
        self.query_residual = query_residual
        self.norm_x = nn.LayerNorm(dim)
        self.norm_context = None if self.is_self_attention else nn.LayerNorm(context_dim)
        self.attn = MultiHeadAttention(dim, dim if self.is_self_attention else context_dim, num_heads)
        self.dropout = nn.Dropout(dropout)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio, dropout)

    def normed(self, x: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalised queries and context that the attention sees."""
        h = self.norm_x(x)
        return h, (h if self.is_self_attention else self.norm_context(context))

    def attention_map(
        self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The head-averaged attention probabilities of this block's queries over its context: (B, Q, N)."""
        q, k, _ = self.attn.project(*self.normed(x, context))
        return attention_probs(q, k, mask)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        """x (B, Q, dim) or shared (Q, dim), context (B, N, context_dim) or None, mask (B, N) or None -> (B, Q, dim)."""
        h, c = self.normed(x, context)
        a = self.dropout(self.attn(h, c, mask))
        x = a + x if self.query_residual else a
        return x + self.mlp(self.norm_mlp(x))
