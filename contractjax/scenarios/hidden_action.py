"""Hidden action (moral hazard): the principal sees a random outcome, never the agent's action
(Holmström 1979), in the combinatorial form of Dütting, Roughgarden & Talgam-Cohen (2019): ``m``
actions, ``n`` outcomes (docs/models.md §6).

Action ``i`` costs the agent ``c_i`` and draws outcome ``j`` with probability ``F[i, j]``;
outcome ``j`` is worth ``r_j`` to the principal. A contract pays ``t_j >= 0`` on outcome ``j``
(limited liability). The agent takes an action that maximizes ``F_i·t − c_i``, ties broken in the
principal's favour (the standard convention: the principal can recommend any of the agent's
best responses); the principal gets ``F_i·(r − t)``. Action 0 costs nothing, so every contract is
accepted (limited liability makes ``F_0·t >= 0``).

A menu here is one contract and the action it asks for: ``t[n]`` and ``a`` (the action's index,
stored as a number). IC: ``a`` is a best response to ``t``; IR: the agent's utility is
non-negative; LL: ``t >= 0``. The least expected payment that implements action ``i`` is the
linear program ``min F_i·t`` s.t. ``(F_i − F_k)·t >= c_i − c_k`` for every ``k``, ``t >= 0``;
it is solved through its dual (feasible at 0, since ``F_i >= 0``) by
:func:`contractjax.optim.simplex` — an unbounded dual means no contract implements ``i`` — and
the optimum is the best of the ``m``. First best (the action observed): the principal picks
``max_i F_i·r − c_i`` and pays the cost. Linear contracts ``t = α r`` (the ``linear`` baseline):
action ``i`` is a best response for ``α`` in an interval; the best linear contract takes each
interval's lower end.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import core, optim
from contractjax.domain import NON_NEGATIVE, POSITIVE, PROBABILITY, WHOLE
from contractjax.scenarios import common
from contractjax.scenarios.base import Env, Menu, Parameterization, from_module

Array = jax.Array

DEFAULTS = {
    "n": 4,
    "m": 4,
    # one range for all (uniform draws, sorted) or one range per outcome / costly action
    "r": [(0.0, 1.0)],  # the outcomes' rewards, outcomes sorted by reward
    "c": [(0.0, 0.2)],  # the costly actions' costs, sorted; action 0 costs 0
    "dirichlet": 1.0,  # each action's outcome distribution: Dirichlet(dirichlet)
    "pay_cap": 3.0,  # a learned contract pays at most pay_cap · max r on an outcome
}

#: Valid values of every sampler setting and environment field (checked wherever values enter).
DOMAIN = {"n": WHOLE, "m": WHOLE, "r": NON_NEGATIVE, "c": NON_NEGATIVE, "dirichlet": POSITIVE, "pay_cap": POSITIVE,
          "F": PROBABILITY}


def expected(env: Env, t: Array) -> Array:
    """``F t``: each action's expected value of ``t[n]``."""
    return env["F"] @ t


def agent_utilities(env: Env, t: Array) -> Array:
    """``F_i·t − c_i`` for every action ``i``."""
    return expected(env, t) - env["c"]


def best_response(env: Env, t: Array) -> Array:
    """The agent's action for contract ``t``: a maximizer of its utility, ties (within
    ``core.TOL``, relative) broken in the principal's favour."""
    u = agent_utilities(env, t)
    top = jnp.max(u)
    ties = u >= top - core.TOL * jnp.maximum(1.0, jnp.abs(top))
    return jnp.argmax(jnp.where(ties, expected(env, env["r"] - t), -jnp.inf))


def _action(env: Env, menu: Menu) -> Array:
    """The menu's action as an index into the ``m`` actions."""
    return jnp.clip(jnp.round(menu["a"]), 0, env["c"].shape[0] - 1).astype(jnp.int32)


def constraints(env: Env, menu: Menu) -> core.Constraints:
    t = menu["t"]
    u = agent_utilities(env, t)
    own = u[_action(env, menu)]
    return core.Constraints(
        {"IR": own[None], "IC": own - u, "LL": t},
        {"IR": jnp.maximum(1.0, jnp.abs(own))[None], "IC": jnp.maximum(1.0, jnp.maximum(jnp.abs(own), jnp.abs(u))),
         "LL": jnp.maximum(1.0, jnp.abs(t))})


def principal_utility(env: Env, menu: Menu) -> Array:
    """``F_a·(r − t)``."""
    return expected(env, env["r"] - menu["t"])[_action(env, menu)]


def agents_utility(env: Env, menu: Menu) -> Array:
    """``F_a·t − c_a``."""
    return agent_utilities(env, menu["t"])[_action(env, menu)]


