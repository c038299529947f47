"""TWIN — multi-dimensional PT contracts for AI-twin migration (Zhong et al., TWIN; docs/models.md §5).

An RSU of type ``(m, n)`` (bandwidth cost type ``θ_m``, computation cost type ``σ_n``) taking the item
of type ``(p, q)`` gets ``V = R_pq − b_pq²/θ_m − f_pq²/σ_n`` (eqs. 14, 25). The AV gets, from
type ``(m, n)``, ``U = α M − β D − R`` (eq. 21) with immersion ``M = r · t`` (eq. 19),
rate ``r = b ln(1 + p g / (b N0))`` (eq. 17), rendering ``t = ln(D v (ζ1 S b + ζ2 μ f²) / T_th)``
(eq. 18) and latency ``D = c d b`` (eq. 20); the principal maximizes
``Σ H(Q_mn) v(U_mn)`` with Prelec weighting ``H(P) = exp(−(−ln P)^w_alpha)`` (eq. 2) and the PT
value ``v`` of eq. (23).

Decisions (README "TWIN constants"):

* Constants the paper does not give — chosen so that every type's optimum is interior with
  utilities of order 10–1000 over the whole default box: ``α = 0.2``, ``β = 1``,
  ``ζ1 = ζ2 = 0.5``, ``μ = 1``, ``c = 1e-3`` per MHz per metre, ``d ~ U[100, 500]`` m,
  ``T_th = D v`` (so ``t = ln(ζ1 S b + ζ2 μ f²)``), ``δ± = 1``, ``w_alpha = 1`` (eq. 24 has no
  weighting). Per-type complete-information utilities span ~23–1036 on 2,000 default
  environments; at ``α = 0.1`` some low-cost types' optimum is already ``b = f = 0``
  (``scripts/oracle_accuracy.py``).
* Units: ``b`` in MHz, ``f`` in units of 0.1 GHz, ``p`` in W, ``g`` a linear power gain, ``N0`` the
  noise power per MHz (``−95 dBm/Hz`` → ``3.162e-7`` W/MHz), so that the SNR is ``p g / (b N0)``.
* ``t = ln(max(x, 1))``: no immersion below the rendering threshold (the printed log would go
  negative there and make immersion negative); identical to eq. (18) wherever ``x >= 1``.
* Theorem 1's rents violate IC for the edge types (``m = 1`` or ``n = 1``) and Lemma 5 omits the
  anti-diagonal pairs, so payments are the *least* rents that satisfy every IR and IC
  (:func:`contractjax.core.minimal_payments`); this equals Theorem 1 for type (M, N).
* The policy's state adds the per-type channel ``p, g, d`` and ``S`` to eq. (37)'s, which omits
  them although the optimum depends on them.
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

DBM = lambda x: 10.0 ** (np.asarray(x) / 10.0) * 1e-3  # dBm -> W
DB = lambda x: 10.0 ** (np.asarray(x) / 10.0)  # dB -> linear power ratio

DEFAULTS = {
    "L": 5.0,
    "M": 2,
    "N": 2,
    "theta": [(10.0, 100.0), (100.0, 200.0)],
    "sigma": [(10.0, 100.0), (100.0, 200.0)],
    "U_ref": 10.0,
    "kappa": 0.5,
    "delta_plus": 1.0,
    "delta_minus": 1.0,
    "w_alpha": 1.0,
    "alpha": 0.2,
    "beta": 1.0,
    "zeta1": 0.5,
    "zeta2": 0.5,
    "S": (1.0, 3.0),
    "D_res": 2160.0 * 1200.0,  # pixels
    "v_fps": 90.0,
    "T_th": 2160.0 * 1200.0 * 90.0,  # = D v: rendering threshold
    "N0": float(DBM(-95.0)) * 1e6,  # -95 dBm/Hz as W per MHz of bandwidth
    "p_dbm": (20.0, 25.0),  # transmit power, drawn in dBm, stored in W
    "g_db": (-25.0, -22.0),  # channel power gain, drawn in dB, stored linear
    "mu": 1.0,
    "c_lat": 1e-3,  # latency per MHz per metre
    "d": (100.0, 500.0),  # metres
    "dirichlet": 1.0,
}

#: Valid values of every sampler setting and environment field (checked wherever values enter).
DOMAIN = {
    "L": NON_NEGATIVE, "M": WHOLE, "N": WHOLE, "theta": POSITIVE, "sigma": POSITIVE, "U_ref": REAL,
    "kappa": NON_NEGATIVE, "delta_plus": POSITIVE, "delta_minus": POSITIVE, "w_alpha": POSITIVE,
    "alpha": NON_NEGATIVE, "beta": NON_NEGATIVE, "zeta1": NON_NEGATIVE, "zeta2": NON_NEGATIVE, "S": POSITIVE,
    "D_res": POSITIVE, "v_fps": POSITIVE, "T_th": POSITIVE, "N0": POSITIVE, "p_dbm": REAL, "g_db": REAL,
    "mu": POSITIVE, "c_lat": NON_NEGATIVE, "d": NON_NEGATIVE, "dirichlet": POSITIVE, "p": POSITIVE, "g": POSITIVE,
    "Q": PROBABILITY,
}
#: Action box (b in MHz, f in 0.1 GHz, R): over the default box every optimum has b <= ~380,
#: f <= ~210 and payments below ~1500.
B_MAX, F_MAX, R_MAX = 600.0, 300.0, 3000.0
#: Oracle: projected-Adam steps per start, and random separable starts beside the scaled
#: complete-information ones.
#: (Measured against 2,000 steps × 49 starts on 300 environments by scripts/twin_search.py: mean
#: shortfall 1.8e-5, largest 0.14 %; the shortfalls are other local optima, so starts buy more
#: than steps.) ``CI_STEPS``: the complete-information allocation's ascent (cheap: one start).
STEPS, RANDOM_STARTS = 250, 24
CI_SCALES = (1.0, 0.6)
CI_STEPS = 500
#: Weight of the rents' relative positive-cycle residual in the oracle's objective (only
#: non-implementable allocations have any; :func:`_search_objective`).
PENALTY = 1e4


def _flat(x: Array) -> Array:
    return x.reshape(-1)


def cost_matrix(env: Env, b: Array, f: Array) -> Array:
    """``cost[k, j] = b_j²/θ_{m_k} + f_j²/σ_{n_k}`` over flattened types ``k = m N + n``.

    ``b`` and ``f`` are ``[M, N]``, or ``[M, N, P]`` for ``P`` allocations at once (then
    ``cost[k, j, P]``)."""
    M, N = env["theta"].shape[0], env["sigma"].shape[0]
    batch = b.shape[2:]
    column = (M * N, 1) + (1,) * len(batch)
    inv_t = jnp.repeat(1.0 / env["theta"], N).reshape(column)
    inv_s = jnp.tile(1.0 / env["sigma"], M).reshape(column)
    return inv_t * b.reshape((1, M * N) + batch) ** 2 + inv_s * f.reshape((1, M * N) + batch) ** 2


def own_cost(env: Env, b: Array, f: Array) -> Array:
    """Each type's cost of its own item, ``[M, N]`` (the diagonal of :func:`cost_matrix`)."""
    return jnp.diagonal(cost_matrix(env, b, f)).reshape(b.shape)


