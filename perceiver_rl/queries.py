"""Action and value logits decoded from queries.

Every choice is read out of the encoding by a decoder query:

- a fixed verb: a learned query per choice, decoded to one logit;
- with an ``actor`` type, one action per actor slot: the queries are the actor's own token (projected) plus the learned
  verb embedding, so each unit's decision reads the whole set from its own point of view, and the decoder's query
  residual keeps its own features in the output;
- a pointer choice (``targets``): a decoded pointer query dotted with a key per target entity; absent targets get
  a large negative logit (finite, so that entropies stay finite);
- padded actor slots get a fixed no-op distribution (all mass on choice 0): zero entropy, zero log-probability;
- the value: a learned value query decoded to one number;
- every query also carries the ``global`` token (when the observation has global features): the global features then
  reach every decision directly, as AlphaStar's scalar features bypass its entity encoder, instead of through one
  token among N that attention has to single out first (at N = 1,024 mines, 1 / 1,025 of a uniform attention);
- a ``Box`` action space (:class:`GaussianQueries`): one learned query per action dimension, decoded to the mean of a
  diagonal Gaussian whose log standard deviation is a learned, state-independent vector (as SB3's DiagGaussian).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from perceiver_rl.attention import LearnedArray
from perceiver_rl.core import Encoding, EntityCore
from perceiver_rl.entities import GLOBAL_KEY, EntitySpec
from perceiver_rl.tokens import Tokens

NEG_LOGIT = -1e8  # an impossible choice: exp() is 0 in float32, and 0 * NEG_LOGIT is 0 in the entropy


@dataclass(frozen=True)
class ActionLayout:
    """How an action space splits into dimensions, verbs and pointer choices.

    ``choices[d]`` is the size of dimension ``d``; its first ``choices[d] - num_targets`` choices are verbs and the
    last ``num_targets`` point at the slots of type ``targets``. With ``actor``, dimension ``d`` is actor slot ``d``.
    A ``Box`` action space has no choices and ``box_dims`` continuous dimensions.
    """

    choices: tuple[int, ...]
    actor: str | None
    targets: str | None
    num_targets: int
    box_dims: int = 0

    @property
    def verbs(self) -> tuple[int, ...]:
        """The number of verb choices of each dimension."""
        return tuple(c - self.num_targets for c in self.choices)


def _action_rule(spec: EntitySpec) -> str:
    return (
        "Discrete(A) or MultiDiscrete(nvec) for global choices, or a Box for continuous actions; "
        "MultiDiscrete([A] * max_T) with actor=T; with targets=U the last max_U choices of every dimension point at "
        f"U's slots (A >= max_U, same A in every dimension); entity types available: {list(spec.names)}"
    )


def action_layout(
    action_space: spaces.Space, spec: EntitySpec | None, actor: str | None, targets: str | None
) -> ActionLayout:
    """Check ``action_space`` against the rule for ``actor``/``targets`` and return its layout (or a ValueError).

    ``spec`` is the entity part of the observation (None: no entity keys, so no ``actor`` or ``targets``).
    """
    spec = spec if spec is not None else EntitySpec(())
    if isinstance(action_space, spaces.Box):
        if actor is not None or targets is not None:
            raise ValueError(f"action_space: a Box action space takes no actor or targets, got actor={actor!r}, "
                             f"targets={targets!r}")
        return ActionLayout((), None, None, 0, box_dims=int(np.prod(action_space.shape)))
    if actor is not None:
        spec.require(actor, "actor")
    if targets is not None:
        spec.require(targets, "targets")
    if isinstance(action_space, spaces.Discrete):
        if actor is not None:
            raise ValueError(
                f"action_space: actor={actor!r} needs MultiDiscrete([A] * {spec[actor].max_count}), got "
                f"{action_space}. Rule: {_action_rule(spec)}"
            )
        choices: tuple[int, ...] = (int(action_space.n),)
    elif isinstance(action_space, spaces.MultiDiscrete) and action_space.nvec.ndim == 1:
        choices = tuple(int(n) for n in action_space.nvec)
    else:
        raise ValueError(f"action_space: expected Discrete, 1-D MultiDiscrete or Box, got {action_space}. "
                         f"Rule: {_action_rule(spec)}")
    if actor is not None and (len(choices) != spec[actor].max_count or len(set(choices)) != 1):
        raise ValueError(
            f"action_space: actor={actor!r} expects MultiDiscrete([A] * {spec[actor].max_count}) (one action per "
            f"slot of {actor!r}), got {action_space}. Rule: {_action_rule(spec)}"
        )
    num_targets = spec[targets].max_count if targets is not None else 0
    if targets is not None and (len(set(choices)) != 1 or choices[0] < num_targets):
        raise ValueError(
            f"action_space: targets={targets!r} expects every dimension to have the same A >= {num_targets} "
            f"choices (the last {num_targets} point at {targets!r}), got {action_space}. Rule: {_action_rule(spec)}"
        )
    return ActionLayout(choices, actor, targets, num_targets)


def with_global_context(queries: torch.Tensor, tokens: Tokens) -> torch.Tensor:
    """``queries`` (Q, D) or (B, Q, D) plus the global features' token (B, 1, D): (B, Q, D); unchanged without one."""
    if GLOBAL_KEY not in tokens.slices:
        return queries
    return queries + tokens.of(GLOBAL_KEY)[0]  # (B, 1, D) broadcast over the queries


