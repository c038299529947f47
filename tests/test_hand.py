"""Utilities and slacks of small menus, computed by hand."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import contractjax as cj
from contractjax import core
from contractjax.scenarios import agent, common


def _a(**kw):
    return {k: jnp.asarray(v, dtype=jnp.float32) for k, v in kw.items()}


def test_dt_by_hand():
    sc = cj.scenarios.get("dt")
    env = _a(M=2, K=2, c=1, c0=0.5, vartheta=2, rho=0.5, beta=0.5, q=[0.25, 0.75], psi=[2, 4])
    menu = _a(s=[1, 4], r=[2, 3])
    c = sc.constraints(env, menu)
    np.testing.assert_allclose(c.slack["IR"], [0.5, 1.5])
    np.testing.assert_allclose(c.slack["IC"], [[0, 2.0], [-1.0, 0]])
    assert not bool(core.feasible(c)) and float(core.max_violation(c)) == pytest.approx(1.0)
    assert float(sc.principal_utility(env, menu)) == pytest.approx(8.5)  # 2 (0.25 (4 − 2) + 0.75 (8 − 3))
    assert float(sc.agents_utility(env, menu)) == pytest.approx(1.25)
    assert float(sc.paper_reward(env, menu, jnp.zeros(4))) == 0.0  # infeasible
    paid = sc.payments(env, menu)  # r1 = (c s1 + c0)/(ρψ1) = 1.5; r2 = r1 + c (4 − 1)/(ρψ2) = 3
    np.testing.assert_allclose(paid["r"], [1.5, 3.0])


def test_aigc_by_hand():
    sc = cj.scenarios.get("aigc")
    env = _a(M=1, K=2, L_max=10, U_ref=5, a=10, f=0.5, e1=1, e2=2, z1=1, z2=1, zeta_plus=1, zeta_minus=1,
             eta=0.5, Q=[0.5, 0.5], theta=[2, 4])
    menu = _a(L=[5, 10], R=[6, 9])
    c = sc.constraints(env, menu)
    np.testing.assert_allclose(c.slack["IR"], [1.0, 8.0])  # fθR − aL/L_max
    np.testing.assert_allclose(c.slack["IC"], [[0, 2.0], [1.0, 0]])
    assert bool(core.feasible(c))
    # client utility −3 for both types, 8 below U_ref = 5: v = −0.5 · 8
    assert float(sc.principal_utility(env, menu)) == pytest.approx(-4.0)
    assert float(sc.paper_reward(env, menu, jnp.zeros(4))) == pytest.approx(-4 + 9 + 3)
    paid = sc.payments(env, menu)  # eq. 50: a/(f L_max) = 2; R1 = 2 · 5/2, R2 = 2 (5/2 + 5/4)
    np.testing.assert_allclose(paid["R"], [5.0, 7.5])


def test_twin_by_hand():
    sc = cj.scenarios.get("twin")
    env = _a(L=1, M=1, N=1, U_ref=10, kappa=0.5, delta_plus=1, delta_minus=1, w_alpha=1, alpha=1, beta=1, zeta1=0.5,
             zeta2=0.5, S=2, D_res=1, v_fps=1, T_th=1, N0=1, p=[[10]], g=[[1]], mu=[[1]], c_lat=[[0.1]], d=[[1]],
             Q=[[1]], theta=[20], sigma=[4])
    menu = _a(b=[[10]], f=[[2]], R=[[5]])
    u = 10 * math.log(2) * math.log(12) - 0.1 * 10 - 5  # rate 10 ln(1 + 10/10), render ln(0.5·2·10 + 0.5·4)
    assert float(sc.principal_utility(env, menu)) == pytest.approx(u - 10, rel=1e-5)
    c = sc.constraints(env, menu)
    np.testing.assert_allclose(c.slack["IR"], [5 - 100 / 20 - 4 / 4])
    assert not bool(core.feasible(c))


def test_twin_prelec_weighting_and_loss():
    sc = cj.scenarios.get("twin")
    from contractjax.scenarios import twin

    env = _a(Q=[[0.2, 0.8]], w_alpha=0.5, U_ref=10.0, kappa=2.0, delta_plus=1.0, delta_minus=1.0)
    np.testing.assert_allclose(twin.weights(env), np.exp(-np.sqrt(-np.log([[0.2, 0.8]]))), rtol=1e-6)
    np.testing.assert_allclose(twin.pt_value(env, jnp.asarray([4.0, 13.0])), [-12.0, 3.0])
    assert sc.name == "twin"


def test_agent_constants_by_hand():
    env = _a(sigma=1, rho_n=1e-16, Upsilon_cre=120, f=6.4e7, varsigma=1e-23, Upsilon_per=100, D_fea=8e6, P_n=1,
             D_agent=8e7, r_nc=2e6, L=8, delta=0.02, epsilon=2)
    assert float(agent.unit_cost(env)) == pytest.approx(49.152, rel=1e-5)  # 1e-16 · 120 · (6.4e7)²
    assert float(agent.fixed_cost(env)) == pytest.approx(32.768 + 40.0, rel=1e-5)
    assert float(agent.rate(env)) == pytest.approx(0.0368, rel=1e-5)  # (2 − Lδ) δ ε / 2


def test_agent_intertemporal_by_hand():
    """K = 2, β = 1, c = 1, E = 0 (σ chosen so), P = identity: a type-1 ES reporting 2 keeps its own
    second-period type 1 but takes row 2's items."""
    sc = cj.scenarios.get("agent")
    env = _a(N=1, K=2, sigma=1, P_n=0, r_nc=1, E_C=0, alpha=1, beta=1, lam=0, delta=0.02, L=8, epsilon=2,
             varsigma=0, Upsilon_per=0, D_fea=0, f=1, rho_n=1, Upsilon_cre=1, D_agent=0, p1=[0.5, 0.5],
             theta1=[1, 2], theta2=[1, 2], P=[[1, 0], [0, 1]])
    menu = _a(T1=[1, 2], R1=[1, 1.5], T2=[[1, 2], [2, 4]], R2=[[1, 1.5], [3, 3]])
    c = sc.constraints(env, menu)
    # period 1: u1[k, n] = θ1_k R1_n − T1_n
    np.testing.assert_allclose(c.slack["IR1"], [0.0, 1.0])
    # type 1 truthful: u1 = 0, period 2 (row 1, type 1, item 1): 1 − 1 = 0  -> 0
    # type 1 reporting 2: u1 = 1.5 − 2 = −0.5; row 2 for second-period type 1: best of (3 − 2, 3 − 4) = 1 -> 0.5
    # type 2 truthful: 2·1.5 − 2 = 1, row 2 type 2 item 2: 2·3 − 4 = 2 -> 3
    # type 2 reporting 1: 2·1 − 1 = 1, row 1 type 2: best of (2·1 − 1, 2·1.5 − 2) = 1 -> 2
    np.testing.assert_allclose(c.slack["IIC"], [[0, -0.5], [1.0, 0]])


@settings(max_examples=100, deadline=None)
@given(d=st.floats(-50, 50).filter(lambda d: abs(d) > 1e-3), gain=st.floats(0.2, 1.5), loss=st.floats(0.2, 1.5),
       kappa=st.floats(0, 3))
def test_prospect_value_and_its_derivative_match_the_two_power_formula(d, gain, loss, kappa):
    """``d^δ+`` for gains, ``−κ (−d)^δ−`` for losses, and the derivative in all four arguments."""
    def formula(d, gain, loss, kappa):
        return jnp.where(d >= 0, jnp.maximum(d, 1e-30) ** gain, -kappa * jnp.maximum(-d, 1e-30) ** loss)

    with jax.enable_x64(True):
        args = tuple(jnp.float64(a) for a in (d, gain, loss, kappa))
        np.testing.assert_allclose(common.prospect_value(*args), formula(*args), rtol=1e-12)
        got = jax.grad(common.prospect_value, argnums=(0, 1, 2, 3))(*args)
        want = jax.grad(formula, argnums=(0, 1, 2, 3))(*args)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-12)
