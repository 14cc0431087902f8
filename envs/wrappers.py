"""Observation wrappers for third-party envs; importing this module registers the wrapped ids.

MiniGrid's Dict observation holds ``image`` (7, 7, 3) uint8 object / colour / state indices, ``direction``
(Discrete 4) and ``mission`` (a text space, which the policies do not read). ``NoMission/<MiniGrid id>`` is the same
env with the mission dropped: a Dict of the image (49 tokens, one per cell) and the direction (one token). Use it with
``train_agent.py train --env NoMission/MiniGrid-Empty-8x8-v0 --env-package envs.wrappers`` (needs ``minigrid``:
``pip install -e .[minigrid]``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.wrappers import FilterObservation

#: The MiniGrid ids registered as ``NoMission/<id>``.
MINIGRID_IDS = ("MiniGrid-Empty-5x5-v0", "MiniGrid-Empty-8x8-v0", "MiniGrid-DoorKey-5x5-v0")
NO_MISSION = "NoMission/"


def make_no_mission(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make(env_id)`` of a MiniGrid env with its observation reduced to ``image`` and ``direction``."""
    import minigrid  # noqa: F401 (registers the MiniGrid ids)

    return FilterObservation(gym.make(env_id, **kwargs), ["image", "direction"])


for _id in MINIGRID_IDS:
    if NO_MISSION + _id not in gym.registry:
        gym.register(id=NO_MISSION + _id, entry_point=make_no_mission, kwargs={"env_id": _id})
