"""A researcher's own model: the Model API, the generic oracles, the loaders and register's checks."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractjax as cj
from contractjax import batch, core, scenarios
from contractjax.domain import POSITIVE, WHOLE, InputError
from contractjax.scenarios import as_models
from contractjax.scenarios.model import Model

ROOT = Path(__file__).resolve().parents[1]
SCREENING = str(ROOT / "examples" / "screening.py")
TWO_DIM = str(ROOT / "examples" / "two_dim.py")


@pytest.fixture(autouse=True)
def _forget_models():
    """Models registered by a test are removed after it (the built-ins stay)."""
    yield
    for name in scenarios.names():
        if name not in scenarios.BUILTIN:
            scenarios.unregister(name)


def textbook(a: float, theta: list[float], nu: list[float], q_max: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """Laffont & Martimort's K-type solution of ``max Σ ν (a √q − t)`` with costs ``θ q``, by
    virtual costs and pool-adjacent-violators, written independently of the package: returns
    ``(q, t)`` in the types' order (θ ascending)."""
    order = np.argsort(theta)[::-1]  # the least efficient (highest cost) type first
    th, p = np.asarray(theta, float)[order], np.asarray(nu, float)[order]
    K = len(th)
    above = np.array([p[j + 1:].sum() for j in range(K)])
    vc = p * th + above * np.append(th[:-1] - th[1:], 0.0)  # virtual marginal costs
    blocks = [[j] for j in range(K)]

    def level(b: list[int]) -> float:  # the block's optimum: (a Σp / (2 Σvc))², in the box
        return float(np.clip((a * p[b].sum() / (2 * vc[b].sum())) ** 2, 0.0, q_max))

    merged = True
    while merged:  # q must rise along the working order
        merged = False
        for i in range(len(blocks) - 1):
            if level(blocks[i]) > level(blocks[i + 1]):
                blocks[i:i + 2] = [blocks[i] + blocks[i + 1]]
                merged = True
                break
    q = np.concatenate([[level(b)] * len(b) for b in blocks])
    t = np.cumsum(th * np.diff(q, prepend=0.0))  # IR of the first, local downward IC
    back = np.empty(K, int)
    back[order] = np.arange(K)
    return q[back], t[back]


def envs_of(a, theta, nu) -> dict[str, np.ndarray]:
    theta, nu = np.atleast_2d(theta), np.atleast_2d(nu)
    return {"K": np.full(len(theta), theta.shape[1], float), "a": np.asarray(a, float), "theta": theta, "nu": nu}