def utility_matrix(env: Env, menu: Menu) -> Array:
    """``U[k, j] = R_j − b_j²/θ_{m_k} − f_j²/σ_{n_k}`` (eq. 25), types flattened row-major."""
    return _flat(menu["R"])[None, :] - cost_matrix(env, menu["b"], menu["f"])


def constraints(env: Env, menu: Menu) -> core.Constraints:
    return core.ir_ic(utility_matrix(env, menu))


def av_utility(env: Env, menu: Menu) -> Array:
    """Per-type AV utility ``U_mn = α r t − β c d b − R`` (eqs. 17–21), shape ``[M, N]``."""
    b = jnp.maximum(menu["b"], 0.0)
    f = jnp.maximum(menu["f"], 0.0)
    snr_b = env["p"] * env["g"] / env["N0"]  # = b · SNR
    safe_b = jnp.maximum(b, 1e-12)
    rate = jnp.where(b > 0, b * jnp.log1p(snr_b / safe_b), 0.0)
    x = env["D_res"] * env["v_fps"] * (env["zeta1"] * env["S"] * b + env["zeta2"] * env["mu"] * f**2) / env["T_th"]
    t = jnp.log(jnp.maximum(x, 1.0))
    return env["alpha"] * rate * t - env["beta"] * env["c_lat"] * env["d"] * b - menu["R"]


