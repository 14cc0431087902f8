"""Action and value outputs decoded from queries: one decoder query per decision, and one for the value.

A decision is one action dimension (:class:`~perceiver_rl.actions.ActionLayout`): a global choice, or one actor
slot's action. Its query is decoded once against the encoding, and every choice of the decision is read from that one
decoded vector, as AlphaStar and RogueNet head their actions:

- fixed verbs: one readout vector per verb (:class:`VerbReadout`), so that what the state changes in the decoded
  vector moves each verb's logit its own way; with ``verb_attention`` each verb also reads the encoding through an
  attention head of its own (:class:`VerbAttention`);
- pointer choices (``targets``): the decoded vector, projected, dotted with a key per target entity; absent targets
  get a large negative logit (finite, so that entropies stay finite). With ``contextual_targets`` each target's
  key is read from its own decoded query (the target's token, projected), so it carries the context of the whole
  set, as the decoder's outputs do, at a cost linear in the number of targets; otherwise from its token alone;
- with an ``actor`` type the decision's query is the actor's own token (projected), so each unit reads the set from
  its own point of view, and the decoder's query residual keeps its features in the output; padded actor slots get a
  fixed no-op distribution (all mass on choice 0): zero entropy, zero log-probability. The env's action mask must
  leave choice 0 open for a padded slot (a mask that closes it is refused);
- without an actor each decision has a learned query; the value has one too;
- every query also carries the ``global`` token when the observation has entity global features, so they reach each
  decision directly instead of as one token among N;
- a ``Box`` action space (:class:`GaussianQueries`): one learned query per dimension, read to the mean of a diagonal
  Gaussian whose log standard deviation is learned and state-independent (as SB3's ``DiagGaussianDistribution``).

Query order, for every head: the value, then one query per decision in dimension order (then, with
``contextual_targets``, one per target slot).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from perceiver_rl.actions import ActionLayout
from perceiver_rl.attention import LearnedArray, attendable
from perceiver_rl.core import Encoding, EntityCore
from perceiver_rl.distributions import NEG_LOGIT
from perceiver_rl.entities import GLOBAL_KEY
from perceiver_rl.tokens import Tokens

READOUT_GAIN = 0.01  # readouts start near a uniform policy and a zero mean, as SB3's action head does


class VerbReadout(nn.Module):
    """One readout vector (and bias) per verb: decoded decisions (B, R, D) -> verb logits.

    ``verbs[r]`` verbs for row ``r``, each with its own vector: (B, sum(verbs)). With ``shared=True`` every row has
    the same ``verbs[0]`` verbs read by the same vectors (every actor's verbs are alike): (B, R, verbs[0]).
    """

    def __init__(self, verbs: tuple[int, ...], dim: int, shared: bool = False) -> None:
        super().__init__()
        self.shared = shared
        num = verbs[0] if shared else sum(verbs)
        self.weight = nn.Parameter(torch.empty(num, dim))
        self.bias = nn.Parameter(torch.zeros(num))
        nn.init.orthogonal_(self.weight, gain=READOUT_GAIN)
        if not shared:  # the row each verb reads from: (sum(verbs),)
            self.register_buffer("row", torch.repeat_interleave(torch.arange(len(verbs)), torch.tensor(verbs)),
                                 persistent=False)

    def forward(self, decoded: torch.Tensor) -> torch.Tensor:
        """(B, R, D) -> (B, R, verbs[0]) if shared, else (B, sum(verbs))."""
        if self.shared:
            return F.linear(decoded, self.weight, self.bias)
        return (decoded[:, self.row] * self.weight).sum(-1) + self.bias  # (B, sum(verbs), D) -> (B, sum(verbs))


class VerbAttention(nn.Module):
    """One attention head per verb over the encoding, from the decision's decoded vector: verb logit terms.

    A verb's query is the decided vector (projected) plus a learned embedding of the verb; every encoding token
    offers one value per verb. A verb's logit can then rise with what its own attention finds (an item to the left,
    for "move left"), which one decoded vector read by readout vectors could only do if the decoder had put it there
    for every verb at once; the query-per-verb decoder before issue 26 gave each verb that view at the cost of a full
    decoder query per verb. Here each verb costs one score per encoding token (linear in the number of entities),
    and the values start readout-sized, so the policy still starts near uniform.
    Shapes as :class:`VerbReadout`: (B, R, D) -> (B, R, verbs[0]) if shared, else (B, sum(verbs)).
    """

    def __init__(self, verbs: tuple[int, ...], dim: int, shared: bool = False) -> None:
        super().__init__()
        self.shared, self.dim = shared, dim
        self.num = verbs[0] if shared else sum(verbs)
        self.norm = nn.LayerNorm(dim)  # the encoding as the decoder's cross-attention sees it: normalised
        self.query = nn.Linear(dim, dim)
        # std 1 (not the 0.02 of latent arrays): the verbs' attention differs from the first update on
        self.verb_embedding = LearnedArray(self.num, dim, std=1.0)
        # Keys and one value per verb in one matmul, without biases: softmax ignores a key bias, and a value bias is
        # a constant that the readout's bias covers.
        self.to_kv = nn.Linear(dim, dim + self.num, bias=False)
        nn.init.orthogonal_(self.to_kv.weight[dim:], gain=READOUT_GAIN)
        if not shared:  # the row (decision) each verb reads from: (sum(verbs),)
            self.register_buffer("row", torch.repeat_interleave(torch.arange(len(verbs)), torch.tensor(verbs)),
                                 persistent=False)

    def _weights(
        self, decided: torch.Tensor, encoding: Encoding
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Each verb's attention weights over the encoding, (B, R, V, M) if shared else (B, sum(verbs), M), the
        values (B, M, V), and which samples have no token present (B,) bool (None for an encoding with no mask)."""
        tokens, mask = encoding
        if mask is not None:  # padded rows: nothing, not even NaN (a zero weight times NaN is NaN)
            tokens = tokens.masked_fill(~mask[..., None], 0.0)
        k, v = self.to_kv(self.norm(tokens)).split([self.dim, self.num], dim=-1)  # (B, M, D), (B, M, V)
        k = k.transpose(1, 2)  # (B, D, M)
        # A score is (W_q h + e_verb) . k: the decision's and the verb's parts are scored apart and added, so the
        # (decision, verb) queries are never built: 2.2-2.7x faster at a Skirmish minibatch than one attention call
        # with a head per verb (docs/BENCHMARKS.md, "Verb attention").
        decision, verb = self.query(decided) @ k, self.verb_embedding() @ k  # (B, R, M), (B, V, M)
        # (B, R, V, M) shared, else (B, sum(verbs), M)
        scores = decision[:, :, None] + verb[:, None] if self.shared else decision[:, self.row] + verb
        scores = scores * self.dim**-0.5
        empty = None
        if mask is not None:
            present, empty = attendable(mask)  # (B, M), (B,)
            scores = scores.masked_fill(~present.view(len(present), *[1] * (scores.dim() - 2), -1), float("-inf"))
        return scores.softmax(dim=-1), v, empty

    def attention_map(self, decided: torch.Tensor, encoding: Encoding) -> torch.Tensor:
        """Each verb's attention over the encoding rows: (B, R, V, M) if shared, else (B, sum(verbs), M).

        Rows sum to 1 over present rows; all 0 for a sample with none present (it reads nothing).
        """
        weights, _, empty = self._weights(decided, encoding)
        return weights if empty is None else weights.masked_fill(empty.view(-1, *[1] * (weights.dim() - 1)), 0.0)

    def forward(self, decided: torch.Tensor, encoding: Encoding) -> torch.Tensor:
        """decided (B, R, D) and the encoding (B, M, D) -> (B, R, verbs[0]) if shared, else (B, sum(verbs))."""
        weights, v, empty = self._weights(decided, encoding)
        out = torch.einsum("brvm,bmv->brv" if self.shared else "bvm,bmv->bv", weights, v)
        if empty is not None:  # a sample with no token present reads nothing
            out = out.masked_fill(empty.view(-1, *[1] * (out.dim() - 1)), 0.0)
        return out


