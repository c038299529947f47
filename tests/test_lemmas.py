"""The papers' lemmas as properties: implementable efforts are exactly the monotone ones, the
closed-form payments are the least feasible ones and bind IR of the lowest type and the local
downward IC (DT, AIGC; AGENT per period; TWIN's necessary monotonicity)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import contractjax as cj
from contractjax import core

ENVS = {name: cj.sample_envs(name, 64, seed=99, dims={"K": 3} if name != "twin" else None)
        for name in ("dt", "aigc", "agent")}


def _env(name, i):
    return {k: jnp.asarray(v[i]) for k, v in ENVS[name].items()}


def _cost(name, env, x):
    """Per-unit-of-payment cost of item n for type k (utility divided by the payment weight)."""
    if name == "dt":
        w = 1.0 / (env["rho"] * env["psi"])
        return w[:, None] * (env["c"] * x[None, :] + env["c0"])
    return env["a"] * x[None, :] / (env["f"] * env["theta"][:, None] * env["L_max"])


EFFORT = {"dt": ("s", lambda e: 5000.0), "aigc": ("L", lambda e: float(e["L_max"]))}


@pytest.mark.parametrize("name", ["dt", "aigc"])
@settings(max_examples=60, deadline=None)
@given(i=st.integers(0, 63), u=st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_feasible_iff_monotone_and_closed_form_is_least(name, i, u):
    sc = cj.scenarios.get(name)
    with jax.enable_x64(True):
        env = _env(name, i)
        field, hi = EFFORT[name]
        x = jnp.asarray(u) * hi(env)
        R = core.minimal_payments(_cost(name, env, x))
        pay = "r" if name == "dt" else "R"
        menu = {field: x, pay: R}
        c = sc.constraints(env, menu)
        d = np.diff(np.asarray(x))
        monotone = bool(np.all(d >= 0))
        if monotone:
            assert bool(core.feasible(c))
        elif np.any(d < -1e-3 * hi(env)):  # clearly decreasing (tiny decreases are within tolerance)
            assert not bool(core.feasible(c))
        if monotone:
            closed = sc.payments(env, menu)
            np.testing.assert_allclose(np.asarray(closed[pay]), np.asarray(R), rtol=1e-9, atol=1e-9)
            scale = 1e-9 * max(1.0, float(jnp.max(jnp.abs(c.scale["IC"]))))
            assert abs(float(c.slack["IR"][0])) <= scale  # IR of the lowest type binds
            for k in range(1, 3):
                assert abs(float(c.slack["IC"][k, k - 1])) <= scale  # local downward IC binds
            # lowering any payment breaks feasibility: the closed form is the least
            for k in range(3):
                lower = menu | {pay: R.at[k].add(-1e-3 * max(1.0, abs(float(R[k]))))}
                assert not bool(core.feasible(sc.constraints(env, lower)))


@settings(max_examples=40, deadline=None)
@given(i=st.integers(0, 63), t1=st.lists(st.floats(0, 1), min_size=3, max_size=3),
       t2=st.lists(st.floats(0, 1), min_size=3, max_size=3), lift=st.floats(0, 1))
def test_agent_theorems_2_and_4_bind(i, t1, t2, lift):
    """Monotone rounds, report-dependent rows increasing in the report: Theorem 2 binds IR² of the
    lowest type and the local downward IC² in every row; corrected Theorem 4 binds IR¹ of type 1
    and the local downward IIC."""
    sc = cj.scenarios.get("agent")
    with jax.enable_x64(True):
        env = _env("agent", i)
        T1 = jnp.sort(jnp.asarray(t1)) * 60
        base = jnp.sort(jnp.asarray(t2)) * 60
        T2 = base[None, :] + lift * 10 * jnp.arange(3.0)[:, None]
        m = sc.payments(env, {"T1": T1, "R1": None, "T2": T2, "R2": None})
        c = sc.constraints(env, m)
        tol = 1e-8 * max(1.0, float(jnp.max(jnp.abs(m["R2"]))) * 30)
        assert abs(float(c.slack["IR1"][0])) <= tol
        for row in range(3):
            assert abs(float(c.slack["IR2"][row, 0])) <= tol
            for j in range(1, 3):
                assert abs(float(c.slack["IC2"][row, j, j - 1])) <= tol
        for k in range(1, 3):
            assert abs(float(c.slack["IIC"][k, k - 1])) <= tol
        assert bool(jnp.all(c.slack["IC2"] >= -tol))


def test_twin_feasible_menus_are_monotone_in_each_dimension():
    """Pairwise IC between types that differ in one dimension forces b non-decreasing in θ (fixed σ)
    and f non-decreasing in σ (fixed θ); least-rent menus of random allocations are feasible only
    when that holds."""
    sc = cj.scenarios.get("twin")
    envs = cj.sample_envs("twin", 400, seed=5)
    rng = np.random.default_rng(0)
    b = rng.uniform(0, 300, (400, 2, 2))
    f = rng.uniform(0, 150, (400, 2, 2))
    with jax.enable_x64(True):
        e = {k: jnp.asarray(v) for k, v in envs.items()}
        menus = jax.vmap(sc.payments)(e, {"b": jnp.asarray(b), "f": jnp.asarray(f), "R": jnp.zeros((400, 2, 2))})
        feas = np.asarray(jax.vmap(lambda en, m: core.feasible(sc.constraints(en, m)))(e, menus))
    mono = np.all(np.diff(b, axis=1) >= 0, axis=(1, 2)) & np.all(np.diff(f, axis=2) >= 0, axis=(1, 2))
    assert feas.sum() > 5  # the property is exercised
    assert np.all(mono[feas])  # necessary condition
