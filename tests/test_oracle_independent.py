"""Oracles checked against independent numpy/scipy re-derivations of the models (docs/models.md).

Nothing in the reference implementations below calls the library's utility functions: utilities,
slacks and payments are re-derived from the papers' formulas, so a formula mistake in the library
(or in the oracle's reduction) shows up as a disagreement. The library is only used to sample
environments, to produce the oracle / greedy menus under test, to report its own numbers for
comparison and (AGENT, last test) to evaluate its closed-form payments.

Relative differences are taken against ``max(1, |reference|)`` (utilities can be near zero).
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

import contractjax as cj

#: Feasibility tolerance: slack >= -FEAS_TOL * max(1, |utilities involved|).
FEAS_TOL = 1e-6


def _rel(a, ref):
    return (a - ref) / max(1.0, abs(ref))


def _env(envs, i):
    return {k: np.asarray(v[i], dtype=np.float64) for k, v in envs.items()}


# ============================================================================ DT (docs/models.md §2)


def dt_principal(e, s, r):
    """``M Σ q_k (ϑ g(s_k) − r_k)``, ``g(s) = s^(1−β)/(1−β)`` (``log s`` at β = 1)."""
    beta = float(e["beta"])
    s = np.maximum(s, 0.0)
    g = np.log(np.maximum(s, 1e-300)) if beta == 1.0 else s ** (1.0 - beta) / (1.0 - beta)
    return float(e["M"] * np.sum(e["q"] * (e["vartheta"] * g - r)))


def dt_slacks(e, s, r):
    """IR slacks ``u_k(s_k, r_k)`` and IC slacks ``[k, n] = (ρψ_k r_k − c s_k) − (ρψ_k r_n − c s_n)``,
    plus the per-entry scale of the terms involved."""
    a = e["rho"] * e["psi"][:, None] * r[None, :]  # ρ ψ_k r_n
    b = e["c"] * s[None, :]  # c s_n
    V = a - b  # without c0 (cancels in IC)
    ir = np.diag(V) - e["c0"]
    ic = np.diag(V)[:, None] - V
    scale = np.maximum(1.0, np.abs(a) + np.abs(b) + np.diag(np.abs(a) + np.abs(b))[:, None])
    return ir, ic, scale


def dt_slsqp(e, rng, starts=3):
    """Full DT problem (every IR and IC, s, r >= 0) by SLSQP; ``s = 1e4 u²`` keeps the objective
    smooth at ``s = 0`` and ``r = 2e3 y``. Returns the best feasible value found."""
    K = e["q"].shape[0]
    S, RS = 1e4, 2e3
    off = ~np.eye(K, dtype=bool)

    def unpack(x):
        return S * x[:K] ** 2, RS * x[K:]

    def obj(x):
        return -dt_principal(e, *unpack(x)) / 1e4

    def cons(x):
        ir, ic, _ = dt_slacks(e, *unpack(x))
        return np.concatenate([ir, ic[off]]) / 1e3

    best = -np.inf
    for _ in range(starts):
        x0 = np.concatenate([np.sort(rng.uniform(0.05, 0.8, K)), np.sort(rng.uniform(0.05, 0.8, K))])
        res = minimize(obj, x0, method="SLSQP", bounds=[(0.0, None)] * (2 * K),
                       constraints=[{"type": "ineq", "fun": cons}], options={"maxiter": 500, "ftol": 1e-14})
        s, r = unpack(res.x)
        ir, ic, scale = dt_slacks(e, s, r)
        if min(ir.min(), ic.min()) >= -FEAS_TOL * scale.max():
            best = max(best, dt_principal(e, s, r))
    return best


@pytest.mark.parametrize("K", [2, 3])
def test_dt_oracle_matches_slsqp_and_numpy_utilities(K):
    envs = cj.sample_envs("dt", 8, seed={2: 2026, 3: 11}[K], dims={"K": K})
    menus = cj.oracle("dt", envs)
    if K == 3:  # coverage guard: the batch must exercise ironing (pooled data sizes)
        assert np.any(np.isclose(np.diff(menus["s"], axis=1), 0.0)), "no ironed menu in the batch; change the seed"
    ev = cj.evaluate("dt", envs, menus)
    rng = np.random.default_rng(K)
    worst_util = worst_slack = worst_gap = 0.0
    for i in range(8):
        e = _env(envs, i)
        s, r = menus["s"][i], menus["r"][i]
        u_or = float(ev["principal_utility"][i])
        # the library's numbers for the oracle menu equal the formulas
        worst_util = max(worst_util, abs(_rel(dt_principal(e, s, r), u_or)))
        ir, ic, scale = dt_slacks(e, s, r)
        worst_slack = max(worst_slack, float(np.max(np.abs(ev["slacks"]["IR"][i] - ir) / np.diag(scale))),
                          float(np.max(np.abs(ev["slacks"]["IC"][i] - ic) / scale)))
        assert min(ir.min(), ic.min()) >= -FEAS_TOL * scale.max(), f"env {i}: oracle menu infeasible"
        assert np.all(s >= 0) and np.all(r >= 0)
        # the oracle is the optimum of the full problem
        best = dt_slsqp(e, rng)
        assert np.isfinite(best), f"env {i}: SLSQP found no feasible menu"
        assert u_or >= best - 1e-4 * max(1.0, abs(best)), f"env {i}: oracle {u_or} < SLSQP {best}"
        assert abs(_rel(best, u_or)) <= 1e-3, f"env {i}: SLSQP {best} vs oracle {u_or}"
        worst_gap = max(worst_gap, abs(_rel(best, u_or)))
    assert worst_util <= 1e-9, worst_util
    assert worst_slack <= 1e-9, worst_slack
    print(f"DT K={K}: |SLSQP − oracle| rel ≤ {worst_gap:.2e}, utility ≤ {worst_util:.2e}, slacks ≤ {worst_slack:.2e}")


# ============================================================================ AIGC (docs/models.md §4)


def aigc_pt(e, u):
    d = u - e["U_ref"]
    gain = np.maximum(d, 0.0) ** e["zeta_plus"]
    loss = -e["eta"] * np.maximum(-d, 0.0) ** e["zeta_minus"]
    return np.where(d >= 0, gain, loss)


def aigc_eq50(e, L):
    """Eq. (50) payments for latencies ``L[..., K]``."""
    dL = np.diff(L, axis=-1, prepend=0.0)
    return e["a"] / (e["f"] * e["L_max"]) * np.cumsum(dL / e["theta"], axis=-1)


def aigc_value(e, L, R=None):
    """PT principal ``M Σ Q_k v(e1 θ_k^z1 + e2 (L_k/L_max)^z2 − R_k)``; ``R`` defaults to eq. (50)."""
    R = aigc_eq50(e, L) if R is None else R
    u = e["e1"] * e["theta"] ** e["z1"] + e["e2"] * (L / e["L_max"]) ** e["z2"] - R
    return e["M"] * np.sum(e["Q"] * aigc_pt(e, u), axis=-1)


_N_GRID = 201
_x = np.linspace(0.0, 1.0, _N_GRID)
_i1, _i2 = np.triu_indices(_N_GRID)
#: All 0 <= L1 <= L2 <= 1 on the grid (contains the exact corners (0,0), (0,1), (1,1)).
AIGC_GRID = np.stack([_x[_i1], _x[_i2]], axis=-1)


def aigc_grid_best(e, refine):
    """Best value on the 201×201 grid; with ``refine``, also on an 81×81 grid of ±2 cells around it."""
    v = aigc_value(e, AIGC_GRID * e["L_max"])
    j = int(np.argmax(v))
    best, arg = float(v[j]), AIGC_GRID[j]
    if refine:
        h = 2.0 / (_N_GRID - 1)
        a = np.clip(arg[0] + np.linspace(-h, h, 81), 0.0, 1.0)
        b = np.clip(arg[1] + np.linspace(-h, h, 81), 0.0, 1.0)
        A, B = np.meshgrid(a, b, indexing="ij")
        P = np.stack([A.ravel(), B.ravel()], axis=-1)
        P = P[P[:, 0] <= P[:, 1]]
        v2 = aigc_value(e, P * e["L_max"])
        k = int(np.argmax(v2))
        if v2[k] > best:
            best, arg = float(v2[k]), P[k]
    return best, arg


@pytest.mark.parametrize("config,tol", [
    (None, 1e-9),
    ({"eta": 2.0, "U_ref": 450.0}, 1e-9),
    ({"zeta_plus": 0.88, "zeta_minus": 0.88, "z2": 0.7}, 1e-3),
], ids=["paper-defaults", "eta2-Uref450", "zeta088-z2-07"])
def test_aigc_oracle_beats_brute_force_grid(config, tol):
    n = 200
    envs = cj.sample_envs("aigc", n, seed=31, config=config)
    menus = cj.oracle("aigc", envs)
    ev = cj.evaluate("aigc", envs, menus)
    K = envs["theta"].shape[1]
    assert K == 2
    smooth = tol > 1e-9  # non-default exponents: the optimum is interior, refine around the grid best
    gaps, args = np.empty(n), np.empty((n, 2))
    worst_util = worst_pay = 0.0
    for i in range(n):
        e = _env(envs, i)
        L, R = menus["L"][i], menus["R"][i]
        u_or = float(ev["principal_utility"][i])
        # the library's principal utility and payments equal the formulas
        worst_util = max(worst_util, abs(_rel(float(aigc_value(e, L, R)), u_or)))
        worst_pay = max(worst_pay, float(np.max(np.abs(R - aigc_eq50(e, L)))) / max(1.0, float(np.max(np.abs(R)))))
        # the menu is feasible (every IR and IC of U^A_k(L, R) = f θ_k R − a L / L_max) and in the box
        UA = e["f"] * e["theta"][:, None] * R[None, :] - e["a"] * L[None, :] / e["L_max"]
        scale = max(1.0, float(np.max(np.abs(e["f"] * e["theta"][:, None] * R[None, :]))))
        assert np.diag(UA).min() >= -FEAS_TOL * scale and (np.diag(UA)[:, None] - UA).min() >= -FEAS_TOL * scale
        assert np.all(L >= -1e-12) and np.all(L <= e["L_max"] * (1 + 1e-12)) and np.all(np.diff(L) >= -1e-9)
        best, args[i] = aigc_grid_best(e, refine=smooth)
        gaps[i] = _rel(u_or, best)  # > 0: oracle better than the grid
    assert worst_util <= 1e-9, worst_util
    assert worst_pay <= 1e-9, worst_pay
    w = int(np.argmin(gaps))
    print(f"AIGC {config}: min rel (oracle − grid) = {gaps[w]:.3e} (env {w}), max {gaps.max():.3e}, "
          f"{int(np.sum(gaps < -tol))} of {n} below −{tol:g}; utility ≤ {worst_util:.1e}")
    assert gaps[w] >= -tol, (
        f"env {w}: oracle {ev['principal_utility'][w]:.6g} at L/L_max = {menus['L'][w] / envs['L_max'][w]} is "
        f"{-gaps[w]:.3g} (relative) below the grid optimum at L/L_max = {args[w]}; {int(np.sum(gaps < -tol))} of {n} "
        f"environments "
        f"are more than {tol:g} below it")


# ============================================================================ AGENT (docs/models.md §3)


def agent_consts(e):
    """Per-round quality rate ``(2 − Lδ) δ ε / 2``, unit cost ``c = σ ρ_n Υ^Cre f²`` and fixed cost
    ``E = σ (ς Υ^Per D^Fea f² + P_n D^Agent / r_nc)``."""
    rate = (2.0 - e["L"] * e["delta"]) * e["delta"] * e["epsilon"] / 2.0
    c = e["sigma"] * e["rho_n"] * e["Upsilon_cre"] * e["f"] ** 2
    E = e["sigma"] * (e["varsigma"] * e["Upsilon_per"] * e["D_fea"] * e["f"] ** 2 + e["P_n"] * e["D_agent"] / e["r_nc"])
    return rate, c, E


def agent_principal(e, T1, R1, T2, R2):
    """``U¹ + β U²`` with ``U¹ = Σ p¹_k N (α Q(T¹_k) − R¹_k) − σ E_C`` and
    ``U² = Σ_k p¹_k Σ_j P[k, j] N (α Q(T²_{k,j}) − R²_{k,j}) − σ E_C``, ``Q(T) = 1 − 2^(−rate T)``."""
    rate, _, _ = agent_consts(e)

    def quality(T):
        return 1.0 - 2.0 ** (-rate * T)

    N, a, p1, P = e["N"], e["alpha"], e["p1"], e["P"]
    U1 = np.sum(p1 * N * (a * quality(T1) - R1)) - e["sigma"] * e["E_C"]
    U2 = np.sum(p1[:, None] * P * N * (a * quality(T2) - R2)) - e["sigma"] * e["E_C"]
    return float(U1 + e["beta"] * U2)


def agent_slacks(e, T1, R1, T2, R2):
    """Every IR¹, IR², IC² and IIC slack of a general menu (rows of ``T2, R2`` = first-period report).

    Per-period ES utility ``θ R − c T − E``. IIC: a true type ``k`` reporting ``k'`` gets period-1
    item ``k'`` and, in period 2 (type ``j`` drawn from ``P[k, ·]``), any item ``l_j`` of row ``k'``;
    one linear constraint per selection ``(l_j)_j`` (their max is the deviator's best)."""
    _, c, E = agent_consts(e)
    K = T1.shape[0]
    off = ~np.eye(K, dtype=bool)
    th1, th2, P, beta = e["theta1"], e["theta2"], e["P"], e["beta"]
    u1 = th1[:, None] * R1[None, :] - c * T1[None, :] - E  # [k, n]
    u2 = th2[None, :, None] * R2[:, None, :] - c * T2[:, None, :] - E  # [m, j, l]
    own2 = np.einsum("mjj->mj", u2)
    truth = np.diag(u1) + beta * np.sum(P * own2, axis=1)
    iic = [truth[k] - (u1[k, kp] + beta * sum(P[k, j] * u2[kp, j, sel[j]] for j in range(K)))
           for k in range(K) for kp in range(K) if kp != k for sel in itertools.product(range(K), repeat=K)]
    slack = np.concatenate([np.diag(u1), own2.ravel(), (own2[:, :, None] - u2)[:, off].ravel(), np.array(iic)])
    scale = max(1.0, float(np.abs(th1[:, None] * R1[None, :]).max()),
                float(np.abs(th2[None, :, None] * R2[:, None, :]).max()))
    return slack, scale


def _agent_solve(e, unpack, x0s):
    """SLSQP on the menu ``unpack(x)`` (scaled variables, all >= 0) under every agent_slacks constraint."""
    best, best_menu = -np.inf, None
    for x0 in x0s:
        res = minimize(lambda x: -agent_principal(e, *unpack(x)) / 100.0, x0, method="SLSQP",
                       bounds=[(0.0, None)] * x0.size,
                       constraints=[{"type": "ineq", "fun": lambda x: agent_slacks(e, *unpack(x))[0] / 100.0}],
                       options={"maxiter": 1000, "ftol": 1e-15})
        slack, scale = agent_slacks(e, *unpack(res.x))
        val = agent_principal(e, *unpack(res.x))
        if slack.min() >= -FEAS_TOL * scale and val > best:
            best, best_menu = val, unpack(res.x)
    return best, best_menu


TS, RS = 100.0, 200.0  # variable scales: rounds, payments


def agent_slsqp_shared(e, rng, starts=2):
    """Optimum over the paper's menus: ``T2[k, :] = t2``, ``R2[k, :] = r2`` for every report ``k``."""
    K = e["p1"].shape[0]

    def unpack(x):
        return (TS * x[:K], RS * x[K:2 * K], np.tile(TS * x[2 * K:3 * K], (K, 1)), np.tile(RS * x[3 * K:], (K, 1)))

    x0s = [np.concatenate([np.sort(rng.uniform(0.0, 0.9, K)), np.sort(rng.uniform(0.2, 1.0, K)),
                           np.sort(rng.uniform(0.0, 0.9, K)), np.sort(rng.uniform(0.2, 1.0, K))]) for _ in range(starts)]
    return _agent_solve(e, unpack, x0s)


def agent_slsqp_general(e, rng, shared_menu, starts=1):
    """Optimum over general menus (second-period menu may depend on the first-period report); a
    convex program (concave objective, linear constraints), started also from the shared optimum."""
    K = e["p1"].shape[0]
    n = K * K

    def unpack(x):
        return TS * x[:K], RS * x[K:2 * K], TS * x[2 * K:2 * K + n].reshape(K, K), RS * x[2 * K + n:].reshape(K, K)

    T1, R1, T2, R2 = shared_menu
    x0s = [np.concatenate([T1 / TS, R1 / RS, T2.ravel() / TS, R2.ravel() / RS])]
    x0s += [np.concatenate([np.sort(rng.uniform(0.0, 0.9, K)), np.sort(rng.uniform(0.2, 1.0, K)),
                            np.sort(rng.uniform(0.0, 0.9, (K, K)), axis=1).ravel(),
                            np.sort(rng.uniform(0.2, 1.0, (K, K)), axis=1).ravel()]) for _ in range(starts)]
    return _agent_solve(e, unpack, x0s)


#: AGENT batch size (one size for every AGENT batch here, so that compiled functions are reused).
N_AGENT = 6


def test_agent_oracle_matches_slsqp():
    n = N_AGENT
    envs = cj.sample_envs("agent", n, seed=77)
    menus = cj.oracle("agent", envs)
    ev = cj.evaluate("agent", envs, menus)
    rng = np.random.default_rng(5)
    # the first oracle searched only the paper's shared second-period menus; since d2dd3b4 it searches
    # report-dependent menus (which beat shared ones by up to ~6 % here): compare with the optimum of
    # the space the oracle covers (it covers the general one as soon as any menu has differing rows)
    general = bool(np.any(np.abs(menus["T2"] - menus["T2"][:, :1, :]) > 1e-9 * TS))
    rows = []
    for i in range(n):
        e = _env(envs, i)
        m = tuple(menus[k][i] for k in ("T1", "R1", "T2", "R2"))
        u_or = float(ev["principal_utility"][i])
        assert abs(_rel(agent_principal(e, *m), u_or)) <= 1e-9, f"env {i}: principal utility formula differs"
        slack, scale = agent_slacks(e, *m)
        assert slack.min() >= -FEAS_TOL * scale, f"env {i}: oracle menu violates a constraint by {-slack.min():.3g}"
        assert all(np.all(x >= 0) for x in m)
        shared, shared_menu = agent_slsqp_shared(e, rng)
        full, _ = agent_slsqp_general(e, rng, shared_menu)
        assert np.isfinite(shared) and np.isfinite(full), f"env {i}: SLSQP found no feasible menu"
        rows.append((u_or, shared, full))
        # at least as good as the best shared menu, never better than the best general menu
        assert u_or >= shared - 1e-4 * max(1.0, abs(shared)), f"env {i}: oracle {u_or} < shared SLSQP {shared}"
        assert u_or <= full + 1e-4 * max(1.0, abs(full)), f"env {i}: oracle {u_or} > general optimum {full}"
        ref = full if general else shared
        assert abs(_rel(ref, u_or)) <= 1e-3, (
            f"env {i}: oracle {u_or} vs SLSQP {ref} over {'general' if general else 'shared'} menus "
            f"(shared optimum {shared}, general optimum {full})")
    r = np.array(rows)
    print(f"AGENT (oracle over {'general' if general else 'shared'} menus): max |shared − oracle| rel "
          f"{np.max(np.abs(r[:, 1] - r[:, 0]) / np.maximum(1, np.abs(r[:, 0]))):.2e}, max |general − oracle| rel "
          f"{np.max(np.abs(r[:, 2] - r[:, 0]) / np.maximum(1, np.abs(r[:, 0]))):.2e}")


def test_agent_payments_bind_reduced_constraints_with_report_dependent_rounds():
    """K = 2 only: a K = 3 batch costs another ~5 s of sampler compilation (checked once by hand:
    binding to ~3e-13 as well)."""
    n = N_AGENT
    envs = cj.sample_envs("agent", n, seed=91)
    K = envs["p1"].shape[1]
    rng = np.random.default_rng(K)
    T1 = np.sort(rng.uniform(0.0, 80.0, (n, K)), axis=1)
    T2 = np.empty((n, K, K))
    T2[:, 0] = np.sort(rng.uniform(0.0, 60.0, (n, K)), axis=1)
    for k in range(1, K):  # sorted increments keep every row sorted; rows grow with the report
        T2[:, k] = T2[:, k - 1] + np.sort(rng.uniform(1.0, 15.0, (n, K)), axis=1)
    sc = cj.scenarios.get("agent")

    def one(e, t1, t2):
        m = sc.payments(e, {"T1": t1, "R1": t1, "T2": t2, "R2": t2})
        c = sc.constraints(e, m)
        return m, c.slack, c.scale

    with jax.enable_x64(True):
        e64 = {k: jnp.asarray(v, jnp.float64) for k, v in envs.items()}
        m, slack, scale = jax.jit(jax.vmap(one))(e64, jnp.asarray(T1), jnp.asarray(T2))
    s = {k: np.asarray(v) / np.asarray(scale[k]) for k, v in slack.items()}
    assert np.array_equal(np.asarray(m["T2"]), T2) and np.array_equal(np.asarray(m["T1"]), T1)
    binding = [s["IR1"][:, 0]]
    binding += [s["IR2"][:, r, 0] for r in range(K)]
    binding += [s["IC2"][:, r, j, j - 1] for r in range(K) for j in range(1, K)]
    binding += [s["IIC"][:, k, k - 1] for k in range(1, K)]
    worst = float(np.max(np.abs(np.stack(binding))))
    print(f"AGENT K={K} report-dependent rounds: worst |binding slack| / scale = {worst:.2e}")
    assert worst < 1e-7


# ============================================================================ TWIN (docs/models.md §5)


def twin_cost(e, b, f):
    """``cost[..., k, j] = b_j²/θ_{m_k} + f_j²/σ_{n_k}``; types flattened row-major ``k = m N + n``."""
    M, N = e["theta"].shape[0], e["sigma"].shape[0]
    inv_t = np.repeat(1.0 / e["theta"], N)
    inv_s = np.tile(1.0 / e["sigma"], M)
    return inv_t[:, None] * b[..., None, :] ** 2 + inv_s[:, None] * f[..., None, :] ** 2


def twin_least_payments(e, b, f):
    """Bellman–Ford: ``R_k = max(cost_k(own), max_j R_j + cost_k(own) − cost_k(item j))`` to the
    fixed point; returns the payments and whether every IR/IC then holds (no positive cycle)."""
    C = twin_cost(e, b, f)
    own = np.diagonal(C, axis1=-2, axis2=-1)
    gain = own[..., :, None] - C
    R = own.copy()
    for _ in range(own.shape[-1] + 2):
        R_new = np.maximum(own, np.max(R[..., None, :] + gain, axis=-1))
        if np.array_equal(R_new, R):
            break
        R = R_new
    V = R[..., None, :] - C  # V[k, j]: type k taking item j
    mine = np.diagonal(V, axis1=-2, axis2=-1)
    scale = np.maximum(1.0, np.max(np.abs(R), axis=-1))
    ok = (mine.min(axis=-1) >= -1e-9 * scale) & ((mine[..., :, None] - V).min(axis=(-2, -1)) >= -1e-9 * scale)
    return R, ok


def twin_principal(e, b, f, R):
    """``Σ H(Q) v(U)`` with ``U = α b ln(1 + p g/(b N0)) ln(max(1, D_res v_fps (ζ1 S b + ζ2 μ f²)/T_th))
    − β c_lat d b − R`` (flattened types)."""
    p, g, mu, c_lat, d, Q = (e[k].ravel() for k in ("p", "g", "mu", "c_lat", "d", "Q"))
    rate = np.where(b > 0, b * np.log1p(p * g / (np.maximum(b, 1e-300) * e["N0"])), 0.0)
    x = e["D_res"] * e["v_fps"] * (e["zeta1"] * e["S"] * b + e["zeta2"] * mu * f ** 2) / e["T_th"]
    U = e["alpha"] * rate * np.log(np.maximum(x, 1.0)) - e["beta"] * c_lat * d * b - R
    dd = U - e["U_ref"]
    v = np.where(dd >= 0, np.maximum(dd, 0.0) ** e["delta_plus"], -e["kappa"] * np.maximum(-dd, 0.0) ** e["delta_minus"])
    H = np.where(Q > 0, np.exp(-((-np.log(np.clip(Q, 1e-300, 1.0))) ** e["w_alpha"])), 0.0)
    return np.sum(H * v, axis=-1)


def twin_value(e, X):
    """Principal utility with least payments for allocations ``X[..., 2K] = (b, f)``; -inf if not
    implementable."""
    K = X.shape[-1] // 2
    b, f = X[..., :K], X[..., K:]
    R, ok = twin_least_payments(e, b, f)
    return np.where(ok, twin_principal(e, b, f, R), -np.inf)


def twin_local_search(e, x0, rng, box, rounds, trials=1000):
    """Hill climbing on (b, f) from the oracle's allocation: per round, random multiplicative
    perturbations of up to ±5 %, ±1 % and ±0.2 % around the current point (zero entries get
    additive nudges of up to 5 % of their group's largest entry) and coordinate moves; the best
    candidate is taken while it improves. With ``box`` every candidate is clipped to within
    ``±box`` of the oracle's allocation (zero entries to ``[0, box · group max]``), so anything
    found is a ``±box`` perturbation of the oracle. Returns the best value."""
    K = x0.size // 2
    nudge = np.concatenate([np.full(K, 0.05 * max(1.0, x0[:K].max())), np.full(K, 0.05 * max(1.0, x0[K:].max()))])
    if box is None:
        lo, hi = np.zeros_like(x0), np.full_like(x0, np.inf)
    else:
        lo = x0 * (1.0 - box)
        hi = np.where(x0 > 0, x0 * (1.0 + box), nudge * box / 0.05)
    steps = np.array([0.05, 0.02, 0.01, 0.005, 0.001, 1e-4])
    x, best = x0, float(twin_value(e, x0))
    for _ in range(rounds):
        cands = []
        for amp in (0.05, 0.01, 0.002):
            X = x * (1.0 + rng.uniform(-amp, amp, (trials, x.size)))
            X += (x <= 0) * rng.uniform(0.0, amp / 0.05, (trials, x.size)) * nudge
            cands.append(X)
        for j in range(x.size):
            for s in np.concatenate([steps, -steps]):
                y = x.copy()
                y[j] = y[j] * (1.0 + s) if y[j] > 0 else max(0.0, s) * nudge[j]
                cands.append(y[None])
        X = np.clip(np.concatenate(cands), lo, hi)
        v = twin_value(e, X)
        k = int(np.argmax(v))
        if v[k] <= best:
            break
        x, best = X[k], float(v[k])
    return best


@pytest.fixture(scope="module")
def twin_case():
    envs = cj.sample_envs("twin", 20, seed=4004)
    menus = cj.oracle("twin", envs)
    return envs, menus, cj.evaluate("twin", envs, menus)


def test_twin_oracle_is_locally_optimal_and_matches_numpy(twin_case):
    envs, menus, ev = twin_case
    rng = np.random.default_rng(44)
    n = envs["Q"].shape[0]
    improvements, far = np.empty(n), np.empty(n)
    worst_util = worst_pay = 0.0
    for i in range(n):
        e = _env(envs, i)
        b, f, R = (menus[k][i].ravel() for k in ("b", "f", "R"))
        u_or = float(ev["principal_utility"][i])
        worst_util = max(worst_util, abs(_rel(float(twin_principal(e, b, f, R)), u_or)))
        R_least, ok = twin_least_payments(e, b, f)
        assert ok, f"env {i}: oracle allocation is not implementable"
        worst_pay = max(worst_pay, float(np.max(np.abs(R - R_least))) / max(1.0, float(np.max(np.abs(R)))))
        assert np.all(b >= 0) and np.all(f >= 0)
        x0 = np.concatenate([b, f])
        improvements[i] = _rel(twin_local_search(e, x0, rng, box=0.05, rounds=10), u_or)
        # unrestricted climbing (may leave the ±5 % box): reaches other local optima
        far[i] = _rel(twin_local_search(e, x0, rng, box=None, rounds=10), u_or)
    assert worst_util <= 1e-9, worst_util
    assert worst_pay <= 1e-9, f"oracle payments are not the least IR/IC payments: {worst_pay}"
    w, wf = int(np.argmax(improvements)), int(np.argmax(far))
    print(f"TWIN: largest improvement within ±5 %: {improvements[w]:.3e} (env {w}); by unrestricted climbing "
          f"{far[wf]:.3e} (env {wf}); utility ≤ {worst_util:.1e}, payments ≤ {worst_pay:.1e}")
    # the least rents' derivative along the settled tree (core.least_rents) made the search 3x more accurate
    # against scripts/twin_search.py's reference (mean 5.4e-5 -> 1.8e-5, largest 0.48 % -> 0.14 %), and moved
    # one of these 20 environments to a local optimum 0.13 % below a ±5 % perturbation
    assert improvements[w] <= 2e-3, f"env {w}: a feasible ±5 % perturbation improves the oracle by {improvements[w]:.3g}"
    # a multi-start oracle may miss the global optimum by a little (scripts/twin_search.py measures ≤ 0.48 %
    # against a much longer search); more than 1 % is a regression
    assert far[wf] <= 1e-2, f"env {wf}: a feasible allocation improves the oracle by {far[wf]:.3g}"


def test_twin_oracle_beats_greedy(twin_case):
    envs, menus, ev = twin_case
    greedy = cj.baseline_menus("twin", envs, "greedy")
    gev = cj.evaluate("twin", envs, greedy)
    feas = gev["feasible"].astype(bool)
    assert feas.any()
    u, g = ev["principal_utility"][feas], gev["principal_utility"][feas]
    assert np.all(u >= g - 1e-9 * np.maximum(1.0, np.abs(g))), np.min(u - g)
    # greedy's own number agrees with the formula too
    for i in np.flatnonzero(feas)[:5]:
        e = _env(envs, i)
        val = twin_principal(e, *(greedy[k][i].ravel() for k in ("b", "f", "R")))
        assert abs(_rel(float(val), float(gev["principal_utility"][i]))) <= 1e-9
    print(f"TWIN greedy feasible in {int(feas.sum())}/{feas.size}; oracle gain over greedy "
          f"min {np.min((u - g) / np.maximum(1, np.abs(g))):.3e}")


@pytest.mark.parametrize("dims", [{"M": 1, "N": 1}, {"M": 3, "N": 2}])
def test_twin_oracle_on_other_type_grids_is_feasible_and_never_below_greedy(dims):
    """The search keeps its starts as candidates, so it never ends below the complete-information
    allocation with least rents (the greedy contract), on any type grid; with one type the two
    coincide (no IC constraint)."""
    envs = cj.sample_envs("twin", 30, seed=7, config=dims)
    ev = cj.evaluate("twin", envs, cj.oracle("twin", envs))
    gev = cj.evaluate("twin", envs, cj.baseline_menus("twin", envs, "greedy"))
    assert ev["feasible"].all()
    feas = gev["feasible"].astype(bool)
    u, g = ev["principal_utility"][feas], gev["principal_utility"][feas]
    assert np.all(u >= g - 1e-9 * np.maximum(1.0, np.abs(g))), np.min(u - g)
    if dims == {"M": 1, "N": 1}:
        np.testing.assert_allclose(u, g, rtol=1e-9)
