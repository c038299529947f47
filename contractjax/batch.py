"""Batched front-ends over a scenario's pure functions: sample, oracle, evaluate, baselines (where they
run: :mod:`contractjax.devices`).

Oracles and evaluations run in float64 (:mod:`contractjax.precision`) so that binding
constraints pass an external float64 re-check; the training program keeps float32.
Inputs and outputs are numpy arrays keyed by the field names of ``docs/models.md``, leading
axis = environment.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import core, devices, files, limits, optim, scenarios
from contractjax.devices import chunked, jit, vmapped
from contractjax.domain import INT32_MAX, SEED_MAX, InputError, check_dims, check_whole
from contractjax.precision import as64, float64
from contractjax.scenarios import Scenario, generic

Arrays = dict[str, np.ndarray]
INFOS = ("asymmetric", "complete")


def _scenario(s: str | Scenario | scenarios.Model) -> Scenario:
    """A Scenario as given, else the model a name, file, module or Model object names (registered)."""
    if not isinstance(s, str | Scenario | scenarios.Model):
        raise InputError(f"argument 'scenario': give a model name, file, module, Model or Scenario (got "
                         f"{type(s).__name__})")
    return s if isinstance(s, Scenario) else scenarios.get(s)


def _envs(sc: Scenario, envs: Any, name: str = "envs") -> Arrays:
    """The environments argument of a public function, checked as an environment file is."""
    if not isinstance(envs, Mapping):
        raise InputError(f"argument '{name}': give a dict of {sc.name} field name -> array (got {type(envs).__name__})")
    return files.validate_envs(sc, envs, f"argument '{name}': ")


def _menus(sc: Scenario, menus: Any, envs: Arrays, name: str = "menus") -> Arrays:
    return files.validate_menus(sc, menus, envs, f"argument '{name}': ")


@functools.cache
def _bounds_fn(sc: Scenario):
    def one(env, menu):
        lo, hi = sc.economics.bounds(env)
        return sc.menu_allocation(menu), lo, hi

    return jit(jax.vmap(one))


def check_menu_bounds(sc: Scenario, envs: Arrays, menus: Arrays) -> None:
    """Menus' allocations inside the model's allocation box (models stated by their economics):
    one line naming the field, the environment and the bound, instead of an evaluation of
    allocations the model does not define (negative data sizes)."""
    if sc.economics is None:
        return
    x, lo, hi = (np.asarray(v) for v in float64(lambda: chunked(_bounds_fn(sc), as64(envs), as64(menus)))())
    tol = 1e-9 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    bad = (x < lo - tol) | (x > hi + tol)  # [n, F, K]
    if bad.any():
        i, f, k = np.argwhere(bad)[0]
        field = sc.economics.alloc[f]
        raise InputError(f"menus: field '{field}' of environment {i} (type {k}) is {x[i, f, k]:.6g}, outside the "
                         f"model's allocation bounds [{lo[i, f, k]:.6g}, {hi[i, f, k]:.6g}]; give menus within them")


def _finite(out: Mapping[str, Any], what: str) -> Arrays:
    """Outputs as float64 numpy arrays, refused in one line if any is not finite."""
    arrays = {k: np.asarray(v) for k, v in out.items()}
    files.check_finite(arrays, what)
    return arrays


def sample_envs(scenario: str | Scenario, n: int, seed: int = 0, dims: Mapping[str, int] | None = None,
                config: Mapping[str, Any] | None = None) -> Arrays:
    """Draw ``n`` environments (float64) with the scenario's default ranges unless overridden."""
    check_count(n)
    check_seed(seed)
    return _draw(_scenario(scenario), lambda: jax.random.split(jax.random.PRNGKey(seed), n), n, dims, config,
                 "sample fewer (`n`) or smaller ones")


def sample_range(scenario: str | Scenario, start: int, count: int, seed: int = 0,
                 dims: Mapping[str, int] | None = None, config: Mapping[str, Any] | None = None) -> Arrays:
    """Environments ``start .. start + count - 1`` of an unbounded stream: environment ``i`` is
    drawn with ``fold_in(PRNGKey(seed), i)``, so any slice can be drawn alone (sharded datasets)."""
    base = jax.random.PRNGKey(seed)
    index = jnp.arange(start, start + count, dtype=jnp.uint32)
    return _draw(_scenario(scenario), lambda: jax.vmap(lambda i: jax.random.fold_in(base, i))(index), count, dims,
                 config, "use smaller shards")


