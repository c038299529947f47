"""DT — IIoT sensing-data contracts for digital twins (Wen et al., DT; docs/models.md §2).

Type-``k`` device taking item ``(s, r)``: ``u_k = ρ ψ_k r − c s − c0`` (DT eq. 1).
DT server: ``U = M Σ_k q_k (ϑ g(s_k) − r_k)`` (eq. 3), ``g(s) = s^(1−β)/(1−β)`` (eq. 2, β-fairness;
β = 0 makes the problem unbounded, so β must lie in (0, 1]; β = 1 is read as ``g = log s``).
IR eq. (4), IC eq. (5). With ``w_k = 1/(ρ ψ_k)`` the optimal payments bind IR of type 1 and the local downward IC:
``r_1 = w_1 (c s_1 + c0)``, ``r_k = r_{k−1} + c w_k (s_k − s_{k−1})``.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import core
from contractjax.domain import NON_NEGATIVE, POSITIVE, PROBABILITY, WHOLE, between
from contractjax.scenarios import common
from contractjax.scenarios.base import Env, Menu, from_module

Array = jax.Array

DEFAULTS = {
    "M": 10.0,
    "K": 2,
    "psi": [(50.0, 100.0), (200.0, 250.0)],
    "c": (25.0, 35.0),
    "c0": 0.01,
    "vartheta": (10.0, 15.0),
    "rho": 0.6,
    "beta": 0.5,
    "dirichlet": 1.0,
}

#: Valid values of every sampler setting and environment field (checked wherever values enter).
DOMAIN = {
    "M": WHOLE, "K": WHOLE, "psi": POSITIVE, "c": POSITIVE, "c0": NON_NEGATIVE, "vartheta": POSITIVE,
    "rho": POSITIVE, "beta": between(0.0, 1.0, open_lo=True),  # β = 0 makes the optimal data size unbounded
    "dirichlet": POSITIVE, "q": PROBABILITY,
}
#: Action box: s_max = MARGIN · (complete-information data size of the best type).
MARGIN = 1.25
#: ``g(0)`` when ``β = 1`` (``log 0``), finite in float32 and far below any optimum's valuation.
LOG_FLOOR = float(np.log(1e-30))


def g(env: Env, s: Array) -> Array:
    """β-fairness valuation of data size ``s`` (DT eq. 2)."""
    b = env["beta"]
    pos = s > 0
    # Both branches are evaluated at a safe point where s <= 0, so that no gradient is inf or NaN
    # there (training differentiates g; its derivative at 0 is infinite).
    s_safe = jnp.where(pos, s, 1.0)
    safe_b = jnp.where(b == 1.0, 0.5, b)
    value = jnp.where(b == 1.0, jnp.log(s_safe), s_safe ** (1.0 - safe_b) / (1.0 - safe_b))
    return jnp.where(pos, value, jnp.where(b == 1.0, LOG_FLOOR, 0.0))


def _w(env: Env) -> Array:
    return 1.0 / (env["rho"] * env["psi"])


def utility_matrix(env: Env, menu: Menu) -> Array:
    """``U[k, n] = ρ ψ_k r_n − c s_n − c0``."""
    return env["rho"] * env["psi"][:, None] * menu["r"][None, :] - env["c"] * menu["s"][None, :] - env["c0"]


def constraints(env: Env, menu: Menu) -> core.Constraints:
    return core.ir_ic(utility_matrix(env, menu))


def principal_utility(env: Env, menu: Menu) -> Array:
    return env["M"] * jnp.sum(env["q"] * (env["vartheta"] * g(env, menu["s"]) - menu["r"]))


def agents_utility(env: Env, menu: Menu) -> Array:
    return jnp.sum(env["q"] * jnp.diagonal(utility_matrix(env, menu)))


def paper_reward(env: Env, menu: Menu, a: Array) -> Array:
    """The DT server's utility (eq. 3) when every IR and IC holds, else 0.

    Neither DT paper prints its reward (eq. 11 only names ``R(e, Ω)``); the text says the DT server
    "obtains more rewards", and the same authors' AIGC paper (eq. 57) zeroes infeasible menus, so
    this is the inferred reading (a project decision, README)."""
    del a
    ok = core.feasible(constraints(env, menu))
    return jnp.where(ok, principal_utility(env, menu), 0.0)


def payments(env: Env, menu: Menu) -> Menu:
    """Closed-form payments: binding IR of type 1 and binding local downward IC."""
    w, c, s = _w(env), env["c"], menu["s"]
    inc = c * w * jnp.diff(s, prepend=0.0)
    r = jnp.cumsum(inc) + w[0] * env["c0"]
    return {"s": s, "r": r}


def s_complete(env: Env) -> Array:
    """Complete-information data sizes: ``ϑ g'(s) = c w_k`` ⇒ ``s_k = (ϑ / (c w_k))^(1/β)``."""
    return (env["vartheta"] / (env["c"] * _w(env))) ** (1.0 / env["beta"])


def s_max(env: Env) -> Array:
    """Upper end of the data-size box: no optimal menu asks more than the best type's
    complete-information data size; ``MARGIN`` leaves room above it."""
    return MARGIN * s_complete(env)[-1]


