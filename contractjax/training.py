"""Training loop (SPEC §4): vmapped environments, on-device replay, SAC updates and pruning, with a
chunk of iterations compiled as one ``lax.scan`` inside one ``jax.jit``.

One *iteration* draws ``envs_per_step`` fresh environments, acts on them with the current actor
(plus exploration noise), stores the transitions, performs ``updates_per_step`` gradient updates
and (every ``prune_every`` iterations) recomputes the pruning masks. ``steps`` counts iterations.

Between chunks only (never inside the compiled program): progress display, metrics log,
evaluation against the oracle on held-out environments, orbax checkpoints.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import time
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import batch, buffer, core, diffusion, sac, scenarios
from contractjax.networks import Critic, NoiseNet
from contractjax.scenarios import Scenario
from contractjax.scenarios.base import config_with

Array = jax.Array
REWARDS = ("principal", "paper")
PARAMS = ("efforts", "menu")


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a training run needs. Fields marked *traced* become :class:`sac.Hyper` arrays
    (a sweep over them reuses the compiled program); the rest fix the program's structure."""

    scenario: str = "dt"
    dims: tuple[tuple[str, int], ...] = ()  # dimension overrides, e.g. (("K", 3),)
    sampler: tuple[tuple[str, Any], ...] = ()  # sampler overrides, e.g. (("c", (25.0, 35.0)),)
    seed: int = 0
    eval_seed: int | None = None  # held-out environments; default 1_000_000 + seed (disjoint streams)
    steps: int = 6000  # iterations
    chunk: int = 500  # iterations per compiled call
    envs_per_step: int = 64
    updates_per_step: int = 1
    batch: int = 256
    buffer: int = 50_000
    warmup: int = 100  # iterations acting uniformly at random before the actor takes over
    actor_hidden: tuple[int, ...] = (128, 128, 128)
    critic_hidden: tuple[int, ...] = (128, 128)
    t_dim: int = 16
    denoise_steps: int = 5
    schedule: str = "vp"
    unroll: int = 1  # unroll of the denoising scan (higher is faster on GPU)
    reward: str = "principal"  # principal utility − penalty · scaled violation | paper reward
    param: str = "efforts"  # efforts: feasible by construction | menu: efforts and payments in the action
    penalty: float = 10.0  # traced; reward −= penalty · Σ relative IR/IC violations (utility units of 1/reward_scale)
    pruning: str = "dt"  # none | dt (cubic schedule, L1) | agent (fixed rate, L2)
    prune_rate: float = 0.3  # traced
    prune_every: int = 100
    prune_steps: int = 20
    auto_alpha: bool = False
    bootstrap: bool = False
    actor_lr: float = 1e-3  # traced
    critic_lr: float = 1e-3  # traced
    alpha_lr: float = 3e-4  # traced
    weight_decay: float = 0.0  # traced
    tau: float = 0.005  # traced
    gamma: float = 0.99  # traced
    alpha: float = 1e-3  # traced
    target_entropy: float | None = None  # traced; default −action_dim
    explore_std: float = 0.1  # traced
    eval_every: int = 2000  # iterations; 0 = only at the end
    eval_envs: int = 1000
    checkpoint_every: int = 2000  # iterations; a checkpoint is also written at the end

    TRACED = ("prune_rate", "actor_lr", "critic_lr", "alpha_lr", "weight_decay", "tau", "gamma", "alpha",
              "target_entropy", "explore_std", "penalty")

    def replace(self, **kw: Any) -> Config:
        return dataclasses.replace(self, **kw)


