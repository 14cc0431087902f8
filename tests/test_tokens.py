"""Tokens: the entity embedding's linear map and its gradients, and the token set of an observation."""

import collections

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from perceiver_rl import entity_space
from perceiver_rl.observations import parse_observation_space
from perceiver_rl.tokens import ObservationTokenizer, rows_linear


def test_rows_linear_matches_a_linear_layer_in_value_and_every_gradient():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 50, 5, dtype=torch.float64, generator=g, requires_grad=True)
    weight = torch.randn(8, 5, dtype=torch.float64, generator=g, requires_grad=True)
    bias = torch.randn(8, dtype=torch.float64, generator=g, requires_grad=True)
    out_grad = torch.randn(3, 50, 8, dtype=torch.float64, generator=g)
    grads = []
    for linear in (rows_linear, torch.nn.functional.linear):
        out = linear(x, weight, bias)
        grads.append((out.detach(), *torch.autograd.grad(out, (x, weight, bias), out_grad)))
    for mine, reference in zip(*grads, strict=True):
        torch.testing.assert_close(mine, reference)
    assert torch.autograd.gradcheck(rows_linear, (x[:1, :4], weight, bias))


def test_rows_linear_skips_the_gradient_of_observations():
    x = torch.randn(2, 6, 3)  # observations never need a gradient
    weight = torch.randn(4, 3, requires_grad=True)
    out = rows_linear(x, weight, torch.zeros(4, requires_grad=True))
    out.sum().backward()
    assert x.grad is None and weight.grad is not None


def test_rows_linear_gives_no_gradient_to_a_frozen_weight():
    weight = torch.randn(4, 3)  # frozen
    bias = torch.zeros(4, requires_grad=True)
    rows_linear(torch.randn(2, 6, 3), weight, bias).sum().backward()
    assert weight.grad is None
    torch.testing.assert_close(bias.grad, torch.full((4,), 12.0))


def test_an_entity_only_observation_is_tokenized_without_a_second_copy():
    # The entity tokenizer concatenates its types' tokens; with no other observation key that tensor is the token
    # set itself, not copied once more (at 1,024 entities a copy is a pass over the largest activation).
    space = entity_space({"mine": (16, 5)}, global_dim=3)
    tokenizer = ObservationTokenizer(parse_observation_space(space), dim=8)
    obs = {k: torch.as_tensor(np.stack([space[k].sample() for _ in range(2)]), dtype=torch.float32) for k in space}
    with CountOps() as ops:
        out = tokenizer(obs)
    assert ops.counts["aten.cat"] == 2  # the tokens and the mask, each once
    assert out.tokens.shape == (2, 17, 8) and out.mask.shape == (2, 17)
    torch.testing.assert_close(out.tokens, tokenizer.entities(obs).tokens)


class CountOps(TorchDispatchMode):
    """Count the aten ops run inside the ``with`` block."""

    def __enter__(self):
        self.counts = collections.Counter()
        return super().__enter__()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))