def test_textbook_screening_is_exact_with_pooling():
    """The exact path and the undeclared search both give the closed form (pooling included) to
    1e-9 relative; the issue's pooling case (ν = 0.6, 0.1, 0.3) pools."""
    sc = scenarios.get(SCREENING)
    undeclared = as_models.with_search(sc.model).scenario()
    rng = np.random.default_rng(4)
    n = 200
    theta = np.sort(rng.uniform(1.0, 2.0, (n, 3)), axis=1)
    nu = rng.dirichlet(np.ones(3), n)
    theta[0], nu[0] = [1.0, 1.5, 2.0], [0.6, 0.1, 0.3]
    a = rng.uniform(8, 12, n)
    envs = envs_of(a, theta, nu)
    want = [textbook(a[i], theta[i], nu[i]) for i in range(n)]
    u_want = np.array([np.sum(nu[i] * (a[i] * np.sqrt(q) - t)) for i, (q, t) in enumerate(want)])
    pooled = np.array([np.isclose(q[1], q[2]) or np.isclose(q[0], q[1]) for q, _ in want])
    assert pooled[0] and pooled.sum() > 10
    for model in (sc, undeclared):
        menus = cj.oracle(model, envs)
        np.testing.assert_allclose(menus["q"], np.stack([q for q, _ in want]), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(menus["t"], np.stack([t for _, t in want]), rtol=1e-9, atol=1e-12)
        ev = cj.evaluate(model, envs, menus)
        assert ev["feasible"].all()
        np.testing.assert_allclose(ev["principal_utility"], u_want, rtol=1e-9)
    ci = cj.evaluate(sc, envs, cj.oracle(sc, envs, "complete"))["principal_utility"]
    assert np.all(ci >= u_want - 1e-9)


def test_least_rents_derivative_at_pooled_types():
    """The least rents' derivative is the chain formula's (IR of the least efficient type, local
    downward IC) where types are apart, and along the face where they pool (moving pooled types
    together): no share of it lost around the zero-weight cycle a tie makes."""
    theta = jnp.asarray([1.0, 1.4, 2.0])
    w = jnp.asarray([0.3, 0.5, 0.2])

    def rents(q):
        return core.least_rents(theta[:, None] * q[None, :])

    def chain(q):  # type 2 (θ = 2) is the least efficient
        r2 = theta[2] * q[2]
        r1 = r2 + theta[1] * (q[1] - q[2])
        return jnp.stack([r1 + theta[0] * (q[0] - q[1]), r1, r2])

    apart = jnp.asarray([6.0, 3.0, 1.0])
    np.testing.assert_allclose(jax.grad(lambda x: w @ rents(x))(apart), jax.grad(lambda x: w @ chain(x))(apart),
                               rtol=1e-6)
    for q, face in (([5.0, 2.0, 2.0], [0, 1, 1]), ([3.0, 3.0, 1.0], [1, 1, 0]), ([2.0, 2.0, 2.0], [1, 1, 1])):
        q, face = jnp.asarray(q), jnp.asarray(face, jnp.float32)
        np.testing.assert_allclose(rents(q), chain(q), rtol=1e-6)
        along = jax.grad(lambda x: w @ rents(x))(q) @ face
        np.testing.assert_allclose(along, jax.grad(lambda x: w @ chain(x))(q) @ face, rtol=1e-6)
        h = 1e-2  # the rents are piecewise linear in q: a central difference along the face is exact
        np.testing.assert_allclose(along, (w @ rents(q + h * face) - w @ rents(q - h * face)) / (2 * h), rtol=1e-4)


@pytest.mark.parametrize("name", ["dt", "aigc", "twin"])
def test_generic_oracle_against_the_builtin(name):
    """The built-ins' economics as Models: the generic oracle is feasible, within 0.05 % of the
    model's own oracle on average, and never above an exact one beyond the tolerance (dt: the
    exact path equals the closed form; aigc's vertex enumeration)."""
    builtin = scenarios.get(name)
    n = 300 if name != "twin" else 100
    envs = cj.sample_envs(builtin, n, seed=3)
    ref = cj.evaluate(builtin, envs, cj.oracle(builtin, envs))["principal_utility"]
    models = [as_models.models()[name]] + ([as_models.with_search(as_models.dt_model())] if name == "dt" else [])
    for m in models:
        sc = m.scenario()
        ev = cj.evaluate(sc, envs, cj.oracle(sc, envs))
        assert ev["feasible"].all()
        short = (ref - ev["principal_utility"]) / np.abs(ref)
        assert np.mean(short) <= 5e-4, (m.name, np.mean(short))
        if name in ("dt", "aigc"):  # exact built-ins: never above them beyond the tolerance
            assert np.all(short >= -1e-6 * np.maximum(1.0, 1 / np.abs(ref)))
    if name == "dt":
        exact = as_models.dt_model().scenario()
        np.testing.assert_allclose(cj.oracle(exact, envs)["s"], cj.oracle(builtin, envs)["s"], rtol=1e-9)


def test_two_dimensional_model_feasible_everywhere():
    """Two-dimensional types and allocations: oracle, random menus and the efforts action space
    feasible; the oracle beats random menus and stays below complete information."""
    sc = scenarios.get(TWO_DIM)
    envs = cj.sample_envs(sc, 300, seed=1, dims={"M": 2, "N": 3})
    opt = cj.evaluate(sc, envs, cj.oracle(sc, envs))
    assert opt["feasible"].all()
    ci = cj.evaluate(sc, envs, cj.oracle(sc, envs, "complete"))["principal_utility"]
    assert np.all(opt["principal_utility"] <= ci + 1e-6 * np.maximum(1, np.abs(ci)))
    rnd = cj.evaluate(sc, envs, cj.random_menus(sc, envs, seed=2))
    assert rnd["feasible"].all() and np.all(rnd["principal_utility"] <= opt["principal_utility"] + 1e-9)
    a = np.random.default_rng(0).uniform(-1, 1, (300, sc.effort_size({"M": 2, "N": 3})))
    with jax.enable_x64(True):
        menus = jax.vmap(sc.efforts_to_menu)({k: jnp.asarray(v) for k, v in envs.items()}, jnp.asarray(a))
    assert cj.evaluate(sc, envs, {k: np.asarray(v) for k, v in menus.items()})["feasible"].all()


def test_self_selected_allocations_are_implementable():
    """Items offered at their least payments: the allocation the types choose is implementable
    (the repair's step before pooling), and an implementable proposal is kept as it is."""
    from contractjax.scenarios import generic

    sc = scenarios.get(TWO_DIM)
    dims = {"M": 2, "N": 3}
    envs = cj.sample_envs(sc, 300, seed=5, dims=dims)
    eco = sc.economics
    with jax.enable_x64(True):
        e = {k: jnp.asarray(v) for k, v in envs.items()}
        lo, hi = jax.vmap(eco.bounds)(e)
        x = lo + (hi - lo) * jax.random.uniform(jax.random.PRNGKey(0), lo.shape, lo.dtype)

        def one(env, x):
            C = generic.cost_matrix(eco, env, x)
            chosen = generic.self_selected(C, x)
            return generic.implementable(C), generic.implementable(generic.cost_matrix(eco, env, chosen)), chosen

        was, now, chosen = jax.vmap(one)(e, x)
        optimum = jnp.asarray(np.stack([cj.oracle(sc, envs)[f].reshape(300, -1) for f in ("q", "s")], axis=1))
        kept, _, same = jax.vmap(one)(e, optimum)
    assert not np.asarray(was).all() and np.asarray(now).all()
    kept = np.asarray(kept)  # the oracle's optima that are implementable to rounding (not all: float32 ascent)
    assert kept.mean() > 0.5
    np.testing.assert_array_equal(np.asarray(same)[kept], np.asarray(optimum)[kept])


def test_polish_reaches_the_optimum_from_poor_menus():
    """``solve --polish`` from random actions (a poor policy's, several times the optimum's value
    away): feasible, never below the actions' own menus, and within 1 % of the oracle on average
    and 0.1 % at the median (TWIN, whose economics the built-in carries; a model file's polish:
    tests/test_user_model_cli.py)."""
    for name, dims in (("twin", {"M": 2, "N": 3}),):
        sc = scenarios.get(name)
        envs = cj.sample_envs(sc, 60, seed=6, dims=dims)
        a = np.random.default_rng(1).uniform(-1, 1, (60, sc.effort_size(dims)))
        with jax.enable_x64(True):
            plain = jax.vmap(sc.efforts_to_menu)({k: jnp.asarray(v) for k, v in envs.items()}, jnp.asarray(a))
        u_plain = cj.evaluate(sc, envs, {k: np.asarray(v) for k, v in plain.items()})["principal_utility"]
        ev = cj.evaluate(sc, envs, batch.polish_menus(sc, envs, a, 100))
        ref = cj.evaluate(sc, envs, cj.oracle(sc, envs))["principal_utility"]
        assert ev["feasible"].all()
        assert np.all(ev["principal_utility"] >= u_plain - 1e-9 * (1 + np.abs(u_plain)))
        gap, before = (ref - ev["principal_utility"]) / np.abs(ref), (ref - u_plain) / np.abs(ref)
        assert before.mean() > 1.0 and gap.mean() < 0.01 and np.median(gap) < 1e-3, (name, gap.mean())


def test_check_model_survey_passes_on_the_two_dimensional_example():
    from contractjax.scenarios import checks

    rows = checks.survey(scenarios.get(TWO_DIM), n=200, actions=2)  # the screening one: tests/test_user_model_cli.py
    assert all(r["ok"] == "yes" for r in rows), rows


# ------------------------------------------------------------------------ register's checks


def _model(**kw) -> Model:
    base = scenarios.get(SCREENING).model
    return dataclasses.replace(base, **{"name": "probe"} | kw)


@pytest.mark.parametrize("change, words", [
    (dict(name="dt"), "already taken"),
    (dict(name="my model"), "identifier"),
    (dict(defaults={"K": 3, "a": (-1.0, 2.0), "theta": (1.0, 2.0)}), "a must be"),
    (dict(domain={"K": WHOLE, "a": POSITIVE, "theta": POSITIVE}), "no interval for field 'nu'"),
    (dict(domain={"K": WHOLE, "a": 5, "theta": POSITIVE, "nu": POSITIVE, "dirichlet": POSITIVE}),
     "domain['a'] = 5 is not an interval"),
    (dict(defaults={"K": 3, "theta": (1.0, 2.0)}), "no setting for field 'a'"),
    (dict(types=("beta",)), "'beta' is not an env field"),
    (dict(probabilities="p"), "probabilities='p'"),
    (dict(allocation={"q": (0.0,)}), "pair (lo, hi)"),
    (dict(allocation={"q": (0.0, float("nan"))}), "bound nan must be a finite number"),
    (dict(allocation={"q": (5.0, 1.0)}), "lower bound must be below"),
    (dict(defaults={"K": 5000, "a": (8.0, 12.0), "theta": (1.0, 2.0), "dirichlet": 1.0}), "default K=5000"),
    (dict(env_fields={"a": (), "theta": ("L",), "nu": ("K",)}), "dimension names"),
    (dict(oracle=lambda env, info="asymmetric": {"q": jnp.zeros(2), "t": jnp.zeros(3)}), "field 'q' of shape (2,)"),
    (dict(oracle=lambda env, info="asymmetric": {"q": jnp.zeros(3)}), "no field 't'"),
    (dict(state=lambda env: jnp.zeros((2, 2))), "1-D"),
    (dict(cost=lambda env, type, item: type["kappa"] * item["q"]), "fails on an environment"),
    (dict(single_crossing=True, allocation={"q": (0.0, 1.0), "r": (0.0, 1.0)}), "one allocation field"),
    (dict(cost=lambda env, type, item: sys.exit(3)), "exits (sys.exit(3))"),
    (dict(roles=("buyer",)), "roles=('buyer',) must be two names"),
    (dict(labels={"a": 3}), "labels must map setting names to words"),
])
def test_register_refuses_a_broken_model_in_one_line(change, words):
    with pytest.raises(InputError) as e:
        scenarios.register(_model(**change))
    msg = str(e.value)
    assert words in msg and "\n" not in msg, msg


def test_full_form_module_missing_a_function(tmp_path):
    src = (ROOT / "contractjax" / "scenarios" / "dt.py").read_text()
    src = src.replace("def oracle(", "def oracle_renamed(").replace('name="dt"', 'name="dt_copy"')
    (tmp_path / "full.py").write_text(src)
    with pytest.raises(InputError, match=r"defines no function 'oracle'"):
        scenarios.get(str(tmp_path / "full.py"))


def test_full_form_module_works_from_outside(tmp_path):
    src = (ROOT / "contractjax" / "scenarios" / "dt.py").read_text().replace('name="dt"', 'name="dt_copy"')
    (tmp_path / "dt_copy.py").write_text(src)
    sc = scenarios.get(str(tmp_path / "dt_copy.py"))
    envs = cj.sample_envs(sc, 50)
    np.testing.assert_allclose(cj.oracle(sc, envs)["s"], cj.oracle("dt", envs)["s"])


@pytest.mark.parametrize("text, words", [
    ("x = 1\n", "defines no models"),
    ("import nonexistent_package_xyz\n", "fails to import: ModuleNotFoundError"),
    ("def f(:\n", "fails to import: SyntaxError"),
    ("import sys\nsys.exit(3)\n", "exits while being imported (sys.exit(3))"),
])
def test_bad_model_files(tmp_path, text, words):
    (tmp_path / "m.py").write_text(text)
    with pytest.raises(InputError) as e:
        scenarios.get(str(tmp_path / "m.py"))
    assert words in str(e.value) and "\n" not in str(e.value)


def test_unknown_name_and_missing_file():
    with pytest.raises(InputError, match="unknown; choose one of: dt, agent, aigc, twin"):
        scenarios.get("nosuchmodel")
    with pytest.raises(InputError, match="does not exist"):
        scenarios.get("nowhere/model.py")


# ------------------------------------------------------------------------------- the loaders


def test_file_module_object_and_entry_point(tmp_path, monkeypatch):
    text = Path(SCREENING).read_text().replace('name="screening"', 'name="screen_mod"')
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    sc = scenarios.get("mypkg.models")
    assert sc.name == "screen_mod" and scenarios.source("screen_mod") == "mypkg.models"
    assert scenarios.get("mypkg.models") is sc and scenarios.get("screen_mod") is sc
    # an entry point of an installed package, found by the model's name
    (pkg / "other.py").write_text(text.replace('name="screen_mod"', 'name="screen_ep"'))
    ep = importlib.metadata.EntryPoint("screen_ep", "mypkg.other", scenarios.ENTRY_POINTS)
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: [ep] if kw.get("group") == scenarios.ENTRY_POINTS else real(**kw))
    assert scenarios.get("screen_ep").name == "screen_ep"
    # a model object, straight into the Python API
    m = dataclasses.replace(scenarios.get(SCREENING).model, name="screen_obj")
    envs = cj.sample_envs(m, 20)
    assert cj.evaluate(m, envs, cj.oracle(m, envs))["feasible"].all()
    assert "screen_obj" in scenarios.names()