PRESETS: dict[str, dict[str, Any]] = {
    # Reaches the figures on a 2-core CPU in a few minutes per scenario (README).
    "quick": {},
    # The papers' settings: 256-wide Mish MLPs, 6 VP steps, batch 512, AdamW (wd 1e-4), τ = 0.005,
    # γ = 0.99, actor lr 2e-7, critic lr 2e-6 (seeds 000-003), pruning 10 % (seed 002).
    "paper": {"actor_hidden": (256, 256, 256), "critic_hidden": (256, 256), "denoise_steps": 6, "batch": 512,
              "envs_per_step": 1, "buffer": 1_000_000, "actor_lr": 2e-7, "critic_lr": 2e-6, "weight_decay": 1e-4,
              "prune_rate": 0.1, "reward": "paper", "param": "menu", "steps": 100_000, "chunk": 1000,
              "eval_every": 10_000, "checkpoint_every": 10_000, "warmup": 0},
}


# ---------------------------------------------------------------------------------- configuration


def make_config(preset: str = "quick", file: str | Path | None = None, **overrides: Any) -> Config:
    """A preset, updated by a config file (.json or .toml, flat keys) and then by overrides."""
    if preset not in PRESETS:
        raise ValueError(f"preset '{preset}' is unknown; choose one of: {', '.join(PRESETS)}")
    values: dict[str, Any] = dict(PRESETS[preset])
    if file is not None:
        values |= read_config_file(file)
    values |= {k: v for k, v in overrides.items() if v is not None}
    return validate(coerce(values))


def read_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"config file '{p}' does not exist; give a .json or .toml file of Config fields")
    try:
        data = tomllib.loads(p.read_text()) if p.suffix == ".toml" else json.loads(p.read_text())
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"config file '{p}' cannot be parsed ({e}); write flat KEY = VALUE fields") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file '{p}' must hold one object of Config fields")
    return data


def coerce(values: Mapping[str, Any]) -> Config:
    """Build a Config from loose values (CLI strings, JSON lists), naming any bad field."""
    fields = {f.name: f for f in dataclasses.fields(Config)}
    kw: dict[str, Any] = {}
    for k, v in values.items():
        if k not in fields:
            raise ValueError(f"config field '{k}' is unknown; known fields: {', '.join(sorted(fields))}")
        default = fields[k].default
        try:
            kw[k] = _coerce_one(k, v, default)
        except (TypeError, ValueError):
            raise ValueError(f"config field '{k}': cannot read {v!r} as {type(default).__name__}") from None
    return Config(**kw)


def _coerce_one(name: str, v: Any, default: Any) -> Any:
    if name in ("dims", "sampler"):
        items = v.items() if isinstance(v, Mapping) else v
        return tuple(sorted((str(a), tuple(b) if isinstance(b, list | tuple) else b) for a, b in items))
    if name in ("actor_hidden", "critic_hidden"):
        parts = v.split(",") if isinstance(v, str) else v
        return tuple(int(x) for x in parts)
    if v is None or (isinstance(v, str) and v.lower() == "none"):
        return None
    if isinstance(default, bool):
        if isinstance(v, str):
            if v.lower() not in ("true", "false", "1", "0"):
                raise ValueError(v)
            return v.lower() in ("true", "1")
        return bool(v)
    if isinstance(default, int) or name == "eval_seed":
        f = float(v)
        if f != int(f):
            raise ValueError(v)
        return int(f)
    if isinstance(default, float) or name == "target_entropy":
        return float(v)
    return str(v)


