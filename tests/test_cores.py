"""Masking, shape and bad-input semantics of both cores (issue: core contract)."""

import pytest
import torch

from perceiver_rl import PerceiverIO, TransformerCore, core_cost

D_IN, D_Q, D_OUT = 6, 8, 5
SMALL = {"perceiver": dict(num_latents=4, latent_dim=16, num_layers=2, num_heads=2),
         "transformer": dict(model_dim=16, num_layers=2, num_heads=2)}
CORES = {"perceiver": PerceiverIO, "transformer": TransformerCore}


def make(name, **kw):
    torch.manual_seed(0)
    return CORES[name](D_IN, D_Q, D_OUT, **{**SMALL[name], **kw}).eval()


#: Every core form the contract tests run on: both cores, and the Perceiver with its entity MLP block or with a
#: second read of the entities after its latent layers.
FORMS = {"perceiver": {}, "transformer": {}, "perceiver+entity_mlp": dict(entity_mlp=True),
         "perceiver+reread": dict(reread=True)}


def make_form(form, **kw):
    return make(form.split("+")[0], **FORMS[form], **kw)


def batch(b=3, n=7, q=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, D_IN, generator=g)
    mask = torch.rand(b, n, generator=g) > 0.4
    mask[:, 0] = True
    queries = torch.randn(q, D_Q, generator=g)
    return x, mask, queries


@pytest.fixture(params=sorted(FORMS))
def core(request):
    return make_form(request.param)


def test_output_shape_and_query_forms(core):
    x, mask, q = batch()
    out = core(x, mask, q)
    assert out.shape == (3, 4, D_OUT)
    torch.testing.assert_close(core(x, mask, q.expand(3, -1, -1)), out)


def test_padded_content_changes_nothing(core):
    x, mask, q = batch()
    noisy = x.clone()
    noisy[~mask] = torch.randn_like(noisy[~mask]) * 1e3
    noisy[~mask][:, 0] = float("nan")
    assert (core(x, mask, q) - core(noisy, mask, q)).abs().max() <= 1e-6


def test_extra_padding_changes_nothing(core):
    x, mask, q = batch()
    pad_x = torch.cat([x, torch.randn(3, 9, D_IN)], dim=1)
    pad_mask = torch.cat([mask, torch.zeros(3, 9, dtype=torch.bool)], dim=1)
    assert (core(x, mask, q) - core(pad_x, pad_mask, q)).abs().max() <= 1e-5


def test_permuting_entities_changes_nothing(core):
    x, mask, q = batch()
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(3))
    assert (core(x, mask, q) - core(x[:, perm], mask[:, perm], q)).abs().max() <= 1e-5


def test_empty_set_is_finite_independent_of_padding_and_isolated(core):
    core.train()
    x, mask, q = batch()
    mask[1] = False
    x = x.requires_grad_()
    out = core(x, mask, q)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in core.parameters() if p.grad is not None)
    assert (x.grad[1] == 0).all()  # nothing flows into an empty sample's padded rows
    other = x.detach().clone()
    other[1] = torch.randn_like(other[1]) * 100
    out2 = core(other, mask, q)
    assert (out - out2).abs().max() <= 1e-6  # neither the empty sample nor its neighbours move
    alone = core(x.detach()[[0, 2]], mask[[0, 2]], q)
    assert (out[[0, 2]] - alone).abs().max() <= 1e-5


def test_query_mask_zeroes_outputs(core):
    x, mask, q = batch()
    query_mask = torch.tensor([[1, 1, 0, 1]] * 3, dtype=torch.bool)
    out = core(x, mask, q, query_mask)
    assert (out[:, 2] == 0).all()
    torch.testing.assert_close(out[:, [0, 1, 3]], core(x, mask, q)[:, [0, 1, 3]])


def test_float_mask_accepted(core):
    x, mask, q = batch()
    torch.testing.assert_close(core(x, mask.float(), q), core(x, mask, q))


@pytest.mark.parametrize("name", sorted(FORMS))
def test_gradcheck_float64(name):
    core = make_form(name).double()
    x, mask, q = batch(b=2, n=4, q=2)
    mask[1] = False
    x = x.double().requires_grad_()
    q = q.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: core(a, mask, b), (x, q), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CORES))
