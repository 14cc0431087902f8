"""Multi-head attention: its two exact ways of computing the same output, and when it takes the cheaper one."""

import pytest
import torch

from perceiver_rl import PerceiverIO, core_cost
from perceiver_rl.attention import MultiHeadAttention

QUERY_DIM, CONTEXT_DIM = 12, 10


def inputs(shared_queries: bool, b=4, q=3, n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*(() if shared_queries else (b,)), q, QUERY_DIM, generator=g, dtype=torch.float64)
    context = torch.randn(b, n, CONTEXT_DIM, generator=g, dtype=torch.float64)
    mask = torch.rand(b, n, generator=g) > 0.5
    mask[0, :] = False  # an empty set: its outputs are the output projection's bias alone
    mask[1, :] = True
    return x.requires_grad_(), context.requires_grad_(), mask


@pytest.mark.parametrize("shared_queries", [True, False], ids=["shared-queries", "per-sample-queries"])
@pytest.mark.parametrize("num_heads", [1, 2])
def test_few_queries_over_many_keys_give_the_textbook_output_and_gradients(shared_queries, num_heads):
    torch.manual_seed(0)
    attn = MultiHeadAttention(QUERY_DIM, CONTEXT_DIM, num_heads).double()
    x, context, mask = inputs(shared_queries)
    assert attn.attends_in_context_space(x, context)  # 3 queries over 40 keys: the cheaper way is taken
    grads = []
    for in_context_space in (None, False):  # the way the module picks, then the textbook way
        attn.zero_grad()
        x.grad = context.grad = None
        out = attn(x, context, mask, in_context_space=in_context_space)
        out.pow(2).sum().backward()
        grads.append((out.detach(), x.grad, context.grad, [p.grad.clone() for p in attn.parameters()]))
    (out, gx, gc, gp), (ref, rgx, rgc, rgp) = grads
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(out[0], attn.to_out.bias.detach().expand_as(out[0]))  # the empty set reads nothing
    torch.testing.assert_close(gx, rgx)
    torch.testing.assert_close(gc, rgc)
    for g, r in zip(gp, rgp, strict=True):
        torch.testing.assert_close(g, r)


def test_padded_keys_change_nothing_in_context_space():
    attn = MultiHeadAttention(QUERY_DIM, CONTEXT_DIM, 1).double()
    x, context, mask = inputs(shared_queries=True)
    noisy = context.detach().clone()
    noisy[~mask] = 1e6
    torch.testing.assert_close(attn(x, context, mask), attn(x, noisy, mask))


def test_self_attention_and_many_queries_keep_projected_keys():
    attn = MultiHeadAttention(QUERY_DIM, QUERY_DIM, 4)
    tokens = torch.randn(2, 30, QUERY_DIM)
    assert not attn.attends_in_context_space(tokens, tokens)  # N queries over N keys: projecting keys is cheaper
    torch.testing.assert_close(attn(tokens, tokens, in_context_space=True), attn(tokens, tokens))  # either way
    assert not attn.attends_in_context_space(torch.randn(30, QUERY_DIM), torch.randn(2, 4, QUERY_DIM))


def test_latents_reading_many_entities_cost_less_than_projecting_their_keys():
    """8 latents over 1,024 entities: the whole core costs less than a quarter of what projecting keys would."""
    dim, n = 64, 1024
    core = PerceiverIO(dim, dim, 4, num_latents=8, latent_dim=dim, num_layers=1)
    key_value_projection = 2 * n * dim * 2 * dim  # FLOPs of the encoder's to_kv on every entity
    assert core_cost(core, n).flops < key_value_projection / 4