class QueryReadout(nn.Module):
    """One scalar per decoded query, each query read by its own weight vector: (B, ..., num, D) -> (B, ..., num).

    A readout shared by all queries (one ``nn.Linear(D, 1)``) would make two verbs' logits differ only by how the
    two queries' outputs differ, and at initialisation those outputs differ little from state to state: the policy
    starts near a saddle where every state gets the same action (``benchmarks/init_sensitivity.py`` measured the
    log-probabilities of the fixed verbs varying 30-170x less across states than the MLP's). With a weight vector per
    query, what the state changes in the shared part of the outputs moves each verb's logit differently, as in SB3's
    action head over MLP features. ``gain`` 0.01 starts near a uniform policy, as SB3 does.
    """

    def __init__(self, num: int, dim: int, gain: float = 0.01) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num, dim))
        self.bias = nn.Parameter(torch.zeros(num))
        nn.init.orthogonal_(self.weight, gain=gain)

    def forward(self, out: torch.Tensor) -> torch.Tensor:
        """Decoded queries (..., num, D) -> one number per query (..., num)."""
        return (out * self.weight).sum(-1) + self.bias


class ActionQueries(nn.Module):
    """Decode flat action logits (B, sum(choices)) and values (B, 1) from an encoding, through one decoder pass."""

    def __init__(self, layout: ActionLayout, dim: int) -> None:
        super().__init__()
        self.layout = layout
        verbs = layout.verbs
        self.verbs_per_row = verbs[0] if layout.actor is not None else sum(verbs)  # verb queries per query row
        if layout.actor is not None:
            self.actor_proj = nn.Linear(dim, dim)  # the actor's token, seen as a query
            # Shared by all actors and added to each actor's token: at the token's scale (std 1, not 0.02), so that
            # an actor's verb queries differ from the start and each verb's logit can move on its own (with 0.02 the
            # per-actor policy test failed for 2 of 3 sizes tried; with 1 it passed every time).
            self.verb_queries = LearnedArray(verbs[0], dim, std=1.0)
            num_pointer = 1
        else:
            self.verb_queries = LearnedArray(sum(verbs), dim)  # one per (dimension, verb)
            num_pointer = len(layout.choices)
        self.pointer_queries = LearnedArray(num_pointer, dim) if layout.targets else None
        self.value_query = LearnedArray(1, dim)
        self.verb_logit = QueryReadout(self.verbs_per_row, dim)  # the verbs of a row: every actor's are alike
        self.value_head = nn.Linear(dim, 1)
        if layout.targets is not None:
            self.pointer_proj = nn.Linear(dim, dim)
            self.target_key = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        if layout.actor is not None:
            # The fixed distribution of a padded actor slot: all mass on choice 0 (zero entropy, zero log-prob).
            noop = torch.full((layout.choices[0],), NEG_LOGIT)
            noop[0] = 0.0
            self.register_buffer("noop_logits", noop, persistent=False)
        if layout.targets is not None:  # start near uniform pointing, as SB3 does with a 0.01-gain action head
            nn.init.orthogonal_(self.pointer_proj.weight, gain=0.01)
            nn.init.zeros_(self.pointer_proj.bias)

    def queries(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int]]:
        """All queries with their mask, and (rows, per_row): Q = 1 value + rows * per_row action queries.

        Without an actor every query is learned (plus the global context: (B, Q, D)), no mask. With an actor the
        queries are (B, Q, D), masked where the actor slot is empty. The order is the one :func:`query_names` lists:
        the value, then per actor its verbs and pointer; or, without an actor, every dimension's verbs, then every
        dimension's pointer.
        """
        learned = [self.verb_queries()] + ([self.pointer_queries()] if self.pointer_queries is not None else [])
        if self.layout.actor is None:
            queries = torch.cat([self.value_query(), *learned], dim=0)  # (1 + sum(verbs) + pointers, D)
            return with_global_context(queries, tokens), None, (1, queries.shape[0] - 1)
        batch = tokens.tokens.shape[0]
        actors, actor_mask = tokens.of(self.layout.actor)  # (B, A, D), (B, A)
        per_actor = torch.cat(learned, dim=0)  # (V + P, D)
        action = self.actor_proj(actors)[:, :, None] + per_actor  # (B, A, V + P, D)
        rows, per_row = action.shape[1], action.shape[2]
        value = self.value_query().expand(batch, -1, -1)  # (B, 1, D)
        query_mask = torch.cat([actor_mask.new_ones(batch, 1), actor_mask.repeat_interleave(per_row, dim=1)], dim=1)
        queries = torch.cat([value, action.flatten(1, 2)], dim=1)  # (B, Q, D)
        return with_global_context(queries, tokens), query_mask, (rows, per_row)

    def forward(self, tokens: Tokens, encoding: Encoding, core: EntityCore) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, sum(choices)) and values (B, 1)."""
        layout = self.layout
        queries, query_mask, (rows, per_row) = self.queries(tokens)
        out = core.decode(encoding, queries, query_mask)  # (B, Q, D)
        values = self.value_head(out[:, 0])  # (B, 1)
        out = out[:, 1:].unflatten(1, (rows, per_row))  # (B, rows, per_row, D)
        logits = self.verb_logit(out[:, :, : self.verbs_per_row]).flatten(1)  # (B, rows * verbs_per_row)
        if layout.actor is not None or layout.targets is not None:  # every dimension has the same choices
            logits = logits.unflatten(1, (len(layout.choices), layout.verbs[0]))  # (B, dims, V)
        if layout.targets is not None:
            pointer = self.pointer_proj(out[:, :, self.verbs_per_row :].flatten(1, 2))  # (B, dims, D)
            targets, target_mask = tokens.of(layout.targets)  # (B, T, D), (B, T)
            keys = self.target_key(targets)
            pointer_logits = pointer @ keys.transpose(1, 2) / keys.shape[-1] ** 0.5  # (B, dims, T)
            logits = torch.cat([logits, pointer_logits.masked_fill(~target_mask[:, None, :], NEG_LOGIT)], dim=-1)
        if layout.actor is not None:
            _, actor_mask = tokens.of(layout.actor)
            logits = torch.where(actor_mask[..., None], logits, self.noop_logits)
        return logits.flatten(1), values


class GaussianQueries(nn.Module):
    """Decode Gaussian means (B, box_dims) and values (B, 1) from an encoding: one learned query per action dimension.

    ``log_std`` (box_dims,) is learned and state-independent, as in SB3's ``DiagGaussianDistribution``. The
    interface is that of :class:`ActionQueries`, so that the policy and ``explain()`` treat both alike.
    """

    def __init__(self, layout: ActionLayout, dim: int, log_std_init: float = 0.0) -> None:
        super().__init__()
        self.layout = layout
        self.mean_queries = LearnedArray(layout.box_dims, dim)
        self.value_query = LearnedArray(1, dim)
        self.mean_head = QueryReadout(layout.box_dims, dim)  # starts near mean 0, as SB3's action net
        self.value_head = nn.Linear(dim, 1)
        self.log_std = nn.Parameter(torch.full((layout.box_dims,), float(log_std_init)))

    def queries(self, tokens: Tokens) -> tuple[torch.Tensor, None, tuple[int, int]]:
        """All queries (1 + box_dims, D) (plus the global context: (B, 1 + box_dims, D)): the value, then one per
        action dimension."""
        queries = torch.cat([self.value_query(), self.mean_queries()], dim=0)
        return with_global_context(queries, tokens), None, (1, self.layout.box_dims)

    def forward(self, tokens: Tokens, encoding: Encoding, core: EntityCore) -> tuple[torch.Tensor, torch.Tensor]:
        """Means (B, box_dims) and values (B, 1)."""
        out = core.decode(encoding, self.queries(tokens)[0])  # (B, 1 + box_dims, D)
        return self.mean_head(out[:, 1:]), self.value_head(out[:, 0])


def query_names(layout: ActionLayout) -> list[str]:
    """Names of the decoder queries of the heads, in order (e.g. ``ally[3]/verb2``, ``dim0/pointer``, ``dim1/mean``)."""
    names = ["value"]
    if layout.box_dims:
        return names + [f"dim{d}/mean" for d in range(layout.box_dims)]
    pointer = layout.targets is not None
    if layout.actor is not None:
        for i in range(len(layout.choices)):
            names += [f"{layout.actor}[{i}]/verb{v}" for v in range(layout.verbs[0])]
            names += [f"{layout.actor}[{i}]/pointer"] if pointer else []
        return names
    for d, verbs in enumerate(layout.verbs):
        names += [f"dim{d}/verb{v}" for v in range(verbs)]
    return names + ([f"dim{d}/pointer" for d in range(len(layout.choices))] if pointer else [])


def chosen_queries(layout: ActionLayout, actions: np.ndarray) -> np.ndarray:
    """The index (into :func:`query_names`) of the query that decided each action dimension: (B, dims) ints.

    ``actions`` is (B, dims) (or (B,) for a Discrete space). A verb choice was decided by its verb query, a target
    choice by the dimension's pointer query, a continuous dimension by its mean query.
    """
    if layout.box_dims:
        return np.broadcast_to(1 + np.arange(layout.box_dims), (len(actions), layout.box_dims)).copy()
    actions = np.asarray(actions).reshape(len(actions), len(layout.choices))
    verbs = np.asarray(layout.verbs)  # (dims,)
    is_pointer = actions >= verbs
    if layout.actor is not None:
        row = 1 + np.arange(len(layout.choices)) * (verbs[0] + (layout.targets is not None))
        return np.where(is_pointer, row + verbs[0], row + actions)
    verb_start = 1 + np.concatenate([[0], np.cumsum(verbs)[:-1]])
    pointer_index = 1 + verbs.sum() + np.arange(len(layout.choices))
    return np.where(is_pointer, pointer_index, verb_start + actions)