def pt_value(env: Env, u: Array) -> Array:
    """Eq. (23) with a scalar reference point ``U_ref`` and loss aversion ``κ``."""
    return common.prospect_value(u - env["U_ref"], env["delta_plus"], env["delta_minus"], env["kappa"])


def weights(env: Env) -> Array:
    """Prelec weighting ``H(Q) = exp(−(−ln Q)^w_alpha)`` (eq. 2); ``H(Q) = Q`` at ``w_alpha = 1``."""
    q = jnp.clip(env["Q"], 1e-300, 1.0)
    return jnp.where(env["Q"] > 0, jnp.exp(-((-jnp.log(q)) ** env["w_alpha"])), 0.0)


def principal_utility(env: Env, menu: Menu) -> Array:
    return jnp.sum(weights(env) * pt_value(env, av_utility(env, menu)))


def agents_utility(env: Env, menu: Menu) -> Array:
    return jnp.sum(_flat(env["Q"]) * jnp.diagonal(utility_matrix(env, menu)))


def paper_reward(env: Env, menu: Menu, a: Array) -> Array:
    """Eq. (43): ``U^PT + Σ V^{mn}_{mn} + Σ_{mn} Σ_{i≠m, j≠n} (V^{mn}_{mn} − V^{ij}_{mn})`` — the
    deviation sum taken literally over items whose *both* indices differ. Not gated on
    feasibility, and increasing in every payment (so a policy trained on it with payments in
    the action pays the upper bound; see README)."""
    del a
    M, N = env["theta"].shape[0], env["sigma"].shape[0]
    U = utility_matrix(env, menu)
    own = jnp.diagonal(U)
    mi, ni = jnp.repeat(jnp.arange(M), N), jnp.tile(jnp.arange(N), M)
    both = (mi[:, None] != mi[None, :]) & (ni[:, None] != ni[None, :])
    dev = jnp.sum(jnp.where(both, own[:, None] - U, 0.0))
    return principal_utility(env, menu) + jnp.sum(own) + dev


def payments(env: Env, menu: Menu) -> Menu:
    """Least payments that satisfy every IR and IC for the menu's ``(b, f)`` (longest path)."""
    R = core.minimal_payments(cost_matrix(env, menu["b"], menu["f"]))
    return {"b": menu["b"], "f": menu["f"], "R": R.reshape(menu["b"].shape)}


def _complete_alloc(env: Env) -> tuple[Array, Array]:
    """Per-type allocation maximizing ``U_mn`` with ``R = b²/θ_m + f²/σ_n`` (complete information;
    ``v`` is increasing, so maximizing ``U`` maximizes ``v(U)``). Smooth, one start per type from
    a point inside the rendering region, projected Adam with a decaying step."""
    M, N = env["theta"].shape[0], env["sigma"].shape[0]

    def u(x):
        b, f = x[: M * N].reshape(M, N), x[M * N :].reshape(M, N)
        return jnp.sum(av_utility(env, {"b": b, "f": f, "R": own_cost(env, b, f)}))  # separable across types

    # start at (θ_m/2, σ_n/2): inside the rendering region, near the typical optimum's scale
    x0 = 0.5 * jnp.concatenate([jnp.repeat(env["theta"], N), jnp.tile(env["sigma"], M)])
    x, _ = _ascent(u, x0, CI_STEPS)
    return x[: M * N].reshape(M, N), x[M * N :].reshape(M, N)


