"""Choices on the policy's hot path, each measured against its alternative in one process, interleaved.

Run: ``python benchmarks/policy_ops.py`` (``--rounds``, ``--ops`` to run some of them). One torch thread.

- ``distribution``: one PPO minibatch of the Skirmish preset's policy (``agents.make_agent``: forward,
  log-probabilities, entropy, backward) with the policy's ``BatchedMultiCategorical`` against sb3-contrib's
  ``MaskableMultiCategoricalDistribution`` (a ``Categorical`` per action dimension), at the minibatch of 256 and the
  rollout's batch of 8;
- ``inference_mode``: one acting step of 8 observations (what a rollout step runs) under ``torch.no_grad`` against
  ``torch.inference_mode``;
- ``attention``: ``F.scaled_dot_product_attention`` against matmul-softmax-matmul, forward + backward, at the
  Skirmish policy's shapes (the encoder's 16 latents over 19 masked tokens, one head of 64; a latent layer, 4 heads
  of 16);
- ``embedding``: the entity embedding (``perceiver_rl.tokens.rows_linear``) against ``F.linear``, forward +
  backward, for a minibatch of 64 observations of 16, 128 and 1,024 entities of 5 features (Minefield's) into 64;
- ``context_space``: the Perceiver encoder's attention (8 latents, one head of 64) over 19, 129 and 1,025 masked
  tokens of a minibatch of 64, forward + backward: ``MultiHeadAttention`` attending in the context's space against
  projecting every token's key and value first;
- ``entity_mlp``: the Perceiver's entity MLP block (``x + MLP(LN(x))`` on every entity) at the latents' widening of
  2 against ``entity_mlp_ratio=0.5``, forward + backward, for a minibatch of 64 observations of 16, 128 and 1,024
  entities 64 wide;
- ``head_weights``: a batch of per-head rows times per-head weights, ``(B, H, Q, X) x (H, X, Y)``, as attention in the
  context's space multiplies its queries and outputs by the key and value weights, forward + backward at a minibatch
  of 64: matmul's broadcasting (``@``, which expands each weight to the batch and, backward, sums a weight gradient per
  sample) against ``torch.einsum`` (one matmul per head, the batch folded into its rows), at the decoder's 2 queries
  and the encoder's 8 latents, one head of 64 and 4 heads of 16;
- ``verb_attention``: :class:`~perceiver_rl.queries.VerbAttention` at Skirmish's shapes (8 actors x 9 verbs, a
  minibatch of 256, 64 wide) over the Perceiver's 8 latents and the Transformer's 19 masked tokens, forward +
  backward: scoring the decision's and the verb's parts apart (the module) against one attention call with a head
  per verb over the (decision, verb) queries built in full (``masked_attention``), the same numbers.

Writes ``benchmarks/results/policy_ops.json`` (``--out``): the median milliseconds of each side and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sb3_contrib.common.maskable.distributions import MaskableMultiCategoricalDistribution

import envs  # noqa: F401  (registers the games)
from agents import make_agent
from perceiver_rl import PerceiverIO
from perceiver_rl.attention import MultiHeadAttention, masked_attention
from perceiver_rl.core import Encoding
from perceiver_rl.queries import VerbAttention
from perceiver_rl.tokens import rows_linear

RESULTS = Path(__file__).parent / "results" / "policy_ops.json"
OPS = ("distribution", "inference_mode", "attention", "embedding", "context_space", "entity_mlp", "head_weights",
       "verb_attention")


def interleaved(sides: dict[str, Callable[[], None]], rounds: int, calls: int) -> dict[str, float]:
    """Median milliseconds per call of each side, the sides alternating round by round after a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, fn in sides.items():
            fn()
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def batch_of(policy, size: int) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """``size`` sampled observations as tensors, sampled actions, and all-open action masks."""
    samples = [policy.observation_space.sample() for _ in range(size)]
    obs, _ = policy.obs_to_tensor({k: np.stack([s[k] for s in samples]) for k in samples[0]})
    actions = torch.as_tensor(np.stack([policy.action_space.sample() for _ in range(size)]))
    return obs, actions, torch.ones(size, int(policy.action_space.nvec.sum()), dtype=torch.bool)