def test_fixed_per_type_values_and_their_errors():
    """A list of plain numbers is a fixed per-type setting (the issue's crash in batch._frozen)."""
    m = _model(name="fixed_nu", defaults={"K": 3, "a": 10.0, "theta": (1.0, 2.0), "nu": [0.3, 0.4, 0.3]})
    envs = cj.sample_envs(m, 5)
    np.testing.assert_allclose(envs["nu"], [[0.3, 0.4, 0.3]] * 5)
    envs = cj.sample_envs("fixed_nu", 5, config={"nu": [0.6, 0.1, 0.3]})
    np.testing.assert_allclose(envs["nu"][0], [0.6, 0.1, 0.3])
    with pytest.raises(InputError, match="lists 2 values"):
        cj.sample_envs("fixed_nu", 5, config={"nu": [0.5, 0.5]})
    with pytest.raises(InputError, match="sum to 1"):
        cj.sample_envs("fixed_nu", 5, config={"nu": [0.5, 0.5, 0.5]})


def test_config_records_where_the_model_came_from():
    from contractjax import solver
    from contractjax.solver import config

    cfg = solver.make_config("quick", scenario=SCREENING, steps=10)
    assert cfg.scenario == "screening" and cfg.model == str(Path(SCREENING).resolve())
    scenarios.unregister("screening")  # a fresh process: the recorded source loads it again
    again = config.validate(config.coerce(config.to_json(cfg)))
    assert again == cfg and "screening" in scenarios.names()
    with pytest.raises(InputError, match="config field 'scenario'"):
        solver.make_config("quick", scenario="no/such/model.py")


def test_guide_template_is_the_example():
    """docs/scenarios.md's template is a working model (the CLI tests run its commands)."""
    block = re.search(r"```python\n(import jax.numpy.*?)```", (ROOT / "docs" / "scenarios.md").read_text(), re.S)
    assert block is not None
    ns: dict = {}
    exec(compile(textwrap.dedent(block.group(1)), "template", "exec"), ns)
    sc = scenarios.register(ns["MODEL"])
    envs = cj.sample_envs(sc, 30)
    assert cj.evaluate(sc, envs, cj.oracle(sc, envs))["feasible"].all()
