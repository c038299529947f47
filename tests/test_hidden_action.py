"""Hidden action: the batched simplex against SciPy's HiGHS, the exact oracle against one
``linprog`` per action on thousands of random instances, the known answers (two outcomes: linear
contracts are optimal; linear contracts are within a factor m of the first best) and the command
line on the model."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import contractjax as cj
from contractjax import cli, optim
from scripts.bench_hidden_action import scipy_optimum
from tests.conftest import TINY

NAME = "hidden_action"


@settings(max_examples=80, deadline=None)
@given(p=st.integers(1, 9), q=st.integers(1, 9), seed=st.integers(0, 2**31 - 1), zeros=st.integers(0, 3))
def test_simplex_matches_highs_on_random_lps(x64, p: int, q: int, seed: int, zeros: int) -> None:
    """Optimal value, primal and dual feasibility and strong duality; unbounded problems are
    reported as such; zero right-hand sides make degenerate vertices."""
    rng = np.random.default_rng(seed)
    A, b, c = rng.normal(size=(p, q)), rng.uniform(0, 2, p), rng.normal(size=q)
    b[rng.permutation(p)[:zeros]] = 0.0
    x, y, v, status = jax.jit(optim.simplex)(jnp.asarray(c), jnp.asarray(A), jnp.asarray(b))
    x, y, v = np.asarray(x), np.asarray(y), float(v)
    ref = linprog(-c, A_ub=A, b_ub=b, bounds=(0, None), method="highs")
    if ref.status in (2, 3):  # the origin is feasible: HiGHS's "infeasible or unbounded" means unbounded
        assert int(status) == optim.UNBOUNDED
        return
    assert int(status) == optim.OPTIMAL and ref.status == 0
    scale = max(1.0, abs(ref.fun))
    assert abs(v + ref.fun) <= 1e-9 * scale and abs(c @ x - v) <= 1e-9 * scale
    assert np.all(x >= -1e-12) and np.all(A @ x <= b + 1e-9)
    assert np.all(y >= -1e-12) and np.all(A.T @ y >= c - 1e-9) and abs(b @ y - v) <= 1e-9 * scale


@pytest.mark.parametrize(("n", "m", "count"), [(2, 2, 800), (4, 4, 800), (3, 7, 300), (8, 3, 300), (12, 12, 60)])
def test_the_oracle_is_the_lp_optimum(n: int, m: int, count: int) -> None:
    """2,260 random instances: the principal's utility of the oracle's contract equals SciPy's
    optimum to 1e-7 relative, and the contract is feasible (its action a best response)."""
    envs = cj.sample_envs(NAME, count, seed=n * 100 + m, dims={"n": n, "m": m})
    menus = cj.oracle(NAME, envs)
    report = cj.evaluate(NAME, envs, menus)
    assert report["feasible"].all()
    for k in range(count):
        ref = scipy_optimum(envs["F"][k], envs["r"][k], envs["c"][k])
        u = report["principal_utility"][k]
        assert abs(u - ref) <= 1e-7 * max(1e-3, abs(ref)), (k, u, ref)


def test_references_bracket_the_optimum_and_two_outcomes_make_linear_optimal() -> None:
    """Best linear contract <= optimum <= first best <= m × best linear (linear contracts
    approximate the optimal welfare within the number of actions: Dütting, Roughgarden &
    Talgam-Cohen 2019); with two outcomes and no reward on the low one, the optimal contract is
    linear."""
    envs = cj.sample_envs(NAME, 2000, seed=5, dims={"n": 5, "m": 6})
    u = {k: cj.evaluate(NAME, envs, menus)["principal_utility"] for k, menus in (
        ("opt", cj.oracle(NAME, envs)), ("fb", cj.oracle(NAME, envs, "complete")),
        ("lin", cj.baseline_menus(NAME, envs, "linear")))}
    tol = 1e-9
    assert np.all(u["lin"] <= u["opt"] + tol) and np.all(u["opt"] <= u["fb"] + tol)
    assert np.all(u["fb"] <= 6 * u["lin"] + tol)
    assert np.mean(u["lin"] < u["opt"] - 1e-6) > 0.1  # not trivially equal
    assert cj.evaluate(NAME, envs, cj.baseline_menus(NAME, envs, "linear"))["feasible"].all()
    two = cj.sample_envs(NAME, 2000, seed=6, dims={"n": 2, "m": 5}, config={"r": [(0.0, 0.0), (0.5, 1.0)]})
    opt = cj.evaluate(NAME, two, cj.oracle(NAME, two))["principal_utility"]
    lin = cj.evaluate(NAME, two, cj.baseline_menus(NAME, two, "linear"))["principal_utility"]
    np.testing.assert_allclose(lin, opt, rtol=1e-9, atol=1e-12)


def test_ties_go_to_the_principal_and_a_costless_action_comes_first() -> None:
    """At the optimum the agent is indifferent (IC binds); the evaluation takes the principal's
    preferred best response. An environment whose action 0 has a cost is refused in one line."""
    F = np.array([[0.8, 0.2], [0.2, 0.8]])
    env = {"n": np.array([2.0]), "m": np.array([2.0]), "pay_cap": np.array([3.0]), "r": np.array([[0.0, 1.0]]),
           "c": np.array([[0.0, 0.1]]), "F": F[None]}
    menus = cj.oracle(NAME, env)
    # implementing action 1 pays 0.1 / 0.6 on the high outcome: expected 0.8/6; the principal keeps 0.8 − 0.8/6
    np.testing.assert_allclose(menus["t"][0], [0.0, 0.1 / 0.6], atol=1e-12)
    assert menus["a"][0] == 1.0
    np.testing.assert_allclose(cj.evaluate(NAME, env, menus)["principal_utility"][0], 0.8 - 0.8 / 6, rtol=1e-12)
    bad = dict(env, c=np.array([[0.05, 0.1]]))
    with pytest.raises(cj.InputError, match="action 0 must cost 0"):
        cj.evaluate(NAME, bad, menus)


def test_the_command_line_on_hidden_action(tmp_path) -> None:
    """sample-envs with sizes, oracle, evaluate, train and solve, as for every model."""
    from contractjax import files, scenarios

    sc = scenarios.get(NAME)
    envs, oracle, report = tmp_path / "e.json", tmp_path / "o.json", tmp_path / "r.json"
    assert cli.main(["sample-envs", "--scenario", NAME, "--n", "20", "--dims", "n=3", "--dims", "m=5", "--out",
                     str(envs)]) == 0
    assert files.load_envs(sc, envs)["F"].shape == (20, 5, 3)
    assert cli.main(["oracle", "--scenario", NAME, "--envs", str(envs), "--out", str(oracle)]) == 0
    assert cli.main(["evaluate", "--scenario", NAME, "--envs", str(envs), "--menus", str(oracle), "--out",
                     str(report), "--quiet"]) == 0
    rec = files.read(report)
    np.testing.assert_allclose(rec["principal_utility"], rec["oracle_utility"], rtol=1e-12)
    assert np.all(rec["feasible"]) and np.all(rec["oracle_utility"] <= rec["complete_info_utility"] + 1e-12)
    run, held = tmp_path / "run", tmp_path / "held.json"
    assert cli.main(["train", "--scenario", NAME, "--steps", "20", "--out", str(run), "--quiet", "--set",
                     "chunk=10", "--set", "eval_every=10", "--set", "eval_envs=16", "--set", "warmup=5",
                     "--set", "batch=16", "--set", "actor_hidden=16,16", "--set", "critic_hidden=16,16",
                     "--set", "denoise_steps=2"]) == 0
    assert json.loads((run / "summary.json").read_text())["eval"]["feasible"] == 1.0  # feasible by construction
    assert cli.main(["sample-envs", "--scenario", NAME, "--n", "8", "--out", str(held)]) == 0
    assert cli.main(["solve", "--checkpoint", str(run), "--envs", str(held), "--out", str(tmp_path / "m.json")]) == 0
    held_envs = files.load_envs(sc, held)
    assert cj.evaluate(NAME, held_envs, files.load_menus(sc, tmp_path / "m.json", held_envs))["feasible"].all()
    # a sweep over the smoothing, at other sizes (one compiled population)
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"scenario": NAME, "algos": ["amortized"], "grid": {"smooth": [0.0, 0.05]},
                                "set": {k: list(v) if isinstance(v, tuple) else v for k, v in TINY.items()}
                                | {"dims": {"n": 3, "m": 2}}}))
    assert cli.main(["sweep", "--config", str(spec), "--out", str(tmp_path / "sw"), "--quiet"]) == 0
    results = json.loads((tmp_path / "sw" / "results.json").read_text())
    assert len(results) == 2 and all(r["status"] == "ok" for r in results)


def test_the_smoothed_response_tends_to_the_exact_utility_and_is_trained_on_by_default(x64) -> None:
    """The training reward's smoothed utility (softmax response) tends to the exact one as its
    temperature falls, and has an incentive gradient where the exact one has only −F_a; hidden
    action trains with it unless told otherwise; a model without one refuses ``smooth``."""
    from contractjax import scenarios, solver
    from contractjax.scenarios import hidden_action as ha

    sc = scenarios.get(NAME)
    envs = cj.sample_envs(NAME, 200, seed=9)
    menus = cj.random_menus(NAME, envs, seed=1)
    e = {k: jnp.asarray(v) for k, v in envs.items()}
    m = {k: jnp.asarray(v) for k, v in menus.items()}
    exact = jax.vmap(sc.principal_utility)(e, m)
    for temperature, tol in ((1e-2, 5e-2), (1e-4, 1e-3), (1e-6, 1e-5)):
        smooth = jax.vmap(lambda a, b, t=temperature: ha.smoothed_utility(a, b, t))(e, m)
        assert np.mean(np.abs(np.asarray(smooth - exact))) < tol, temperature
    # at the zero contract, where the optimum implements a costly action: the exact utility's gradient
    # only lowers payments; the smoothed one raises some (paying for the costly action pays off)
    costly = cj.oracle(NAME, envs)["a"] > 0
    zero = jnp.zeros_like(m["t"])
    smooth_grad = jax.vmap(jax.grad(lambda t, a: ha.smoothed_utility(a, {"t": t}, 0.02)))(zero, e)
    exact_grad = jax.vmap(jax.grad(lambda t, a: sc.principal_utility(a, {"t": t, "a": ha.best_response(a, t)})))(zero, e)
    assert not np.any(np.asarray(exact_grad) > 0)
    assert np.mean(np.any(np.asarray(smooth_grad) > 0, axis=1)[costly]) > 0.5
    assert solver.make_config(scenario=NAME).smooth > 0 and solver.make_config(scenario=NAME, smooth=0.0).smooth == 0
    with pytest.raises(cj.InputError, match="smooth"):
        solver.make_config(scenario="dt", smooth=0.1)
    # the model trains by choosing the action to implement (paid the LP's least payment); an algorithm
    # that learns from the reward's gradient gets the payments' action space instead, and is refused the other
    assert solver.make_config(scenario=NAME).param == "implement"
    assert solver.make_config(scenario=NAME, algo="amortized").param == "efforts"
    with pytest.raises(cj.InputError, match="not differentiable"):
        solver.make_config(scenario=NAME, algo="amortized", param="implement")


def test_the_implement_action_space_pays_the_least_payment(x64) -> None:
    """Choosing action i gives the LP's contract for i (feasible, IC binding); an action no
    contract implements falls back to the zero contract and the agent's response to it."""
    from contractjax.scenarios import hidden_action as ha

    envs = cj.sample_envs(NAME, 300, seed=11, dims={"n": 3, "m": 6})
    e = {k: jnp.asarray(v) for k, v in envs.items()}
    t, pay, ok = jax.vmap(ha.least_payments)(e)
    for i in range(6):
        scores = jnp.full((300, 6), -1.0).at[:, i].set(1.0)
        menus = {k: np.asarray(v) for k, v in jax.vmap(ha.implement_to_menu)(e, scores).items()}
        report = cj.evaluate(NAME, envs, menus)
        assert report["feasible"].all()
        done = np.asarray(ok[:, i])
        np.testing.assert_allclose(menus["t"][done], np.asarray(t[:, i])[done], atol=1e-12)
        assert np.all(menus["a"][done] == i) and np.all(menus["t"][~done] == 0.0)
    assert not np.asarray(ok).all()  # some actions are implemented by no contract
