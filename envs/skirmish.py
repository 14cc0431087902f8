"""Skirmish: StarCraft-style micro, a squad of allied units against a scripted enemy squad (the flagship game)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from envs import render
from envs.base import (
    FEATURE_HIGH,
    FEATURE_LOW,
    MOVE_NAMES,
    MOVES,
    EntityEnv,
    check_bool,
    check_choice,
    check_count_range,
    check_float,
    check_int,
    multidiscrete_action,
    pack_entities,
    scatter_slots,
)
from perceiver_rl import entity_space

ARENA = 1.0  # the arena is the square [-ARENA, ARENA]^2
N_VERBS = 9  # stay + 8 moves; attack choices follow
MELEE, RANGED = 0, 1
#: Per kind (melee, ranged): hit points, damage per attack, weapon range, cooldown steps after an attack, speed.
HP = np.array([1.0, 0.6])
DAMAGE = np.array([0.2, 0.2])
RANGE = np.array([0.15, 0.45])
COOLDOWN = np.array([1, 2])
SPEED = np.array([0.06, 0.05])
HP_NORM, DAMAGE_NORM, COOLDOWN_NORM = 4.0, 1.0, float(COOLDOWN.max())
UNIT_FEATURES = 12
GLOBAL_FEATURES = 5
OPPONENTS = ("hold", "nearest", "focus")
_COMPLEX = np.array([1.0, 1.0j])


class _Units:
    """Both squads in one set of arrays, allies in rows ``[0, A)`` and enemies in ``[A, A + E)``, so that one numpy
    call updates every unit. Shapes: (S,) or (S, 2) with S = A + E; ``dist`` and ``reach`` are (S, S)."""

    def __init__(self, n_ally_slots: int, n_enemy_slots: int):
        self.n = n_ally_slots + n_enemy_slots
        self.allies = slice(0, n_ally_slots)
        self.enemies = slice(n_ally_slots, self.n)
        self.enemy_side = np.arange(self.n) >= n_ally_slots  # (S,)
        self.opposed = self.enemy_side[:, None] != self.enemy_side[None, :]  # (S, S)
        self.per_opponent_slot = 1.0 / np.where(self.enemy_side, n_ally_slots, n_enemy_slots)  # (S,)
        self.pos = np.zeros((self.n, 2))
        self.hp = np.zeros(self.n)
        self.max_hp = np.ones(self.n)
        self.damage = np.zeros(self.n)
        self.range = np.zeros(self.n)
        self.cooldown_max = np.zeros(self.n, dtype=np.int64)
        self.cooldown = np.zeros(self.n, dtype=np.int64)
        self.speed = np.zeros(self.n)
        self.kind = np.zeros(self.n, dtype=np.int64)
        self.alive = np.zeros(self.n, dtype=bool)
        self.dist = np.zeros((self.n, self.n))
        self.reach = np.zeros((self.n, self.n), dtype=bool)
        self.live_pairs = np.zeros((self.n, self.n), dtype=bool)
        self.static = np.zeros((self.n, UNIT_FEATURES), dtype=np.float32)  # the features fixed for the episode

    def spawn(
        self, rng: np.random.Generator, n_allies: int, n_enemies: int, melee_prob: float, strength: float
    ) -> None:
        """Place fresh squads in random slots (allies at x in [-0.9, -0.5], enemies at x in [0.5, 0.9], |y| <= 0.6)
        and scale the enemies' hit points and damage to ``strength`` times the allies' totals."""
        e = self.enemy_side
        self.alive = np.concatenate(
            [scatter_slots(rng, n_allies, self.allies.stop), scatter_slots(rng, n_enemies, self.n - self.allies.stop)]
        )
        self.kind = (rng.random(self.n) >= melee_prob).astype(np.int64)
        x = rng.uniform(0.5, 0.9, self.n) * np.where(e, 1.0, -1.0)
        self.pos = np.stack([x, rng.uniform(-0.6, 0.6, self.n)], axis=1)
        self.range = RANGE[self.kind]
        self.cooldown_max = COOLDOWN[self.kind]
        self.cooldown = np.zeros(self.n, dtype=np.int64)
        self.speed = SPEED[self.kind]
        hp, dps = HP[self.kind] * self.alive, DAMAGE[self.kind] / (self.cooldown_max + 1) * self.alive
        hp_scale = strength * hp[~e].sum() / hp[e].sum()
        damage_scale = strength * dps[~e].sum() / dps[e].sum()
        self.max_hp = HP[self.kind] * np.where(e, hp_scale, 1.0)
        self.damage = DAMAGE[self.kind] * np.where(e, damage_scale, 1.0)
        self.hp = self.max_hp * self.alive
        self.static = np.zeros((self.n, UNIT_FEATURES), dtype=np.float32)
        self.static[:, 4] = self.kind == MELEE
        self.static[:, 5] = self.kind == RANGED
        self.static[:, 8] = self.range / RANGE[RANGED]
        self.static[:, 9] = self.damage / DAMAGE_NORM
        self.update_geometry()

    def update_geometry(self, alive_changed: bool = True) -> None:
        """Recompute ``dist`` and ``reach`` (alive, opposed, and within the row unit's weapon range); pass
        ``alive_changed=False`` when no unit died since the last call."""
        if alive_changed:
            self.live_pairs = self.opposed & self.alive[:, None] & self.alive[None, :]  # (S, S)
        z = self.pos @ _COMPLEX  # (S,) positions as complex numbers: one op for all pairwise distances
        self.dist = np.abs(z[:, None] - z[None, :])  # (S, S)
        self.reach = (self.dist <= self.range[:, None]) & self.live_pairs

    def features(self) -> np.ndarray:
        """(S, 12) raw features of every unit, see :class:`Skirmish`."""
        f = self.static.copy()
        f[:, 0:2] = self.pos
        f[:, 2] = self.hp / self.max_hp
        f[:, 3] = self.hp * (1.0 / HP_NORM)
        f[:, 6] = self.cooldown == 0
        f[:, 7] = self.cooldown * (1.0 / COOLDOWN_NORM)
        f[:, 10] = np.add.reduce(self.reach, axis=1) * self.per_opponent_slot  # opponents I reach
        f[:, 11] = np.add.reduce(self.reach, axis=0) * self.per_opponent_slot  # opponents that reach me
        return f


def _script(policy: str, u: _Units, me: slice, them: slice) -> tuple[np.ndarray, np.ndarray]:
    """A scripted controller for the units ``me``: (attack target (m,) as a unit row, -1 = none; unit move (m, 2)).

    ``hold`` stays put and shoots the nearest unit in range; ``nearest`` walks to its nearest opponent and shoots the
    nearest in range; ``focus`` shoots the weakest opponent in range and otherwise walks to the squad's focus target
    (the opponent with the least hit points plus distance from the squad's centre), concentrating the squad's fire.
    """
    reach, dist = u.reach[me, them], u.dist[me, them]  # (m, t)
    them_alive, them_pos, my_pos = u.alive[them], u.pos[them], u.pos[me]
    if policy == "focus":
        target = np.where(reach, u.hp[them][None, :], np.inf).argmin(1)
        my_alive = u.alive[me]
        centre = my_pos[my_alive].mean(0) if my_alive.any() else np.zeros(2)
        d = them_pos - centre
        focus = int(np.where(them_alive, u.hp[them] + np.sqrt((d * d).sum(1)), np.inf).argmin())
        goal, goal_dist = them_pos[focus][None, :], dist[:, focus]
    else:
        target = np.where(reach, dist, np.inf).argmin(1)
        to_alive = np.where(them_alive[None, :], dist, np.inf)  # (m, t)
        goal, goal_dist = them_pos[to_alive.argmin(1)], to_alive.min(1)
    any_reach = reach.any(1)  # (m,) (reach implies both units alive)
    attack = np.where(any_reach & (u.cooldown[me] == 0), them.start + target, -1)
    if policy == "hold" or not them_alive.any():
        return attack, np.zeros_like(my_pos)
    walk = (u.alive[me] & ~any_reach) / np.maximum(goal_dist, 1e-12)  # (m,) 1 / distance for walkers, else 0
    return attack, (goal - my_pos) * walk[:, None]


def _direction_verbs(move: np.ndarray) -> np.ndarray:
    """Direction vectors (n, 2) -> movement verbs (n,): 0 for a zero vector, else 1 + the nearest of 8 headings."""
    heading = np.rint(np.arctan2(move[:, 1], move[:, 0]) / (np.pi / 4)).astype(np.int64) % 8
    return np.where(np.abs(move).sum(1) > 1e-9, 1 + heading, 0)


class Skirmish(EntityEnv):
    """StarCraft-style micro: allied units (the agent) against a scripted enemy squad, until one side is dead.

    Units are melee (1.0 hp, range 0.15, attacks every 2nd step, fast) or ranged (0.6 hp, range 0.45, every 3rd step)
    in the arena ``[-1, 1]^2``; allies start on the left, enemies on the right. Every step each allied unit picks
    one of ``9 + max_enemies`` choices: 0 = stay, 1..8 = move east, north-east, ..., south-east, ``9 + j`` = attack
    enemy slot ``j``. An attack on a dead, absent or out-of-range enemy, or while the weapon cools down, does nothing
    (:meth:`action_masks` lists the choices that do something). Both sides act simultaneously.

    Enemy hit points and damage are scaled each episode so that the enemy squad's total hit points and damage per step
    equal ``enemy_strength`` times the allies': outnumbered allies face weaker enemies, so every draw is close on
    totals and how the fire is spread decides it.

    Observation (:func:`perceiver_rl.entity_space`, features in [-1, 1]): ``"ally"`` (max_allies, 12) and
    ``"enemy"`` (max_enemies, 12) with x, y, hp fraction, hp / 4, melee, ranged, weapon ready, cooldown / 2,
    range / 0.45, damage, opponents within its range and opponents that have it in range (each / the opponent
    slots); ``"global"`` (5): step fraction, allies alive / max_allies, enemies alive / max_enemies, ally and enemy
    hp fractions.

    Reward: ``damage_reward`` x (fraction of the enemy's total hp destroyed - fraction of the allies' lost) per step,
    ``+win_bonus`` when every enemy is dead (``info["win"]``, ``info["is_success"]``), ``-win_bonus`` when every ally
    is; with ``reward_only_positive`` (SMAC's option of that name) only the damage dealt and the win bonus count. The
    episode is truncated after ``max_steps``.

    Args:
        min_allies, max_allies: allied count drawn per episode (default 2..8; observation slots = ``max_allies``).
        min_enemies, max_enemies: enemy count drawn per episode (default 2..10).
        opponent: scripted enemy, ``"hold"`` (easiest), ``"nearest"`` (default) or ``"focus"`` (focus fire).
        enemy_strength: enemy total hp and damage relative to the allies' (default 0.8).
        melee_prob: probability that a unit is melee (default 0.5).
        max_steps: step limit (default 100).
        damage_reward, win_bonus: reward scales (default 5.0 and 5.0).
        reward_only_positive: leave out the damage taken and the loss penalty (default False).
        render_mode: ``None`` or ``"rgb_array"``.
    """

    action_roles: ClassVar[dict[str, str | None]] = {"actor": "ally", "targets": "enemy"}
    verb_names = MOVE_NAMES

    def __init__(
        self,
        min_allies: int = 2,
        max_allies: int = 8,
        min_enemies: int = 2,
        max_enemies: int = 10,
        opponent: str = "nearest",
        enemy_strength: float = 0.8,
        melee_prob: float = 0.5,
        max_steps: int = 100,
        damage_reward: float = 5.0,
        win_bonus: float = 5.0,
        reward_only_positive: bool = False,
        render_mode: str | None = None,
    ):
        super().__init__(render_mode)
        self.min_allies, self.max_allies = check_count_range("min_allies", min_allies, "max_allies", max_allies, 1)
        self.min_enemies, self.max_enemies = check_count_range(
            "min_enemies", min_enemies, "max_enemies", max_enemies, 1
        )
        self.opponent = check_choice("opponent", opponent, OPPONENTS)
        self.enemy_strength = check_float("enemy_strength", enemy_strength, 0.01)
        self.melee_prob = check_float("melee_prob", melee_prob, 0.0, 1.0)
        self.max_steps = check_int("max_steps", max_steps, 1)
        self.damage_reward = check_float("damage_reward", damage_reward, 0.0)
        self.win_bonus = check_float("win_bonus", win_bonus, 0.0)
        self._penalty = 0.0 if check_bool("reward_only_positive", reward_only_positive) else 1.0
        self.n_choices = N_VERBS + self.max_enemies
        self.nvec = np.full(self.max_allies, self.n_choices, dtype=np.int64)
        self.action_space = spaces.MultiDiscrete(self.nvec)
        self.observation_space = entity_space(
            {"ally": (self.max_allies, UNIT_FEATURES), "enemy": (self.max_enemies, UNIT_FEATURES)},
            global_dim=GLOBAL_FEATURES,
            low=FEATURE_LOW,
            high=FEATURE_HIGH,
        )
        self.units = _Units(self.max_allies, self.max_enemies)
        self._ally_rows = np.arange(self.max_allies)
        # per choice c of an ally: is it an attack, the unit row it attacks (a placeholder for verbs), its move
        choices = np.arange(self.n_choices)
        self._choice_attacks = choices >= N_VERBS  # (C,)
        self._choice_target = np.where(self._choice_attacks, choices - N_VERBS + self.max_allies, self.max_allies)
        self._choice_move = np.zeros((self.n_choices, 2))  # (C, 2)
        self._choice_move[:N_VERBS] = MOVES
        self._hits = np.zeros(self.units.n, dtype=bool)
        self._targets = np.zeros(self.units.n, dtype=np.int64)
        self._move = np.zeros((self.units.n, 2))
        self._alive_counts = (0, 0)
        self._steps = 0
        self._ally_total = self._enemy_total = 1.0

    # ------------------------------------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Draw the squad sizes and unit kinds, place both squads, and return the first observation."""
        super().reset(seed=seed)
        rng = self.np_random
        n_allies = int(rng.integers(self.min_allies, self.max_allies + 1))
        n_enemies = int(rng.integers(self.min_enemies, self.max_enemies + 1))
        u = self.units
        u.spawn(rng, n_allies, n_enemies, self.melee_prob, self.enemy_strength)
        self._ally_total = float(u.hp[u.allies].sum())
        self._enemy_total = float(u.hp[u.enemies].sum())
        self._steps = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        """Resolve both squads' attacks and moves simultaneously; see the class docstring for the rules."""
        act = multidiscrete_action(action, self.nvec)  # (A,)
        u, n_a = self.units, self.max_allies
        hits, targets, move = self._hits, self._targets, self._move  # (S,), (S,), (S, 2) scratch, filled below
        targets[:n_a] = self._choice_target[act]
        hits[:n_a] = self._choice_attacks[act] & (u.cooldown[:n_a] == 0) & u.reach[self._ally_rows, targets[:n_a]]
        move[:n_a] = self._choice_move[act]
        targets[n_a:], enemy_dir = _script(self.opponent, u, u.enemies, u.allies)
        hits[n_a:] = targets[n_a:] >= 0
        move[n_a:] = enemy_dir
        # damage, simultaneous for both sides
        damage = np.bincount(targets[hits], weights=u.damage[hits], minlength=u.n)  # (S,)
        lost = np.minimum(damage, u.hp)
        dealt = np.add.reduce(lost[u.enemies]) / self._enemy_total
        taken = np.add.reduce(lost[u.allies]) / self._ally_total
        u.hp = u.hp - lost
        u.cooldown = np.where(hits, u.cooldown_max, np.maximum(u.cooldown - 1, 0))
        died = bool(np.count_nonzero(u.alive & (u.hp <= 0)))
        if died:
            u.alive &= u.hp > 0
        # the survivors move
        u.pos = np.minimum(np.maximum(u.pos + move * (u.speed * u.alive)[:, None], -ARENA), ARENA)
        u.update_geometry(alive_changed=died)
        self._steps += 1

        obs = self._obs()
        win, loss = self._alive_counts[1] == 0, self._alive_counts[0] == 0  # python bools
        penalty = self._penalty  # 1.0, or 0.0 under reward_only_positive
        reward = self.damage_reward * (dealt - penalty * taken) + self.win_bonus * ((win and not loss) - penalty * loss)
        terminated = win or loss
        truncated = not terminated and self._steps >= self.max_steps
        info: dict[str, Any] = {}
        if terminated or truncated:
            info["win"] = info["is_success"] = bool(win and not loss)
        return obs, float(reward), terminated, truncated, info

    def _obs(self) -> dict[str, np.ndarray]:
        u = self.units
        feats, mask = pack_entities(u.features(), u.alive)  # (S, 12), (S,)
        self._alive_counts = (int(np.count_nonzero(mask[u.allies])), int(np.count_nonzero(mask[u.enemies])))
        glob = np.array(
            [
                self._steps / self.max_steps,
                self._alive_counts[0] / self.max_allies,
                self._alive_counts[1] / self.max_enemies,
                np.add.reduce(u.hp[u.allies]) / self._ally_total,
                np.add.reduce(u.hp[u.enemies]) / self._enemy_total,
            ],
            dtype=np.float32,
        )
        return {
            "ally": feats[u.allies],
            "ally_mask": mask[u.allies],
            "enemy": feats[u.enemies],
            "enemy_mask": mask[u.enemies],
            "global": glob,
        }

    # ------------------------------------------------------------------------------------------------ agent helpers
    def action_masks(self) -> np.ndarray:
        """Flat bool mask (max_allies * (9 + max_enemies),) of the choices that do something, for MaskablePPO.

        Per allied slot: alive -> stay, the 8 moves, and attacks on enemies alive and in range while the weapon is
        ready; dead or absent -> only stay (index 0).
        """
        u = self.units
        alive = u.alive[u.allies]
        mask = np.zeros((self.max_allies, self.n_choices), dtype=bool)
        mask[:, 0] = True
        mask[:, 1:N_VERBS] = alive[:, None]
        mask[:, N_VERBS:] = u.reach[u.allies, u.enemies] & (u.cooldown[u.allies] == 0)[:, None]
        return mask.reshape(-1)

    def heuristic_action(self) -> np.ndarray:
        """Focus fire: shoot the weakest enemy in range, otherwise walk to the squad's focus target."""
        return self.scripted_action("focus")

    def scripted_action(self, style: str) -> np.ndarray:
        """The allied squad's action (max_allies,) played by one of the enemy's scripts, ``style`` in
        :data:`OPPONENTS` (``"focus"`` is :meth:`heuristic_action`); dead or absent slots stay."""
        u = self.units
        attack, move = _script(check_choice("style", style, OPPONENTS), u, u.allies, u.enemies)
        verbs = np.where(attack >= 0, N_VERBS + attack - self.max_allies, _direction_verbs(move))
        return np.where(u.alive[u.allies], verbs, 0).astype(np.int64)

    # ---------------------------------------------------------------------------------------------------- rendering
    def _view(self) -> tuple[float, float, float, float]:
        return (-ARENA, ARENA, -ARENA, ARENA)

    def _entity_positions(self) -> dict[str, np.ndarray]:
        u = self.units
        return {"ally": u.pos[u.allies].copy(), "enemy": u.pos[u.enemies].copy()}

    def _draw(self, canvas: render.Canvas) -> None:
        u = self.units
        canvas.outline(-ARENA, -ARENA, ARENA, ARENA)
        alive = u.alive
        ranged = alive & (u.kind == RANGED)
        canvas.rings(u.pos[ranged], canvas.pixels(RANGE[RANGED]), render.GRID, width_px=1.0)
        palette = np.array([[render.BLUE, render.CYAN], [render.RED, render.ORANGE]])  # (side, kind, 3)
        canvas.disks(u.pos[alive], 6.0, palette[u.enemy_side.astype(np.int64), u.kind][alive])
        canvas.bars(u.pos[alive], u.hp[alive] / u.max_hp[alive], render.GREEN)
