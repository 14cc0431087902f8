"""Forward+backward time and peak memory of PerceiverIO, TransformerCore and torch.nn.TransformerEncoder vs N.

Run: ``python benchmarks/core_scaling.py`` (``--quick`` for a short check). Batch 64, 128-wide tokens, 16 queries.
Each (core, N) cell runs in a fresh subprocess so that its peak memory (CPU: peak RSS growth over the process's state
after building the model and inputs; CUDA: ``max_memory_allocated``) is its own. A cell whose predicted time passes
``--cap`` seconds (from the previous N, quadratic for the Transformers, linear for the Perceiver) is skipped and the
table says so. The same run measures this machine's float32 GEMM throughput and reports the Perceiver's forward at
N=1024 as a fraction of it. Writes ``benchmarks/results/core_scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from agents.provenance import cpu_name
from perceiver_rl import PerceiverIO, TransformerCore, core_cost
from perceiver_rl.core import Encoding, EntityCore, QueryDecoder

WIDTH, QUERIES, BATCH = 128, 16, 64
ENTITY_COUNTS = (16, 64, 256, 1024, 4096)
RESULTS = Path(__file__).parent / "results" / "core_scaling.json"


class TorchEncoderCore(EntityCore):
    """TransformerCore with its encoder swapped for ``torch.nn.TransformerEncoder`` of the same size (reference)."""

    def __init__(self, input_dim: int, query_dim: int, output_dim: int) -> None:
        super().__init__()
        self.input_dim, self.query_dim = input_dim, query_dim
        self.embed = nn.Linear(input_dim, WIDTH)
        layer = nn.TransformerEncoderLayer(WIDTH, 4, dim_feedforward=2 * WIDTH, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
        self.decoder = QueryDecoder(query_dim, WIDTH, output_dim, num_heads=1, mlp_ratio=2.0)  # as TransformerCore's

    def _encode(self, inputs: torch.Tensor, mask: torch.Tensor) -> Encoding:
        return Encoding(self.encoder(self.embed(inputs), src_key_padding_mask=~mask), mask)  # torch: True = pad


def build(name: str) -> EntityCore:
    """The three cores at matched width (128), depth (3), heads (4) and MLP widening (2)."""
    if name == "perceiver":
        return PerceiverIO(WIDTH, WIDTH, WIDTH)
    if name == "transformer":
        return TransformerCore(WIDTH, WIDTH, WIDTH)
    if name == "torch_encoder":
        return TorchEncoderCore(WIDTH, WIDTH, WIDTH)
    raise ValueError(f"core: expected perceiver, transformer or torch_encoder, got {name!r}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device: torch.device, min_time: float, min_reps: int = 3) -> float:
    """Median seconds of ``fn()`` over at least ``min_reps`` calls and ``min_time`` seconds, after one warm-up."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_time:
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_cell(name: str, n: int, device: torch.device, min_time: float) -> dict:
    """Time forward and forward+backward of one core at ``n`` entities, and its peak memory; run in a subprocess."""
    torch.manual_seed(0)
    core = build(name).to(device)
    x = torch.randn(BATCH, n, WIDTH, device=device)
    mask = torch.rand(BATCH, n, device=device) < 0.9  # a realistic set: some padding
    queries = torch.randn(QUERIES, WIDTH, device=device)

    def fwd_bwd() -> None:
        core(x, mask, queries).sum().backward()

    def fwd() -> None:
        with torch.no_grad():
            core(x, mask, queries)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    time_fwd_bwd = _timed(fwd_bwd, device, min_time)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    cost = core_cost(core, n, QUERIES)
    return {"core": name, "n": n, "time_fwd_bwd_s": time_fwd_bwd, "time_fwd_s": _timed(fwd, device, min_time),
            "peak_mem_mb": peak / 2**20, "params": cost.params, "flops_per_sample": cost.flops}


