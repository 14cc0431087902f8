"""The hyperparameter keys: each key's type, default, bounds and doc in one place, one dataclass per section.

``run`` (:class:`RunSettings`, the training loop), ``algo`` (:class:`AlgoSettings`, PPO's arguments) and ``policy``
(one dataclass per core, its ``policy_kwargs``) are declared here, and ``env``'s ``wrappers``
(:class:`EnvSettings`); the other ``env`` keys are a game's constructor arguments, declared by the game's preset,
which gives each its type by its value. :func:`checked` is the one check every value
passes, from a preset file, a ``--config`` file or ``--set``. To add a key, add one line to its section's dataclass,
e.g. ``compile: bool = key(False, "compile the policy with torch.compile")`` in :class:`RunSettings`: presets may set
it, ``--set compile=true`` changes it and every resolved config carries it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

from agents.errors import UsageError
from agents.wrappers import check_wrappers


def key(default: Any, doc: str, *, minimum: int | None = None, above: float | None = None,
        null: str | None = None, check: Callable[[Any], None] | None = None) -> Any:
    """A key's default, doc and bounds: ``minimum`` (inclusive), ``above`` (exclusive); ``null`` says what None
    means; ``check`` raises a ValueError (one line) for a value of the right type that is still wrong. A list default
    is copied for each instance."""
    meta = {"doc": doc, "minimum": minimum, "above": above, "null": null, "check": check}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunSettings:
    """The training loop (``train_agent.py train``)."""

    n_envs: int = key(8, "environments stepped in lockstep", minimum=1)
    vec_env: Literal["dummy", "subproc"] = key("dummy", "dummy: every env in the training process; subproc: one "
                                               "process per env (pays when an env step costs more than a pipe)")
    total_timesteps: int = key(200_000, "env steps of training", minimum=1)
    eval_freq: int = key(10_000, "env steps between deterministic evaluations on a separate env", minimum=1)
    eval_episodes: int = key(20, "episodes per evaluation", minimum=1)
    checkpoint_freq: int = key(50_000, "env steps between checkpoints", minimum=1)
    max_train_seconds: float | None = key(None, "wall-clock cap on training (evaluations excluded): stop there, "
                                          "evaluate, save", above=0, null="no limit")


@dataclass
class AlgoSettings:
    """PPO / MaskablePPO arguments (``lr_schedule`` is ours: it turns ``learning_rate`` into a schedule)."""

    learning_rate: float = key(3.0e-4, "Adam step size")
    lr_schedule: Literal["constant", "linear"] = key("constant", "linear: learning_rate falling to 0 at "
                                                     "total_timesteps")
    n_steps: int = key(128, "env steps per env per rollout: a rollout is n_steps * n_envs transitions", minimum=1)
    batch_size: int = key(256, "minibatch size (PPO normalises advantages per minibatch: at least 2)", minimum=2)
    n_epochs: int = key(4, "passes over each rollout", minimum=1)
    gamma: float = key(0.99, "discount factor")
    gae_lambda: float = key(0.95, "GAE's bias-variance trade-off")
    clip_range: float = key(0.2, "PPO's clipping of the probability ratio")
    ent_coef: float = key(0.01, "entropy bonus coefficient")
    vf_coef: float = key(0.5, "value loss coefficient")
    max_grad_norm: float = key(0.5, "gradient clipping norm")
    target_kl: float | None = key(None, "stop an update's epochs early past this approximate KL", null="no limit")


@dataclass
class TransformerPolicySettings:
    """``policy_kwargs`` of ``perceiver_rl.PerceiverPolicy`` with the Transformer core: one token per entity."""

    actor: str | None = key(None, "entity type with one action per slot (MultiDiscrete), e.g. ally")
    targets: str | None = key(None, "entity type that the last max_T choices of each action point at, e.g. enemy")
    dim: int = key(64, "token width", minimum=1)
    num_layers: int = key(2, "self-attention blocks", minimum=1)
    num_heads: int = key(4, "heads of the self-attention", minimum=1)
    cross_heads: int = key(1, "heads of the cross-attentions: the decoder's (and the Perceiver's encoder's)",
                           minimum=1)
    contextual_targets: bool = key(True, "point with target keys decoded from the whole set, not from a target alone")
    verb_attention: bool = key(False, "each verb choice also reads the set through an attention head of its own")


@dataclass
class PerceiverPolicySettings(TransformerPolicySettings):
    """``policy_kwargs`` of ``perceiver_rl.PerceiverPolicy`` (MaskablePerceiverPolicy with action masks)."""

    num_latents: int = key(16, "the latent array the entities are read into", minimum=1)
    entity_mlp: bool = key(False, "a residual MLP on each entity before the encoder reads it")
    entity_mlp_ratio: float = key(2.0, "the entity MLP's hidden width over dim (it runs on every entity)", above=0)
    reread: bool = key(False, "the latents read the entities a second time, after the latent layers")


@dataclass
class MlpPolicySettings:
    """``policy_kwargs`` of SB3's MultiInputPolicy: the no-attention reference."""

    net_arch: list[int] = key([128, 128], "hidden layer widths of the actor and the critic")


