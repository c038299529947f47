"""Configuration of a training run: one frozen dataclass whose fields each carry their kind.

* ``static`` fields fix the compiled program (network widths, denoising steps, algorithm, …):
  runs that share them share one :class:`~contractjax.solver.program.Program` and one XLA
  executable;
* ``traced`` fields become the :data:`Hyper` arrays inside the program (learning rates, τ, γ,
  temperature, exploration, penalty, pruning rate, …): a sweep over them — or ``jax.vmap`` over
  a population — reuses the executable;
* ``run`` fields are bookkeeping outside the program (seed, iterations, evaluation, checkpoints).

Everything else derives from that one declaration: :data:`TRACED`, :data:`STATIC`, :data:`Hyper`,
:func:`hyper` and :func:`structure` (rejax's per-field static/vmappable flag, as one field each).
Values are layered: algorithm defaults, a preset, a ``.json``/``.toml`` file, then overrides.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import files, scenarios
from contractjax.domain import (
    FLOAT32_MAX,
    INT32_MAX,
    NON_NEGATIVE,
    POSITIVE,
    REAL,
    SEED_MAX,
    InputError,
    Interval,
    between,
    check_dims,
    numbers,
)
from contractjax.solver import diffusion
from contractjax.solver.algos import registry

STATIC, TRACED_KIND, RUN = "static", "traced", "run"
REWARDS = ("principal", "paper")
PRUNING = ("none", "cubic_l1", "fixed_l2")
#: The pruning kinds' first names (after the papers that use them), still accepted.
PRUNING_ALIASES = {"dt": "cubic_l1", "agent": "fixed_l2"}
ACTORS = ("diffusion", "mlp")


#: What a field accepts: an interval of numbers (each entry of a tuple of widths), the choices
#: of a string field, or a callable giving them when checked (``algo``: the algorithms registered
#: by then); ``None``: checked by :func:`validate` itself.
Valid = Interval | tuple[str, ...] | Callable[[], tuple[str, ...]] | None
COUNT, INDEX = Interval(1.0, INT32_MAX, integer=True), Interval(0.0, INT32_MAX, integer=True)
SEED = Interval(0.0, SEED_MAX, integer=True)


def _field(kind: str, default: Any, doc: str, valid: Valid) -> Any:
    return dataclasses.field(default=default, metadata={"kind": kind, "doc": doc, "valid": valid})


def static(default: Any, doc: str, valid: Valid = None) -> Any:
    """A field that fixes the compiled program."""
    return _field(STATIC, default, doc, valid)


def traced(default: Any, doc: str, valid: Valid = NON_NEGATIVE) -> Any:
    """A field passed into the program as a traced array (sweeps do not recompile)."""
    return _field(TRACED_KIND, default, doc, valid)


def run(default: Any, doc: str, valid: Valid = None) -> Any:
    """A bookkeeping field outside the compiled program."""
    return _field(RUN, default, doc, valid)


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a training run needs (``docs`` of each field: ``Config.describe()``)."""

    # -- the problem
    scenario: str = static("dt", "the model: a registered name (dt, agent, aigc, twin, ...), a model file "
                           "(path/to/model.py) or module (package.module); docs/scenarios.md")
    dims: tuple[tuple[str, int], ...] = static((), "dimension overrides, e.g. K=3 (twin: M, N)")
    sampler: tuple[tuple[str, Any], ...] = static((), "sampler overrides, e.g. c=[25, 35]")
    reward: str = static("principal", "principal: utility − penalty · scaled violation | paper: the paper's reward",
                         REWARDS)
    param: str = static("efforts", "action space: efforts (feasible by construction) | menu (efforts and payments)"
                        " | a scenario's extra one (agent: shared, twin: unrepaired)")
    # -- the algorithm and its networks
    algo: str = static("diffusion_sac", f"a registered algorithm (solver.algos.registry): {', '.join(registry.names())}",
                       registry.names)
    actor: str = static("diffusion", "amortized only: mlp (a plain tanh MLP; its default) | diffusion (the chain)",
                        ACTORS)
    actor_hidden: tuple[int, ...] = static((128, 128, 128), "actor hidden widths", COUNT)
    critic_hidden: tuple[int, ...] = static((256, 256), "critic (and PPO value) hidden widths", COUNT)
    t_dim: int = static(16, "diffusion step embedding size", COUNT)
    denoise_steps: int = static(5, "denoising steps T of the diffusion actor (DDPM uses up to 1000)",
                                Interval(1.0, 1000.0, integer=True))
    schedule: str = static("vp", "noise schedule: vp | linear | cosine", diffusion.SCHEDULES)
    unroll: int = static(1, "unroll of the denoising scan (higher is faster on GPU)", COUNT)
    auto_alpha: bool = static(False, "SAC: tune the temperature to target_entropy")
    bootstrap: bool = static(False, "treat the draws as one continuing stream (TD target r + γ …); "
                             "false: one-step episodes, target r")
    policy_delay: int = static(1, "DPG family: actor and target updates every this many critic updates (TD3: 2)",
                               COUNT)
    ppo_epochs: int = static(4, "PPO: passes over each fresh batch", COUNT)
    ppo_minibatches: int = static(4, "PPO: minibatches per pass", COUNT)
    # -- the loop
    envs_per_step: int = static(64, "fresh environments acted on per iteration", COUNT)
    updates_per_step: int = static(1, "gradient updates per iteration", COUNT)
    batch: int = static(256, "replay minibatch size", COUNT)
    buffer: int = static(50_000, "replay capacity (transitions)", COUNT)
    warmup: int = static(100, "iterations acting uniformly at random before the actor takes over (replay algos)",
                         INDEX)
    chunk: int = static(500, "iterations per compiled call", COUNT)
    pruning: str = static("cubic_l1", "none | cubic_l1 (sparsity rising on a cubic schedule, L1 importance: DT) | "
                                      "fixed_l2 (a fixed rate, L2 importance: AGENT's EDMSAC); dt and agent are "
                                      "accepted for these", PRUNING)
    prune_every: int = static(100, "iterations between pruning events", COUNT)
    prune_steps: int = static(20, "pruning events of the DT cubic schedule", COUNT)
    # -- traced hyperparameters
    actor_lr: float = traced(1e-3, "actor learning rate", POSITIVE)
    critic_lr: float = traced(1e-3, "critic (PPO: value) learning rate", POSITIVE)
    alpha_lr: float = traced(3e-4, "temperature learning rate (auto_alpha)", POSITIVE)
    weight_decay: float = traced(0.0, "AdamW weight decay")
    tau: float = traced(0.005, "Polyak rate of the target networks", between(0.0, 1.0, open_lo=True))
    gamma: float = traced(0.99, "discount (only with bootstrap=true)", between(0.0, 1.0))
    alpha: float = traced(1e-3, "entropy temperature (initial value with auto_alpha)")
    target_entropy: float | None = traced(None, "auto_alpha target; default −action_dim", REAL)
    explore_std: float = traced(0.03, "exploration noise std (diffusion SAC: the chain's last step; the critic sees "
                                "rewards smoothed by it, whose optimum is biased; README, 'What mattered')")
    target_noise: float = traced(0.2, "TD3 target policy smoothing std")
    noise_clip: float = traced(0.5, "TD3 target smoothing clip")
    clip_eps: float = traced(0.2, "PPO ratio clip", between(0.0, 1.0, open_lo=True, open_hi=True))
    ent_coef: float = traced(1e-3, "PPO entropy bonus")
    vf_coef: float = traced(0.5, "PPO value-loss weight")
    penalty: float = traced(10.0, "weight of the scaled IR/IC violation in the principal reward")
    smooth: float = traced(0.0, "temperature of the agent's smoothed response in the training reward at iteration 0 "
                                "(models whose utility jumps where the agent's choice switches: hidden_action); "
                                "0: the exact reward")
    smooth_decay: float = traced(0.9995, "per-iteration factor of that temperature: smooth · smooth_decay^step",
                                 between(0.0, 1.0, open_lo=True))
    prune_rate: float = traced(0.3, "target sparsity (DT) or fixed pruning rate (AGENT)",
                              between(0.0, 1.0, open_hi=True))
    # -- bookkeeping
    model: str = run("", "where the model was loaded from (a file or module; recorded from scenario, empty for "
                     "built-in, registered and installed models), so that solve and resume find it again")
    seed: int = run(0, "training seed", SEED)
    eval_seed: int | None = run(None, "held-out environments; default 1_000_000 + seed (disjoint streams)", SEED)
    steps: int = run(15000, "training iterations", COUNT)
    eval_every: int = run(5000, "iterations between held-out evaluations; 0 = only at the end", INDEX)
    eval_envs: int = run(1000, "held-out environments", COUNT)
    checkpoint_every: int = run(5000, "iterations between checkpoints (one is also written at the end)", INDEX)
    eval_chain: str = run("mean", "diffusion actor in evaluation and solve: mean (x_T = 0 and no noise in the "
                          "chain: deterministic) | sample (one stochastic chain per environment)", ("mean", "sample"))
    eval_actor: str = run("target", "actor parameters for evaluation and solve: target (Polyak average; Algorithm 1 "
                          "of the DT journal paper; scripts/eval_modes.py measures both) | online "
                          "(for runs not much longer than 1/tau updates, where the target still lags)",
                          ("online", "target"))

    def replace(self, **kw: Any) -> Config:
        return dataclasses.replace(self, **kw)

    @classmethod
    def describe(cls) -> dict[str, str]:
        """``{field: "kind: doc"}`` for help texts."""
        return {f.name: f"{f.metadata['kind']}: {f.metadata['doc']}" for f in dataclasses.fields(cls)}


