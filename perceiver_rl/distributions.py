"""The MultiDiscrete action distribution of the policies: one batched categorical over every action dimension.

SB3's ``MultiCategoricalDistribution`` (and sb3-contrib's masked one) builds a torch ``Categorical`` per dimension
at every call (8 for Skirmish's squad), each normalising, checking and, when masked, rebuilding its logits: many
small operations, costly on a CPU (docs/DESIGN.md). Here the logits (B, dims, A) are normalised once for all dimensions;
dimensions with fewer choices than the largest are padded with impossible ones. It is the same distribution: the
log-probability and entropy are sums over dimensions, and masked or impossible choices add nothing to the entropy, as
in sb3-contrib.
"""

from __future__ import annotations

import numpy as np
import torch
from stable_baselines3.common.distributions import MultiCategoricalDistribution

NEG_LOGIT = -1e8  # an impossible choice: exp() is 0 in float32, and 0 * NEG_LOGIT is 0 in the entropy


class BatchedMultiCategorical(MultiCategoricalDistribution):
    """A categorical per action dimension, computed as one batch; ``apply_masking`` as in sb3-contrib.

    ``action_dims``: the number of choices of each dimension (a MultiDiscrete's ``nvec``).
    """

    def __init__(self, action_dims: list[int]) -> None:
        super().__init__(action_dims)
        self.width = max(action_dims)
        self.ragged = len(set(action_dims)) > 1
        if self.ragged:  # where each flat choice goes in the padded (dims, width) grid
            dims = np.repeat(np.arange(len(action_dims)), action_dims)
            offsets = np.concatenate([[0], np.cumsum(action_dims)[:-1]])
            self.grid_index = torch.as_tensor(dims * self.width + np.arange(sum(action_dims)) - offsets[dims])
        self.raw_logits: torch.Tensor | None = None  # (B, dims, width), padded choices at NEG_LOGIT
        self.log_probs: torch.Tensor | None = None  # (B, dims, width), normalised over each dimension
        self.masks: torch.Tensor | None = None  # (B, dims, width) bool, True = allowed, or None

    def _grid(self, flat: torch.Tensor, fill: float | bool) -> torch.Tensor:
        """Flat per-choice values (B, sum(action_dims)) -> (B, dims, width), padded with ``fill``."""
        if not self.ragged:
            return flat.reshape(-1, len(self.action_dims), self.width)
        grid = flat.new_full((flat.shape[0], len(self.action_dims) * self.width), fill)
        grid[:, self.grid_index.to(flat.device)] = flat
        return grid.view(-1, len(self.action_dims), self.width)

    def proba_distribution(self, action_logits: torch.Tensor) -> BatchedMultiCategorical:
        """Set the flat logits (B, sum(action_dims)); any earlier masking is cleared."""
        self.raw_logits = self._grid(action_logits.reshape(-1, sum(self.action_dims)), NEG_LOGIT)
        self.masks = None
        self.log_probs = self.raw_logits.log_softmax(-1)
        return self

    def apply_masking(self, masks: np.ndarray | torch.Tensor | None) -> None:
        """Set the probability of every choice where ``masks`` (B, sum(action_dims)) is False to 0 (None: unmask)."""
        assert self.raw_logits is not None, "Must set distribution parameters"
        logits = self.raw_logits
        self.masks = None
        if masks is not None:
            flat = torch.as_tensor(masks, dtype=torch.bool, device=logits.device).reshape(len(logits), -1)
            self.masks = self._grid(flat, False)
            logits = logits.masked_fill(~self.masks, NEG_LOGIT)
        self.log_probs = logits.log_softmax(-1)

    def log_prob_per_dim(self, actions: torch.Tensor) -> torch.Tensor:
        """The log-probability of each dimension's choice: (B, dims)."""
        actions = actions.reshape(-1, len(self.action_dims), 1).long()
        return self.log_probs.gather(-1, actions).squeeze(-1)

    def entropy_per_dim(self) -> torch.Tensor:
        """The entropy of each dimension: (B, dims)."""
        p_log_p = self.log_probs.exp() * self.log_probs  # an impossible choice: 0 * NEG_LOGIT = 0
        if self.masks is not None:
            p_log_p = p_log_p.masked_fill(~self.masks, 0.0)
        return -p_log_p.sum(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """The log-probability of ``actions`` (B, dims): (B,)."""
        return self.log_prob_per_dim(actions).sum(-1)

    def entropy(self) -> torch.Tensor:
        """The entropy, summed over dimensions: (B,)."""
        return self.entropy_per_dim().sum(-1)

    def sample(self) -> torch.Tensor:
        """One choice per dimension: (B, dims)."""
        probs = self.log_probs.exp().flatten(0, 1)  # (B * dims, width)
        return torch.multinomial(probs, 1).view(-1, len(self.action_dims))

    def mode(self) -> torch.Tensor:
        """The most likely choice of each dimension: (B, dims)."""
        return self.log_probs.argmax(-1)
