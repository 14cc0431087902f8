"""Tests of the PPO throughput benchmark (``benchmarks/ppo_throughput.py``): policy variants run, reported apart."""

from __future__ import annotations

import pytest

from tests.scripts import REPO, load_script

throughput = load_script("benchmarks/ppo_throughput.py")


def test_variants_parse_as_policy_kwargs():
    assert throughput.parse_variants([]) == {"": {}}
    assert throughput.parse_variants(["dim=32", "dim=64 num_latents=16"]) == {
        "dim=32": {"dim": 32}, "dim=64 num_latents=16": {"dim": 64, "num_latents": 16}}


def test_a_malformed_variant_names_the_option_and_the_text():
    with pytest.raises(SystemExit, match=r"--policy-variants 'dim64'.*key=value"):
        throughput.parse_variants(["dim64"])


def test_the_mlp_runs_only_the_defaults():
    variants = {"dim=32": {"dim": 32}, "dim=64": {"dim": 64}}
    assert throughput.variants_of("mlp", variants) == {"": {}}
    assert throughput.variants_of("perceiver", variants) == variants


def test_ratios_compare_each_variant_with_the_mlp_and_the_same_variant_of_the_transformer():
    rows = [{"task": t, "policy": p, "code": "new", "variant": v, "steps_per_s": s} for t, p, v, s in [
        ("minefield16", "mlp", "", 1000.0),
        ("minefield16", "perceiver", "dim=32", 400.0), ("minefield16", "perceiver", "dim=64", 250.0),
        ("minefield128", "perceiver", "dim=32", 300.0), ("minefield128", "transformer", "dim=32", 100.0),
        ("minefield128", "perceiver", "dim=64", 200.0), ("minefield128", "transformer", "dim=64", 25.0),
    ]]
    checks = throughput.summarise(rows, has_ref=False)
    assert checks == pytest.approx({
        "minefield16: perceiver / mlp [dim=32]": 0.4, "minefield16: perceiver / mlp [dim=64]": 0.25,
        "minefield128: perceiver / transformer [dim=32]": 3.0, "minefield128: perceiver / transformer [dim=64]": 8.0})


def test_a_cell_trains_the_variant_it_was_given():
    """One tiny Minefield cell per width, each in its own process (as the benchmark runs them): a wider policy has more
    parameters, so the variant reached the policy; the MLP refuses a variant instead of ignoring it."""
    narrow, wide = (throughput.cell_in_subprocess(REPO, "minefield16", "perceiver", 64, 1, "cpu", variant={"dim": d})
                    for d in (16, 32))
    assert narrow["steps"] == wide["steps"] == 64
    assert narrow["params"] < wide["params"]
    with pytest.raises(RuntimeError, match="MLP policy takes no policy variant"):
        throughput.cell_in_subprocess(REPO, "minefield16", "mlp", 64, 1, "cpu", variant={"dim": 16})