@dataclass
class EnvSettings:
    """How every env of a run is built, besides its constructor's arguments (which a game's preset declares as the
    other keys of the ``env`` section)."""

    wrappers: list[dict] = key([], "gymnasium wrappers around the env, innermost first: each a mapping of one wrapper "
                               "class's import path to its keyword arguments, e.g. "
                               "{perceiver_rl.PresenceMask: {name: vehicle, presence: 0}}", check=check_wrappers)


#: Each section's keys (the ``env`` section also has the game's constructor arguments), and each core's policy keys.
SECTION_SETTINGS = {"run": RunSettings, "algo": AlgoSettings, "env": EnvSettings}
POLICY_SETTINGS = {"perceiver": PerceiverPolicySettings, "transformer": TransformerPolicySettings,
                   "mlp": MlpPolicySettings}


@dataclass(frozen=True)
class Spec:
    """What a key accepts: its type hint and bounds (as :func:`key` declares them)."""

    hint: Any
    minimum: int | None = None
    above: float | None = None
    null: str | None = None
    check: Callable[[Any], None] | None = None


def specs(settings: type) -> dict[str, Spec]:
    """The keys of a settings dataclass and what each accepts, in declaration order."""
    hints = typing.get_type_hints(settings)
    return {f.name: Spec(hints[f.name], f.metadata["minimum"], f.metadata["above"], f.metadata["null"],
                         f.metadata["check"]) for f in fields(settings)}


def defaults(settings: type) -> dict[str, Any]:
    """The default of every key of a settings dataclass."""
    return {f.name: f.default_factory() if f.default is MISSING else f.default for f in fields(settings)}


def env_specs(env: dict[str, Any]) -> dict[str, Spec]:
    """Env keys take the type of the game preset's value (any value if that is null)."""
    return {name: Spec(Any if value is None else type(value)) for name, value in env.items()}


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a mapping"}


def _kind(hint: Any) -> str:
    """A type hint in words: ``an integer``, ``a list of integers``..."""
    if typing.get_origin(hint) is list:
        return f"a list of {_kind(typing.get_args(hint)[0]).split(' ', 1)[1]}s"
    return _KINDS.get(hint, getattr(hint, "__name__", str(hint)))


def _optional(hint: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None``, else ``(hint, False)``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def _conformed(hint: Any, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` is of type ``hint`` (an integer is a valid float and becomes one), and the value."""
    if hint is Any:
        return True, value
    if typing.get_origin(hint) is list:
        items = [_conformed(typing.get_args(hint)[0], v) for v in value] if type(value) is list else [(False, None)]
        return all(ok for ok, _ in items), [v for _, v in items]
    if hint is float and type(value) is int:
        return True, float(value)
    return type(value) is hint, value


def checked(name: str, spec: Spec, value: Any, source: str) -> Any:
    """``value`` for key ``name`` if it is what ``spec`` accepts (an integer made a float for a float key), else a
    one-line UsageError naming ``source``, the key, what it expects and what came."""
    hint, optional = _optional(spec.hint)
    null = f" (or null: {spec.null})" if spec.null else " (or null)"
    if value is None and (optional or hint is Any):
        return None
    if typing.get_origin(hint) is Literal:
        if value not in typing.get_args(hint):
            raise UsageError(f"{source}: {name} must be one of {list(typing.get_args(hint))}, got {value!r}")
        return value
    ok, value_ = _conformed(hint, value)
    if not ok:
        raise UsageError(f"{source}: {name} expects {_kind(hint)}{null if optional else ''}, got {value!r}")
    if spec.minimum is not None and value_ < spec.minimum:
        raise UsageError(f"{source}: {name} must be {_kind(hint)} >= {spec.minimum}, got {value!r}")
    if spec.above is not None and value_ <= spec.above:
        raise UsageError(f"{source}: {name} must be {_kind(hint)} > {spec.above}{null if optional else ''}, "
                         f"got {value!r}")
    if spec.check is not None:
        try:
            spec.check(value_)
        except ValueError as e:
            detail = str(e)
            raise UsageError(f"{source}: {name}{'' if detail.startswith('[') else ': '}{detail}") from e
    return value_