def gemm_gflops(device: torch.device, size: int = 2048) -> float:
    """This machine's float32 matmul throughput (GFLOP/s) on square ``size`` matrices."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    return 2 * size**3 / _timed(lambda: a @ b, device, min_time=1.0) / 1e9


def run_cell(name: str, n: int, args: argparse.Namespace) -> dict:
    """Run one cell in a fresh interpreter and return its measurements."""
    cmd = [sys.executable, __file__, "--cell", name, str(n), "--device", args.device, "--min-time", str(args.min_time)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--cap", type=float, default=20.0, help="skip cells predicted to take longer (seconds/iter)")
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds of timing per cell")
    parser.add_argument("--quick", action="store_true", help="N = 16, 64, 256 only, 0.3 s per cell")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cell", nargs=2, metavar=("CORE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.cell:
        print(json.dumps(measure_cell(args.cell[0], int(args.cell[1]), device, args.min_time)))
        return
    counts = ENTITY_COUNTS[:3] if args.quick else ENTITY_COUNTS
    if args.quick:
        args.min_time = 0.3
    exponent = {"perceiver": 1, "transformer": 2, "torch_encoder": 2}
    rows: list[dict] = []
    for name in exponent:
        last: dict | None = None
        for n in counts:
            predicted = last["time_fwd_bwd_s"] * (n / last["n"]) ** exponent[name] if last else 0.0
            if predicted > args.cap:
                reason = f"predicted {predicted:.0f} s/iter > cap {args.cap:.0f} s"
                rows.append({"core": name, "n": n, "skipped": reason})
                continue
            last = run_cell(name, n, args)
            rows.append(last)
            print(f"  measured {name:13s} N={n:5d}: {last['time_fwd_bwd_s'] * 1e3:9.1f} ms fwd+bwd", flush=True)
    peak = gemm_gflops(device)
    by = {(r["core"], r["n"]): r for r in rows}

    print(f"\nbatch {BATCH}, width {WIDTH}, {QUERIES} queries, {torch.get_num_threads()} threads, {args.device}")
    print(f"{'core':14s} {'N':>5s} {'fwd+bwd ms':>11s} {'fwd ms':>9s} {'peak MB':>8s} {'params':>8s} "
          f"{'MFLOP/sample':>12s}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['core']:14s} {r['n']:5d}  skipped: {r['skipped']}")
            continue
        print(f"{r['core']:14s} {r['n']:5d} {r['time_fwd_bwd_s'] * 1e3:11.1f} {r['time_fwd_s'] * 1e3:9.1f} "
              f"{r['peak_mem_mb']:8.0f} {r['params']:8d} {r['flops_per_sample'] / 1e6:12.1f}")

    def ratio(a: tuple, b: tuple, key: str) -> float | None:
        return by[a][key] / by[b][key] if a in by and b in by and key in by[a] and key in by[b] else None

    big, small = (counts[-1], 256) if not args.quick else (256, 16)
    checks = {
        "transformer_over_perceiver_time_n1024": ratio(("transformer", 1024), ("perceiver", 1024), "time_fwd_bwd_s"),
        "transformer_over_perceiver_mem_n1024": ratio(("transformer", 1024), ("perceiver", 1024), "peak_mem_mb"),
        f"perceiver_time_n{big}_over_n{small}": ratio(("perceiver", big), ("perceiver", small), "time_fwd_bwd_s"),
        f"perceiver_mem_n{big}_over_n{small}": ratio(("perceiver", big), ("perceiver", small), "peak_mem_mb"),
        "transformer_over_torch_encoder_time_n256": ratio(("transformer", 256), ("torch_encoder", 256),
                                                          "time_fwd_bwd_s"),
        "gemm_peak_gflops": peak,
    }
    if ("perceiver", 1024) in by:
        r = by[("perceiver", 1024)]
        checks["perceiver_fwd_n1024_gflops"] = r["flops_per_sample"] * BATCH / r["time_fwd_s"] / 1e9
        checks["perceiver_fwd_n1024_fraction_of_gemm_peak"] = checks["perceiver_fwd_n1024_gflops"] / peak
    print()
    for key, value in checks.items():
        print(f"{key:48s} {'n/a' if value is None else f'{value:.3f}'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": cpu_name(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": args.device, "batch": BATCH, "width": WIDTH, "queries": QUERIES,
            "command": " ".join(["python", *sys.argv])}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows, "checks": checks}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