def validate(cfg: Config) -> Config:
    """Check every field; errors name the field and the fix."""
    sc = scenarios.get(cfg.scenario)

    def need(ok: bool, field: str, fix: str) -> None:
        if not ok:
            raise ValueError(f"config field '{field}' = {getattr(cfg, field)!r}: {fix}")

    for f in ("steps", "chunk", "envs_per_step", "updates_per_step", "batch", "buffer", "denoise_steps", "t_dim",
              "prune_every", "prune_steps", "eval_envs"):
        need(getattr(cfg, f) >= 1, f, "must be a positive integer")
    for f in ("warmup", "eval_every", "checkpoint_every"):
        need(getattr(cfg, f) >= 0, f, "must be >= 0")
    need(cfg.buffer >= cfg.envs_per_step, "buffer", "must hold at least one iteration's transitions (envs_per_step)")
    need(len(cfg.actor_hidden) >= 1 and min(cfg.actor_hidden) >= 1, "actor_hidden", "give positive widths, e.g. 128,128")
    need(len(cfg.critic_hidden) >= 1 and min(cfg.critic_hidden) >= 1, "critic_hidden", "give positive widths")
    need(cfg.schedule in diffusion.SCHEDULES, "schedule", f"choose one of {', '.join(diffusion.SCHEDULES)}")
    need(cfg.reward in REWARDS, "reward", f"choose one of {', '.join(REWARDS)}")
    need(cfg.param in PARAMS, "param", f"choose one of {', '.join(PARAMS)}")
    need(cfg.param == "menu" or sc.efforts_to_menu is not None, "param",
         f"scenario '{sc.name}' has no efforts parameterization; use menu")
    need(cfg.pruning in sac.PRUNING, "pruning", f"choose one of {', '.join(sac.PRUNING)}")
    need(0.0 <= cfg.prune_rate < 1.0, "prune_rate", "must lie in [0, 1)")
    need(cfg.unroll >= 1, "unroll", "must be >= 1")
    for f in ("actor_lr", "critic_lr", "alpha_lr"):
        need(getattr(cfg, f) > 0, f, "must be > 0")
    need(0.0 < cfg.tau <= 1.0, "tau", "must lie in (0, 1]")
    need(cfg.weight_decay >= 0, "weight_decay", "must be >= 0")
    need(cfg.alpha >= 0 and (cfg.alpha > 0 or not cfg.auto_alpha), "alpha", "must be >= 0 (> 0 with auto_alpha)")
    need(cfg.explore_std >= 0, "explore_std", "must be >= 0")
    need(cfg.penalty >= 0, "penalty", "must be >= 0")
    try:
        config_with(sc.defaults, dict(cfg.sampler))
    except ValueError as e:
        raise ValueError(f"config field 'sampler': {e}") from None
    for k, v in cfg.dims:
        need(k in sc.dims and int(v) >= 1, "dims", f"dimensions of {sc.name} are {', '.join(sc.dims)} (each >= 1)")
    return cfg


# ------------------------------------------------------------------------------------ the program


class TrainState(NamedTuple):
    sac: sac.SACState
    buffer: buffer.Buffer
    key: Array
    step: Array  # iterations done
    obs_mean: Array
    obs_std: Array
    reward_scale: Array


