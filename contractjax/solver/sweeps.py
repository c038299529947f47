"""Hyperparameter sweeps and algorithm comparisons, trained as compiled populations.

A sweep file (TOML or JSON) names a scenario, algorithms, a preset plus overrides, a grid and/or
random draws over hyperparameters, and seeds::

    scenario = "dt"
    algos = ["diffusion_sac", "sac", "ppo"]   # default: diffusion_sac
    preset = "quick"
    seeds = 3                                 # or a list, e.g. [0, 5, 7]
    schedule = "grid"                         # or "pbt" (population-based training)
    [set]                                     # every member
    steps = 2000
    [grid]                                    # cartesian product; static fields make separate programs
    prune_rate = [0.1, 0.3]
    [random]                                  # random draws of traced fields, shared by every algorithm
    draws = 4
    actor_lr = {log_uniform = [1e-4, 1e-3]}
    explore_std = {uniform = [0.05, 0.2]}
    penalty = {choice = [1.0, 10.0]}
    [per_algo.ppo]                            # one algorithm's overrides
    envs_per_step = 128
    [pbt]                                     # with schedule = "pbt"
    every = 2                                 # chunks between exploit/explore steps
    fraction = 0.25
    perturb = [0.8, 1.25]
    fields = ["actor_lr", "critic_lr"]        # default: the varied traced fields, else the learning rates

Members (algorithms × grid × draws × seeds) that share their static structure and run length
form one *group*: a population trained as one program with a leading member axis
(``jit(vmap(chunk))``; sharded over the local devices when there are several), so a group of 21
members compiles once. Groups run in turn. Every member is evaluated on the same held-out
environments (``eval_seed``, default 1,000,000) against the oracle.

Outputs in ``DIR``: ``results.csv`` / ``results.json`` (one row per member), ``curves.csv`` (every
member's learning curve), ``runs/<member>/`` (a training folder that ``contractjax solve
--checkpoint`` reads) and ``groups/<group>/`` (the group's checkpoints, for ``--resume``, and
``attempts.jsonl``: the host, process and step each run of the group started from).

``--cluster local|ADDRESS`` runs the groups as Ray tasks instead (:mod:`contractjax.cluster`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import batch, files, limits
from contractjax import cluster as ray_cluster
from contractjax.domain import SEED_MAX, InputError, is_whole
from contractjax.solver import checkpoint, loop
from contractjax.solver import loggers as metric_loggers
from contractjax.solver.algos import registry
from contractjax.solver.config import STATIC_FIELDS, TRACED, Config, make_config, structure, to_json
from contractjax.solver.evaluation import Evaluator
from contractjax.solver.loop import devices_for, init_population, member, shard
from contractjax.solver.program import Program, TrainState, for_config, release_compiled

Log = Callable[[str], None]
#: The most members one sweep may have (each is a training run; checked before any is built).
MAX_MEMBERS = 100_000
TOP_KEYS = ("scenario", "algos", "preset", "seeds", "eval_seed", "schedule", "seed", "set", "grid", "random",
            "per_algo", "pbt")
DISTRIBUTIONS = ("uniform", "log_uniform", "choice")
#: Bounds that PBT's perturbations respect (all other perturbable fields only need to stay > 0).
BOUNDS = {"tau": (1e-6, 1.0), "gamma": (0.0, 1.0), "prune_rate": (0.0, 0.99), "clip_eps": (1e-3, 0.99)}
DEFAULT_PBT_FIELDS = ("actor_lr", "critic_lr")


class SweepError(InputError):
    """A bad sweep file or output folder (one line naming the field and the fix)."""


@dataclasses.dataclass(frozen=True)
class PBT:
    every: int = 2
    fraction: float = 0.25
    perturb: tuple[float, ...] = (0.8, 1.25)
    fields: tuple[str, ...] = ()
    envs: int = 256


@dataclasses.dataclass(frozen=True)
class Member:
    name: str
    cfg: Config
    varied: dict[str, Any]  # the values this member's grid point and draw set


@dataclasses.dataclass
class Group:
    name: str
    members: list[Member]

    @property
    def cfg(self) -> Config:
        return self.members[0].cfg


@dataclasses.dataclass(frozen=True)
class Sweep:
    members: tuple[Member, ...]
    groups: tuple[Group, ...]
    schedule: str
    pbt: PBT
    seed: int
    varied: tuple[str, ...]


# ------------------------------------------------------------------------------------ the sweep file


def read_spec(path: str | Path) -> dict[str, Any]:
    try:
        return files.read_table(path, "sweep file", "sweep fields (scenario, algos, seeds, [grid], ...)")
    except InputError as e:
        raise SweepError(str(e)) from None


def _draw(spec: Any, field: str, rng: np.random.Generator) -> Any:
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise SweepError(f"sweep field 'random.{field}': write one of {{uniform = [lo, hi]}}, "
                         "{log_uniform = [lo, hi]} or {choice = [a, b, ...]}")
    kind, args = next(iter(spec.items()))
    if not isinstance(args, list) or not args or not all(isinstance(a, int | float) and not isinstance(a, bool)
                                                         for a in args):
        raise SweepError(f"sweep field 'random.{field}.{kind}': give a list of numbers")
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    if len(args) != 2 or not args[0] < args[1] or not all(math.isfinite(a) for a in args):
        raise SweepError(f"sweep field 'random.{field}.{kind}' = {args}: give finite [lo, hi] with lo < hi")
    lo, hi = args
    if kind == "uniform":
        return float(rng.uniform(lo, hi))
    if lo <= 0:
        raise SweepError(f"sweep field 'random.{field}.log_uniform' = {args}: bounds must be > 0")
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def expand(spec: Mapping[str, Any]) -> Sweep:
    """Every member of a sweep file, grouped by compiled program; errors name the field."""
    unknown = sorted(set(spec) - set(TOP_KEYS))
    if unknown:
        raise SweepError(f"sweep field '{unknown[0]}' is unknown; known fields: {', '.join(TOP_KEYS)}")
    algos = spec.get("algos", ["diffusion_sac"])
    algos = [algos] if isinstance(algos, str) else algos
    if not isinstance(algos, list) or not algos:
        raise SweepError("sweep field 'algos': give a non-empty list, e.g. [\"diffusion_sac\", \"ppo\"]")
    for a in algos:
        if a not in registry.names():
            raise SweepError(f"sweep field 'algos': '{a}' is unknown; choose from {', '.join(registry.names())}")
    seeds = spec.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds > MAX_MEMBERS:
        raise SweepError(f"sweep field 'seeds' = {seeds}: at most {MAX_MEMBERS:,} members in one sweep; split it")
    seeds = list(range(seeds)) if isinstance(seeds, int) and not isinstance(seeds, bool) else seeds
    if not isinstance(seeds, list) or not seeds or not all(is_whole(s) and s >= 0 for s in seeds):
        raise SweepError("sweep field 'seeds': give a positive count or a non-empty list of integers >= 0")
    for k in ("seed", "eval_seed"):
        if k in spec and not (is_whole(spec[k]) and 0 <= spec[k] <= SEED_MAX):
            raise SweepError(f"sweep field '{k}' = {spec[k]!r}: give a whole number from 0 to {SEED_MAX:,}")
    schedule = spec.get("schedule", "grid")
    if schedule not in ("grid", "pbt"):
        raise SweepError(f"sweep field 'schedule' = {schedule!r}: choose grid or pbt")
    fields = {f.name for f in dataclasses.fields(Config)}
    base = dict(spec.get("set", {}))
    for k in base:
        if k not in fields:
            raise SweepError(f"sweep field 'set.{k}' is not a Config field; known fields: {', '.join(sorted(fields))}")
    for k in ("scenario", "algo", "seed"):
        if k in base:
            raise SweepError(f"sweep field 'set.{k}': give it at the top level ({'algos' if k == 'algo' else k + 's'})")
    grid = dict(spec.get("grid", {}))
    for k, v in grid.items():
        if k not in fields or k in ("scenario", "algo", "seed"):
            raise SweepError(f"sweep field 'grid.{k}' is not a Config field that can be varied "
                             "(scenario, algos and seeds have their own keys)")
        if not isinstance(v, list) or not v:
            raise SweepError(f"sweep field 'grid.{k}': give a non-empty list of values")
    random = dict(spec.get("random", {}))
    draws = random.pop("draws", 1 if random else 0)
    if not is_whole(draws) or draws < (1 if random else 0):
        raise SweepError("sweep field 'random.draws': give a positive integer")
    for k in random:
        if k in STATIC_FIELDS or k not in TRACED:
            kind = "static (it fixes the compiled program)" if k in STATIC_FIELDS else "not a traced Config field"
            raise SweepError(f"sweep field 'random.{k}' is {kind}; draw only traced fields "
                             f"({', '.join(TRACED)}) and put static ones in [grid]")
    for k in set(base) & (set(grid) | set(random)):
        raise SweepError(f"sweep field 'set.{k}' is also varied in [grid] or [random]; give it in one place")
    per_algo = dict(spec.get("per_algo", {}))
    for a, over in per_algo.items():
        if a not in algos:
            raise SweepError(f"sweep field 'per_algo.{a}': '{a}' is not in algos")
        for k in over:
            if k not in fields:
                raise SweepError(f"sweep field 'per_algo.{a}.{k}' is not a Config field")
    count = len(algos) * math.prod(len(v) for v in grid.values()) * max(draws, 1) * len(seeds)
    if count > MAX_MEMBERS:
        raise SweepError(f"the sweep has {count:,} members (algos × grid points × draws × seeds); at most "
                         f"{MAX_MEMBERS:,} in one sweep: split it")
    seed = spec.get("seed", 0)
    rng = np.random.default_rng(seed)
    draw_values = [{k: _draw(v, k, rng) for k, v in random.items()} for _ in range(draws)] or [{}]
    pbt = _pbt(spec.get("pbt", {}), schedule, [*grid, *random])

    points = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())] or [{}]
    members = []
    preset = spec.get("preset", "quick")
    for algo in algos:
        for point in points:
            for values in draw_values:
                for s in seeds:
                    name = f"{len(members):03d}-{algo}-seed{s}"
                    over = base | per_algo.get(algo, {}) | point | values
                    try:
                        cfg = make_config(preset, scenario=spec.get("scenario", "dt"), algo=algo, seed=s,
                                          eval_seed=spec.get("eval_seed", 1_000_000), **over)
                    except ValueError as e:
                        raise SweepError(f"member {name}: {e}") from None
                    members.append(Member(name, cfg, point | values))
    groups: dict[Any, Group] = {}
    for m in members:
        key = (structure(m.cfg), m.cfg.steps, m.cfg.eval_every, m.cfg.eval_envs, m.cfg.checkpoint_every)
        if key not in groups:
            groups[key] = Group(f"g{len(groups):02d}-{m.cfg.algo}", [])
        groups[key].members.append(m)
    return Sweep(tuple(members), tuple(groups.values()), schedule, pbt, seed, tuple([*grid, *random]))


def _pbt(spec: Mapping[str, Any], schedule: str, varied: Sequence[str]) -> PBT:
    if spec and schedule != "pbt":
        raise SweepError("sweep field 'pbt' is given but schedule is not \"pbt\"; set schedule = \"pbt\"")
    unknown = sorted(set(spec) - {f.name for f in dataclasses.fields(PBT)})
    if unknown:
        raise SweepError(f"sweep field 'pbt.{unknown[0]}' is unknown; known: every, fraction, perturb, fields, envs")
    fields = tuple(spec.get("fields", [f for f in varied if f in TRACED] or DEFAULT_PBT_FIELDS))
    for f in fields:
        if f not in TRACED:
            raise SweepError(f"sweep field 'pbt.fields': '{f}' is not a traced field; PBT perturbs only traced ones")
    numbers = {k: spec[k] for k in ("every", "fraction", "envs") if k in spec} | {
        f"perturb[{i}]": x for i, x in enumerate(spec.get("perturb", ()))}
    for k, v in numbers.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise SweepError(f"sweep field 'pbt.{k}' = {v!r}: give a number")
    pbt = PBT(int(spec.get("every", 2)), float(spec.get("fraction", 0.25)),
              tuple(float(x) for x in spec.get("perturb", (0.8, 1.25))), fields, int(spec.get("envs", 256)))
    if pbt.every < 1 or not 0.0 < pbt.fraction <= 0.5 or not pbt.perturb or min(pbt.perturb) <= 0 or pbt.envs < 1:
        raise SweepError("sweep field 'pbt': need every >= 1, 0 < fraction <= 0.5, positive perturb factors, envs >= 1")
    return pbt


# ---------------------------------------------------------------------------------- populations


@jax.jit
def _exploit(states: TrainState, src: jax.Array, factors: dict[str, jax.Array]) -> TrainState:
    new = jax.tree.map(lambda x: x[src], states)
    h = new.agent.hyper
    perturbed = {}
    for f, scale in factors.items():
        lo, hi = BOUNDS.get(f, (0.0, jnp.inf))
        perturbed[f] = jnp.clip(getattr(h, f) * scale, lo, hi)
    agent = new.agent._replace(hyper=h._replace(**perturbed))
    return new._replace(agent=agent, key=states.key, step=states.step)


def exploit_explore(states: TrainState, fitness: np.ndarray, pbt: PBT, rng: np.random.Generator
                    ) -> tuple[TrainState, list[tuple[int, int]]]:
    """PBT's step (Jaderberg et al. 2017): each member of the worst ``fraction`` copies the state
    (parameters, optimizer, buffer, hyperparameters) of a random member of the best ``fraction``,
    then multiplies each of ``pbt.fields`` by a random factor of ``pbt.perturb``. Shapes are
    unchanged (one program); members outside the worst fraction are untouched. Returns the new
    states and the ``(member, copied from)`` pairs."""
    n = len(fitness)
    k = max(1, int(round(pbt.fraction * n))) if n >= 2 else 0
    order = np.argsort(-np.where(np.isfinite(fitness), fitness, -np.inf), kind="stable")
    top, bottom = order[:k], order[n - k:] if k else []
    src = np.arange(jax.tree.leaves(states)[0].shape[0])
    scale = {f: np.ones(len(src), np.float32) for f in pbt.fields}
    pairs = []
    for i in bottom:
        j = int(rng.choice(top))
        src[i] = j
        pairs.append((int(i), j))
        for f in pbt.fields:
            scale[f][i] = float(rng.choice(pbt.perturb))
    if not pairs:
        return states, []
    return _exploit(states, jnp.asarray(src), {f: jnp.asarray(v) for f, v in scale.items()}), pairs


# ---------------------------------------------------------------------------------------- running


class _Selection:
    """PBT's fitness: mean principal utility on environments drawn apart from the held-out ones,
    an infeasible menu counting as the random feasible menu of its environment."""

    def __init__(self, prog: Program, n: int, seed: int):
        self.prog = prog
        self.envs = batch.sample_envs(prog.scenario, n, seed, prog.dims, prog.sampler)
        self.floor = batch.evaluate(prog.scenario, self.envs, batch.random_menus(prog.scenario, self.envs, seed))[
            "principal_utility"]

    def __call__(self, ts: TrainState) -> float:
        a = self.prog.actions(ts.agent.actor.params, ts.agent.actor.masks, ts.stats, self.envs)
        ev = batch.evaluate(self.prog.scenario, self.envs, self.prog.menus(self.envs, a))
        u = np.where(ev["feasible"] & np.isfinite(ev["principal_utility"]), ev["principal_utility"], self.floor)
        return float(np.mean(u))


def _write_member(out: Path, m: Member, ts: TrainState, summary: Mapping[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files.write_text(out / "config.json", json.dumps(to_json(m.cfg), indent=1))
    mngr = checkpoint.manager(out)
    checkpoint.save(mngr, ts)
    mngr.close()
    files.write_text(out / "summary.json", files.dumps(summary, indent=1))


def _append(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    with path.open("a") as f:
        for r in records:
            f.write(files.dumps(r) + "\n")


def run_group(sweep: Sweep, group: Group, index: int, out: Path, resume: bool, progress: bool,
              log: Log, kinds: Sequence[str] = ("jsonl",)) -> list[dict[str, Any]]:
    """Train one group as a population (the one host loop, :mod:`contractjax.solver.loop`); returns
    its result rows (also written to ``done.json``)."""
    gdir = out / "groups" / group.name
    done = gdir / "done.json"
    if resume and done.is_file():
        log(f"[{group.name}] finished earlier: skipped")
        return files.read_record(done)
    gdir.mkdir(parents=True, exist_ok=True)
    cfg, n = group.cfg, len(group.members)
    cfgs = [m.cfg for m in group.members]
    prog = for_config(cfg)
    n_dev = devices_for(n)
    t_start = time.perf_counter()
    states = init_population(prog, cfgs, n_dev)
    ckpt = loop.Checkpoints(gdir, single=False)
    status_file = gdir / "status.json"
    diverged: dict[int, str] = {}
    if resume and ckpt.steps():
        states = shard(ckpt.restore(states), n_dev)
        diverged = {int(k): v for k, v in json.loads(status_file.read_text()).get("diverged", {}).items()}
    step = int(np.asarray(states.step)[0])
    # who trained it from which step: a group restarted after a lost worker shows two lines
    _append(gdir / "attempts.jsonl", [{"from_step": step, "host": socket.gethostname(), "pid": os.getpid(),
                                       "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}])
    evaluator = Evaluator(prog, cfg.eval_envs, cfg.eval_seed)
    selection = _Selection(prog, sweep.pbt.envs, cfg.eval_seed + 1) if sweep.schedule == "pbt" else None

    def between(states: TrainState, step: int, chunks: int, diverged: dict[int, str]) -> TrainState:
        if selection is None or chunks % sweep.pbt.every:
            return states
        fitness = np.array([-np.inf if i in diverged else selection(member(states, i)) for i in range(n)])
        states, pairs = exploit_explore(states, fitness, sweep.pbt, np.random.default_rng([sweep.seed, index, step]))
        for i, j in pairs:
            diverged.pop(i, None)
            _append(gdir / "pbt.jsonl", [{"step": step, "member": group.members[i].name,
                                          "copied": group.members[j].name}])
        return shard(states, n_dev)

    curves = metric_loggers.Jsonl(gdir / "curves.jsonl", lambda r: {"group": group.name, "member": r["member"],
                                                             "step": r["step"]} | {
        k: v for k, v in metric_loggers.flat(r).items() if k not in ("member", "step", "seconds")})
    try:
        outcome = loop.run(prog, cfgs, [m.name for m in group.members], states, evaluator, ckpt=ckpt,
                           stop_on_divergence=False, diverged=diverged, between=between,
                           on_checkpoint=lambda step, d: files.write_text(
                               status_file, files.dumps({"step": step, "diverged": d})),
                           loggers=metric_loggers.make(kinds, gdir, group.name, to_json(cfg), single=False, jsonl=curves),
                           progress=progress, desc=group.name)
    finally:
        ckpt.close()
    measured = {f"group_{k}": v for k, v in outcome.energy.items()}
    wall = time.perf_counter() - t_start
    rate = n * (outcome.timing["updates_per_second"] or 0.0)
    rows = []
    for i, mem in enumerate(group.members):
        ts_i, ev, status = member(outcome.states, i), outcome.evals[i], outcome.status[i]
        run_dir = Path("runs") / mem.name
        final = {f"final_{f}": float(getattr(ts_i.agent.hyper, f)) for f in sweep.pbt.fields} \
            if sweep.schedule == "pbt" else {}
        rows.append({"member": mem.name, "group": group.name, "scenario": mem.cfg.scenario, "algo": mem.cfg.algo,
                     "seed": mem.cfg.seed, **{k: mem.varied.get(k) for k in sweep.varied}, **final, **ev,
                     "updates_per_s": rate / n, "group_agent_updates_per_s": rate,
                     "group_members": n, "devices": n_dev, "wall_s": wall, "run": str(run_dir), "status": status,
                     **measured})
        _write_member(out / run_dir, mem, ts_i, loop.summary(mem.cfg, ts_i, ev, evaluator, outcome.last[i],
                                                             outcome.timing, status, sweep_group=group.name))
    files.write_text(done, files.dumps(rows, indent=1))
    gaps = [r["gap"] for r in rows if r["status"] == "ok"]
    log(f"[{group.name}] {n} members of {cfg.algo} on {cfg.scenario}: gap {100 * np.mean(gaps):.2f}% mean, "
        f"{100 * np.min(gaps):.2f}% best; {rate:.0f} agent-updates/s on {n_dev} device(s); {wall:.0f} s"
        if gaps else f"[{group.name}] every member diverged")
    return rows


def _group_task(sweep: Sweep, group: Group, index: int, out: Path, kinds: Sequence[str]) -> list[dict[str, Any]]:
    """One group on a cluster worker. Always resumable: a task run again after its worker was
    lost continues from the group's last checkpoint (and skips a group already done)."""
    try:
        return run_group(sweep, group, index, out, resume=True, progress=False,
                         log=lambda s: print(s, file=sys.stderr, flush=True), kinds=kinds)
    finally:
        release_compiled()


