"""AGENT — two-period dynamic contracts for federated AI-agent construction (Wen et al., AGENT; docs/models.md §3).

Edge server (ES) utility per period (eq. 6, 9): ``u = θ R − c T − E`` with per-round cost
``c = σ ρ_n Υ^Cre f²`` and fixed cost ``E = σ (ς Υ^Per D^Fea f² + P_n D^Agent / r_nc)``.
Model quality ``Q(T) = 1 − 2^(−T (2 − Lδ) δ ε / 2)`` (eqs. 41–42; eq. 1 prints ``2 − L``, which makes
quality negative — a recorded decision). Cloud: ``U = U¹ + β U²`` with
``U¹ = Σ_k p¹_k N (α Q(T¹_k) − R¹_k) − σ E_C`` and
``U² = Σ_k p¹_k Σ_j P[k, j] N (α Q(T²_{k,j}) − R²_{k,j}) − σ E_C``.

Menus are general: the second-period menu may depend on the first-period report ``k``
(``T2[k, j], R2[k, j]``); the paper's ``2K`` action is the case of equal rows.

Constraints (all evaluated directly): IR in both periods, IC in period 2 within every row,
and the intertemporal IC (eq. 37) in period 1 — a type-``k`` ES that reports ``k'`` gets row ``k'``
in period 2 while its second-period type is still drawn from its true row ``P[k, ·]``; there it
takes whichever item of row ``k'`` is best for it (the truthful item when row ``k'`` is IC).

Decisions (README): Theorem 4's printed ``Φ_j`` uses ``(1/θ²_j − 1/θ²_{l+1})`` and leaves the local
IIC slack; the derivation (and the paper's eq. B-7) gives ``(1/θ²_l − 1/θ²_{l+1})``, which is what
:func:`payments` implements (it binds the local downward IIC exactly). Table I's "10–23" is
``ς = 1e-23``; MB are 8e6 bits.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import core, optim
from contractjax.domain import NON_NEGATIVE, POSITIVE, PROBABILITY, REAL, WHOLE
from contractjax.scenarios import common
from contractjax.scenarios.base import Env, Menu, Parameterization, from_module

Array = jax.Array

DEFAULTS = {
    "N": 6.0,
    "K": 2,
    "theta1": [(15.0, 20.0), (20.0, 25.0)],
    "theta2": [(15.0, 20.0), (20.0, 25.0)],
    "sigma": (0.5, 1.0),
    "P_n_dbm": (20.0, 33.0),  # drawn in dBm, stored in W: 1e-3 · 10^(dBm/10)
    "r_nc_mbps": (1.0, 3.0),  # drawn in Mbit/s, stored in bit/s
    "E_C": (20.0, 25.0),  # J
    "alpha": 200.0,  # paper studies {200, 250}
    "beta": 0.5,  # paper studies {0, 0.5, 1}
    "lam": 0.01,
    "delta": 0.02,
    "L": 8.0,
    "epsilon": 2.0,
    "varsigma": 1e-23,  # Table I prints "10–23"
    "Upsilon_per": 100.0,  # cycles/bit
    "D_fea": 8e6,  # 1 MB in bits
    "f": 64e6,  # 64 MHz in Hz
    "rho_n": 1e-16,
    "Upsilon_cre": 120.0,  # cycles/bit
    "D_agent": 8e7,  # 10 MB in bits
    "dirichlet": 1.0,
}

#: Valid values of every sampler setting and environment field (checked wherever values enter).
DOMAIN = {
    "N": WHOLE, "K": WHOLE, "theta1": POSITIVE, "theta2": POSITIVE, "sigma": POSITIVE, "P_n_dbm": REAL,
    "r_nc_mbps": POSITIVE, "E_C": NON_NEGATIVE, "alpha": POSITIVE, "beta": NON_NEGATIVE, "lam": NON_NEGATIVE,
    "delta": POSITIVE, "L": POSITIVE, "epsilon": POSITIVE, "varsigma": NON_NEGATIVE, "Upsilon_per": NON_NEGATIVE,
    "D_fea": NON_NEGATIVE, "f": POSITIVE, "rho_n": POSITIVE, "Upsilon_cre": POSITIVE, "D_agent": NON_NEGATIVE,
    "dirichlet": POSITIVE, "P_n": POSITIVE, "r_nc": POSITIVE, "p1": PROBABILITY, "P": PROBABILITY,
}
#: Action box for rounds: T in [0, T_MAX]; the complete-information optimum over the default box
#: is at most ~73 rounds; report-dependent second periods can go above 100.
T_MAX = 150.0
#: Payment box: R in [0, MARGIN · (c T_MAX + E) / min θ].
MARGIN = 1.25
#: Interior-point iterations of the asymmetric oracle (converges to ~1e-10 well before).
IPM_ITERS = 60


def rate(env: Env) -> Array:
    """Quality exponent per round ``(2 − Lδ) δ ε / 2`` (0.0368 with Table I)."""
    return (2.0 - env["L"] * env["delta"]) * env["delta"] * env["epsilon"] / 2.0


def quality(env: Env, T: Array) -> Array:
    """``Q(T) = 1 − 2^(−rate · T)`` (eqs. 1, 41–42 with ``2 − Lδ``)."""
    return 1.0 - jnp.exp2(-rate(env) * T)


def unit_cost(env: Env) -> Array:
    """Per-round training cost ``c = σ ρ_n Υ^Cre f²`` (eq. 3)."""
    return env["sigma"] * env["rho_n"] * env["Upsilon_cre"] * env["f"] ** 2


def fixed_cost(env: Env) -> Array:
    """Per-period fixed cost ``E = σ (ς Υ^Per D^Fea f² + P_n D^Agent / r_nc)`` (eqs. 2, 4)."""
    return env["sigma"] * (env["varsigma"] * env["Upsilon_per"] * env["D_fea"] * env["f"] ** 2
                           + env["P_n"] * env["D_agent"] / env["r_nc"])


def period1_matrix(env: Env, menu: Menu) -> Array:
    """``u1[k, n] = θ¹_k R¹_n − c T¹_n − E``."""
    return env["theta1"][:, None] * menu["R1"][None, :] - unit_cost(env) * menu["T1"][None, :] - fixed_cost(env)


def period2_tensor(env: Env, menu: Menu) -> Array:
    """``u2[m, j, l] = θ²_j R²_{m,l} − c T²_{m,l} − E``: second-period type ``j`` taking item ``l``
    of the menu offered after first-period report ``m``."""
    c, E = unit_cost(env), fixed_cost(env)
    return env["theta2"][None, :, None] * menu["R2"][:, None, :] - c * menu["T2"][:, None, :] - E


def intertemporal_matrix(env: Env, menu: Menu) -> Array:
    """``W[k, k']``: expected two-period utility of a true first-period type ``k`` reporting ``k'``
    (eq. 37). The diagonal uses the designed items; off the diagonal the deviator takes its best
    item of row ``k'``."""
    u1 = period1_matrix(env, menu)
    u2 = period2_tensor(env, menu)
    best = jnp.max(u2, axis=2)  # [m, j]
    own = jnp.diagonal(u2, axis1=1, axis2=2)  # [m, j] = u2[m, j, j]
    beta, P = env["beta"], env["P"]
    W = u1 + beta * P @ best.T
    diag = jnp.diagonal(u1) + beta * jnp.sum(P * own, axis=1)
    K = u1.shape[0]
    return jnp.where(jnp.eye(K, dtype=bool), diag[:, None], W)


def constraints(env: Env, menu: Menu) -> core.Constraints:
    u2 = period2_tensor(env, menu)
    period2 = jax.vmap(lambda U: core.merge(core.ir(U, "IR2"), core.ic(U, "IC2")))(u2)
    return core.merge(core.ir(period1_matrix(env, menu), "IR1"), period2,
                      core.ic(intertemporal_matrix(env, menu), "IIC"))


def period_utilities(env: Env, menu: Menu) -> tuple[Array, Array]:
    """Cloud utilities ``(U¹, U²)`` (eqs. 41–42, with the report-dependent second period)."""
    N, a, p1, P = env["N"], env["alpha"], env["p1"], env["P"]
    overhead = env["sigma"] * env["E_C"]
    U1 = jnp.sum(p1 * N * (a * quality(env, menu["T1"]) - menu["R1"])) - overhead
    U2 = jnp.sum(p1[:, None] * P * N * (a * quality(env, menu["T2"]) - menu["R2"])) - overhead
    return U1, U2


def principal_utility(env: Env, menu: Menu) -> Array:
    U1, U2 = period_utilities(env, menu)
    return U1 + env["beta"] * U2


def agents_utility(env: Env, menu: Menu) -> Array:
    """Expected two-period utility of one ES, weighted by first-period type probabilities."""
    return jnp.sum(env["p1"] * jnp.diagonal(intertemporal_matrix(env, menu)))


def paper_reward(env: Env, menu: Menu, a: Array) -> Array:
    """Eq. (46): ``U¹ + β U² − λ Σ_i ã_i²`` with ``ã`` the raw (denoised) action."""
    return principal_utility(env, menu) - env["lam"] * jnp.sum(a**2)


def payments(env: Env, menu: Menu) -> Menu:
    """Theorem 2 in every second-period row (binding IR of the lowest type and local downward IC)
    and Theorem 4 in period 1 with the corrected ``Φ`` (binding IR¹ of type 1 and local downward
    IIC): ``R¹_k = R¹_{k−1} + c (T¹_k − T¹_{k−1})/θ¹_k + (β/θ¹_k) Σ_j P[k, j] (w_{k−1, j} − w_{k, j})``
    where ``w_{m, j}`` is the second-period rent of type ``j`` in row ``m``."""
    c, E = unit_cost(env), fixed_cost(env)
    th1, T1, T2 = env["theta1"], menu["T1"], menu["T2"]
    R2 = _theorem2(env, T2)
    w = _rents2(env, T2, R2)
    w_prev = jnp.concatenate([w[:1], w[:-1]])
    phi = env["beta"] / th1 * jnp.sum(env["P"] * (w_prev - w), axis=1)  # 0 for k = 1
    inc = c * jnp.diff(T1, prepend=0.0) / th1 + phi
    inc = inc.at[0].add(E / th1[0])
    return {"T1": T1, "R1": jnp.cumsum(inc), "T2": T2, "R2": R2}


def _static_rounds(env: Env, q: Array, theta: Array) -> Array:
    """Optimal rounds of a static screening problem (IR of type 1 and local downward IC binding):
    maximize ``Σ_i [q_i α Q(T_i) − c v_i T_i]`` with virtual cost weights
    ``v_i = Q̄_i/θ_i − Q̄_{i+1}/θ_{i+1}`` (``Q̄_i = Σ_{j≥i} q_j``), under ``0 <= T_1 <= … <= T_K``.
    First-order condition ``q_i α r ln2 2^(−r T) = c v_i``; ironing pools ``y_i = q_i α/(c v_i)``
    with weights ``c v_i``; the bound ``T >= 0`` is a clip of the pooled solution."""
    c, r = unit_cost(env), rate(env)
    Qbar = jnp.cumsum(q[::-1])[::-1]
    x = Qbar / theta
    v = x - jnp.append(x[1:], 0.0)
    y = core.isotonic(q * env["alpha"] / (c * v), c * v)
    return jnp.maximum(0.0, jnp.log2(y * r * jnp.log(2.0)) / r)


def _shared_optimum(env: Env) -> Menu:
    """Closed-form optimum over the paper's menus (one second-period menu for every report):
    the β terms of eq. (37) cancel, so the problem splits into two static screening problems,
    period 1 with ``(p¹, θ¹)`` and period 2 with ``(p² = p¹ P, θ²)``."""
    K = env["theta1"].shape[0]
    T1 = _static_rounds(env, env["p1"], env["theta1"])
    t2 = _static_rounds(env, env["p1"] @ env["P"], env["theta2"])
    return payments(env, {"T1": T1, "R1": T1, "T2": jnp.broadcast_to(t2, (K, K)), "R2": None})


def _pack(menu: Menu) -> Array:
    return jnp.concatenate([menu["T1"], menu["T2"].reshape(-1), menu["R1"], menu["R2"].reshape(-1)])


def _unpack(x: Array, K: int) -> Menu:
    s = np.cumsum([0, K, K * K, K, K * K])
    return {"T1": x[s[0]:s[1]], "T2": x[s[1]:s[2]].reshape(K, K), "R1": x[s[2]:s[3]], "R2": x[s[3]:s[4]].reshape(K, K)}


def _linear_slacks(env: Env, x: Array) -> Array:
    """Every IR¹, IR², IC², IIC slack and ``T >= 0`` as a function of the packed menu, linear in
    it: in the IIC a deviator takes the designed items of the row it reports into (its best
    items whenever IC² holds, which is among these constraints)."""
    K = env["theta1"].shape[0]
    m = _unpack(x, K)
    u1, u2 = period1_matrix(env, m), period2_tensor(env, m)
    own2 = jnp.diagonal(u2, axis1=1, axis2=2)
    W = u1 + env["beta"] * env["P"] @ own2.T
    W = jnp.where(jnp.eye(K, dtype=bool), (jnp.diagonal(u1) + env["beta"] * jnp.sum(env["P"] * own2, axis=1))[:, None], W)
    off = ~np.eye(K, dtype=bool)
    ic2 = (own2[:, :, None] - u2)[:, off]
    iic = (jnp.diagonal(W)[:, None] - W)[off]
    return jnp.concatenate([jnp.diagonal(u1), own2.reshape(-1), ic2.reshape(-1), iic, m["T1"], m["T2"].reshape(-1)])


def oracle(env: Env, info: str = "asymmetric") -> Menu:
    """Exact optimum over general menus (second-period menu may depend on the first-period report).

    Asymmetric: a concave objective (quality is concave in rounds, payments enter linearly)
    under linear constraints (:func:`_linear_slacks`), i.e. a convex program, solved by the
    primal–dual interior-point method of :func:`contractjax.optim.interior_point` from the
    closed-form optimum over the paper's shared second-period menus (:func:`_shared_optimum`),
    which is also returned if it is at least as good (report dependence helps when ``P``'s
    rows differ: period-2 payments then screen period-1 types; up to ~10 % here).
    Complete information: per type ``T = log2(α r ln2 θ / c)/r`` (clipped at 0) and
    ``R = (c T + E)/θ``.
    """
    K = env["theta1"].shape[0]
    c, E, r = unit_cost(env), fixed_cost(env), rate(env)
    if info == "complete":
        def rounds(th):
            return jnp.maximum(0.0, jnp.log2(env["alpha"] * r * jnp.log(2.0) * th / c) / r)

        T1, t2 = rounds(env["theta1"]), rounds(env["theta2"])
        T2 = jnp.broadcast_to(t2, (K, K))
        return {"T1": T1, "R1": (c * T1 + E) / env["theta1"], "T2": T2, "R2": (c * T2 + E) / env["theta2"][None, :]}
    shared = _shared_optimum(env)
    x0 = _pack(shared)
    h = _linear_slacks(env, jnp.zeros_like(x0))
    G = jax.jacfwd(lambda x: _linear_slacks(env, x))(x0)
    norm = jnp.linalg.norm(G, axis=1)
    A, b = -G / norm[:, None], h / norm  # slack = G x + h >= 0  <=>  A x <= b
    x = optim.interior_point(lambda x: principal_utility(env, _unpack(x, K)), A, b, x0, iters=IPM_ITERS)
    general = _unpack(x, K)
    general = {k: general[k] for k in ("T1", "R1", "T2", "R2")}
    better = core.feasible(constraints(env, general)) & (
        principal_utility(env, general) > principal_utility(env, shared))
    return jax.tree.map(lambda g, s_: jnp.where(better, g, s_), general, shared)


def random_menu(key: Array, env: Env) -> Menu:
    """Random sorted rounds in ``[0, T_MAX]``, one second-period menu for all reports, closed-form
    payments plus a random rent added to every payment of a period (IC and IIC kept)."""
    K = env["theta1"].shape[0]
    k1, k2, k3 = jax.random.split(key, 3)
    u = lambda k: jax.random.uniform(k, (K,), minval=-1.0, maxval=1.0)
    m = shared_to_menu(env, jnp.concatenate([u(k1), u(k2)]))
    d1, d2 = jax.random.uniform(k3, (2,)) * 0.1 * _r_max(env) / MARGIN
    return m | {"R1": m["R1"] + d1, "R2": m["R2"] + d2}


def _r_max(env: Env) -> Array:
    th = jnp.minimum(env["theta1"][0], env["theta2"][0])
    return MARGIN * (unit_cost(env) * T_MAX + fixed_cost(env)) / th


_CONSTANTS = ("N", "alpha", "beta", "lam", "delta", "L", "epsilon", "varsigma", "Upsilon_per", "D_fea", "f",
              "rho_n", "Upsilon_cre", "D_agent")


def sample(key: Array, dims: Mapping[str, int], config: Mapping) -> Env:
    K = int(dims["K"])
    ks = jax.random.split(key, 8)
    one = jnp.ones(())
    u = common.uniform_or_const
    env = common.scalars(key, config, _CONSTANTS, whole=("N",))
    env |= {
        "K": K * one,
        "sigma": u(ks[0], config["sigma"]),
        "P_n": 10.0 ** (u(ks[1], config["P_n_dbm"]) / 10.0) * 1e-3,
        "r_nc": u(ks[2], config["r_nc_mbps"]) * 1e6,
        "E_C": u(ks[3], config["E_C"]),
        "p1": common.dirichlet(ks[4], K, config["dirichlet"]),
        "theta1": common.draw_types(ks[5], config["theta1"], K),
        "theta2": common.draw_types(ks[6], config["theta2"], K),
        "P": common.dirichlet(ks[7], K, config["dirichlet"], shape=(K,)),
    }
    return {k: env[k] for k in SCENARIO.env_fields}


def check(env: Mapping[str, np.ndarray]) -> None:
    if np.any(np.asarray(env["L"]) * np.asarray(env["delta"]) >= 2.0):
        common.fail("delta", "must be below 2/L so that quality grows with training rounds (2 − Lδ > 0)",
                    "give delta < 2/L")
    common.check_sorted(env, "theta1", "theta2")
    common.check_probabilities(env, "p1")
    common.check_probabilities(env, "P", axes=-1)


def state(env: Env) -> Array:
    """Eq. (44) ``(N, K, σ, P_n, r_nc, E_C, p¹, θ¹, θ², P)`` (size ``6 + 3K + K²``) followed by
    ``α, β`` (constants of the paper's runs; in the state so that studies over them can be
    learned by one policy). ``P_n`` and ``r_nc`` enter in dBm and Mbit/s to keep magnitudes sane."""
    head = jnp.stack([env["N"], env["K"], env["sigma"], 10.0 * jnp.log10(env["P_n"] * 1e3), env["r_nc"] / 1e6,
                      env["E_C"]])
    return jnp.concatenate([head, env["p1"], env["theta1"], env["theta2"], env["P"].reshape(-1),
                            jnp.stack([env["alpha"], env["beta"]])])


def action_to_menu(env: Env, a: Array) -> Menu:
    """``a = (T1[K], R1[K], T2[K·K], R2[K·K])`` in ``[-1, 1]`` onto ``[0, T_MAX]`` and ``[0, R_max]``."""
    K = env["theta1"].shape[0]
    rm = _r_max(env)
    s = np.cumsum([0, K, K, K * K, K * K])
    return {"T1": common.box(a[s[0]:s[1]], T_MAX), "R1": common.box(a[s[1]:s[2]], rm),
            "T2": common.box(a[s[2]:s[3]], T_MAX).reshape(K, K), "R2": common.box(a[s[3]:s[4]], rm).reshape(K, K)}


def menu_to_action(env: Env, menu: Menu) -> Array:
    rm = _r_max(env)
    return jnp.concatenate([common.unbox(menu["T1"], T_MAX), common.unbox(menu["R1"], rm),
                            common.unbox(menu["T2"].reshape(-1), T_MAX), common.unbox(menu["R2"].reshape(-1), rm)])


#: Box of the per-row second-period rent ``δ`` of the report-dependent action, as a share of the
#: payment box.
DELTA_SHARE = 0.25


def _rents2(env: Env, T2: Array, R2: Array) -> Array:
    """Second-period rents ``w[m, j] = u2[m, j, j]`` of the truthful items (:func:`period2_tensor`)."""
    return jnp.diagonal(period2_tensor(env, {"T2": T2, "R2": R2}), axis1=1, axis2=2)


def _theorem2(env: Env, T2: Array) -> Array:
    """Theorem 2 payments in every row (binding IR of the lowest type, local downward IC)."""
    c, E, th2 = unit_cost(env), fixed_cost(env), env["theta2"]
    return E / th2[0] + jnp.cumsum(c * jnp.diff(T2, axis=1, prepend=0.0) / th2[None, :], axis=1)


def _unpaid1(env: Env, T1: Array) -> Array:
    """Period-1 utilities before payment, ``u1[k, k']`` of :func:`period1_matrix` at ``R¹ = 0``."""
    return period1_matrix(env, {"T1": T1, "R1": jnp.zeros_like(T1)})


def _iic_cost(env: Env, T1: Array, w: Array) -> Array:
    """Period-1 reporting costs in payment units: a true type ``k`` reporting ``k'`` gets
    ``θ¹_k (R¹_{k'} − cost[k, k'])`` over both periods (eq. 37 with IC rows, so the deviator takes
    its truthful item of row ``k'``): ``cost = −(u1(R¹ = 0) + β P wᵀ) / θ¹``; linear in the
    allocation ``(T¹, w)``."""
    return -(_unpaid1(env, T1) + env["beta"] * env["P"] @ w.T) / env["theta1"][:, None]


def _report_dependent(env: Env, T1: Array, T2: Array, delta: Array) -> Menu:
    """Rows ``T2`` (each sorted) paid by Theorem 2 plus ``δ_m`` (IR², IC² hold; the added rent
    shifts the whole row), period-1 payments the least that satisfy every IIC and IR¹
    (:func:`contractjax.core.minimal_payments` with the IR¹ floor ``(c T¹_k + E)/θ¹_k``); feasible
    whenever the period-1 allocation is implementable."""
    R2 = _theorem2(env, T2) + delta[:, None]
    cost = _iic_cost(env, T1, _rents2(env, T2, R2))
    floor = -jnp.diagonal(_unpaid1(env, T1)) / env["theta1"]  # IR¹: θ¹_k R¹_k ≥ c T¹_k + E
    return {"T1": T1, "R1": core.minimal_payments(cost, floor), "T2": T2, "R2": R2}


def efforts_to_menu(env: Env, a: Array) -> Menu:
    """Report-dependent, feasible by construction: ``a = (T1[K], S[K], D[K·K], d[K])``.

    Second-period row ``m`` is ``box(S + D_m)`` onto rounds in ``[0, T_MAX]``, sorted: a shared
    row ``S`` plus the deviation of report ``m``, so that ``D = 0`` is the paper's shared menu.
    Row rents ``δ_m = DELTA_SHARE · R_max · max(d_m, 0)²``: zero on half the action space.

    Period-1 rounds ``T1`` are sorted first (as in the shared form; left unsorted, a proposal's
    disorder shrank the repair's step for the whole menu, and training reached a 6.1 % gap on
    K = 2 instead of 1.1 %). The second-period allocation is repaired toward the shared-row
    anchor (every row the mean row, ``δ = 0``: one second-period menu, whose β terms cancel in
    every IIC cycle, so it is implementable) by the largest step at which no IIC cycle is negative
    (:func:`contractjax.core.implementable_step`; the reporting costs are linear in the
    allocation), then paid by :func:`_report_dependent`. An implementable proposal is unchanged.
    """
    K = env["theta1"].shape[0]
    T1 = jnp.sort(common.box(a[:K], T_MAX))
    rows = a[K:2 * K][None, :] + a[2 * K:2 * K + K * K].reshape(K, K)
    T2 = jnp.sort(common.box(rows, T_MAX), axis=1)
    delta = DELTA_SHARE * _r_max(env) * jnp.maximum(a[2 * K + K * K:], 0.0) ** 2
    T2a, da = jnp.broadcast_to(jnp.mean(T2, axis=0), (K, K)), jnp.zeros_like(delta)

    def cost(T2, d):
        return _iic_cost(env, T1, _rents2(env, T2, _theorem2(env, T2) + d[:, None]))

    t = core.implementable_step(cost(T2a, da), cost(T2, delta))
    mix = lambda x0, x1: x0 + t * (x1 - x0)
    return _report_dependent(env, T1, mix(T2a, T2), mix(da, delta))


def shared_to_menu(env: Env, a: Array) -> Menu:
    """The paper's ``2K`` action: ``a = (T1[K], T2[K])`` onto rounds in ``[0, T_MAX]``, each
    sorted ascending, one second-period menu for every report, Theorem 2/4 payments."""
    K = env["theta1"].shape[0]
    T1 = jnp.sort(common.box(a[:K], T_MAX))
    T2 = jnp.broadcast_to(jnp.sort(common.box(a[K:], T_MAX)), (K, K))
    return payments(env, {"T1": T1, "R1": T1, "T2": T2, "R2": T2})


SCENARIO = from_module(
    globals(),
    name="agent",
    description="two-period dynamic contracts for federated AI-agent construction (Wen et al.)",
    dims=("K",),
    env_fields={"N": (), "K": (), "sigma": (), "P_n": (), "r_nc": (), "E_C": (), "alpha": (), "beta": (), "lam": (),
                "delta": (), "L": (), "epsilon": (), "varsigma": (), "Upsilon_per": (), "D_fea": (), "f": (),
                "rho_n": (), "Upsilon_cre": (), "D_agent": (), "p1": ("K",), "theta1": ("K",), "theta2": ("K",),
                "P": ("K", "K")},
    menu_fields={"T1": ("K",), "R1": ("K",), "T2": ("K", "K"), "R2": ("K", "K")},
    defaults=DEFAULTS,
    roles=("cloud server", "edge server"),
    labels={"N": "number of edge servers N", "alpha": "α (value of model quality)", "beta": "discount of period 2 β",
            "E_C": "E_C (J)", "sigma": "unit energy cost σ"},
    domain=DOMAIN,
    action_size=lambda dims: 2 * int(dims["K"]) + 2 * int(dims["K"]) ** 2,
    effort_size=lambda dims: 3 * int(dims["K"]) + int(dims["K"]) ** 2,
    extra_parameterizations={"shared": Parameterization(
        lambda dims: 2 * int(dims["K"]), shared_to_menu,
        "the paper's 2K rounds: one second-period menu for every report")},
)