@dataclasses.dataclass(frozen=True, eq=False)
class Program:
    """The compiled pieces of one configuration's structure (shared by every traced setting)."""

    cfg: Config
    sc: Scenario
    dims: dict[str, int]
    sampler: dict[str, Any]
    nets: sac.Nets

    @property
    def action_dim(self) -> int:
        return self.nets.action_dim

    def hyper(self, cfg: Config | None = None) -> sac.Hyper:
        c = cfg or self.cfg
        te = -float(self.action_dim) if c.target_entropy is None else c.target_entropy
        vals = {f: (te if f == "target_entropy" else getattr(c, f)) for f in sac.Hyper._fields}
        return sac.Hyper(**{k: jnp.asarray(v, jnp.float32) for k, v in vals.items()})

    # -- environment side, all pure and vmapped

    def sample(self, key: Array, n: int) -> dict[str, Array]:
        return jax.vmap(lambda k: self.sc.sample(k, self.dims, self.sampler))(jax.random.split(key, n))

    @property
    def menu_map(self) -> Callable[[dict[str, Array], Array], dict[str, Array]]:
        """Single-environment action → menu map of the configured parameterization."""
        return self.sc.efforts_to_menu if self.cfg.param == "efforts" else self.sc.action_to_menu

    def to_menu(self, env: dict[str, Array], a: Array) -> dict[str, Array]:
        return jax.vmap(self.menu_map)(env, a)

    def objective(self, env: dict[str, Array], menu: dict[str, Array], a: Array, reward_scale: Array,
                  penalty: Array) -> tuple[Array, Array, Array]:
        """``(training reward, principal utility, feasible)`` per environment.

        ``principal``: ``U · s − penalty · Σ max(0, −slack)/scale`` with ``s = reward_scale`` (so the
        penalty is in units of a typical utility); ``paper``: the paper's reward times ``s``."""
        sc = self.sc

        def one(e, m, x):
            c = sc.constraints(e, m)
            u = sc.principal_utility(e, m)
            if self.cfg.reward == "paper":
                r = sc.paper_reward(e, m, x) * reward_scale
            else:
                r = u * reward_scale - penalty * core.scaled_violation(c)
            return r, u, core.feasible(c, core.TOL32)

        return jax.vmap(one)(env, menu, a)

    def observe(self, ts: TrainState, env: dict[str, Array]) -> Array:
        return (jax.vmap(self.sc.state)(env) - ts.obs_mean) / ts.obs_std

    # -- the loop

    def init(self, key: Array, hyper: sac.Hyper, obs_mean: Array, obs_std: Array, reward_scale: Array) -> TrainState:
        k_sac, k_run = jax.random.split(key)
        st = sac.init(self.nets, k_sac, hyper)
        example = {"obs": jnp.zeros(self.nets.obs_dim), "action": jnp.zeros(self.action_dim), "reward": jnp.zeros(())}
        if self.nets.bootstrap:
            example["next_obs"] = jnp.zeros(self.nets.obs_dim)
        return TrainState(st, buffer.init(example, self.cfg.buffer), k_run, jnp.zeros((), jnp.int32),
                          obs_mean, obs_std, jnp.asarray(reward_scale, jnp.float32))

    def iteration(self, ts: TrainState, _: Any = None) -> tuple[TrainState, dict[str, Array]]:
        cfg, nets = self.cfg, self.nets
        key, k_env, k_act, k_rand, k_next, k_upd = jax.random.split(ts.key, 6)
        st = ts.sac
        env = self.sample(k_env, cfg.envs_per_step)
        obs = self.observe(ts, env)
        a, _, _ = sac.act(nets, st.actor.params, st.actor.masks, obs, k_act, st.hyper.explore_std)
        a = jnp.where(ts.step < cfg.warmup, jax.random.uniform(k_rand, a.shape, a.dtype, -1.0, 1.0), a)
        r, u, ok = self.objective(env, self.to_menu(env, a), a, ts.reward_scale, st.hyper.penalty)
        trans = {"obs": obs, "action": a, "reward": r}
        if nets.bootstrap:  # a continuing stream: the next state is the next draw
            trans["next_obs"] = self.observe(ts, self.sample(k_next, cfg.envs_per_step))
        buf = buffer.add(ts.buffer, trans)

        def one_update(s: sac.SACState, k: Array):
            kb, ku = jax.random.split(k)
            b = buffer.sample(buf, kb, cfg.batch)
            return sac.update(nets, s, sac.Batch(b["obs"], b["action"], b["reward"], b.get("next_obs")), ku)

        st, m = jax.lax.scan(one_update, st, jax.random.split(k_upd, cfg.updates_per_step))
        m = jax.tree.map(jnp.mean, m)
        st = st._replace(actor=sac.prune(nets, st.actor, ts.step + 1, st.hyper.prune_rate))
        m |= {"reward": jnp.mean(r), "utility": jnp.mean(u), "feasible": jnp.mean(ok.astype(jnp.float32)),
              "sparsity": sac.sparsity(st.actor.masks)}
        return TrainState(st, buf, key, ts.step + 1, ts.obs_mean, ts.obs_std, ts.reward_scale), m

    def chunk(self, ts: TrainState, length: int) -> tuple[TrainState, dict[str, Array]]:
        """``length`` iterations as one scan; metrics are the chunk's means."""
        ts, m = jax.lax.scan(self.iteration, ts, None, length=length)
        return ts, jax.tree.map(lambda x: jnp.mean(x, axis=0), m)

    def policy_actions(self, actor_params: Any, masks: tuple[Array, ...], obs: Array, key: Array) -> Array:
        """Deterministic-noise evaluation actions (no exploration)."""
        return sac.act(self.nets, actor_params, masks, obs, key, 0.0)[0]


