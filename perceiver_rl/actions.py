"""The action-space convention: how a Discrete, MultiDiscrete or Box action space splits into decisions.

A decision is one dimension of the action: a global choice, or one actor slot's action. Its first choices are fixed
verbs; with ``targets`` its last choices point at the slots of an entity type. :func:`action_layout` checks a space
against this rule and returns its :class:`ActionLayout`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from perceiver_rl.entities import EntitySpec


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

    @property
    def num_decisions(self) -> int:
        """The number of decisions (action dimensions): one decoder query each."""
        return self.box_dims or len(self.choices)


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