class DecisionHeads(nn.Module):
    """The part every head shares: the value query, the global context and the query bookkeeping.

    Subclasses implement :meth:`decision_queries` and ``forward(tokens, encoding, core) -> (outputs, values)``.
    ``global_context``: add the entity ``global`` token to every query (the observation has entity global features).
    """

    def __init__(self, layout: ActionLayout, dim: int, global_context: bool) -> None:
        super().__init__()
        self.layout, self.global_context = layout, global_context
        self.value_query = LearnedArray(1, dim)
        self.value_head = nn.Linear(dim, 1)

    def decision_queries(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The decisions' queries, (R, D) shared or (B, R, D), and their mask (B, R) or None (all present)."""
        raise NotImplementedError

    def queries(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Every decoder query: the value's, then one per decision: (1 + R, D) or (B, 1 + R, D), mask or None."""
        decisions, mask = self.decision_queries(tokens)
        value = self.value_query()  # (1, D)
        if decisions.dim() == 3:
            value = value.expand(decisions.shape[0], -1, -1)
        queries = torch.cat([value, decisions], dim=-2)
        if mask is not None:
            mask = torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)  # the value query is always present
        if self.global_context:
            queries = queries + tokens.of(GLOBAL_KEY)[0]  # (B, 1, D), broadcast over the queries: (B, 1 + R, D)
        return queries, mask

    def decode(
        self, tokens: Tokens, encoding: Encoding, core: EntityCore, entity_queries: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The decisions' decoded vectors (B, R, D), the values (B, 1), and, if ``entity_queries`` names an entity
        type, the decoded vectors (B, T, D) of that type's tokens as queries (projected by ``entity_query``), all in
        one decoder pass."""
        queries, mask = self.queries(tokens)  # (1 + R, D) or (B, 1 + R, D)
        extra = 0
        if entity_queries is not None:
            entities, entity_mask = tokens.of(entity_queries)  # (B, T, D), (B, T)
            batch, extra = entities.shape[:2]
            if queries.dim() == 2:
                queries = queries.expand(batch, -1, -1)
            if mask is None:
                mask = entity_mask.new_ones(batch, queries.shape[1])
            entities = entities.masked_fill(~entity_mask[..., None], 0.0)  # padded rows: nothing, not even NaN
            queries = torch.cat([queries, self.entity_query(entities)], dim=1)  # (B, 1 + R + T, D)
            mask = torch.cat([mask, entity_mask], dim=1)
        out = core.decode(encoding, queries, mask)  # (B, 1 + R (+ T), D)
        decisions = out[:, 1 : out.shape[1] - extra]
        return decisions, self.value_head(out[:, 0]), out[:, out.shape[1] - extra :] if extra else None

    def query_names(self) -> list[str]:
        """The name of each decoder query, in order: ``value``, then ``ally[3]`` (an actor slot) or ``dim0``."""
        layout = self.layout
        prefix = (lambda d: f"{layout.actor}[{d}]") if layout.actor is not None else (lambda d: f"dim{d}")
        return ["value"] + [prefix(d) for d in range(layout.num_decisions)]

    def chosen_queries(self, actions: np.ndarray) -> np.ndarray:
        """The index (into :meth:`query_names`) of the query that decided each action dimension: (B, dims) ints.

        ``actions``: (B, dims), (B,) for a Discrete space, or one observation's action: (dims,), or a scalar.
        """
        dims = self.layout.num_decisions
        actions = np.asarray(actions).reshape(-1) if np.ndim(actions) == 0 else np.asarray(actions)  # a Discrete's one
        one_row = actions.ndim == 1 and dims > 1  # one observation's action
        if (actions.ndim == 2 and actions.shape[1] != dims) or actions.ndim > 2 or (one_row and actions.size != dims):
            raise ValueError(f"actions: expected shape (B, {dims}), ({dims},) or (B,) for one dimension, got "
                             f"{actions.shape}")
        batch = 1 if one_row else len(actions)
        return np.broadcast_to(1 + np.arange(dims), (batch, dims)).copy()


class ActionQueries(DecisionHeads):
    """Flat action logits (B, sum(choices)) and values (B, 1) of a Discrete or MultiDiscrete action space.

    ``verb_attention``: add :class:`VerbAttention`'s term to the verbs' logits (a layout with verbs only).
    """

    def __init__(
        self,
        layout: ActionLayout,
        dim: int,
        global_context: bool = False,
        contextual_targets: bool = True,
        verb_attention: bool = False,
    ) -> None:
        super().__init__(layout, dim, global_context)
        self.contextual_targets = contextual_targets and layout.targets is not None
        if self.contextual_targets:
            self.entity_query = nn.Linear(dim, dim)  # a target's token, seen as a query
        if layout.actor is not None:
            self.actor_query = nn.Linear(dim, dim)  # the actor's token, seen as a query
        else:
            self.learned_queries = LearnedArray(len(layout.choices), dim)  # one per dimension
        self.verb_readout = VerbReadout(layout.verbs, dim, shared=layout.actor is not None)
        self.verb_attention = (VerbAttention(layout.verbs, dim, shared=layout.actor is not None)
                               if verb_attention and sum(layout.verbs) else None)
        if layout.targets is not None:
            self.pointer = nn.Linear(dim, dim)  # a decision's decoded vector -> its pointer query
            self.target_key = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
            nn.init.orthogonal_(self.pointer.weight, gain=READOUT_GAIN)  # start near uniform pointing
            nn.init.zeros_(self.pointer.bias)
        if layout.actor is not None:
            # The fixed distribution of a padded actor slot: all mass on choice 0 (zero entropy, zero log-prob).
            noop = torch.full((layout.choices[0],), NEG_LOGIT)
            noop[0] = 0.0
            self.register_buffer("noop_logits", noop, persistent=False)
        dims = torch.arange(len(layout.choices))
        self.register_buffer("choice_dim", torch.repeat_interleave(dims, torch.tensor(layout.choices)),
                             persistent=False)  # (sum(choices),): the dimension of each flat choice

    def check_action_masks(self, logits: torch.Tensor, masks: torch.Tensor) -> None:
        """Raise a ValueError if ``masks`` (B, sum(choices)) leaves a dimension no choice that ``logits`` allow.

        A padded actor slot allows choice 0 only and an absent target is never allowed: a mask that closes the rest
        would leave a distribution with no possible choice, which sb3-contrib turns into a uniform pick among
        impossible ones.
        """
        allowed = (masks.to(torch.bool) & (logits > NEG_LOGIT / 2)).to(logits.dtype)  # (B, sum(choices))
        per_dim = allowed.new_zeros(len(logits), len(self.layout.choices)).index_add_(1, self.choice_dim, allowed)
        if not bool(per_dim.all()):
            sample, dim = (int(i) for i in (per_dim == 0).nonzero()[0])
            what = f"{self.layout.actor}[{dim}]" if self.layout.actor is not None else f"dimension {dim}"
            hint = " (a padded actor slot needs choice 0, its no-op, open)" if self.layout.actor is not None else ""
            raise ValueError(f"action_masks: sample {sample} leaves {what} no choice open among those possible "
                             f"(absent targets are never possible){hint}")

    def decision_queries(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Actor slots' projected tokens (B, A, D) masked where a slot is empty, or the learned queries (dims, D)."""
        if self.layout.actor is None:
            return self.learned_queries(), None
        actors, actor_mask = tokens.of(self.layout.actor)  # (B, A, D), (B, A)
        return self.actor_query(actors), actor_mask

    def _has_targets_to_point_at(self, tokens: Tokens, target_mask: torch.Tensor) -> bool:
        """Whether every sample that must act (with an actor: has one present) has a target present."""
        has_target = target_mask.any(1)  # (B,)
        if self.layout.actor is not None:
            has_target |= ~tokens.of(self.layout.actor)[1].any(1)  # a sample with no actor present points at nothing
        return bool(has_target.all())

    def forward(self, tokens: Tokens, encoding: Encoding, core: EntityCore) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, sum(choices)) and values (B, 1)."""
        layout = self.layout
        decided, values, decoded_targets = self.decode(
            tokens, encoding, core, layout.targets if self.contextual_targets else None
        )  # (B, dims, D), (B, 1), (B, T, D) or None
        logits = self.verb_readout(decided)  # (B, dims, V) with an actor, else (B, sum(verbs))
        if self.verb_attention is not None:
            logits = logits + self.verb_attention(decided, encoding)
        if layout.targets is not None:  # every dimension has the same choices: V verbs, then T targets
            targets, target_mask = tokens.of(layout.targets)  # (B, T, D), (B, T)
            if not layout.verbs[0] and not self._has_targets_to_point_at(tokens, target_mask):
                raise ValueError(f"observation: a sample has no {layout.targets!r} present, and with no verbs the "
                                 f"action must point at one (give the action a verb such as 'no-op')")
            keys = self.target_key(targets if decoded_targets is None else decoded_targets)  # (B, T, D)
            pointer = self.pointer(decided) @ keys.transpose(1, 2) / keys.shape[-1] ** 0.5  # (B, dims, T)
            logits = torch.cat([logits.view(*pointer.shape[:2], -1),
                                pointer.masked_fill(~target_mask[:, None, :], NEG_LOGIT)], dim=-1)
        if layout.actor is not None:
            _, actor_mask = tokens.of(layout.actor)
            logits = torch.where(actor_mask[..., None], logits, self.noop_logits)
        return logits.flatten(1), values


class GaussianQueries(DecisionHeads):
    """Gaussian means (B, box_dims) and values (B, 1) of a Box action space: one learned query per dimension.

    ``log_std`` (box_dims,) is learned and state-independent, as in SB3's ``DiagGaussianDistribution``.
    """

    def __init__(self, layout: ActionLayout, dim: int, global_context: bool = False, log_std_init: float = 0.0) -> None:
        super().__init__(layout, dim, global_context)
        self.learned_queries = LearnedArray(layout.box_dims, dim)
        self.mean_readout = VerbReadout((1,) * layout.box_dims, dim)  # a readout per dimension, starting near 0
        self.log_std = nn.Parameter(torch.full((layout.box_dims,), float(log_std_init)))

    def decision_queries(self, tokens: Tokens) -> tuple[torch.Tensor, None]:
        """The learned queries (box_dims, D)."""
        return self.learned_queries(), None

    def forward(self, tokens: Tokens, encoding: Encoding, core: EntityCore) -> tuple[torch.Tensor, torch.Tensor]:
        """Means (B, box_dims) and values (B, 1)."""
        decided, values, _ = self.decode(tokens, encoding, core)  # (B, box_dims, D)
        return self.mean_readout(decided), values