@functools.cache
def _program_cached(key: tuple) -> Program:
    cfg = Config(**dict(key))
    sc = scenarios.get(cfg.scenario)
    sampler = config_with(sc.defaults, dict(cfg.sampler))
    dims = {d: int(sampler[d]) for d in sc.dims} | {k: int(v) for k, v in cfg.dims}
    env = sc.sample(jax.random.PRNGKey(0), dims, sampler)
    obs_dim = int(sc.state(env).shape[0])
    adim = sc.effort_size(dims) if cfg.param == "efforts" else sc.action_size(dims)
    nets = sac.Nets(
        actor=NoiseNet(adim, tuple(cfg.actor_hidden), cfg.t_dim), critic=Critic(tuple(cfg.critic_hidden)),
        sched=diffusion.schedule(cfg.schedule, cfg.denoise_steps), obs_dim=obs_dim, unroll=cfg.unroll,
        auto_alpha=cfg.auto_alpha, bootstrap=cfg.bootstrap, pruning=cfg.pruning, prune_every=cfg.prune_every,
        prune_steps=cfg.prune_steps)
    return Program(cfg, sc, dims, sampler, nets)


def program(cfg: Config) -> Program:
    """The Program of a config's structure; configs that differ only in traced or bookkeeping
    fields share one (and therefore one compiled chunk)."""
    neutral = {f: getattr(Config, f) for f in Config.TRACED} | {
        "seed": 0, "eval_seed": None, "steps": Config.steps, "eval_every": 0, "eval_envs": 1, "checkpoint_every": 0}
    static = dataclasses.replace(cfg, **neutral)
    return _program_cached(tuple(sorted(dataclasses.asdict(static).items())))


# ------------------------------------------------------------------------------------ the driver


def statistics(prog: Program, seed: int, n: int = 4096) -> tuple[np.ndarray, np.ndarray, float]:
    """Observation mean/std over ``n`` training draws, and the reward scale
    ``1 / mean |complete-information utility|`` (a global unit, not a per-environment target)."""
    env = _sample_fn(prog, n)(jax.random.fold_in(jax.random.PRNGKey(seed), 7))
    obs = np.asarray(jax.vmap(prog.sc.state)(env), np.float64)
    mean, std = obs.mean(0), obs.std(0)
    std = np.where(std > 1e-6 * np.maximum(1.0, np.abs(mean)), std, 1.0)  # constant features pass through
    sub = {k: np.asarray(v[:1024], np.float64) for k, v in env.items()}
    u = batch.evaluate(prog.sc, sub, batch.oracle(prog.sc, sub, "complete"))["principal_utility"]
    return mean.astype(np.float32), std.astype(np.float32), float(1.0 / max(np.mean(np.abs(u)), 1e-12))