def _names(kind: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(Config) if f.metadata["kind"] == kind)


#: Names of the traced, static and bookkeeping fields, in declaration order.
TRACED = _names(TRACED_KIND)
STATIC_FIELDS = _names(STATIC)
RUN_FIELDS = _names(RUN)

#: The traced hyperparameters as one pytree of scalar arrays (``[n]`` arrays for a population),
#: one field per ``traced`` Config field.
Hyper = NamedTuple("Hyper", [(name, jax.Array) for name in TRACED])  # type: ignore[misc]


def hyper(cfg: Config, action_dim: int) -> Hyper:
    """The traced values of ``cfg`` as float32 arrays (``target_entropy`` None → −action_dim)."""
    values = {name: getattr(cfg, name) for name in TRACED}
    if values["target_entropy"] is None:
        values["target_entropy"] = -float(action_dim)
    return Hyper(**{k: jnp.asarray(v, jnp.float32) for k, v in values.items()})


def structure(cfg: Config) -> tuple[tuple[str, Any], ...]:
    """The static fields: configs with equal structure share one compiled program."""
    return tuple((name, getattr(cfg, name)) for name in STATIC_FIELDS)


# ------------------------------------------------------------------------------ presets, defaults

def __getattr__(name: str) -> Any:
    """``ALGOS`` (the registered algorithms' names) and ``ALGO_DEFAULTS`` (their defaults, applied
    beneath the preset), read from :mod:`~contractjax.solver.algos.registry` on each access."""
    if name == "ALGOS":
        return registry.names()
    if name == "ALGO_DEFAULTS":
        return {spec.name: dict(spec.defaults) for spec in registry.specs()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PRESETS: dict[str, dict[str, Any]] = {
    # Minutes per scenario on a 2-core CPU (README figures).
    "quick": {},
    # Four times the iterations at lower learning rates, with the papers' AdamW weight decay (tens of
    # minutes on a 2-core CPU, minutes on a GPU). At the quick preset's 1e-3 and no decay, dt's actor
    # drifted to non-finite parameters after 18,500 iterations (the guard stopped it).
    "long": {"steps": 60_000, "eval_every": 10_000, "checkpoint_every": 10_000, "actor_lr": 3e-4, "critic_lr": 3e-4,
             "weight_decay": 1e-4},
    # The papers' settings: 256-wide Mish MLPs, 6 VP steps, batch 512, AdamW (wd 1e-4), τ = 0.005,
    # γ = 0.99, actor lr 2e-7, critic lr 2e-6 (all four papers), pruning 10 % (DT journal, Fig. 4).
    "paper": {"actor_hidden": (256, 256, 256), "critic_hidden": (256, 256), "denoise_steps": 6, "batch": 512,
              "envs_per_step": 1, "buffer": 1_000_000, "actor_lr": 2e-7, "critic_lr": 2e-6, "weight_decay": 1e-4,
              "prune_rate": 0.1, "reward": "paper", "param": "menu", "steps": 100_000, "chunk": 1000,
              "eval_every": 10_000, "checkpoint_every": 10_000, "warmup": 0},
}

#: Preset values for one algorithm (PPO learns from its fresh batch, not from a replay: the paper
#: preset's one environment per iteration becomes its batch of 512).
PRESET_ALGO: dict[tuple[str, str], dict[str, Any]] = {("paper", "ppo"): {"envs_per_step": 512}}


def make_config(preset: str = "quick", file: str | Path | None = None, given_by: str = "", **overrides: Any) -> Config:
    """Algorithm defaults, then the model's (``Scenario.training``), then a preset, then a config
    file (.json or .toml), then overrides (``None`` values are skipped). A bad value's message
    says where it came from: the file, or ``given_by`` (e.g. ``"--set"``) for the overrides."""
    if preset not in PRESETS:
        raise InputError(f"preset '{preset}' is unknown; choose one of: {', '.join(PRESETS)}")
    from_file = read_config_file(file) if file is not None else {}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    given = from_file | overrides
    try:
        algo = given.get("algo", PRESETS[preset].get("algo", Config.algo))
        if algo not in registry.names():
            raise FieldError("algo", f"choose one of {', '.join(registry.names())}", algo)
        defaults = dict(registry.get(algo).defaults) | _model_defaults(given.get("scenario", Config.scenario), algo)
        return validate(coerce(defaults | PRESETS[preset] | PRESET_ALGO.get((preset, algo), {}) | given))
    except FieldError as e:
        if e.field in overrides and given_by:
            raise e.at(given_by) from None
        if e.field in from_file and e.field not in overrides:
            raise e.at(f"config file '{file}'") from None
        raise


def _model_defaults(scenario: Any, algo: str) -> dict[str, Any]:
    """The Config values a model trains with unless told otherwise (an unknown model: none here;
    :func:`validate` names it), less a default action space that ``algo`` cannot learn in (one
    that is not differentiable, for an algorithm that learns from the reward's gradient)."""
    try:
        sc = scenarios.get(scenario)
    except (InputError, TypeError):
        return {}
    unknown = [k for k in sc.training if k not in _FIELDS]
    if unknown:
        raise InputError(f"model '{sc.name}': training default '{unknown[0]}' is not a Config field; see "
                         "contractjax train --help")
    out = dict(sc.training)
    param = out.get("param")
    if registry.get(algo).gradient and param in sc.parameterizations and not sc.parameterization(param).differentiable:
        del out["param"]
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    if not isinstance(path, str | os.PathLike):
        raise InputError(f"argument 'config' = {path!r}: give the path of a .toml or .json config file")
    return files.read_table(path, "config file", "Config fields")


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}
_OPTIONAL = ("eval_seed", "target_entropy")  # the fields whose value may be None