def _box(x: Array) -> Array:
    n = x.shape[0] // 2
    return jnp.concatenate([jnp.clip(x[:n], 0.0, B_MAX), jnp.clip(x[n:], 0.0, F_MAX)])


def _ascent(fn, x0: Array, steps: int = STEPS) -> tuple[Array, Array]:
    """Projected Adam on the (b, f) box (steps from 2 % of the box, cosine-decayed)."""
    n = x0.shape[0] // 2
    scale = jnp.concatenate([jnp.full(n, B_MAX), jnp.full(n, F_MAX)])
    return optim.projected_ascent(fn, x0, _box, scale, steps)


def _separable_alloc(key: Array, env: Env, hi_b: Array, hi_f: Array) -> tuple[Array, Array]:
    """Random allocation with ``b`` depending on ``m`` only and ``f`` on ``n`` only, each sorted:
    the 2-D screening problem splits into two 1-D ones, so it is always implementable."""
    M, N = env["theta"].shape[0], env["sigma"].shape[0]
    k1, k2 = jax.random.split(key)
    bm = jnp.sort(jax.random.uniform(k1, (M,))) * hi_b
    fn = jnp.sort(jax.random.uniform(k2, (N,))) * hi_f
    return jnp.broadcast_to(bm[:, None], (M, N)), jnp.broadcast_to(fn[None, :], (M, N))


def oracle(env: Env, info: str = "asymmetric") -> Menu:
    """Optimal menu by multi-start projected ascent (the problem is non-convex).

    Complete information: per type, :func:`_complete_alloc` with ``R`` = cost. Asymmetric:
    :func:`search` with its defaults.
    """
    if info == "complete":
        b_ci, f_ci = _complete_alloc(env)
        return {"b": b_ci, "f": f_ci, "R": own_cost(env, b_ci, f_ci)}
    return search(env)