def _draw(sc: Scenario, keys, n: int, dims: Mapping[str, int] | None, config: Mapping[str, Any] | None,
          fix: str) -> Arrays:
    """``n`` environments from the keys ``keys()``: settings and dimensions checked, memory
    estimated before anything is drawn, the drawn batch checked against the model's conditions."""
    for name, value in (("dims", dims), ("config", config)):
        if value is not None and not isinstance(value, Mapping):
            raise InputError(f"argument '{name}' = {value!r}: give a dict of names to values, e.g. {{'K': 3}}")
    cfg = sc.settings(config)
    d = {k: int(cfg[k]) for k in sc.dims} | check_dims("dimension", dims or {}, sc.dims)
    limits.check_fits(n * env_bytes(sc, d), f"{n} {sc.name} environments", fix)
    draw = sampler(sc, d, cfg)
    env = float64(lambda: chunked(draw, keys()))()
    out = {k: np.asarray(v, dtype=np.float64) for k, v in env.items()}
    sc.check_envs(out, "these sampler settings give invalid environments: ")
    return out


def check_seed(seed: Any, what: str = "seed") -> int:
    """A seed: a whole number in a PRNG key's range."""
    return check_whole(seed, f"argument '{what}'", 0, SEED_MAX)


def check_count(n: Any, what: str = "n") -> int:
    """A number of environments: a whole number >= 1."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"{what} = {n!r}: give a whole number of environments >= 1")
    return int(n)


def env_bytes(sc: Scenario, dims: Mapping[str, int]) -> int:
    """Bytes of one float64 environment, times 4 for the copies a batch passes through (device
    output, host array, file buffer, the oracle's intermediates)."""
    return 4 * 8 * sum(int(np.prod(sc.shape_of(f, dims))) for f in sc.env_fields)


def _frozen(cfg: Mapping[str, Any]) -> tuple:
    """Settings as a hashable key (lists and ranges, nested or not, as tuples)."""
    def freeze(v: Any) -> Any:
        return tuple(freeze(x) for x in v) if isinstance(v, list | tuple) else v

    return tuple(sorted((k, freeze(v)) for k, v in cfg.items()))


def sampler(sc: Scenario, dims: Mapping[str, int], config: Mapping[str, Any]):
    """``keys -> environments``: the scenario's sampler, jitted and vmapped, compiled once per
    (scenario, dimensions, settings)."""
    return _sampler(sc, tuple(sorted(dims.items())), _frozen(config))


@functools.cache
def _sampler(sc: Scenario, dims: tuple, cfg: tuple):
    d = dict(dims)
    c = {k: list(v) if isinstance(sc.defaults.get(k), list) else v for k, v in cfg}  # per-type lists stay lists
    return jax.jit(jax.vmap(lambda k: sc.sample(k, d, c)))


def release_compiled() -> None:
    """Drop every compiled batch function (they are rebuilt on next use). Each compiled XLA CPU
    program holds hundreds of memory mappings, and a process may hold only ~65k (Linux
    ``vm.max_map_count``): long-lived processes that compile many programs (sweeps, test
    sessions) release them between stages."""
    for fn in (_sampler, _oracle_fn, _warm_fn, _polish_fn, _eval_fn, _bounds_fn):
        fn.cache_clear()
    devices.release_compiled()


@functools.cache
def _oracle_fn(sc: Scenario, info: str):
    return jit(jax.vmap(lambda e: sc.oracle(e, info)))


@functools.cache
def _warm_fn(sc: Scenario):
    return jit(jax.vmap(sc.warm_oracle))


def oracle(scenario: str | Scenario, envs: Mapping[str, Any], info: str = "asymmetric",
           warm_start: Mapping[str, Any] | None = None) -> Arrays:
    """Optimal menus (float64) for a batch of environments; ``info`` = asymmetric | complete.
    ``warm_start``: menus (e.g. a learned policy's) whose allocations join a search-based
    oracle's starts (``Scenario.warm_oracle``)."""
    sc = _scenario(scenario)
    if info not in INFOS:
        raise InputError(f"argument 'info' = {info!r} is unknown; choose asymmetric or complete")
    envs = _envs(sc, envs)
    what = f"the {sc.name} oracle's menus"
    if warm_start is not None:
        if sc.warm_oracle is None or info != "asymmetric":
            raise InputError(f"warm starts apply to search-based asymmetric oracles; {sc.name}'s oracle "
                             f"{'is exact' if info == 'asymmetric' else 'for complete information needs none'}")
        starts = _menus(sc, warm_start, envs, "warm_start")
        return _finite(float64(lambda: chunked(_warm_fn(sc), as64(envs), as64(starts)))(), what)
    return _finite(float64(lambda: chunked(_oracle_fn(sc, info), as64(envs)))(), what)


@functools.cache
def _eval_fn(sc: Scenario):
    def one(env, menu):
        c = sc.constraints(env, menu)
        a = sc.menu_to_action(env, menu)
        return {
            "principal_utility": sc.principal_utility(env, menu),
            "agents_utility": sc.agents_utility(env, menu),
            "paper_reward": sc.paper_reward(env, menu, a),
            "feasible": core.feasible(c),
            "max_violation": core.max_violation(c),
            "slacks": c.slack,
        }

    return jit(jax.vmap(one))


def evaluate(scenario: str | Scenario, envs: Mapping[str, Any], menus: Mapping[str, Any]) -> dict[str, Any]:
    """Utilities, paper reward, feasibility, largest violation and every slack, per environment."""
    sc = _scenario(scenario)
    envs = _envs(sc, envs)
    menus = _menus(sc, menus, envs)
    check_menu_bounds(sc, envs, menus)
    out = jax.tree.map(np.asarray, float64(lambda: chunked(_eval_fn(sc), as64(envs), as64(menus)))())
    slacks = {f"slacks/{k}": v for k, v in out["slacks"].items()}
    files.check_finite({k: v for k, v in out.items() if k != "slacks"} | slacks, f"the evaluation of these {sc.name} menus")
    return out


#: Polishing a policy's actions: the initial rate of the projected Adam steps (a fraction of the
#: action box [-1, 1]), lower than the oracles' since it starts near an optimum.
POLISH_LR = 0.005


@functools.cache
def _polish_fn(sc: Scenario, param: str, steps: int):
    to_menu = sc.parameterization(param).to_menu

    def one(env, a):
        f = lambda x: sc.principal_utility(env, to_menu(env, x))
        # a hair inside the box: an action at its end maps to an allocation at its bound, where
        # models' guarded kinks (sqrt(0), log(0)) have a zero derivative
        inside = 1.0 - 1e-6
        best, value = optim.projected_ascent(f, a, lambda x: jnp.clip(x, -inside, inside), 1.0, steps, POLISH_LR)
        menu = to_menu(env, jnp.where(value >= f(a), best, a))  # never worse than the policy's own action
        if sc.economics is None:
            return menu
        # then the oracles' local search over allocations paid their least payments, from the
        # policy's and the polished allocations and the search's structured starts: it leaves
        # the action map's kinks and the policy's basin (prospect-theory values have several)
        starts = jnp.stack([sc.menu_allocation(to_menu(env, a)), sc.menu_allocation(menu)], axis=-1)
        refined = sc.allocation_menu(env, generic.polish(sc.economics, env, starts, steps))
        better = (core.feasible(sc.constraints(env, refined))
                  & (sc.principal_utility(env, refined) >= sc.principal_utility(env, menu)))
        return jax.tree.map(lambda r, m: jnp.where(better, r, m), refined, menu)

    return jit(jax.vmap(one))


def polish_menus(scenario: str | Scenario, envs: Mapping[str, Any], actions: Any, steps: int,
                 param: str = "efforts") -> Arrays:
    """A policy's ``actions`` polished into menus: ``steps`` projected Adam steps of the
    principal's utility in the action space ``param`` (feasible by construction: ``efforts``),
    then, for models stated by their economics (the built-ins but AGENT, and every
    :class:`~contractjax.scenarios.model.Model`), ``steps`` steps of the oracles' local search
    (:func:`contractjax.scenarios.generic.polish`). Per environment the best feasible menu seen
    is kept, so no environment gets worse than the policy's own menu."""
    sc = _scenario(scenario)
    envs = _envs(sc, envs)
    steps = check_whole(steps, "polish steps", 0, INT32_MAX, " (e.g. 100)")
    try:
        space = sc.parameterization(param)
    except ValueError as e:
        raise InputError(f"argument 'param': {e}") from None
    n, width = len(next(iter(envs.values()))), int(space.size(files.dims_of(sc, envs)))
    if files.has_bool(actions):
        raise InputError("argument 'actions': true/false is not a number; give numbers in [-1, 1]")
    try:
        a = np.asarray(actions, np.float64)
    except (TypeError, ValueError):
        raise InputError(f"argument 'actions': give an array of numbers of shape [{n}, {width}]") from None
    if a.shape != (n, width) or not np.all(np.isfinite(a)):
        raise InputError(f"argument 'actions': expected finite numbers of shape [{n}, {width}] (environments × the "
                         f"'{param}' action size), got shape {list(a.shape)}")
    fn = _polish_fn(sc, param, steps)
    out = float64(lambda: chunked(fn, as64(envs), jnp.asarray(a)))()
    return _finite(out, f"the polished {sc.name} menus")


def random_menus(scenario: str | Scenario, envs: Mapping[str, Any], seed: int = 0) -> Arrays:
    """The random-feasible-menu baseline."""
    check_seed(seed)
    sc = _scenario(scenario)
    envs = _envs(sc, envs)

    @float64
    def run():
        e = as64(envs)
        keys = jax.random.split(jax.random.PRNGKey(seed), next(iter(e.values())).shape[0])
        return chunked(vmapped(sc.random_menu), keys, e)

    return _finite(run(), f"{sc.name}'s random menus")


def baseline_menus(scenario: str | Scenario, envs: Mapping[str, Any], name: str) -> Arrays:
    """A model's named reference contract (``Scenario.baselines``: TWIN's ``greedy``, hidden
    action's ``linear``) for each environment."""
    sc = _scenario(scenario)
    if name not in sc.baselines:
        raise InputError(f"model '{sc.name}' has no baseline '{name}'"
                         + (f"; it has {', '.join(sc.baselines)}" if sc.baselines else ""))
    envs = _envs(sc, envs)
    menus = float64(lambda: chunked(vmapped(sc.baselines[name]), as64(envs)))()
    return _finite({k: np.asarray(v) for k, v in menus.items()}, f"{sc.name}'s {name} menus")


def gap(utility: np.ndarray, reference: np.ndarray, feasible: np.ndarray) -> float:
    """Optimality gap ``(Σ U(reference) − Σ U(policy)) / |Σ U(reference)|`` over the feasible
    menus (``1 − U(policy)/U(oracle)`` when the oracle's utility is positive).

    Sums, not per-environment ratios, so that environments whose optimum is near zero do not
    dominate. NaN when no menu is feasible.
    """
    try:
        u, r = (np.asarray(x, np.float64) for x in (utility, reference))
        f = np.asarray(feasible)
    except (TypeError, ValueError):
        raise InputError("arguments 'utility' and 'reference' must be arrays of numbers, 'feasible' of true/false "
                         "(one entry per environment)") from None
    if not (u.ndim == r.ndim == f.ndim == 1 and len(u) == len(r) == len(f)):
        raise InputError(f"arguments 'utility', 'reference' and 'feasible' need one entry per environment each (got "
                         f"shapes {list(u.shape)}, {list(r.shape)}, {list(f.shape)})")
    f = f.astype(bool)
    if not f.any():
        return float("nan")
    if not (np.all(np.isfinite(u[f])) and np.all(np.isfinite(r[f]))):
        raise InputError("arguments 'utility' and 'reference' hold NaN or infinity where 'feasible' is true; give "
                         "finite utilities")
    return gap_of_sums(float(np.sum(u[f])), float(np.sum(r[f])))


def gap_of_sums(utility: float, reference: float) -> float:
    """:func:`gap` from the sums over the feasible menus (datasets accumulate them shard by shard)."""
    return (reference - utility) / max(abs(reference), 1e-300)


BASELINES = ("oracle", "complete_information", "random")


def baselines(scenario: str | Scenario, envs: Mapping[str, Any], seed: int = 0,
              oracle_menus: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The reference menus every learned menu is measured against, evaluated per environment:
    ``oracle`` (asymmetric-information optimum; pass ``oracle_menus`` if already solved),
    ``complete_information`` (the upper bound: IR only) and ``random`` (random feasible menus
    drawn with ``seed``)."""
    sc = _scenario(scenario)
    return {
        "oracle": evaluate(sc, envs, oracle(sc, envs, "asymmetric") if oracle_menus is None else oracle_menus),
        "complete_information": evaluate(sc, envs, oracle(sc, envs, "complete")),
        "random": evaluate(sc, envs, random_menus(sc, envs, seed)),
    }


def summary(report: Mapping[str, Any], refs: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Means of an :func:`evaluate` report and its gaps to the oracle and to complete information
    (``refs``: the output of :func:`baselines`)."""
    u, ok = report["principal_utility"], report["feasible"]
    return {
        "principal_utility": float(np.mean(u)),
        "agents_utility": float(np.mean(report["agents_utility"])),
        "paper_reward": float(np.mean(report["paper_reward"])),
        "feasible": float(np.mean(ok)),
        "gap": gap(u, refs["oracle"]["principal_utility"], ok),
        "gap_complete": gap(u, refs["complete_information"]["principal_utility"], ok),
    } | gap_percentiles(u, refs["oracle"]["principal_utility"], ok)


def gap_percentiles(utility: np.ndarray, reference: np.ndarray, feasible: np.ndarray) -> dict[str, float]:
    """Median, 90th and 99th percentile of the per-environment gap ``(U_ref − U) / |U_ref|`` over
    the feasible menus (denominators floored at 1e-3 of the mean ``|U_ref|``, so that environments
    whose optimum is near zero do not blow up); NaN when no menu is feasible."""
    f = np.asarray(feasible, bool)
    if not f.any():
        return dict.fromkeys(("gap_median", "gap_p90", "gap_p99"), float("nan"))
    ref = np.asarray(reference, np.float64)[f]
    per_env = (ref - np.asarray(utility, np.float64)[f]) / np.maximum(np.abs(ref), 1e-3 * np.mean(np.abs(ref)) + 1e-300)
    q = np.percentile(per_env, [50, 90, 99])
    return {"gap_median": float(q[0]), "gap_p90": float(q[1]), "gap_p99": float(q[2])}