def math_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Attention written out: softmax(q k^T / sqrt(d)) v over the keys where ``mask`` is True."""
    scores = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1) @ v


def torch_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """torch's fused kernel, as ``perceiver_rl.attention.masked_attention`` calls it."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS), help="which comparisons to run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    results = []

    def record(what: str, sides: dict[str, float]) -> None:
        (a, ta), (b, tb) = sides.items()
        results.append({"what": what, a: ta, b: tb, "ratio": ta / tb})
        print(f"{what:60s} {a} {ta:8.2f} ms   {b} {tb:8.2f} ms   {a} / {b} = {ta / tb:.2f}", flush=True)

    if {"distribution", "inference_mode"} & set(args.ops):
        policy = make_agent("perceiver_rl/Skirmish-v0", core="perceiver", seed=0, device="cpu", n_envs=1).policy
        batched = policy.action_dist
    if "distribution" in args.ops:
        per_dimension = MaskableMultiCategoricalDistribution(list(policy.action_space.nvec))
        for size in (256, 8):
            obs, actions, masks = batch_of(policy, size)

            def minibatch(dist=None, obs=obs, actions=actions, masks=masks) -> None:
                policy.action_dist = dist
                values, log_prob, entropy = policy.evaluate_actions(obs, actions, action_masks=masks)
                (log_prob.mean() + entropy.mean() + values.mean()).backward()

            record(f"distribution, minibatch of {size}", interleaved(
                {"sb3-contrib": lambda: minibatch(per_dimension), "batched": lambda: minibatch(batched)},
                args.rounds, 5))
        policy.action_dist = batched
    if "inference_mode" in args.ops:
        obs, _, masks = batch_of(policy, 8)

        def act(context) -> None:
            with context():
                policy._distribution(obs, masks)  # the acting forward pass, without forward()'s mode switch

        record("acting step of 8 observations", interleaved(
            {"no_grad": lambda: act(torch.no_grad), "inference_mode": lambda: act(torch.inference_mode)},
            args.rounds, 50))
    if "attention" in args.ops:
        for name, (heads, queries, keys, width, masked) in {
            "encoder cross-attention": (1, 16, 19, 64, True), "latent self-attention": (4, 16, 16, 16, False)
        }.items():
            q, k, v = (torch.randn(256, heads, n, width, requires_grad=True) for n in (queries, keys, keys))
            mask = (torch.rand(256, 1, 1, keys) > 0.2) if masked else None

            def step(fn, q=q, k=k, v=v, mask=mask) -> None:
                fn(q, k, v, mask).sum().backward()

            record(f"{name}, batch 256, fwd+bwd", interleaved(
                {"math": lambda: step(math_attention),
                 "sdpa": lambda: step(torch_attention)},
                args.rounds, 20))
    if "embedding" in args.ops:
        linear = torch.nn.Linear(5, 64)
        for n in (16, 128, 1024):
            x = torch.randn(64, n, 5)  # observations: no gradient
            grad = torch.randn(64, n, 64)  # a dense upstream gradient, as the encoder's would be

            def embed(fn, x=x, grad=grad) -> None:
                fn(x, linear.weight, linear.bias).backward(grad)

            record(f"entity embedding, 64 x {n} entities of 5 features, fwd+bwd", interleaved(
                {"F.linear": lambda: embed(F.linear), "rows_linear": lambda: embed(rows_linear)},
                args.rounds, 10))
    if "context_space" in args.ops:
        attn = MultiHeadAttention(64, 64, 1)
        latents = torch.randn(8, 64, requires_grad=True)
        for n in (19, 129, 1025):
            tokens = torch.randn(64, n, 64, requires_grad=True)
            mask = torch.rand(64, n) > 0.2
            grad = torch.randn(64, 8, 64)

            def read(in_context_space: bool, tokens=tokens, mask=mask, grad=grad) -> None:
                attn(latents, tokens, mask, in_context_space=in_context_space).backward(grad)

            record(f"encoder attention, 8 latents over 64 x {n} tokens, fwd+bwd", interleaved(
                {"projected keys": lambda: read(False), "context space": lambda: read(True)}, args.rounds, 10))
    if "entity_mlp" in args.ops:
        blocks = {f"ratio {ratio}": PerceiverIO(64, 64, 64, entity_mlp=True, entity_mlp_ratio=ratio).entity_mlp
                  for ratio in (2.0, 0.5)}
        for n in (16, 128, 1024):
            tokens = torch.randn(64, n, 64, requires_grad=True)
            grad = torch.randn(64, n, 64)

            def block(mlp, tokens=tokens, grad=grad) -> None:
                (tokens + mlp(tokens)).backward(grad)

            record(f"entity MLP block, 64 x {n} entities of 64, fwd+bwd", interleaved(
                {name: lambda mlp=mlp: block(mlp) for name, mlp in blocks.items()}, args.rounds, 10))
    if "head_weights" in args.ops:
        for queries, heads in ((2, 1), (8, 1), (2, 4), (8, 4)):
            rows = torch.randn(64, heads, queries, 64 // heads, requires_grad=True)  # (B, H, Q, Dh)
            weight = torch.randn(heads, 64 // heads, 64, requires_grad=True)  # (H, Dh, C)
            grad = torch.randn(64, heads, queries, 64)

            def product(fn, rows=rows, weight=weight, grad=grad) -> None:
                fn(rows, weight).backward(grad)

            record(f"head weights, 64 x {heads} heads x {queries} queries, fwd+bwd", interleaved(
                {"matmul": lambda: product(torch.matmul),
                 "einsum": lambda: product(lambda a, w: torch.einsum("bhqd,hdc->bhqc", a, w))},
                args.rounds, 20))
    if "verb_attention" in args.ops:
        verbs = VerbAttention((9,) * 8, 64, shared=True)

        def per_verb_heads(decided: torch.Tensor, encoding: Encoding) -> torch.Tensor:
            """The same terms through one attention call, a head per verb: queries (B, V, R, D), values (B, V, M, 1)."""
            tokens, mask = encoding
            if mask is not None:
                tokens = tokens.masked_fill(~mask[..., None], 0.0)
            k, v = verbs.to_kv(verbs.norm(tokens)).split([64, 9], dim=-1)
            q = verbs.query(decided)[:, None] + verbs.verb_embedding()[None, :, None]
            k = k[:, None].expand(-1, 9, -1, -1)
            return masked_attention(q, k, v.transpose(1, 2)[..., None], mask)[..., 0].transpose(1, 2)

        for name, tokens, mask in (("8 latents", 8, None), ("19 masked tokens", 19, torch.rand(256, 19) > 0.3)):
            decided = torch.randn(256, 8, 64, requires_grad=True)
            encoding = Encoding(torch.randn(256, tokens, 64, requires_grad=True), mask)
            torch.testing.assert_close(verbs(decided, encoding), per_verb_heads(decided, encoding))

            def terms(fn, decided=decided, encoding=encoding) -> None:
                fn(decided, encoding).sum().backward()

            record(f"verb attention, 256 x 8 actors x 9 verbs over {name}, fwd+bwd", interleaved(
                {"per_verb_heads": lambda: terms(per_verb_heads), "split_scores": lambda: terms(verbs)},
                args.rounds, 10))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "threads": 1, "command": " ".join(["python", *sys.argv])}
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