def smoothed_utility(env: Env, menu: Menu, temperature: Array) -> Array:
    """The principal's utility when the agent answers ``t`` with the softmax of its utilities at
    ``temperature · max r``: smooth in ``t``, the exact utility as the temperature goes to 0 (the
    training reward of ``Config.smooth``; the exact utility jumps where the best response switches)."""
    t = menu["t"]
    p = jax.nn.softmax(agent_utilities(env, t) / (temperature * jnp.maximum(jnp.max(env["r"]), 1e-12)))
    return p @ expected(env, env["r"] - t)


def paper_reward(env: Env, menu: Menu, a: Array) -> Array:
    """The principal's utility when the contract is feasible, else 0 (no paper trains on this model)."""
    return jnp.where(core.feasible(constraints(env, menu)), principal_utility(env, menu), 0.0)


def least_payment(env: Env, i: Array) -> tuple[Array, Array, Array]:
    """The contract that implements action ``i`` at the least expected payment (the LP above,
    through its dual), that payment (``+inf`` if no contract implements ``i``, ``nan`` at the
    simplex's pivot limit) and whether one does."""
    F, c = env["F"], env["c"]
    G = F[i][None, :] - F  # [m, n]: row k is F_i − F_k
    _, t, pay, status = optim.simplex(c[i] - c, G.T, F[i])
    pay = jnp.where(status == optim.OPTIMAL, pay, jnp.where(status == optim.UNBOUNDED, jnp.inf, jnp.nan))
    return jnp.maximum(t, 0.0), pay, status == optim.OPTIMAL


def least_payments(env: Env) -> tuple[Array, Array, Array]:
    """Per action ``i``: the contract that implements it at the least expected payment (the LP
    above, through its dual), that payment, and whether any contract implements it (``+inf``
    payment otherwise; ``nan`` if the simplex stopped at its pivot limit)."""
    return jax.vmap(lambda i: least_payment(env, i))(jnp.arange(env["c"].shape[0]))


def payments(env: Env, menu: Menu) -> Menu:
    """The least-paid contract that implements the menu's action (the LP's; if no contract
    implements it, the last vertex the simplex reached, which violates IC)."""
    t, _, _ = least_payments(env)
    return {"t": t[_action(env, menu)], "a": menu["a"]}


def oracle(env: Env, info: str = "asymmetric") -> Menu:
    """The optimal contract (``asymmetric``: hidden action, the best of the ``m`` least-payment
    LPs) or the first best (``complete``: the action observed and paid its cost)."""
    F, r, c = env["F"], env["r"], env["c"]
    n = r.shape[0]
    if info == "complete":
        a = jnp.argmax(F @ r - c)
        return {"t": jnp.full((n,), c[a]), "a": a.astype(r.dtype)}
    t, pay, _ = least_payments(env)
    value = F @ r - pay
    a = jnp.argmax(jnp.where(jnp.isnan(value), -jnp.inf, value))
    bad = jnp.any(jnp.isnan(pay))  # a pivot limit: no silent answer
    return {"t": jnp.where(bad, jnp.nan, t[a]), "a": a.astype(r.dtype)}


def linear_menu(env: Env) -> Menu:
    """The best linear contract ``t = α r``: action ``i`` is a best response to ``α`` on
    ``[lo_i, hi_i]`` (from ``α R_i − c_i >= α R_k − c_k``, ``R = F r``); the principal's
    ``(1 − α) R_i`` is highest at ``α = lo_i``."""
    F, r, c = env["F"], env["r"], env["c"]
    R = F @ r
    dR = R[:, None] - R[None, :]  # [i, k]
    dc = c[:, None] - c[None, :]
    safe = jnp.where(dR == 0, 1.0, dR)
    lo = jnp.maximum(0.0, jnp.max(jnp.where(dR > 0, dc / safe, -jnp.inf), axis=1))
    hi = jnp.min(jnp.where(dR < 0, dc / safe, jnp.inf), axis=1)
    tol = core.TOL * jnp.maximum(1.0, jnp.abs(lo))
    ok = (lo <= hi + tol) & jnp.all((dR != 0) | (dc <= tol[:, None]), axis=1)
    value = jnp.where(ok, (1.0 - lo) * R, -jnp.inf)
    a = jnp.argmax(value)
    return {"t": lo[a] * r, "a": a.astype(r.dtype)}


def random_menu(key: Array, env: Env) -> Menu:
    """A random contract in the payment box and the agent's best response to it."""
    return efforts_to_menu(env, jax.random.uniform(key, env["r"].shape, minval=-1.0, maxval=1.0))


