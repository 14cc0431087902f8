"""perceiver-rl: Perceiver IO cores and stable-baselines3 policies for games with many entities, and any Gym env."""

from perceiver_rl.actions import ActionLayout, action_layout
from perceiver_rl.attention import LearnedArray
from perceiver_rl.core import Encoding, EntityCore
from perceiver_rl.cost import CoreCost, core_cost, count_params, policy_flops
from perceiver_rl.entities import EntitySpec, EntityType, entity_space, parse_entity_space
from perceiver_rl.explain import Explanation, explain
from perceiver_rl.extractor import PerceiverExtractor
from perceiver_rl.image import ImageTokenizer
from perceiver_rl.network import CORES, CoreConfig, ObservationEncoder, make_core
from perceiver_rl.observations import ObservationSpec, TokenSource, parse_observation_space
from perceiver_rl.perceiver import PerceiverIO
from perceiver_rl.policies import MaskablePerceiverPolicy, PerceiverPolicy
from perceiver_rl.queries import ActionQueries, DecisionHeads, GaussianQueries
from perceiver_rl.tokens import (
    CategoricalTokenizer,
    EntityTokenizer,
    FeatureTokenizer,
    ObservationTokenizer,
    Tokens,
)
from perceiver_rl.transformer import TransformerCore
from perceiver_rl.wrappers import PresenceMask

__all__ = [
    "CORES",
    "ActionLayout",
    "ActionQueries",
    "CoreConfig",
    "DecisionHeads",
    "CategoricalTokenizer",
    "EntityTokenizer",
    "FeatureTokenizer",
    "GaussianQueries",
    "ImageTokenizer",
    "ObservationEncoder",
    "ObservationSpec",
    "ObservationTokenizer",
    "TokenSource",
    "Explanation",
    "LearnedArray",
    "MaskablePerceiverPolicy",
    "PerceiverExtractor",
    "PerceiverPolicy",
    "PresenceMask",
    "Tokens",
    "action_layout",
    "make_core",
    "CoreCost",
    "Encoding",
    "EntityCore",
    "EntitySpec",
    "EntityType",
    "PerceiverIO",
    "TransformerCore",
    "core_cost",
    "explain",
    "count_params",
    "policy_flops",
    "entity_space",
    "parse_entity_space",
    "parse_observation_space",
]
