"""Entity tokens: the embedding's linear map and its gradients."""

import torch

from perceiver_rl.tokens import rows_linear


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
