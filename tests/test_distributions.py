"""BatchedMultiCategorical is the distribution of SB3's MultiCategorical and sb3-contrib's masked one, batched."""

import numpy as np
import pytest
import torch
from sb3_contrib.common.maskable.distributions import MaskableMultiCategoricalDistribution
from stable_baselines3.common.distributions import MultiCategoricalDistribution

from perceiver_rl.distributions import NEG_LOGIT, BatchedMultiCategorical


@pytest.mark.parametrize("nvec", [[4, 4, 4], [2, 5, 3]])
def test_matches_sb3_and_sb3_contrib(nvec):
    torch.manual_seed(0)
    logits = torch.randn(6, sum(nvec)) * 3
    logits[0, 1] = NEG_LOGIT  # an impossible choice (an absent target, a padded actor's verbs)
    actions = torch.stack([torch.randint(n, (6,)) for n in nvec], dim=1)
    ours = BatchedMultiCategorical(nvec).proba_distribution(logits)
    theirs = MultiCategoricalDistribution(nvec).proba_distribution(logits)
    torch.testing.assert_close(ours.log_prob(actions), theirs.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), theirs.entropy())
    torch.testing.assert_close(ours.mode(), theirs.mode())
    masks = torch.rand(6, sum(nvec)) > 0.4
    masks[:, [0, nvec[0], nvec[0] + nvec[1]]] = True  # every dimension keeps a choice
    ours.apply_masking(masks)
    masked = MaskableMultiCategoricalDistribution(nvec).proba_distribution(logits)
    masked.apply_masking(masks)
    allowed = torch.stack([torch.nonzero(m.view(-1))[0, 0] for m in masks.split(nvec, dim=1)[0]])  # sure-allowed
    actions[:, 0] = allowed
    torch.testing.assert_close(ours.log_prob(actions), masked.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), masked.entropy())
    torch.testing.assert_close(ours.mode(), masked.mode())
    ours.apply_masking(None)  # unmasking restores the plain distribution
    torch.testing.assert_close(ours.entropy(), theirs.entropy())


def test_samples_follow_the_probabilities_and_masks():
    torch.manual_seed(0)
    nvec = [3, 2]
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1, 0.5, 0.5]])).expand(4000, -1)
    dist = BatchedMultiCategorical(nvec).proba_distribution(logits)
    samples = dist.sample()  # (4000, 2)
    assert samples.shape == (4000, 2)
    freq = np.bincount(samples[:, 0].numpy(), minlength=3) / 4000
    np.testing.assert_allclose(freq, [0.7, 0.2, 0.1], atol=0.03)
    dist.apply_masking(np.tile([True, False, True, True, True], (4000, 1)))
    samples = dist.sample()
    assert not (samples[:, 0] == 1).any() and (samples[:, 1] < 2).all()
    assert dist.get_actions(deterministic=True)[0].tolist() == [0, 0]