def cap(env: Env) -> Array:
    """The largest payment a learned contract makes on an outcome: ``pay_cap · max r``."""
    return env["pay_cap"] * jnp.maximum(jnp.max(env["r"]), 1e-12)


def efforts_to_menu(env: Env, a: Array) -> Menu:
    """The ``efforts`` action space: ``a[n]`` onto payments in ``[0, cap]``; the action is the
    agent's best response (feasible by construction)."""
    t = common.box(a, cap(env))
    return {"t": t, "a": best_response(env, t).astype(t.dtype)}


def action_to_menu(env: Env, a: Array) -> Menu:
    """The ``menu`` action space: ``a[n + m]``, payments from the first ``n`` and the recommended
    action the argmax of the last ``m`` (the agent may prefer another: IC can fail)."""
    n = env["r"].shape[0]
    return {"t": common.box(a[:n], cap(env)), "a": jnp.argmax(a[n:]).astype(a.dtype)}


def implement_to_menu(env: Env, a: Array) -> Menu:
    """The ``implement`` action space: ``a[m]``, the action to implement is the argmax, paid the
    least payment that implements it (one LP; an action no contract implements falls back to the
    zero contract and the agent's response to it). Feasible by construction; inference solves one
    LP where the oracle solves ``m``."""
    i = jnp.argmax(a)
    t, _, ok = least_payment(env, i)
    t = jnp.where(ok, t, 0.0)
    return {"t": t, "a": jnp.where(ok, i, best_response(env, t)).astype(t.dtype)}


def menu_to_action(env: Env, menu: Menu) -> Array:
    """The inverse of :func:`action_to_menu`: the boxed payments and a one-hot of the action."""
    onehot = jax.nn.one_hot(_action(env, menu), env["c"].shape[0], dtype=menu["t"].dtype)
    return jnp.concatenate([common.unbox(menu["t"], cap(env)), 2.0 * onehot - 1.0])


def sample(key: Array, dims: Mapping[str, int], config: Mapping) -> Env:
    """Rewards and costs sorted ascending, each action's distribution Dirichlet, the actions
    ordered by expected reward: a costlier action is a more productive one (no action is
    dominated by a cheaper one with a higher expected reward)."""
    n, m = int(dims["n"]), int(dims["m"])
    kr, kc, kf = jax.random.split(key, 3)
    env = common.scalars(key, config, ("pay_cap",))
    r = common.draw_types(kr, config["r"], n)
    F = common.dirichlet(kf, n, config["dirichlet"], (m,))
    return {"n": n * jnp.ones(()), "m": m * jnp.ones(()), "r": r,
            "c": jnp.concatenate([jnp.zeros(1), common.draw_types(kc, config["c"], m - 1)]),
            "F": F[jnp.argsort(F @ r)], "pay_cap": env["pay_cap"]}


def check(env: Mapping[str, np.ndarray]) -> None:
    common.check_probabilities(env, "F")
    c = np.asarray(env["c"])
    if c.shape[-1] and np.any(c[..., 0] != 0.0):
        common.fail("c", "action 0 must cost 0 (the null action, which makes every contract acceptable)",
                    "put a costless action first")


def state(env: Env) -> Array:
    """``(n, m, pay_cap, r, c, F)``."""
    return jnp.concatenate([jnp.stack([env["n"], env["m"], env["pay_cap"]]), env["r"], env["c"], env["F"].ravel()])


SCENARIO = from_module(
    globals(),
    name="hidden_action",
    description="hidden-action (moral-hazard) contracts: m actions, n outcomes, limited liability",
    dims=("n", "m"),
    env_fields={"n": (), "m": (), "pay_cap": (), "r": ("n",), "c": ("m",), "F": ("m", "n")},
    menu_fields={"t": ("n",), "a": ()},
    defaults=DEFAULTS,
    roles=("principal", "agent"),
    labels={"n": "outcomes n", "m": "actions m", "pay_cap": "payment cap (× max reward)"},
    domain=DOMAIN,
    action_size=lambda dims: int(dims["n"]) + int(dims["m"]),
    effort_size=lambda dims: int(dims["n"]),
    extra_parameterizations={"implement": Parameterization(
        lambda dims: int(dims["m"]), implement_to_menu,
        "the action to implement (argmax of m numbers), paid the least payment that implements it (one LP)",
        differentiable=False)},
    baselines={"linear": linear_menu},
    smoothed_utility=smoothed_utility,
    # choosing the action and paying the LP's least payment learns best (docs/models.md §6); the smoothed
    # response serves the algorithms that learn from the reward's gradient, in the payments' action space
    training={"param": "implement", "smooth": 0.02, "smooth_decay": 0.999},
)
