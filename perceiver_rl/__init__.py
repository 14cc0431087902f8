"""perceiver-rl: Perceiver IO cores and stable-baselines3 policies for games with many entities."""

from perceiver_rl.entities import EntitySpec, EntityType, entity_space, parse_entity_space

__all__ = ["EntitySpec", "EntityType", "entity_space", "parse_entity_space"]
