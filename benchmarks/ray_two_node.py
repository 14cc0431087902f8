"""Two Ray nodes on one machine (loopback), a compare grid spread across both, and one worker killed mid-grid.

Run: ``python benchmarks/ray_two_node.py`` (needs ``pip install perceiver-rl[ray]``). It starts a head node and a second
node with ``ray start --block`` (``--node-ip-address 127.0.0.1``, a temp dir each, 1 CPU each, no dashboard, usage
reporting off, token authentication with a fresh token), then runs ``train_agent.py compare --backend ray
--ray-address 127.0.0.1:PORT`` on them: at most one run per node at a time. Once the first trial has reported an
evaluation, the script finds that trial's worker pid in its log and SIGKILLs it; the grid must still complete, the
killed run retried by Tune. Prints which node ran which trial and writes ``benchmarks/results/ray_two_node.json``.
Every process it started (both nodes and all their processes, the compare command) is stopped at the end, whatever
happens; the grid's folder stays under ``--logdir``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the node launchers shared with the Ray tests
from ray_nodes import private_cluster_env, start_node, stop_node  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "ray_two_node.json"
ATTEMPT_LINE = re.compile(r"^attempt 1: .* on node \S+ \(id (\w+)\), pid (\d+)$", re.MULTILINE)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_id(node: subprocess.Popen) -> str:
    """The Ray node id of a ``ray start --block`` process: its raylet's ``--node_id``."""
    for child in psutil.Process(node.pid).children(recursive=True):
        for arg in child.cmdline():
            if arg.startswith("--node_id="):
                return arg.split("=", 1)[1]
    raise RuntimeError(f"no raylet under pid {node.pid}")


def kill_first_evaluated_worker(logdir: Path, old: set[Path], cli: subprocess.Popen, started: float) -> dict[str, Any]:
    """Wait for a trial log with an evaluation line in a new grid (not in ``old``), SIGKILL that trial's worker, and
    say which and when."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and cli.poll() is None:
        for log in sorted(p for p in logdir.glob("compare__*/logs/*.log") if p.parents[1] not in old):
            text = log.read_text()
            match = ATTEMPT_LINE.search(text)
            if match and "eval return" in text:
                pid = int(match.group(2))
                os.kill(pid, signal.SIGKILL)
                return {"log": log.name, "node_id": match.group(1), "pid": pid,
                        "seconds_in": round(time.time() - started, 1)}
        time.sleep(0.5)
    raise RuntimeError("no trial reported an evaluation in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="perceiver_rl/Nearest-v0", help="env of the grid")
    parser.add_argument("--cores", nargs="+", default=["perceiver", "mlp"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--timesteps", type=int, default=8192)
    parser.add_argument("--logdir", type=Path, default=REPO / "runs" / "ray_two_node")
    args = parser.parse_args()

    env = {**os.environ, **private_cluster_env()}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    temp_dirs = [Path(tempfile.mkdtemp(prefix=f"ray{role}", dir="/tmp")) for role in ("H", "W")]
    port = free_port()
    address = f"127.0.0.1:{port}"
    command = [sys.executable, str(REPO / "train_agent.py"), "compare", "--backend", "ray", "--ray-address", address,
               "--env", args.env, "--cores", *args.cores, "--seeds", str(args.seeds), "--timesteps",
               str(args.timesteps), "--logdir", str(args.logdir), "--cpus-per-run", "1", "--max-failures", "2",
               "--set", "eval_freq=2048", "eval_episodes=8", "n_envs=4"]
    nodes: dict[str, subprocess.Popen] = {}
    cli = None
    started = time.time()
    args.logdir.mkdir(parents=True, exist_ok=True)
    old_grids = set(args.logdir.glob("compare__*"))
    cli_output = args.logdir / f"compare_output_{time.strftime('%Y%m%d-%H%M%S')}.txt"  # the compare command's output
    try:
        nodes["head"] = start_node(temp_dirs[0], 1, port=port, env=env)
        nodes["second"] = start_node(temp_dirs[1], 1, address=address, env=env)
        node_names = {node_id(process): name for name, process in nodes.items()}
        print(f"nodes up in {time.time() - started:.1f} s: " + ", ".join(f"{n} {i[:8]}" for i, n in node_names.items()))
        print("$ " + " ".join(command[1:]), flush=True)
        with cli_output.open("w") as out:
            cli = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
            kill = kill_first_evaluated_worker(args.logdir, old_grids, cli, started)
            kill["node"] = node_names.get(kill["node_id"], "?")
            print(f"SIGKILL worker pid {kill['pid']} of {kill['log']} on the {kill['node']} node "
                  f"{kill['seconds_in']} s in", flush=True)
            returncode = cli.wait(timeout=900)
        finished = time.time()
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
            cli.wait()
        for process in reversed(list(nodes.values())):
            stop_node(process)
        for folder in temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)
    left = [p.pid for p in psutil.process_iter(["cmdline"]) if any(str(t) in " ".join(p.info["cmdline"] or [])
                                                                   for t in temp_dirs)]

    (compare_dir,) = set(args.logdir.glob("compare__*")) - old_grids
    grid = json.loads((compare_dir / "grid.json").read_text())
    trials = [{**t, "node": node_names.get(t["node_id"], "?")} for t in grid["trials"]]
    print(f"\n{'core':<10} {'seed':>4}  {'node':<7} {'attempts':>8}  {'final return':>12}  outcome")
    for t, cell in zip(trials, grid["cells"], strict=True):
        print(f"{t['core']:<10} {t['seed']:>4}  {t['node']:<7} {t['attempt']:>8}  {t['mean_return']:>12.3f}  "
              f"{cell['outcome']}")
    retries = [line for line in cli_output.read_text().splitlines() if "its worker failed" in line]
    print(*retries, sep="\n")
    print(f"compare exit code {returncode}, {finished - started:.0f} s in all; processes left: {left or 'none'}")
    results = {
        "command": " ".join(["python", *command[1:]]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "nodes": {name: {"node_id": i, "num_cpus": 1} for i, name in node_names.items()},
        "kill": kill,
        "retry_lines": retries, "exit_code": returncode, "seconds": round(finished - started, 1),
        "trials": trials, "processes_left": left, "compare_dir": str(compare_dir),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {RESULTS}")
    ok = returncode == 0 and len({t["node"] for t in trials}) == 2 and any(t["attempt"] > 1 for t in trials)
    return 0 if ok and not left else 1


if __name__ == "__main__":
    sys.exit(main())