def _f32(fn: Callable) -> Callable:
    """Run (trace and call) ``fn`` with 64-bit types off: the training program is float32 even
    when a user or notebook enabled ``jax_enable_x64`` globally."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kw: Any) -> Any:
        with jax.enable_x64(False):
            return fn(*args, **kw)

    return wrapped


@functools.cache
def _sample_fn(prog: Program, n: int) -> Callable:
    return _f32(jax.jit(lambda k: prog.sample(k, n)))


@functools.cache
def _init_fn(prog: Program) -> Callable:
    return _f32(jax.jit(prog.init))


def menus_from_actions(prog: Program, envs: Mapping[str, np.ndarray], actions: np.ndarray) -> dict[str, np.ndarray]:
    """Menus in float64 (payments recomputed from float64 efforts, so binding constraints pass
    an external float64 check)."""
    with jax.enable_x64(True):
        e = {k: jnp.asarray(v, jnp.float64) for k, v in envs.items()}
        m = batch._chunked(batch._vmapped(prog.menu_map), e, jnp.asarray(actions, jnp.float64))
    return {k: np.asarray(v, np.float64) for k, v in m.items()}


@functools.cache
def _act_fn(prog: Program):
    def run(params, masks, obs, keys):
        one = lambda o, k: prog.policy_actions(params, masks, o[None], k)[0]
        return jax.vmap(one)(obs, keys)

    return _f32(jax.jit(run))


def actions(prog: Program, params: Any, masks: tuple, obs_mean: Any, obs_std: Any,
            envs: Mapping[str, np.ndarray], seed: int = 0) -> np.ndarray:
    """Deterministic actions for ``envs``: environment ``i`` uses noise from key ``i`` of
    ``split(PRNGKey(seed), n)``, so results do not depend on batching."""
    with jax.enable_x64(False):
        e32 = {k: jnp.asarray(v, jnp.float32) for k, v in envs.items()}
        obs = (batch._vmapped(prog.sc.state)(e32) - jnp.asarray(obs_mean)) / jnp.asarray(obs_std)
        keys = jax.random.split(jax.random.PRNGKey(seed), obs.shape[0])
        fn = functools.partial(_act_fn(prog), params, tuple(masks))
        return np.asarray(batch._chunked(fn, obs, keys))


class Evaluator:
    """Held-out environments (seed disjoint from training) with their oracle, complete-information
    and random-menu baselines, computed once."""

    def __init__(self, prog: Program, n: int, seed: int):
        sc = prog.sc
        self.prog, self.seed = prog, seed
        self.envs = batch.sample_envs(sc, n, seed, prog.dims, prog.sampler)
        self.oracle = batch.evaluate(sc, self.envs, batch.oracle(sc, self.envs, "asymmetric"))
        self.complete = batch.evaluate(sc, self.envs, batch.oracle(sc, self.envs, "complete"))
        self.random = batch.evaluate(sc, self.envs, batch.random_menus(sc, self.envs, seed))

    def report(self, ev: Mapping[str, np.ndarray]) -> dict[str, float]:
        ref = self.oracle["principal_utility"]
        return {
            "principal_utility": float(np.mean(ev["principal_utility"])),
            "agents_utility": float(np.mean(ev["agents_utility"])),
            "paper_reward": float(np.mean(ev["paper_reward"])),
            "feasible": float(np.mean(ev["feasible"])),
            "gap": batch.gap(ev["principal_utility"], ref, ev["feasible"]),
            "gap_complete": batch.gap(ev["principal_utility"], self.complete["principal_utility"], ev["feasible"]),
        }

    def baselines(self) -> dict[str, dict[str, float]]:
        return {"oracle": self.report(self.oracle), "complete_information": self.report(self.complete),
                "random": self.report(self.random)}

    def __call__(self, ts: TrainState) -> dict[str, float]:
        a = actions(self.prog, ts.sac.actor.params, ts.sac.actor.masks, ts.obs_mean, ts.obs_std, self.envs,
                    self.seed)
        return self.report(batch.evaluate(self.prog.sc, self.envs, menus_from_actions(self.prog, self.envs, a)))


@functools.cache
def _chunk_fn(prog: Program, length: int) -> Callable:
    return _f32(jax.jit(lambda ts: prog.chunk(ts, length), donate_argnums=0))


def initial_state(cfg: Config) -> TrainState:
    prog = program(cfg)
    mean, std, scale = statistics(prog, cfg.seed)
    with jax.enable_x64(False):
        return _init_fn(prog)(jax.random.PRNGKey(cfg.seed), prog.hyper(cfg), jnp.asarray(mean), jnp.asarray(std),
                              jnp.asarray(scale, jnp.float32))


def policy_tree(ts: TrainState) -> dict[str, Any]:
    return {"actor": ts.sac.actor.params, "masks": list(ts.sac.actor.masks), "obs_mean": ts.obs_mean,
            "obs_std": ts.obs_std}


# -------------------------------------------------------------------------------- checkpoints


def checkpoint_manager(out: Path):
    import orbax.checkpoint as ocp

    return ocp.CheckpointManager(
        (out / "checkpoints").resolve(), options=ocp.CheckpointManagerOptions(max_to_keep=2, create=True),
        item_names=("state", "policy"))


def save(mngr: Any, ts: TrainState) -> None:
    import orbax.checkpoint as ocp

    step = int(ts.step)
    if step in mngr.all_steps():
        return
    mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(ts),
                                            policy=ocp.args.StandardSave(policy_tree(ts))))
    mngr.wait_until_finished()


def restore(mngr: Any, like: TrainState) -> TrainState:
    import orbax.checkpoint as ocp

    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    got = mngr.restore(mngr.latest_step(), args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))
    return got["state"]


# ---------------------------------------------------------------------------------------- run


def config_json(cfg: Config) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["dims"] = dict(cfg.dims)
    d["sampler"] = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.sampler}
    return d


class RunError(ValueError):
    """A problem with the output folder or a resume (message names the fix)."""


def _prepare_out(out: Path, cfg: Config, resume: bool) -> Config:
    saved = out / "config.json"
    if resume:
        if not saved.is_file() or not (out / "checkpoints").is_dir():
            raise RunError(f"--resume: '{out}' holds no earlier run (config.json and checkpoints/); drop --resume")
        old = validate(coerce(json.loads(saved.read_text())))
        changed = [f for f in config_json(cfg) if f not in ("steps",) and config_json(old)[f] != config_json(cfg)[f]]
        if changed:
            raise RunError(f"--resume: the run in '{out}' used other values of {', '.join(changed)}; "
                           "resume with the same config (only --steps may change)")
        return cfg
    if out.exists() and any(out.iterdir()):
        raise RunError(f"--out '{out}' already holds files; pass --resume to continue that run or choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(config_json(cfg), indent=1))
    return cfg


def _due(prev: int, step: int, every: int) -> bool:
    return every > 0 and step // every > prev // every


def _progress_line(cfg: Config, step: int, rate: float, m: Mapping[str, float], ev: Mapping[str, float] | None) -> str:
    eta = (cfg.steps - step) / max(rate, 1e-9)
    s = (f"[{cfg.scenario}] {step:>{len(str(cfg.steps))}}/{cfg.steps} {rate:7.0f} it/s eta {eta:5.0f}s | "
         f"reward {m['reward']:.4g} feasible {100 * m['feasible']:.1f}% critic {m['critic_loss']:.3g} "
         f"alpha {m['alpha']:.2g} sparsity {100 * m['sparsity']:.0f}%")
    if ev is not None:
        s += f" | eval gap {100 * ev['gap']:.2f}% feasible {100 * ev['feasible']:.1f}%"
    return s


def run(cfg: Config, out: str | Path | None = None, resume: bool = False, progress: bool = True,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train; returns the summary (also written to ``out/summary.json``) with ``policy`` added.

    With ``out``: ``config.json``, ``metrics.jsonl`` (one record per chunk), ``checkpoints/``
    (orbax; the latest two) and ``summary.json``. ``resume=True`` continues the run in ``out``
    from its last checkpoint and gives the same result as an uninterrupted run."""
    from contractjax.policy import Policy

    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    cfg = validate(cfg)
    prog = program(cfg)
    outp = Path(out) if out is not None else None
    if outp is not None:
        _prepare_out(outp, cfg, resume)
    t_start = time.perf_counter()
    ts = initial_state(cfg)
    mngr = checkpoint_manager(outp) if outp is not None else None
    if resume and mngr is not None and mngr.latest_step() is not None:
        ts = restore(mngr, ts)
    step = int(ts.step)
    metrics_path = outp / "metrics.jsonl" if outp is not None else None
    if metrics_path is not None and metrics_path.exists():  # drop records past the checkpoint
        keep = [ln for ln in metrics_path.read_text().splitlines() if json.loads(ln)["step"] <= step]
        metrics_path.write_text("".join(ln + "\n" for ln in keep))
    eval_seed = 1_000_000 + cfg.seed if cfg.eval_seed is None else cfg.eval_seed
    evaluator = Evaluator(prog, cfg.eval_envs, eval_seed)
    if progress:
        b = evaluator.baselines()
        log(f"[{cfg.scenario}] {cfg.eval_envs} held-out envs (seed {eval_seed}): oracle U "
            f"{b['oracle']['principal_utility']:.4g}, random-menu gap {100 * b['random']['gap']:.1f}%")
    ev: dict[str, float] | None = None
    t_train, iters, chunk_metrics = 0.0, 0, {}
    while step < cfg.steps:
        length = min(cfg.chunk, cfg.steps - step)
        t0 = time.perf_counter()
        ts, m = _chunk_fn(prog, length)(ts)
        m = {k: float(v) for k, v in jax.device_get(m).items()}
        dt = time.perf_counter() - t0
        prev, step = step, int(ts.step)
        t_train += dt
        iters += length
        ev = evaluator(ts) if (_due(prev, step, cfg.eval_every) or step >= cfg.steps) else None
        rec = {"step": step, "seconds": dt, **m} | ({"eval": ev} if ev else {})
        chunk_metrics = m
        if metrics_path is not None:
            with metrics_path.open("a") as f:
                f.write(json.dumps(rec) + "\n")
        if progress:
            log(_progress_line(cfg, step, length / dt, m, ev))
        if mngr is not None and (_due(prev, step, cfg.checkpoint_every) or step >= cfg.steps):
            save(mngr, ts)
    if ev is None:
        ev = evaluator(ts)
    pol = Policy.from_state(cfg, ts)
    summary = {
        "scenario": cfg.scenario, "steps": step, "eval_envs": cfg.eval_envs, "eval_seed": eval_seed,
        "eval": ev, "baselines": evaluator.baselines(), "train_metrics": chunk_metrics,
        "seconds_total": time.perf_counter() - t_start, "seconds_training": t_train,
        "iterations_per_second": iters / t_train if t_train > 0 else None,
        "updates_per_second": iters * cfg.updates_per_step / t_train if t_train > 0 else None,
        "device": jax.devices()[0].device_kind, "parameters": pol.parameter_counts(),
        "config": config_json(cfg),
    }
    if outp is not None:
        (outp / "summary.json").write_text(json.dumps(summary, indent=1))
        if mngr is not None:
            mngr.close()
    summary["policy"] = pol
    if progress:
        counts = summary["parameters"]
        log(f"[{cfg.scenario}] done: gap {100 * ev['gap']:.2f}% to the oracle, {100 * ev['feasible']:.1f}% feasible "
            f"on {cfg.eval_envs} held-out envs; actor {counts['compact']} parameters after pruning "
            f"(of {counts['full']})")
    return summary


def train(scenario: str = "dt", out: str | Path | None = None, preset: str = "quick",
          config: str | Path | None = None, resume: bool = False, progress: bool = True, **overrides: Any):
    """Python API: ``contractjax.train("dt", steps=3000)`` → summary dict (``summary["policy"]``
    designs menus: ``summary["policy"].menus(envs)``)."""
    cfg = make_config(preset, config, scenario=scenario, **overrides)
    return run(cfg, out, resume, progress)
