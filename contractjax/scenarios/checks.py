"""What :func:`contractjax.scenarios.register` checks of a model before anyone uses it.

Each problem is one :class:`InputError` line naming the model, the function or field, and the fix:
the name, the declared fields and dimensions, every default inside its domain, and — traced once
on an environment drawn with the default settings (``jax.eval_shape``: nothing is compiled) —
that every function runs and returns the declared fields in their declared shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import devices
from contractjax.domain import MAX_DIM, InputError, check_setting, first_line
from contractjax.precision import as64, float64
from contractjax.scenarios.base import FUNCTIONS, Scenario

REQUIRED = FUNCTIONS + ("action_size",)


def check(sc: Scenario) -> None:
    """Raise :class:`InputError` (one line) on the first problem of ``sc``."""
    name = sc.name
    if not isinstance(name, str) or not name.isidentifier():
        raise InputError(f"model name {name!r} must be an identifier (letters, digits, _), e.g. 'screening'")

    def fail(problem: str) -> None:
        raise InputError(f"model '{name}': {problem}")

    for f in REQUIRED:
        if not callable(getattr(sc, f, None)):
            fail(f"'{f}' is missing or not a function")
    if not sc.dims or any(d not in sc.env_fields for d in sc.dims):
        fail(f"every dimension in dims={tuple(sc.dims)} must be an environment field of shape ()")
    for group, fields in (("env_fields", sc.env_fields), ("menu_fields", sc.menu_fields)):
        for f, shape in fields.items():
            if not isinstance(shape, tuple) or any(d not in sc.dims for d in shape):
                fail(f"{group}['{f}'] = {shape!r}: a shape is a tuple of dimension names from {tuple(sc.dims)}")
    for f in sc.env_fields:
        if f not in sc.domain:
            fail(f"domain has no interval for environment field '{f}'; declare one, e.g. POSITIVE")
    for k, v in sc.defaults.items():
        if k not in sc.domain:
            fail(f"domain has no interval for setting '{k}'; declare one next to its default")
        if k in sc.dims:
            if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or not 1 <= v <= MAX_DIM:
                fail(f"default {k}={v!r}: a dimension's default is a whole number in [1, {MAX_DIM}]")
            continue
        try:
            check_setting("default", k, v, v, sc.domain[k])
        except InputError as e:
            fail(str(e))
    missing = [d for d in sc.dims if d not in sc.defaults]
    if missing:
        fail(f"defaults has no value for dimension '{missing[0]}'; give one, e.g. {missing[0]}=3")
    _traced(sc, fail)


def _traced(sc: Scenario, fail: Callable[[str], None]) -> None:
    dims = {d: int(sc.defaults[d]) for d in sc.dims}
    settings = dict(sc.defaults)

    def run(what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return float64(lambda: jax.eval_shape(fn, *args))()
        except InputError as e:
            fail(f"{what}: {e}")
        except Exception as e:  # the user's code: name the function, keep one line
            fail(f"{what} fails on an environment of the default settings: {type(e).__name__}: {first_line(e)}")
        except SystemExit as e:
            fail(f"{what} exits (sys.exit({e.code!r})) on an environment of the default settings; a model's functions "
                 "return values")

    key = jax.random.PRNGKey(0)
    env_s = run("sample(key, dims, settings)", lambda k: sc.sample(k, dims, settings), key)
    _shapes(fail, "sample", env_s, sc.env_fields, dims, "env_fields")
    env = {k: jax.ShapeDtypeStruct(v.shape, jnp.float64) for k, v in env_s.items()}
    state = run("state(env)", sc.state, env)
    if not hasattr(state, "shape") or len(state.shape) != 1:
        fail(f"state(env) must return a 1-D array; it returns shape {getattr(state, 'shape', None)}")
    for info in ("asymmetric", "complete"):
        _shapes(fail, f"oracle(env, '{info}')", run(f"oracle(env, '{info}')", lambda e, i=info: sc.oracle(e, i), env),
                sc.menu_fields, dims, "menu_fields")
    menu = run("oracle(env)", sc.oracle, env)
    _shapes(fail, "random_menu", run("random_menu(key, env)", sc.random_menu, key, env), sc.menu_fields, dims,
            "menu_fields")
    _shapes(fail, "payments", run("payments(env, menu)", sc.payments, env, menu), sc.menu_fields, dims, "menu_fields")
    for what in ("principal_utility", "agents_utility"):
        out = run(f"{what}(env, menu)", getattr(sc, what), env, menu)
        if getattr(out, "shape", None) != ():
            fail(f"{what}(env, menu) must return a scalar; it returns shape {getattr(out, 'shape', None)}")
    cons = run("constraints(env, menu)", sc.constraints, env, menu)
    if not hasattr(cons, "slack") or not isinstance(cons.slack, Mapping):
        fail("constraints(env, menu) must return core.Constraints (e.g. core.ir_ic(U))")
    for pname, p in sc.parameterizations.items():
        size = p.size(dims)
        a = jax.ShapeDtypeStruct((int(size),), jnp.float64)
        m = run(f"the '{pname}' action space", p.to_menu, env, a)
        _shapes(fail, f"the '{pname}' action space", m, sc.menu_fields, dims, "menu_fields")
    back = run("menu_to_action(env, menu)", sc.menu_to_action, env, menu)
    if getattr(back, "shape", None) != (int(sc.action_size(dims)),):
        fail(f"menu_to_action must return action_size(dims) = {sc.action_size(dims)} numbers; "
             f"it returns shape {getattr(back, 'shape', None)}")
    run("paper_reward(env, menu, action)", sc.paper_reward, env, menu, back)
    if not isinstance(sc.baselines, Mapping):
        fail("baselines must map names to functions env -> menu")
    for bname, fn in sc.baselines.items():
        if not isinstance(bname, str) or not callable(fn):
            fail(f"baselines[{bname!r}] must be a function env -> menu")
        _shapes(fail, f"baselines['{bname}']", run(f"baselines['{bname}'](env)", fn, env), sc.menu_fields, dims,
                "menu_fields")


def _shapes(fail: Callable[[str], None], what: str, out: Any, declared: Mapping[str, tuple[str, ...]],
            dims: Mapping[str, int], group: str) -> None:
    if not isinstance(out, Mapping):
        fail(f"{what} must return a dict of the {group}; it returns {type(out).__name__}")
    extra = sorted(set(out) - set(declared))
    if extra:
        fail(f"{what} returns field '{extra[0]}', which {group} does not declare (declared: {', '.join(declared)})")
    for f, spec in declared.items():
        if f not in out:
            fail(f"{what} returns no field '{f}' ({group} declares it)")
        want = tuple(int(dims[d]) for d in spec)
        got = tuple(np.shape(out[f]))
        if got != want:
            fail(f"{what} returns field '{f}' of shape {got}; {group} declares {spec} = {want} at the default "
                 "dimensions")


# ------------------------------------------------------------------------- check-model's survey


def survey(sc: Scenario, n: int = 2000, seed: int = 0, dims: Mapping[str, int] | None = None,
           settings: Mapping[str, Any] | None = None, actions: int = 4) -> list[dict[str, Any]]:
    """``contractjax check-model``: sample ``n`` environments and check, with numbers, what a model
    promises — random menus and the feasible action space feasible on every environment and
    ``actions`` random actions each, the oracle feasible, never below a random feasible menu or a
    sampled feasible action and never above the complete-information bound; for a declared
    single-crossing model, the exact path against the general search. One row per check:
    ``check``, ``value``, ``expected``, ``ok``."""
    from contractjax import batch

    envs = batch.sample_envs(sc, n, seed, dims, settings)
    rows: list[dict[str, Any]] = []

    def row(check: str, value: float, expected: str, ok: bool, unit: str = "%") -> None:
        rows.append({"check": check, "value": f"{value:.4g}{unit}" if unit else f"{value:.4g}", "expected": expected,
                     "ok": "yes" if ok else "NO"})

    row(f"environments sampled ({n}) and checked", 100.0, "100%", True)
    opt = batch.evaluate(sc, envs, batch.oracle(sc, envs))
    ci = batch.evaluate(sc, envs, batch.oracle(sc, envs, "complete"))
    u, u_ci = opt["principal_utility"], ci["principal_utility"]
    scale = np.maximum(np.abs(u_ci), 1e-9)
    tol = 1e-6 * np.maximum(1.0, np.abs(u_ci))
    row("oracle menus feasible", 100 * opt["feasible"].mean(), "100%", bool(opt["feasible"].all()))
    above = u > u_ci + tol
    row("oracle above the complete-information bound", 100 * above.mean(), "0%", not above.any())
    bound = (u_ci - u) / scale
    row("gap bound (complete information - oracle) / |CI|, mean", 100 * float(np.mean(bound)), "≥ 0", True)
    row("gap bound, largest", 100 * float(np.max(bound)), "≥ 0", True)
    rnd = batch.evaluate(sc, envs, batch.random_menus(sc, envs, seed))
    row("random menus feasible", 100 * rnd["feasible"].mean(), "100%", bool(rnd["feasible"].all()))
    beaten = rnd["feasible"] & (rnd["principal_utility"] > u + tol)
    row("random feasible menu above the oracle", 100 * beaten.mean(), "0%", not beaten.any())
    rng = np.random.default_rng(seed)
    d = {k: int(np.asarray(envs[k]).reshape(-1)[0]) for k in sc.dims}
    for pname, p in sc.parameterizations.items():
        feas, best = [], np.full(n, -np.inf)
        for _ in range(actions):
            a = rng.uniform(-1.0, 1.0, (n, int(p.size(d))))
            menus = float64(lambda a=a, p=p: devices.chunked(devices.vmapped(p.to_menu), as64(envs), jnp.asarray(a)))()
            ev = batch.evaluate(sc, envs, {k: np.asarray(v) for k, v in menus.items()})
            feas.append(ev["feasible"])
            best = np.maximum(best, np.where(ev["feasible"], ev["principal_utility"], -np.inf))
        f = np.concatenate(feas)
        by_construction = pname == "efforts"
        row(f"'{pname}' action space: random actions feasible", 100 * f.mean(),
            "100%" if by_construction else "any", bool(f.all()) or not by_construction)
        beaten = best > u + tol
        row(f"'{pname}' action space: a feasible action above the oracle", 100 * beaten.mean(), "0%", not beaten.any())
    m = sc.model
    if m is not None and m.single_crossing:
        import dataclasses

        general = dataclasses.replace(m, name=f"{m.name}_search", single_crossing=False, oracle=None).scenario()
        su = batch.evaluate(general, envs, batch.oracle(general, envs))["principal_utility"]
        short = (u - su) / np.maximum(np.abs(u), 1e-9)
        row("exact path vs the general search: search shortfall, mean", 100 * float(np.mean(short)), "≥ 0", True)
        over = su > u + tol
        row("general search above the exact path (single crossing fails)", 100 * over.mean(), "0%", not over.any())
    return rows
