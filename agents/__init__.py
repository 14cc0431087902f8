"""Agents for the entity games: presets, assembly, training, evaluation and comparison of cores.

``make_agent(env_id, core="perceiver" | "transformer" | "mlp", seed=0, **overrides)`` returns a ready SB3 ``PPO``
(or ``MaskablePPO`` for envs with ``action_masks()``) with the core's policy and the presets of ``agents/presets/``.
"""

from agents.errors import UsageError
from agents.factory import build_agent, load_agent, make_agent, make_env
from agents.presets import AGENT_CORES, AgentConfig, resolve_config

__all__ = [
    "AGENT_CORES", "AgentConfig", "UsageError", "build_agent", "load_agent", "make_agent", "make_env", "resolve_config",
]
