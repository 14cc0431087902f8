"""Multi-entity games for perceiver-rl; importing this package registers each as ``perceiver_rl/<Name>-v0``.

The skills suite (:mod:`envs.skills`, ``SKILLS``) registers the same way. ``gym.make("perceiver_rl/Skirmish-v0")``
after ``import envs``, or ``gym.make("envs:perceiver_rl/Skirmish-v0")``.
"""

from __future__ import annotations

import gymnasium as gym

from envs.foraging import Foraging
from envs.majority import Majority
from envs.minefield import Minefield
from envs.nearest import Nearest
from envs.skills import SKILLS
from envs.skirmish import Skirmish

#: Registered id -> env class, in the order the docs and tables list them.
GAMES: dict[str, type[gym.Env]] = {
    "perceiver_rl/Skirmish-v0": Skirmish,
    "perceiver_rl/Foraging-v0": Foraging,
    "perceiver_rl/Nearest-v0": Nearest,
    "perceiver_rl/Majority-v0": Majority,
    "perceiver_rl/Minefield-v0": Minefield,
}

for _id, _cls in {**GAMES, **SKILLS}.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=f"{_cls.__module__}:{_cls.__name__}")

__all__ = ["GAMES", "SKILLS", "Foraging", "Majority", "Minefield", "Nearest", "Skirmish"]