def test_dropout_off_by_default_and_eval_deterministic(name):
    core = make(name)
    assert all(m.p == 0 for m in core.modules() if isinstance(m, torch.nn.Dropout))
    with_dropout = make(name, dropout=0.5).eval()
    x, mask, q = batch()
    torch.testing.assert_close(with_dropout(x, mask, q), with_dropout(x, mask, q), rtol=0, atol=0)


def test_entity_mlp_is_a_per_entity_block_before_the_encoder():
    plain, with_mlp = make("perceiver"), make("perceiver", entity_mlp=True)
    assert plain.entity_mlp is None and with_mlp.entity_mlp is not None
    x, mask, q = batch()
    assert not torch.allclose(plain(x, mask, q), with_mlp(x, mask, q))
    relevance = with_mlp.relevance(x, mask, q)  # the maps of the forward pass, composed down to the entities
    torch.testing.assert_close(relevance.sum(-1), torch.ones(3, 4))
    assert torch.all(relevance[~mask[:, None, :].expand_as(relevance)] == 0)


def test_entity_mlp_ratio_sets_its_hidden_width_alone():
    """``entity_mlp_ratio`` widens the entity MLP only (the encoder's and latents' MLPs keep ``mlp_ratio``)."""
    narrow = make("perceiver", entity_mlp=True, entity_mlp_ratio=0.5)
    assert narrow.entity_mlp[1].net[0].out_features == D_IN // 2
    assert make("perceiver", entity_mlp=True).entity_mlp[1].net[0].out_features == 2 * D_IN
    assert narrow.encoder.mlp.net[0].out_features == make("perceiver").encoder.mlp.net[0].out_features
    x, mask, q = batch()
    assert narrow(x, mask, q).shape == (3, 4, D_OUT)
    for bad in (0.0, -1.0, 0.1):  # 0.1 * 6 features rounds to a hidden width of 0
        with pytest.raises(ValueError, match="entity_mlp_ratio"):
            make("perceiver", entity_mlp=True, entity_mlp_ratio=bad)