def search(env: Env, random_starts: int = RANDOM_STARTS, ci_scales: tuple[float, ...] = CI_SCALES,
           phases: tuple[tuple[int | None, int], ...] = ((None, STEPS),), extra: Menu | None = None) -> Menu:
    """The asymmetric-information search. The payments are the least rents (:func:`payments`),
    so it runs over ``(b, f)`` only, from the complete-information allocation scaled by
    ``ci_scales`` and ``random_starts`` random separable allocations, maximizing
    :func:`_search_objective`. Each phase ``(keep, steps)`` keeps the ``keep`` best points
    (``None``: all) and runs ``steps`` projected Adam steps from them; the best feasible end
    point or start, paid its least rents in the environment's precision, wins. (Cheaper and longer
    settings are measured by ``scripts/twin_search.py``.) ``extra``: a menu whose allocation joins
    the starts (warm starts from a learned policy: :func:`warm_oracle`).

    The ascent runs in float32 with the starts along the last axis (every per-type quantity a
    ``[M, N, starts]`` array, so the elementwise work vectorizes across starts): 4x faster on
    CPUs than float64 with the starts vmapped (README, TWIN lever table), and no less accurate,
    since only the final allocation's rents and feasibility have to be exact.
    """
    M, N = env["theta"].shape[0], env["sigma"].shape[0]
    K = M * N
    b_ci, f_ci = _complete_alloc(env)
    keys = jax.random.split(jax.random.PRNGKey(0), random_starts)
    b_r, f_r = jax.vmap(lambda k: _separable_alloc(k, env, jnp.max(b_ci), jnp.max(f_ci)))(keys)
    scaled = jnp.stack([jnp.concatenate([_flat(b_ci), _flat(f_ci)]) * s for s in ci_scales])
    random = jnp.concatenate([b_r.reshape(random_starts, K), f_r.reshape(random_starts, K)], axis=1)
    given = [] if extra is None else [jnp.concatenate([_flat(extra["b"]), _flat(extra["f"])])[None]]
    starts = jnp.concatenate([scaled, random, *given]).T  # [(b, f) flattened, starts]
    xs = starts.astype(jnp.float32)
    env32 = {k: v.astype(jnp.float32) for k, v in env.items()}
    scale = jnp.repeat(jnp.asarray([B_MAX, F_MAX], jnp.float32), K)[:, None]

    def objective(x: Array) -> Array:
        return _search_objective(env32, x[:K].reshape(M, N, -1), x[K:].reshape(M, N, -1))

    def box(x: Array) -> Array:
        return jnp.clip(x, 0.0, scale)

    for keep, steps in phases:
        if keep is not None:
            xs = xs[:, jnp.argsort(-objective(xs))[:keep]]
        xs, _ = optim.projected_ascent(objective, xs, box, scale, steps)
    # the starts stay candidates, so the result is never below the complete-information
    # allocation with least rents (the greedy contract) even by float32 rounding
    xs = jnp.concatenate([xs, starts], axis=1).T.astype(env["theta"].dtype)
    menus = jax.vmap(lambda x: payments(env, {"b": x[:K].reshape(M, N), "f": x[K:].reshape(M, N), "R": None}))(xs)
    feas = jax.vmap(lambda m: core.feasible(constraints(env, m)))(menus)
    vals = jnp.where(feas, jax.vmap(lambda m: principal_utility(env, m))(menus), -jnp.inf)
    return jax.tree.map(lambda a: a[jnp.argmax(vals)], menus)


def warm_oracle(env: Env, menu: Menu) -> Menu:
    """:func:`search` with ``menu``'s allocation among the starts."""
    return search(env, extra=menu)


def _search_objective(env: Env, b: Array, f: Array) -> Array:
    """Principal's utility of the allocations ``b, f`` (``[M, N, P]``) with their least rents,
    minus ``PENALTY`` × the rents' positive-cycle residual: how much one more Bellman–Ford round
    would still raise them, relative to their size (zero exactly for implementable
    allocations). Shape ``[P]``."""
    cost = cost_matrix(env, b, f)
    R = core.least_rents(cost)
    residual = core.ic_shortfall(R, cost)
    per_type = {k: v[..., None] if SCENARIO.env_fields[k] == _MN else v for k, v in env.items()}  # against [M, N, P]
    U = av_utility(per_type, {"b": b, "f": f, "R": R.reshape(b.shape)})
    value = jnp.sum(weights(env)[..., None] * pt_value(env, U), axis=(0, 1))
    return value - PENALTY * jnp.sum(residual / jnp.maximum(1.0, jnp.abs(R)), axis=0)


def greedy_menu(env: Env) -> Menu:
    """Greedy baseline: every type gets its complete-information allocation, paid the least
    rents that make the menu IR and IC (feasible whenever that allocation is implementable)."""
    b, f = _complete_alloc(env)
    return payments(env, {"b": b, "f": f, "R": None})


def random_menu(key: Array, env: Env) -> Menu:
    """Random separable allocation in the action box, least rents plus a random rent added to
    every payment (shifts every type's utility of every item equally: IC kept)."""
    k1, k2 = jax.random.split(key)
    b, f = _separable_alloc(k1, env, B_MAX / 2, F_MAX / 2)
    m = payments(env, {"b": b, "f": f, "R": None})
    return m | {"R": m["R"] + jax.random.uniform(k2) * 0.1 * jnp.mean(m["R"])}


