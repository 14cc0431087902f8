"""perceiver-rl: Perceiver IO cores and stable-baselines3 policies for games with many entities."""

from perceiver_rl.core import Encoding, EntityCore
from perceiver_rl.cost import CoreCost, core_cost, count_params
from perceiver_rl.entities import EntitySpec, EntityType, entity_space, parse_entity_space
from perceiver_rl.perceiver import PerceiverIO
from perceiver_rl.transformer import TransformerCore

__all__ = [
    "CoreCost",
    "Encoding",
    "EntityCore",
    "EntitySpec",
    "EntityType",
    "PerceiverIO",
    "TransformerCore",
    "core_cost",
    "count_params",
    "entity_space",
    "parse_entity_space",
]
