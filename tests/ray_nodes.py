"""Ray nodes on one machine for the Ray tests and benchmarks: each node a ``ray start --block`` process on 127.0.0.1
that a driver or the CLI joins by address, as on a real cluster, and stops with every process it started.

Import it after checking that Ray is installed (``pytest.importorskip("ray")``): psutil comes with Ray.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from agents.ray_backend import LOOPBACK


def private_cluster_env() -> dict[str, str]:
    """Environment variables for every process of a private cluster (its nodes and drivers): no usage reporting,
    and token authentication with a fresh token (a driver joining by address needs ``RAY_AUTH_MODE`` set)."""
    return {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def start_node(temp_dir: Path, num_cpus: int, *, port: int | None = None, address: str | None = None,
               env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start one Ray node on 127.0.0.1 as ``ray start --block`` (the head with ``port``, else joining ``address``).

    Each node on one machine needs its own ``temp_dir`` (short: Ray's socket paths must fit in 107 characters), and
    all of them the same ``env`` (see :func:`private_cluster_env`). Returns once the node runs; stop it with
    :func:`stop_node`.
    """
    role = ["--head", "--port", str(port), "--include-dashboard=false"] if address is None else ["--address", address]
    command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *role, "--node-ip-address", LOOPBACK,
               "--temp-dir", str(temp_dir), "--num-cpus", str(num_cpus), "--disable-usage-stats"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**(env or os.environ), "RAY_USAGE_STATS_ENABLED": "0"}, start_new_session=True)
    lines = []
    for line in process.stdout:  # ``--block`` prints this once the node's processes run
        lines.append(line)
        if "block forever" in line:
            return process
    process.wait()
    raise RuntimeError(f"ray start failed (exit code {process.returncode}):\n{''.join(lines[-20:])}")


def stop_node(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Stop a node from :func:`start_node` and every process it started (SIGTERM, then SIGKILL for stragglers)."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.send_signal(signal.SIGTERM)  # ``ray start --block`` then stops its node's processes
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        child.kill()
    psutil.wait_procs(alive, timeout=5)
    if process.stdout is not None:
        process.stdout.close()