def sample(key: Array, dims: Mapping[str, int], config: Mapping) -> Env:
    M, N = int(dims["M"]), int(dims["N"])
    ks = jax.random.split(key, 8)
    one = jnp.ones(())
    env = common.scalars(key, config, ("L", "U_ref", "kappa", "delta_plus", "delta_minus", "w_alpha", "alpha", "beta",
                                       "zeta1", "zeta2", "D_res", "v_fps", "T_th", "N0"), whole=("L",))
    u = common.uniform_or_const
    env |= {
        "M": M * one,
        "N": N * one,
        "S": u(ks[0], config["S"]),
        "p": 10.0 ** (u(ks[1], config["p_dbm"], (M, N)) / 10.0) * 1e-3,
        "g": 10.0 ** (u(ks[2], config["g_db"], (M, N)) / 10.0),
        "mu": u(ks[3], config["mu"], (M, N)),
        "c_lat": u(ks[4], config["c_lat"], (M, N)),
        "d": u(ks[5], config["d"], (M, N)),
        "Q": common.dirichlet(ks[6], M * N, config["dirichlet"]).reshape(M, N),
    }
    kt, ks_ = jax.random.split(ks[7])
    env["theta"] = common.draw_types(kt, config["theta"], M)
    env["sigma"] = common.draw_types(ks_, config["sigma"], N)
    return {k: env[k] for k in SCENARIO.env_fields}


def check(env: Mapping[str, np.ndarray]) -> None:
    common.check_sorted(env, "theta", "sigma")
    common.check_probabilities(env, "Q", axes=(-2, -1))


def state(env: Env) -> Array:
    """Eq. (37) ``(L, M, N, U_ref, Q, θ, σ)`` plus ``S`` and the per-type ``p, g, d`` (decision
    in the module docstring: the optimum depends on them), and ``κ`` (so that one policy can learn
    a loss-aversion study, Figs. 7 and 9)."""
    head = jnp.stack([env["L"], env["M"], env["N"], env["U_ref"], env["S"], env["kappa"]])
    return jnp.concatenate([head, _flat(env["Q"]), env["theta"], env["sigma"],
                            _flat(env["p"]), _flat(env["g"]), _flat(env["d"])])


def _allocation(env: Env, a: Array) -> tuple[Array, Array]:
    """``(a_b[MN], a_f[MN], …)`` onto ``b ∈ [0, B_MAX]``, ``f ∈ [0, F_MAX]`` (shape ``[M, N]``)."""
    shape = env["Q"].shape
    k = shape[0] * shape[1]
    return common.box(a[:k], B_MAX).reshape(shape), common.box(a[k:2 * k], F_MAX).reshape(shape)


def action_to_menu(env: Env, a: Array) -> Menu:
    """``a = (a_b[MN], a_f[MN], a_R[MN])`` in ``[-1, 1]`` onto ``[0, B_MAX] × [0, F_MAX] × [0, R_MAX]``."""
    b, f = _allocation(env, a)
    return {"b": b, "f": f, "R": common.box(a[2 * b.size:], R_MAX).reshape(b.shape)}


def menu_to_action(env: Env, menu: Menu) -> Array:
    return jnp.concatenate([common.unbox(_flat(menu["b"]), B_MAX), common.unbox(_flat(menu["f"]), F_MAX),
                            common.unbox(_flat(menu["R"]), R_MAX)])


