"""How much a freshly built policy's outputs depend on the state, per core and game: a diagnostic for slow starts.

PPO can only learn to use the state through outputs that vary with it. For each game, core and seed this builds the
agent with its presets (``agents.make_agent``), collects observations from random play, and reports the standard
deviation over those states of the action logits (each state's logits centred on their mean over the choices it
has; averaged over the choices) and of the value, before any training.
A core whose logits barely move with the state starts near a saddle: every state gets the same near-uniform policy.

Run: ``python benchmarks/init_sensitivity.py`` (every shipped game; ``--games perceiver_rl/Majority-v0 --seeds 5
--states 256``).
Writes ``benchmarks/results/init_sensitivity.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout: `agents` is a top-level package
import envs  # noqa: E402  (registers the games)
from agents import AGENT_CORES, make_agent  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "init_sensitivity.json"
GAMES = tuple(envs.GAMES)
MASKED = -1e6  # the attention policies give absent pointer targets a logit of -1e8


def random_play_states(agent, states: int) -> dict[str, torch.Tensor]:  # noqa: ANN001 (PPO or MaskablePPO)
    """``states`` observations of the agent's vec env under uniformly random actions, as one batch."""
    env = agent.get_env()
    env.action_space.seed(0)
    observations = [env.reset()]
    while sum(len(o["global"]) for o in observations) < states:
        actions = np.array([env.action_space.sample() for _ in range(env.num_envs)])
        observations.append(env.step(actions)[0])
    return {k: torch.as_tensor(np.concatenate([o[k] for o in observations])[:states]) for k in observations[0]}


def sensitivity(env_id: str, core: str, seed: int, states: int) -> dict[str, float]:
    """Std over random-play states of the fresh policy's logits (centred per state over the available choices;
    averaged over the choices, each over the states where it is a choice) and of its value."""
    agent = make_agent(env_id, core=core, seed=seed)
    batch = random_play_states(agent, states)
    with torch.no_grad():
        distribution = agent.policy.get_distribution(batch)
        # SB3 keeps one torch distribution (.distribution), or a list; sb3-contrib's masked ones a list (.distributions)
        parts = getattr(distribution, "distributions", None) or distribution.distribution
        parts = parts if isinstance(parts, list) else [parts]  # MultiDiscrete: one per slot
        values = agent.policy.predict_values(batch)  # (states, 1)
    slots = []
    for part in parts:
        logits = part.logits.numpy().copy()  # (states, choices): log-probabilities
        available = logits > MASKED  # absent pointer targets get -1e8
        logits[~available] = np.nan
        logits[available.sum(1) < 2] = np.nan  # a padded actor slot (only its no-op left): no choice to make
        # centred on the state's mean over its available choices: what the policy prefers, not how many choices
        # there are (log-probabilities of a near-uniform policy shift with the count of present targets)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows of padded slots
            slots.append(logits - np.nanmean(logits, axis=1, keepdims=True))
    logits = np.concatenate(slots, axis=1)
    return {"logit_std": float(np.nanmean(np.nanstd(logits, axis=0))), "value_std": float(values.std())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", nargs="+", default=list(GAMES))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--states", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    print(f"{'game':<28} {'core':<12} {'logit std over states (seeds)':<44} {'value std (mean)':>16}")
    for env_id in args.games:
        for core in AGENT_CORES:
            cells = [sensitivity(env_id, core, seed, args.states) for seed in range(args.seeds)]
            logit = [c["logit_std"] for c in cells]
            value = float(np.mean([c["value_std"] for c in cells]))
            rows.append({"env_id": env_id, "core": core, "logit_std": logit, "value_std_mean": value})
            print(f"{env_id:<28} {core:<12} {' '.join(f'{x:.1e}' for x in logit):<44} {value:>16.3f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"command": sys.argv, "states": args.states, "rows": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
