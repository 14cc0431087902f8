"""A features extractor for stock SB3 policies (``MultiInputPolicy`` with PPO, A2C, DQN, SAC, ...)."""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from perceiver_rl.attention import LearnedArray
from perceiver_rl.image import BYTE_VALUES
from perceiver_rl.network import CoreConfig, ObservationEncoder


class PerceiverExtractor(BaseFeaturesExtractor):
    """Encode any supported observation (entities, vectors, categories, images) with a core; decode one learned
    summary query into a ``features_dim`` vector.

    Use with ``policy_kwargs=dict(features_extractor_class=PerceiverExtractor,
    features_extractor_kwargs=dict(core="perceiver", features_dim=128))``; the sizes are those of
    :class:`~perceiver_rl.network.CoreConfig`. ``normalize_images`` must match the policy's (SB3's default True
    divides uint8 images by 255 before the extractor sees them).
    """

    def __init__(self, observation_space: spaces.Space, features_dim: int = 128, core: str = "perceiver",
                 normalize_images: bool = True, **sizes: Any) -> None:
        super().__init__(observation_space, features_dim)
        config = CoreConfig(core=core, **sizes)
        byte_scale = float(BYTE_VALUES - 1) if normalize_images else 1.0
        self.encoder = ObservationEncoder(observation_space, config, output_dim=features_dim, byte_scale=byte_scale)
        self.summary_query = LearnedArray(1, config.dim)

    def forward(self, observations: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Preprocessed observations -> features (B, features_dim)."""
        _, encoding = self.encoder(observations)
        return self.encoder.core.decode(encoding, self.summary_query())[:, 0]