def _safe_sqrt(x: Array) -> Array:
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def repair(env: Env, b: Array, f: Array) -> tuple[Array, Array]:
    """The proposal ``(b, f)`` moved toward a separable anchor until it is implementable.

    Costs ``b²/θ_m + f²/σ_n`` are linear in ``x = (b², f²)``, so every IC cycle condition is
    linear in ``x`` (Rochet 1987). The anchor gives type ``(m, n)`` the ``m``-th smallest row mean
    of ``b²`` and the ``n``-th smallest column mean of ``f²``: ``b`` depends on ``m`` only and
    ``f`` on ``n`` only, both non-decreasing in the type, so the 2-D screening problem splits
    into two 1-D ones and the anchor is always implementable. The result is
    ``x⁰ + t* (x − x⁰)`` with the largest implementable ``t*`` (:func:`core.implementable_step`);
    an implementable proposal is returned unchanged (``t* = 1``).
    """
    M, N = b.shape
    xb, xf = b**2, f**2
    ab = jnp.broadcast_to(jnp.sort(jnp.mean(xb, axis=1))[:, None], (M, N))
    af = jnp.broadcast_to(jnp.sort(jnp.mean(xf, axis=0))[None, :], (M, N))
    c0 = cost_matrix(env, _safe_sqrt(ab), _safe_sqrt(af))
    t = core.implementable_step(c0, cost_matrix(env, b, f))
    return _safe_sqrt(ab + t * (xb - ab)), _safe_sqrt(af + t * (xf - af))


def efforts_to_menu(env: Env, a: Array) -> Menu:
    """``a = (a_b[MN], a_f[MN])`` onto ``[0, B_MAX] × [0, F_MAX]``, ``b`` sorted along ``m`` and
    ``f`` along ``n``, repaired to the nearest implementable allocation on the segment to a
    separable anchor (:func:`repair`), with the least rents that satisfy every IR and IC:
    feasible by construction.

    The sorting costs no optimum: types ``(m, n)`` and ``(m', n)`` differ only in ``θ``, so their
    2-cycle holds iff ``(b²_m'n − b²_mn)(1/θ_m − 1/θ_m') ≥ 0`` (``b`` non-decreasing in ``m``
    down every column), and likewise ``f`` in ``n`` along every row; it leaves the repair only
    the cycles across rows and columns."""
    b, f = _allocation(env, a)
    b, f = repair(env, jnp.sort(b, axis=0), jnp.sort(f, axis=1))
    return payments(env, {"b": b, "f": f, "R": None})


def proposal_to_menu(env: Env, a: Array) -> Menu:
    """As :func:`efforts_to_menu` without the repair: feasible only when the proposed allocation
    happens to be implementable (the penalty teaches the rest)."""
    b, f = _allocation(env, a)
    return payments(env, {"b": b, "f": f, "R": None})


_MN = ("M", "N")
SCENARIO = from_module(
    globals(),
    name="twin",
    description="multi-dimensional PT contracts for embodied AI-twin migration (Zhong et al.)",
    dims=("M", "N"),
    env_fields={"L": (), "M": (), "N": (), "U_ref": (), "kappa": (), "delta_plus": (), "delta_minus": (),
                "w_alpha": (), "alpha": (), "beta": (), "zeta1": (), "zeta2": (), "S": (), "D_res": (),
                "v_fps": (), "T_th": (), "N0": (), "p": _MN, "g": _MN, "mu": _MN, "c_lat": _MN, "d": _MN,
                "Q": _MN, "theta": ("M",), "sigma": ("N",)},
    menu_fields={"b": _MN, "f": _MN, "R": _MN},
    warm_oracle=warm_oracle,
    baselines={"greedy": greedy_menu},
    defaults=DEFAULTS,
    roles=("AV", "RSU"),
    labels={"U_ref": "reference point U_ref", "kappa": "loss aversion κ", "L": "number of RSUs L",
            "S": "spectrum efficiency S", "d": "distance d (m)"},
    domain=DOMAIN,
    action_size=lambda dims: 3 * int(dims["M"]) * int(dims["N"]),
    effort_size=lambda dims: 2 * int(dims["M"]) * int(dims["N"]),
    extra_parameterizations={"unrepaired": Parameterization(
        lambda dims: 2 * int(dims["M"]) * int(dims["N"]), proposal_to_menu,
        "efforts with least rents, no implementability repair")},
)