def r_max(env: Env) -> Array:
    """Upper end of the payment box: the lowest type's full cost of the largest data size."""
    w = _w(env)
    return w[0] * (env["c"] * s_max(env) + env["c0"])


def oracle(env: Env, info: str = "asymmetric") -> Menu:
    """Exact optimum.

    Asymmetric information: substituting the closed-form payments, the objective is
    ``Σ_i [q_i ϑ g(s_i) − a_i s_i] − c0 w_1`` with virtual cost ``a_i = c (w_i Q_i − w_{i+1} Q_{i+1})``,
    ``Q_i = Σ_{k≥i} q_k`` (> 0 because ``w`` decreases). The unconstrained optimum is
    ``s_i = (ϑ q_i / a_i)^(1/β)``; ironing (weighted isotonic regression of ``q_i / a_i`` with
    weights ``a_i``) enforces ``s_1 ≤ … ≤ s_K``. Complete information: IR binds per type.
    """
    w, c = _w(env), env["c"]
    if info == "complete":
        s = s_complete(env)
        return {"s": s, "r": w * (c * s + env["c0"])}
    q = env["q"]
    Q = jnp.cumsum(q[::-1])[::-1]
    wQ = w * Q
    a = c * (wQ - jnp.append(wQ[1:], 0.0))
    y = core.isotonic(q / a, a)
    s = (env["vartheta"] * y) ** (1.0 / env["beta"])
    return payments(env, {"s": s, "r": s})


def random_menu(key: Array, env: Env) -> Menu:
    """Sorted uniform data sizes in the action box, closed-form payments plus a random rent
    ``δ ≥ 0`` added to every payment (shifts every type's utility of every item by ``ρ ψ_k δ``,
    so IC is kept and IR gains slack)."""
    k1, k2 = jax.random.split(key)
    m = efforts_to_menu(env, jax.random.uniform(k1, env["psi"].shape, minval=-1.0, maxval=1.0))
    delta = jax.random.uniform(k2) * 0.1 * jnp.mean(m["r"])
    return {"s": m["s"], "r": m["r"] + delta}


def sample(key: Array, dims: Mapping[str, int], config: Mapping) -> Env:
    K = int(dims["K"])
    ks = jax.random.split(key, 4)
    env = common.scalars(key, config, ("M", "c0", "rho", "beta"), whole=("M",))
    env |= {
        "K": K * jnp.ones(()),
        "c": common.uniform_or_const(ks[0], config["c"]),
        "vartheta": common.uniform_or_const(ks[1], config["vartheta"]),
        "q": common.dirichlet(ks[2], K, config["dirichlet"]),
        "psi": common.draw_types(ks[3], config["psi"], K),
    }
    return {k: env[k] for k in SCENARIO.env_fields}


def check(env: Mapping[str, np.ndarray]) -> None:
    common.check_sorted(env, "psi")
    common.check_probabilities(env, "q")


def state(env: Env) -> Array:
    """``e = (M, K, c, c0, ϑ, q_1..q_K, ψ_1..ψ_K)``."""
    head = jnp.stack([env["M"], env["K"], env["c"], env["c0"], env["vartheta"]])
    return jnp.concatenate([head, env["q"], env["psi"]])


def action_to_menu(env: Env, a: Array) -> Menu:
    """``a = (a_s[K], a_r[K])`` in ``[-1, 1]``, mapped affinely onto ``[0, s_max] × [0, r_max]``."""
    K = env["psi"].shape[0]
    return {"s": common.box(a[:K], s_max(env)), "r": common.box(a[K:], r_max(env))}


def menu_to_action(env: Env, menu: Menu) -> Array:
    return jnp.concatenate([common.unbox(menu["s"], s_max(env)), common.unbox(menu["r"], r_max(env))])


def efforts_to_menu(env: Env, a: Array) -> Menu:
    """Feasible by construction: ``a[K]`` onto data sizes in ``[0, s_max]``, sorted
    ascending (the monotonicity every IC menu has), with the closed-form payments."""
    s = jnp.sort(common.box(a, s_max(env)))
    return payments(env, {"s": s, "r": s})


SCENARIO = from_module(
    globals(),
    name="dt",
    description="IIoT sensing-data sharing for digital twins (Wen et al.)",
    dims=("K",),
    env_fields={"M": (), "K": (), "c": (), "c0": (), "vartheta": (), "rho": (), "beta": (),
                "q": ("K",), "psi": ("K",)},
    menu_fields={"s": ("K",), "r": ("K",)},
    defaults=DEFAULTS,
    roles=("DT server", "IIoT device"),
    labels={"M": "number of IIoT devices M", "K": "number of types K", "c": "unit cost of data c",
            "vartheta": "unit revenue of satisfaction ϑ", "rho": "incentive weight ρ", "beta": "fairness exponent β",
            "psi": "type ψ"},
    domain=DOMAIN,
    action_size=lambda dims: 2 * int(dims["K"]),
    effort_size=lambda dims: int(dims["K"]),
)