def coerce(values: Mapping[str, Any]) -> Config:
    """Build a Config from loose values (CLI strings, JSON lists), naming any bad field."""
    kw: dict[str, Any] = {}
    for k, v in values.items():
        if k not in _FIELDS:
            raise FieldError(k, f"unknown field; known fields: {', '.join(sorted(_FIELDS))}", v)
        try:
            kw[k] = _coerce_one(k, v, _FIELDS[k].default)
        except InputError as e:
            raise FieldError(k, str(e)) from None
        except (TypeError, ValueError, OverflowError):
            kind = ("comma-separated whole numbers" if k.endswith("_hidden") else
                    "a table of NAME = VALUE (in a config file)" if k in ("dims", "sampler") else
                    {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "a name"}.get(
                        type(_FIELDS[k].default).__name__, "a number"))
            raise FieldError(k, f"cannot be read; give {kind}", v) from None
    return Config(**kw)


def _frozen(v: Any) -> Any:
    return tuple(_frozen(x) for x in v) if isinstance(v, list | tuple) else v


def _whole(v: Any) -> int:
    if isinstance(v, bool | np.bool_):
        raise ValueError(v)
    f = float(v)
    if f != int(f):
        raise ValueError(v)
    return int(f)


def _coerce_one(name: str, v: Any, default: Any) -> Any:
    if name == "scenario" and not isinstance(v, str):  # a model object: registered, then named
        return scenarios.get(v).name
    if name in ("dims", "sampler"):
        items = v.items() if isinstance(v, Mapping) else v
        if isinstance(v, str) or not all(isinstance(i, list | tuple) and len(i) == 2 for i in items):
            raise ValueError(v)
        return tuple(sorted((str(a), _frozen(b)) for a, b in items))
    if name in ("actor_hidden", "critic_hidden"):
        parts = v.split(",") if isinstance(v, str) else v
        return tuple(_whole(x) for x in parts)
    if name in _OPTIONAL and (v is None or (isinstance(v, str) and v.lower() == "none")):
        return None
    if isinstance(default, bool):
        if isinstance(v, str) and v.lower() in ("true", "false", "1", "0"):
            return v.lower() in ("true", "1")
        if isinstance(v, bool) or v in (0, 1):
            return bool(v)
        raise ValueError(v)
    if isinstance(default, int) or name == "eval_seed":
        return _whole(v)
    if isinstance(default, float) or name == "target_entropy":
        if isinstance(v, bool | np.bool_):  # true/false is not a number (float(True) would be 1.0)
            raise ValueError(v)
        return float(v)
    if not isinstance(v, str):
        raise ValueError(v)
    return v


