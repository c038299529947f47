"""AIGC — prospect-theory contracts for edge AIGC services (Wen et al., AIGC; docs/models.md §4).

ASP of type ``k`` taking item ``(L, R)``: ``U^A_k = f θ_k R − a L / L_max``.
Client's objective utility from type ``k``: ``U^EUT_k = e1 θ_k^z1 + e2 (L_k/L_max)^z2 − R_k``;
prospect-theory value ``v(U) = (U − U_ref)^ζ+`` for gains, ``−η (U_ref − U)^ζ−`` for losses;
principal ``U^C_PT = M Σ_k Q_k v(U^EUT_k)``. Optimal payments given latencies (eq. 50):
``R_k = (a / (f L_max)) (L_1/θ_1 + Σ_{i=2..k} (L_i − L_{i−1})/θ_i)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import core, optim
from contractjax.domain import NON_NEGATIVE, POSITIVE, PROBABILITY, REAL, WHOLE
from contractjax.scenarios import common
from contractjax.scenarios.base import Env, Menu, from_module

Array = jax.Array

DEFAULTS = {
    "M": 5.0,
    "K": 2,
    "theta": [(10.0, 50.0), (100.0, 200.0)],
    "L_max": (100.0, 160.0),
    "a": (80.0, 100.0),
    "f": 0.05,
    "e1": 3.0,
    "e2": 50.0,
    "z1": 1.0,
    "z2": 1.0,
    "zeta_plus": 1.0,
    "zeta_minus": 1.0,
    "U_ref": 200.0,
    "eta": 0.5,
    "dirichlet": 1.0,
}

#: Valid values of every sampler setting and environment field (checked wherever values enter).
DOMAIN = {
    "M": WHOLE, "K": WHOLE, "theta": POSITIVE, "L_max": POSITIVE, "a": POSITIVE, "f": POSITIVE,
    "e1": NON_NEGATIVE, "e2": NON_NEGATIVE, "z1": POSITIVE, "z2": POSITIVE, "zeta_plus": POSITIVE,
    "zeta_minus": POSITIVE, "U_ref": REAL, "eta": POSITIVE, "dirichlet": POSITIVE, "Q": PROBABILITY,
}
#: Payment box of the action map: R in [0, MARGIN · a / (f θ_1)] (the largest payment any feasible
#: closed-form menu needs is ``a / (f θ_1)``, the lowest type's cost of L = L_max).
MARGIN = 1.25
#: Polishing of the oracle by projected ascent (after exact vertex enumeration): steps, and
#: evenly spaced interior starts beside the best vertex.
POLISH_STEPS, POLISH_STARTS = 300, 5
#: Floor inside fractional powers so their gradients stay finite at 0 (far below any tolerance).
TINY = 1e-30


def utility_matrix(env: Env, menu: Menu) -> Array:
    """``U[k, n] = f θ_k R_n − a L_n / L_max`` (ASP utility)."""
    return env["f"] * env["theta"][:, None] * menu["R"][None, :] - env["a"] * menu["L"][None, :] / env["L_max"]


def constraints(env: Env, menu: Menu) -> core.Constraints:
    return core.ir_ic(utility_matrix(env, menu))


def client_utility(env: Env, menu: Menu) -> Array:
    """Per-type objective utility ``U^EUT_k``."""
    x = jnp.maximum(menu["L"] / env["L_max"], TINY)  # TINY: finite gradients of x^z2 at 0
    return env["e1"] * env["theta"] ** env["z1"] + env["e2"] * x ** env["z2"] - menu["R"]


def pt_value(env: Env, u: Array) -> Array:
    """Prospect-theory value with reference point ``U_ref`` and loss aversion ``η``."""
    return common.prospect_value(u - env["U_ref"], env["zeta_plus"], env["zeta_minus"], env["eta"], TINY)


def principal_utility(env: Env, menu: Menu) -> Array:
    return env["M"] * jnp.sum(env["Q"] * pt_value(env, client_utility(env, menu)))


def agents_utility(env: Env, menu: Menu) -> Array:
    return jnp.sum(env["Q"] * jnp.diagonal(utility_matrix(env, menu)))


def paper_reward(env: Env, menu: Menu, a: Array) -> Array:
    """Eq. (57): ``U^C_PT + Σ_k U^A_k + Σ_k Σ_n (U^A_k(k) − U^A_k(n))`` when the menu is feasible,
    else 0."""
    del a
    U = utility_matrix(env, menu)
    own = jnp.diagonal(U)
    r = principal_utility(env, menu) + jnp.sum(own) + jnp.sum(own[:, None] - U)
    return jnp.where(core.feasible(constraints(env, menu)), r, 0.0)


def _unit_cost(env: Env) -> Array:
    """Payment per unit latency that type ``k`` needs: ``a / (f θ_k L_max)``."""
    return env["a"] / (env["f"] * env["theta"] * env["L_max"])


def payments(env: Env, menu: Menu) -> Menu:
    """Eq. (50): binding IR of type 1 and binding local downward IC."""
    L = menu["L"]
    return {"L": L, "R": jnp.cumsum(_unit_cost(env) * jnp.diff(L, prepend=0.0))}


def _objective(env: Env, L: Array) -> Array:
    return principal_utility(env, payments(env, {"L": L, "R": L}))


def _linear_pieces(env: Env) -> tuple[Array, Array]:
    """``U^EUT(L) = b + G L`` with closed-form payments, exact when ``z2 = 1`` (used to place the
    kinks ``U^EUT_k = U_ref`` of the piecewise-linear objective)."""
    K = env["theta"].shape[0]
    w = _unit_cost(env)
    # R_k = Σ_{i<=k} w_i (L_i − L_{i−1}) = Σ_{i<k} (w_i − w_{i+1}) L_i + w_k L_k
    wd = w - jnp.append(w[1:], 0.0)
    k = jnp.arange(K)[:, None]
    i = jnp.arange(K)[None, :]
    dR = jnp.where(i < k, wd[None, :], 0.0) + jnp.where(i == k, w[:, None], 0.0)
    G = jnp.eye(K) * (env["e2"] / env["L_max"]) - dR
    b = env["e1"] * env["theta"] ** env["z1"]
    return b, G


def _vertices(env: Env) -> Array:
    """All vertices of the arrangement of the chain constraints ``0 = L_1``, ``L_i = L_{i+1}``,
    ``L_K = L_max`` and the PT kinks ``U^EUT_k(L) = U_ref``: with ``ζ± = z2 = 1`` the objective is
    piecewise linear over these cells, so its maximum over the ordered box is one of them."""
    K = env["theta"].shape[0]
    eye = jnp.eye(K)
    chain = [eye[0]] + [eye[i] - eye[i + 1] for i in range(K - 1)] + [eye[K - 1]]
    rhs = [0.0] + [0.0] * (K - 1) + [env["L_max"]]
    b, G = _linear_pieces(env)
    A = jnp.concatenate([jnp.stack(chain), G])
    c = jnp.concatenate([jnp.stack([jnp.asarray(r, A.dtype) for r in rhs]), env["U_ref"] - b])
    combos = np.array(list(itertools.combinations(range(A.shape[0]), K)))
    As, cs = A[combos], c[combos]
    det = jnp.linalg.det(As)
    ok = jnp.abs(det) > 1e-12 * jnp.max(jnp.abs(As), axis=(1, 2)) ** K
    safe = jnp.where(ok[:, None, None], As, jnp.eye(K)[None])
    x = jnp.linalg.solve(safe, cs[..., None])[..., 0]
    inside = ok & jnp.all(jnp.diff(x, axis=1) >= -1e-9 * env["L_max"], axis=1)
    inside &= (x[:, 0] >= -1e-9 * env["L_max"]) & (x[:, -1] <= env["L_max"] * (1 + 1e-9))
    x = jax.vmap(lambda v: optim.project_ordered_box(v, 0.0, env["L_max"]))(x)
    return x, inside


def oracle(env: Env, info: str = "asymmetric") -> Menu:
    """Exact optimum.

    Asymmetric: the payments of eq. (50) are the least that make monotone latencies feasible and
    the principal's value decreases in every payment, so the problem reduces to
    ``max_L U^C_PT(L, R(L))`` over ``0 <= L_1 <= … <= L_K <= L_max``. The best vertex of the
    arrangement (:func:`_vertices`) is exact for the papers' ``ζ± = z2 = 1``; a projected-ascent
    polish from it covers other exponents (and only those: skipped when exact).
    Complete: IR binds per type, ``R_k = a L_k / (f θ_k L_max)``; since ``v`` is increasing, each
    type's latency maximizes ``U^EUT_k`` on ``[0, L_max]`` (concave for ``z2 <= 1``: first-order
    condition, else an end point).
    """
    Lm = env["L_max"]
    if info == "complete":
        w = _unit_cost(env)
        z2 = env["z2"]
        # interior stationary point of e2 (L/Lm)^z2 − w L Lm / Lm (only meaningful for z2 < 1)
        safe = jnp.where(z2 == 1.0, 0.5, z2)
        interior = Lm * jnp.clip((env["e2"] * safe / (w * Lm)) ** (1.0 / (1.0 - safe)), 0.0, 1.0)
        cands = jnp.stack([jnp.zeros_like(w), jnp.full_like(w, Lm), interior])  # (3, K)

        def u(L):
            return env["e2"] * (L / Lm) ** z2 - w * L

        L = jnp.take_along_axis(cands, jnp.argmax(jax.vmap(u)(cands), axis=0)[None], axis=0)[0]
        return {"L": L, "R": w * L}
    x, inside = _vertices(env)
    vals = jnp.where(inside, jax.vmap(lambda L: _objective(env, L))(x), -jnp.inf)
    best = x[jnp.argmax(vals)]
    # Polish from the best vertex and from interior points: with z2 < 1 or ζ± < 1 the optimum can
    # be interior, and at L = 0 the gradient of (L/L_max)^z2 is lost (infinite slope).
    K = env["theta"].shape[0]
    grid = jnp.linspace(0.1, 0.9, POLISH_STARTS)[:, None] * jnp.ones(K) * Lm
    ramp = jnp.linspace(0.2, 0.8, K) * Lm
    starts = jnp.concatenate([best[None], (0.9 * best + 0.05 * Lm)[None], ramp[None], grid])
    project = lambda L: optim.project_ordered_box(L, 0.0, Lm)
    # the vertex is exact for ζ± = z2 = 1 (the papers' values): no polish, and a batch of such
    # environments runs none of its steps (a traced trip count)
    linear = (env["zeta_plus"] == 1.0) & (env["zeta_minus"] == 1.0) & (env["z2"] == 1.0)
    Ls, fs = jax.vmap(lambda L0: optim.projected_ascent(lambda L: _objective(env, L), L0, project, Lm,
                                                        POLISH_STEPS, active=~linear))(starts)
    L = Ls[jnp.argmax(fs)]  # the ascent keeps its best iterate, so the best vertex is never lost
    return payments(env, {"L": L, "R": L})


def random_menu(key: Array, env: Env) -> Menu:
    """Sorted uniform latencies, eq. (50) payments plus a random rent added to every payment
    (shifts type ``k``'s utility of every item by ``f θ_k δ``: IC kept, IR gains slack)."""
    k1, k2 = jax.random.split(key)
    m = efforts_to_menu(env, jax.random.uniform(k1, env["theta"].shape, minval=-1.0, maxval=1.0))
    return {"L": m["L"], "R": m["R"] + jax.random.uniform(k2) * 0.1 * _r_max(env) / MARGIN}


def _r_max(env: Env) -> Array:
    return MARGIN * env["a"] / (env["f"] * env["theta"][0])


def sample(key: Array, dims: Mapping[str, int], config: Mapping) -> Env:
    K = int(dims["K"])
    ks = jax.random.split(key, 4)
    one = jnp.ones(())
    env = common.scalars(key, config, ("M", "f", "e1", "e2", "z1", "z2", "zeta_plus", "zeta_minus", "U_ref", "eta"),
                         whole=("M",))
    env |= {
        "K": K * one,
        "L_max": common.uniform_or_const(ks[0], config["L_max"]),
        "a": common.uniform_or_const(ks[1], config["a"]),
        "Q": common.dirichlet(ks[2], K, config["dirichlet"]),
        "theta": common.draw_types(ks[3], config["theta"], K),
    }
    return {k: env[k] for k in SCENARIO.env_fields}


def check(env: Mapping[str, np.ndarray]) -> None:
    common.check_sorted(env, "theta")
    common.check_probabilities(env, "Q")


def state(env: Env) -> Array:
    """``s = (M, K, L_max, U_ref, a, Q_1..Q_K, θ_1..θ_K)`` followed by ``η`` (a constant of the
    paper's runs; in the state so that one policy can learn a loss-aversion study, Fig. 8)."""
    head = jnp.stack([env["M"], env["K"], env["L_max"], env["U_ref"], env["a"]])
    return jnp.concatenate([head, env["Q"], env["theta"], env["eta"][None]])


def action_to_menu(env: Env, a: Array) -> Menu:
    """``a = (a_L[K], a_R[K])`` in ``[-1, 1]`` onto ``L ∈ [0, L_max]``, ``R ∈ [0, R_max]``."""
    K = env["theta"].shape[0]
    return {"L": common.box(a[:K], env["L_max"]), "R": common.box(a[K:], _r_max(env))}


def menu_to_action(env: Env, menu: Menu) -> Array:
    return jnp.concatenate([common.unbox(menu["L"], env["L_max"]), common.unbox(menu["R"], _r_max(env))])


def efforts_to_menu(env: Env, a: Array) -> Menu:
    """Feasible by construction: ``a[K]`` onto latencies in ``[0, L_max]``, sorted
    ascending, with the eq. (50) payments."""
    L = jnp.sort(common.box(a, env["L_max"]))
    return payments(env, {"L": L, "R": L})


SCENARIO = from_module(
    globals(),
    name="aigc",
    description="prospect-theory contracts for edge AIGC services (Wen et al.)",
    dims=("K",),
    env_fields={name: () for name in ("M", "K", "L_max", "U_ref", "a", "f", "e1", "e2", "z1", "z2",
                                      "zeta_plus", "zeta_minus", "eta")} | {"Q": ("K",), "theta": ("K",)},
    menu_fields={"L": ("K",), "R": ("K",)},
    defaults=DEFAULTS,
    roles=("client", "ASP"),
    labels={"U_ref": "reference point U_ref", "eta": "loss aversion η", "M": "number of ASPs M",
            "L_max": "maximum tolerated latency L_max", "theta": "ASP type θ"},
    domain=DOMAIN,
    action_size=lambda dims: 2 * int(dims["K"]),
    effort_size=lambda dims: int(dims["K"]),
)
