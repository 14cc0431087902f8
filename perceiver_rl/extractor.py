"""A features extractor for stock SB3 policies (``MultiInputPolicy`` with PPO, A2C, DQN, SAC, ...)."""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from perceiver_rl.entities import parse_entity_space
from perceiver_rl.network import CoreConfig, EntityEncoder
from perceiver_rl.queries import LearnedQueries


class PerceiverExtractor(BaseFeaturesExtractor):
    """Encode the entity set with a core and decode one learned summary query into a ``features_dim`` vector.

    Use with ``policy_kwargs=dict(features_extractor_class=PerceiverExtractor,
    features_extractor_kwargs=dict(core="perceiver", features_dim=128))``; the sizes are those of
    :class:`~perceiver_rl.network.CoreConfig`.
    """

    def __init__(self, observation_space: spaces.Space, features_dim: int = 128, core: str = "perceiver",
                 **sizes: Any) -> None:
        super().__init__(observation_space, features_dim)
        config = CoreConfig(core=core, **sizes)
        self.encoder = EntityEncoder(parse_entity_space(observation_space), config, output_dim=features_dim)
        self.summary_query = LearnedQueries(1, config.dim)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Preprocessed observations -> features (B, features_dim)."""
        _, encoding = self.encoder(observations)
        return self.encoder.core.decode(encoding, self.summary_query())[:, 0]