def test_reread_is_a_second_encoder_cross_attention_after_the_latent_layers():
    """``reread`` adds one cross-attention from the latents to the entities, the encoder's shape with weights of its
    own, after the latent layers; its attention joins the relevance as a residual layer's does."""
    plain, twice = make("perceiver"), make("perceiver", reread=True)
    assert plain.reread is None
    extra = sum(p.numel() for p in twice.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == sum(p.numel() for p in twice.encoder.parameters())
    x, mask, q = batch()
    assert not torch.allclose(plain.encode(x, mask).tokens, twice.encode(x, mask).tokens)
    # The relevance by hand: the encoder's map, rolled through the latent layers, then averaged with the reread's.
    entities = x.masked_fill(~mask[..., None], 0)  # padded rows wiped, as the core does
    z = twice.encoder(twice.latents(), entities, mask)
    relevance = twice.encoder.attention_map(twice.latents(), entities, mask)
    for layer in twice.layers:
        relevance = 0.5 * layer.attention_map(z) @ relevance + 0.5 * relevance
        z = layer(z)
    relevance = 0.5 * twice.reread.attention_map(z, entities, mask) + 0.5 * relevance
    encoding, got = twice.encoding_relevance(x, mask)
    torch.testing.assert_close(got, relevance)
    torch.testing.assert_close(encoding.tokens, twice.reread(z, entities, mask))


def test_perceiver_weight_sharing_repeats_blocks():
    shared = make("perceiver", num_repeats=3)
    assert sum(p.numel() for p in shared.parameters()) == sum(p.numel() for p in make("perceiver").parameters())
    x, mask, q = batch()
    assert not torch.allclose(shared(x, mask, q), make("perceiver")(x, mask, q))


def test_encode_once_decode_many(core):
    x, mask, q = batch()
    enc = core.encode(x, mask)
    torch.testing.assert_close(core.decode(enc, q), core(x, mask, q))
    assert core.decode(enc, q[:1]).shape == (3, 1, D_OUT)


def test_perceiver_latents_shape():
    enc = make("perceiver").encode(*batch()[:2])
    assert enc.tokens.shape == (3, 4, 16) and enc.mask is None


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (lambda x, m, q: (x[0], m, q), r"inputs: expected shape \(B, N, 6\), got \(7, 6\)"),
        (lambda x, m, q: (x[..., :4], m, q), r"inputs: expected shape \(B, N, 6\), got \(3, 7, 4\)"),
        (lambda x, m, q: (x.long(), m, q), r"inputs: expected a floating-point tensor"),
        (lambda x, m, q: (x, m[:, :5], q), r"mask: expected shape \(3, 7\) \(B, N\) to match inputs, got \(3, 5\)"),
        (lambda x, m, q: (x, m.float() * 2, q), r"mask: expected a boolean or 0/1 mask"),
        (lambda x, m, q: (x, m, q[:, :3]), r"queries: expected shape \(3, Q, 8\) or \(Q, 8\), got \(4, 3\)"),
        (lambda x, m, q: (x, m, q.expand(2, -1, -1)), r"queries: expected shape \(3, Q, 8\)"),
    ],
)
def test_bad_input_names_argument(core, bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        core(*bad(*batch()))


def test_bad_query_mask(core):
    x, mask, q = batch()
    with pytest.raises(ValueError, match=r"query_mask: expected shape \(3, 4\) \(B, Q\), got \(3, 2\)"):
        core(x, mask, q, torch.ones(3, 2, dtype=torch.bool))


@pytest.mark.parametrize("name", sorted(CORES))
def test_bad_constructor_arguments(name):
    with pytest.raises(ValueError, match="input_dim: expected >= 1, got 0"):
        CORES[name](0, D_Q, D_OUT)
    with pytest.raises(ValueError, match="num_heads: must divide"):
        CORES[name](D_IN, D_Q, D_OUT, num_heads=3)


def test_cost_grows_linearly_for_perceiver_quadratically_for_transformer():
    p, t = make("perceiver"), make("transformer")
    p1, p2 = core_cost(p, 256).flops, core_cost(p, 1024).flops
    t1, t2 = core_cost(t, 256).flops, core_cost(t, 1024).flops
    assert p2 / p1 < 4.2  # linear: 4x entities, at most ~4x FLOPs
    assert t2 / t1 > 6  # the N^2 attention term dominates already
    assert core_cost(p, 16).params == sum(x.numel() for x in p.parameters())


def test_relevance_is_a_distribution_over_present_inputs(core):
    x, mask, q = batch()
    mask[1] = False  # an empty sample
    rel = core.relevance(x, mask, q)  # (B, Q, N)
    assert rel.shape == (3, 4, 7) and (rel >= 0).all()
    assert (rel.transpose(1, 2)[~mask] == 0).all()  # exactly 0 on padded rows
    torch.testing.assert_close(rel[[0, 2]].sum(-1), torch.ones(2, 4))
    assert (rel[1] == 0).all()
    assert not torch.allclose(rel[0, 0], rel[0, 0].mean().expand(7) * mask[0])  # not trivially uniform


def test_encoding_relevance_comes_with_the_encoding_the_decoder_reads(core):
    x, mask, _ = batch()
    x[~mask] = float("nan")  # padded content never matters
    encoding, rel = core.encoding_relevance(x, mask)  # (B, M, N)
    expected = core.encode(x, mask)
    torch.testing.assert_close(encoding.tokens, expected.tokens)
    assert (encoding.mask is None) == (expected.mask is None)
    assert rel.shape == (3, encoding.tokens.shape[1], 7) and (rel >= 0).all()
    assert (rel.transpose(1, 2)[~mask] == 0).all()
    rows = torch.ones(rel.shape[:2], dtype=torch.bool) if encoding.mask is None else encoding.mask
    torch.testing.assert_close(rel.sum(-1)[rows], torch.ones(int(rows.sum())))  # what attention can read


def test_relevance_follows_permutation(core):
    x, mask, q = batch()
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(core.relevance(x, mask, q)[..., perm], core.relevance(x[:, perm], mask[:, perm], q))


def test_relevance_points_at_the_attended_entity():
    """With no self-attention layer, a Transformer core's relevance is exactly its decoder attention."""
    core = make("transformer", num_layers=0)
    x, mask, q = batch()
    block = core.decoder.block
    expected = block.attention_map(q.expand(3, -1, -1), core.embed(x.masked_fill(~mask[..., None], 0)), mask)
    torch.testing.assert_close(core.relevance(x, mask, q), expected)