class FieldError(InputError):
    """A bad config value: ``field``, ``value`` and ``problem``, rendered for where it came from."""

    def __init__(self, field: str, problem: str, value: Any = None, source: str = "") -> None:
        self.field, self.problem, self.value, self.source = field, problem, value, source
        if source == "--set":
            where = f"--set {field}={_shown(value)}"
        else:
            where = (f"{source}: " if source else "") + f"config field '{field}'" + (
                f" = {value!r}" if value is not None else "")
        super().__init__(f"{where}: {problem}")

    def at(self, source: str) -> FieldError:
        return FieldError(self.field, self.problem, self.value, source)


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _check_field(f: dataclasses.Field, value: Any) -> None:
    valid = f.metadata["valid"]
    if value is None and f.name in _OPTIONAL or valid is None:
        return
    if callable(valid):
        valid = valid()
    if isinstance(valid, tuple):
        if value not in valid:
            raise FieldError(f.name, f"choose one of {', '.join(valid)}", value)
        return
    values = value if isinstance(value, tuple) else (value,)
    if not values or not all(valid.holds(v) for v in values):
        what = "each width must be" if isinstance(value, tuple) else "must be"
        raise FieldError(f.name, f"{what} {valid}", value)


def validate(cfg: Config) -> Config:
    """Check every field against its declared range, then the conditions between fields; a
    :class:`FieldError` names the field, the value and the fix."""
    if cfg.pruning in PRUNING_ALIASES:
        cfg = cfg.replace(pruning=PRUNING_ALIASES[cfg.pruning])
    for f in dataclasses.fields(Config):
        _check_field(f, getattr(cfg, f.name))
    try:
        sc = scenarios.get(cfg.scenario, cfg.model)
    except InputError as e:
        raise FieldError("scenario", str(e), cfg.scenario) from None
    if (cfg.scenario, cfg.model) != (sc.name, scenarios.source(sc.name)):  # a file or module: record it
        cfg = cfg.replace(scenario=sc.name, model=scenarios.source(sc.name))

    def need(ok: bool, field: str, fix: str) -> None:
        if not ok:
            raise FieldError(field, fix, getattr(cfg, field))
    need(cfg.buffer >= cfg.envs_per_step, "buffer", "must hold at least one iteration's transitions (envs_per_step)")
    need(cfg.envs_per_step % cfg.ppo_minibatches == 0 or cfg.algo != "ppo", "ppo_minibatches",
         "must divide envs_per_step")
    need(cfg.param in sc.parameterizations, "param", f"choose one of {', '.join(sc.parameterizations)} for {sc.name}")
    need(cfg.alpha > 0 or not cfg.auto_alpha, "alpha", "must be > 0 with auto_alpha")
    need(sc.parameterization(cfg.param).differentiable or not registry.get(cfg.algo).gradient, "param",
         f"{cfg.algo} learns from the reward's gradient, and action space {cfg.param} is not differentiable; choose "
         f"one of {', '.join(k for k, p in sc.parameterizations.items() if p.differentiable)}")
    need(cfg.smooth == 0 or sc.smoothed_utility is not None, "smooth",
         f"{sc.name} has no smoothed response (its utility is continuous); leave smooth at 0")
    try:
        sc.settings(dict(cfg.sampler), "setting")
    except InputError as e:
        raise FieldError("sampler", str(e)) from None
    for k, v in cfg.sampler:  # the training program runs in float32
        if any(abs(x) > FLOAT32_MAX for x in numbers(v) or []):
            raise FieldError("sampler", f"setting {k} = {v} is beyond the float32 range (±{FLOAT32_MAX:.3g}) in which "
                                        "training runs; give smaller values")
    try:
        check_dims("dimension", dict(cfg.dims), sc.dims)
    except InputError as e:
        raise FieldError("dims", str(e)) from None
    return cfg


def to_json(cfg: Config) -> dict[str, Any]:
    """A JSON-ready dict that :func:`coerce` reads back to the same Config."""
    d = dataclasses.asdict(cfg)
    d["dims"] = dict(cfg.dims)
    d["sampler"] = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.sampler}
    return d