def sweep(spec: str | Path | Mapping[str, Any], out: str | Path, resume: bool = False, progress: bool = True,
          log: Log | None = None, cluster: str | None = None, loggers: str | Sequence[str] | None = None
          ) -> list[dict[str, Any]]:
    """Run a sweep (a file or a dict of its fields); returns the result rows (``results.json``).
    ``loggers``: metric loggers of every group besides its ``curves.jsonl`` (``csv``,
    ``tensorboard``, ``wandb``: :mod:`contractjax.solver.loggers`, one series per member).

    With ``cluster`` (``local`` or a Ray address, :mod:`contractjax.cluster`) every group is a Ray
    task on its own worker, restarted from its last checkpoint when the worker is lost."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    kinds = metric_loggers.parse(loggers)
    if not isinstance(spec, str | os.PathLike | Mapping):
        raise SweepError(f"argument 'spec' = {spec!r}: give a sweep file's path or a dict of sweep fields")
    if not isinstance(out, str | os.PathLike):
        raise SweepError(f"argument 'out' = {out!r}: give the path of a folder")
    data = read_spec(spec) if isinstance(spec, str | os.PathLike) else spec
    plan = expand(data)
    outp = Path(out)
    try:
        files.check_folder(outp)
    except files.InputError as e:
        raise SweepError(str(e)) from None
    saved = outp / "sweep.json"
    if resume:
        if not saved.is_file():
            raise SweepError(f"`resume=True`: '{outp}' holds no earlier sweep (sweep.json); drop `resume=True`")
        if json.loads(saved.read_text()) != json.loads(json.dumps(data)):
            raise SweepError(f"`resume=True`: the sweep in '{outp}' used another sweep specification; resume with "
                             "the same one")
    elif outp.exists() and any(outp.iterdir()):
        raise SweepError(f"`out` '{outp}' already holds files; pass `resume=True` or choose a new folder")
    for g in plan.groups:
        prog = for_config(g.cfg)
        n = len(g.members) + (-len(g.members) % devices_for(len(g.members)))
        limits.check_fits(prog.state_bytes(g.cfg, n) + prog.work_bytes(g.cfg, n), f"group {g.name} ({n} members)",
                          "lower buffer, batch, envs_per_step, denoise_steps or network widths, or split the sweep")
    if cluster is not None:  # before anything is written
        ray_cluster.connect(cluster)
    try:
        outp.mkdir(parents=True, exist_ok=True)
        files.write_text(saved, json.dumps(data, indent=1))
    except OSError as e:
        raise SweepError(f"`out` '{outp}' cannot be written ({e.strerror}); choose a writable folder") from None
    log(f"sweep: {len(plan.members)} members in {len(plan.groups)} compiled group(s) "
        f"({', '.join(f'{g.name}: {len(g.members)}' for g in plan.groups)})")
    rows: list[dict[str, Any]] = []
    if cluster is None:
        for i, g in enumerate(plan.groups):
            rows += run_group(plan, g, i, outp, resume, progress, log, kinds)
            release_compiled()  # a group's programs are not needed again; a long sweep would run out of mappings
    else:
        from tqdm import tqdm

        per_group: dict[int, list[dict[str, Any]]] = {}
        calls = [(g, i, outp.resolve(), kinds) for i, g in enumerate(plan.groups)]
        with tqdm(total=len(calls), desc=f"groups on {cluster}", unit="group", disable=not progress,
                  file=sys.stderr) as bar:
            for i, got in ray_cluster.map_unordered(cluster, _group_task, calls, shared=plan):
                per_group[i] = got
                bar.update(1)
        rows = [r for i in sorted(per_group) for r in per_group[i]]
    files.write_text(outp / "results.json", files.dumps(rows, indent=1))
    files.write_csv(outp / "results.csv", rows)
    curves = []
    for g in plan.groups:
        path = outp / "groups" / g.name / "curves.jsonl"
        curves += [json.loads(ln) for ln in path.read_text().splitlines() if ln] if path.exists() else []
    files.write_csv(outp / "curves.csv", curves)
    for algo in dict.fromkeys(r["algo"] for r in rows):
        ok = [r for r in rows if r["algo"] == algo and r["status"] == "ok"]
        if ok:
            best = min(ok, key=lambda r: r["gap"])
            log(f"best {algo}: {best['member']} gap {100 * best['gap']:.2f}%, {100 * best['feasible']:.1f}% feasible "
                f"({best['run']})")
    return rows
