"""The command line's defaults, the types of its options, and reading the options every command shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from agents.presets import parse_assignment

DEFAULT_ENV = "perceiver_rl/Skirmish-v0"
DEFAULT_CORE = "perceiver"
DEFAULT_SEEDS, DEFAULT_WORKERS, DEFAULT_MAX_FAILURES = 5, 2, 2
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


positive_int, seed_int = int_at_least(1), int_at_least(0)


def nonnegative_float(text: str) -> float:
    """An argparse type: a number >= 0 (a fraction of a GPU shares it between runs)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def device_name(text: str) -> str:
    """An argparse type: ``auto`` or a torch device (``cpu``, ``cuda``, ``cuda:1``)."""
    if text != "auto":
        try:
            torch.device(text)
        except RuntimeError:
            raise argparse.ArgumentTypeError(f"expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {text!r}") from None
    return text


def given_flags(args: argparse.Namespace, flags: list[str]) -> list[str]:
    """The ``flags`` (``--ray-address``...) the user gave: those whose value is neither None nor empty."""
    return [flag for flag in flags if getattr(args, flag[2:].replace("-", "_")) not in (None, [])]


def overrides_from(args: argparse.Namespace) -> dict[str, object]:
    """The flat overrides of ``--set``, ``--timesteps`` and ``--n-envs``."""
    overrides = dict(parse_assignment(text) for text in args.set)
    if args.timesteps is not None:
        overrides["total_timesteps"] = args.timesteps
    if args.n_envs is not None:
        overrides["n_envs"] = args.n_envs
    return overrides
