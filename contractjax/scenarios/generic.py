"""Oracles and action maps for any screening model (:mod:`contractjax.scenarios.model`).

Everything here works on one environment through the model's :class:`Economics`: allocations are
``x[F, K]`` (one row per allocation field, one column per flattened type), payments ``t[K]``, the
cost matrix ``C[k, n] = c(x_n, θ_k)`` in payment units, so type ``k`` taking item ``n`` gets
``t_n − C[k, n]``.

* :func:`search` — the asymmetric-information optimum of a general model: a multi-start projected
  Adam search over allocations, each paid its least payments (:func:`core.least_rents`, whose
  derivative follows the binding tree, so that pooled points are reached exactly), minus a
  penalty on the rents' positive-cycle residual; the best feasible end point or start wins, paid
  in float64. With one type dimension and one allocation field, part of the starts are kept
  monotone (projection onto the ordered box, in the single-crossing direction the costs show), so
  that ironed (pooled) optima lie on a face of the search set rather than on a kink.
* :func:`ironed_allocation` — the exact path for declared single-crossing models (Mussa & Rosen
  1978; Laffont & Martimort 2002, §2.14 and §3.1): with the least payments substituted the
  principal maximizes the sum of virtual surpluses ``φ_j`` subject to a monotone allocation; the
  solution is the max–min formula over the blocks' own optima (Robertson, Wright & Dykstra 1988,
  Thm 1.4.4, for separable concave objectives), each block optimum a 1-D root of the summed
  derivative found by bisection.
* :func:`complete_allocation` — the complete-information optimum (IR binds per type), the upper
  bound beside every oracle.
* :func:`repair` — the feasible-by-construction action map: the proposed allocation if it is
  implementable, else its monotone rearrangement (one type dimension), else the allocation the
  types choose from the proposed items at their least payments (:func:`self_selected`), else
  the nearest implementable point on the segment to the pooled allocation (every type the mean
  item), which is always implementable (Rochet 1987: implementable iff no negative cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import core, optim

Array = jax.Array
Env = dict[str, Array]

#: Search: projected-Adam steps, random starts beside the complete-information ones, and the
#: weight of the rents' relative positive-cycle residual (only non-implementable allocations have any).
PENALTY = 1e4
#: The search's phases ``(keep, steps, lr)`` and random starts, for one type dimension and one
#: allocation field (where the ironed allocation is a candidate too) and for the others: every
#: start a short way, then the best few further at a smaller rate (scripts/generic_oracles.py
#: measures others).
PHASES_1D, RANDOM_STARTS_1D = ((None, 60, 0.02), (1, 150, 0.005)), 2
PHASES, RANDOM_STARTS = ((None, 100, 0.02), (3, 200, 0.005)), 8
#: The initial rate of :func:`polish` (the phases' last).
POLISH_LR = 0.005
#: How far inside its box (a fraction of the box) the search's ascent stays.
INSIDE = 1e-6
#: Complete information: projected-Adam steps and starts per type (general models).
CI_STEPS, CI_STARTS = 400, 4
#: The 1-D root finds (exact path; 1-D complete information): the relative bracket width they stop
#: at and the most steps they take; the grid (fractions of the interval) whose cells bracket the
#: roots first, its ends a hair inside the interval (models guard their kinks at the bounds, sqrt
#: at 0, with a branch whose derivative there is 0).
ROOT_XTOL, ROOT_STEPS, ROOT_FIXED = 1e-12, 100, 12
ROOT_GRID = (1e-12, 1e-3, 0.1, 0.5, 1 - 1e-12)
#: Bisection halvings of :func:`repair`'s segment.
REPAIR_HALVINGS = 30


class Economics(NamedTuple):
    """What the generic oracles need of a model (built by :class:`~contractjax.scenarios.model.Model`)."""

    n_types: Callable[[Env], int]
    per_type: Callable[[Env], Env]  # fields with a type dimension, [K, ...]
    cost: Callable[[Env, Env, Env], Array]  # (env, type, item) -> scalar
    principal: Callable[[Env, Env, Env], Array]  # (env, type, item incl. payment) -> scalar
    value: Callable[[Env, Array, Array], Array]  # (env, x[F, K], t[K]) -> the principal's utility
    bounds: Callable[[Env], tuple[Array, Array]]  # lo, hi [F, K]
    probabilities: Callable[[Env], Array]  # [K]
    alloc: tuple[str, ...]
    payment: str
    one_dim: bool  # one type dimension (monotone rearrangements make sense)


def _item(eco: Economics, x: Array, t: Array | None = None) -> Env:
    """``x[F]`` (and ``t``) as an item dict."""
    item = {a: x[i] for i, a in enumerate(eco.alloc)}
    return item if t is None else item | {eco.payment: t}


def cost_matrix(eco: Economics, env: Env, x: Array) -> Array:
    """``C[k, n]``: type ``k``'s cost of item ``n``'s allocation."""
    types = eco.per_type(env)
    return jax.vmap(lambda ty: jax.vmap(lambda xn: eco.cost(env, ty, _item(eco, xn)))(x.T))(types)


def own_costs(eco: Economics, env: Env, x: Array) -> Array:
    """``C[k, k]`` without the off-diagonal work."""
    return jax.vmap(lambda ty, xk: eco.cost(env, ty, _item(eco, xk)))(eco.per_type(env), x.T)


def utility_matrix(eco: Economics, env: Env, x: Array, t: Array) -> Array:
    """``U[k, n] = t_n − C[k, n]``."""
    return t[None, :] - cost_matrix(eco, env, x)


def expected_principal(eco: Economics, env: Env, x: Array, t: Array) -> Array:
    """``Σ_k p_k π(x_k, t_k, θ_k)`` (the default :attr:`Economics.value`)."""
    per = jax.vmap(lambda ty, xk, tk: eco.principal(env, ty, _item(eco, xk, tk)))(eco.per_type(env), x.T, t)
    return jnp.sum(eco.probabilities(env) * per)


def least_payments(eco: Economics, env: Env, x: Array) -> Array:
    """The least payments that satisfy every IR and IC for ``x`` (exact when ``x`` is implementable)."""
    return core.minimal_payments(cost_matrix(eco, env, x))


def implementable(C: Array) -> Array:
    """No negative cycle in the IC graph of ``C`` (within rounding of the largest cost)."""
    return ~core.has_negative_cycle(C - core.diagonal(C)[:, None], core.rounding(C, C))


def ascending(eco: Economics, env: Env) -> Array:
    """Whether allocations rise with the type index (one type dimension): the last type's cost
    rises less from the lowest to the highest allocation than the first type's (single crossing
    read off the costs: higher types are more efficient)."""
    lo, hi = eco.bounds(env)
    types = eco.per_type(env)
    first, last = jax.tree.map(lambda v: v[0], types), jax.tree.map(lambda v: v[-1], types)

    def rise(ty: Env) -> Array:
        return eco.cost(env, ty, _item(eco, hi[:, -1])) - eco.cost(env, ty, _item(eco, lo[:, -1]))

    return rise(last) <= rise(first)


def _ordered(x: Array, up: Array, lo: Array, hi: Array) -> Array:
    """Projection of one field's ``x[K]`` onto the box, monotone rising (``up``) or falling (the
    rising projection of ``−x`` onto the mirrored box)."""
    s = jnp.where(up, 1.0, -1.0)
    return s * optim.project_ordered_box(s * x, jnp.minimum(s * lo, s * hi), jnp.maximum(s * lo, s * hi))


def self_selected(C: Array, x: Array) -> Array:
    """The allocation that the types choose from the items ``x[F, K]`` offered at their least
    payments (taxation principle: an allocation chosen from a menu is implementable), each type
    keeping its own item wherever that is within rounding of its best."""
    t = core.minimal_payments(C)
    U = t[None, :] - C
    own = core.diagonal(U)
    keep = own >= jnp.max(U, axis=1) - core.rounding(C, C)
    choice = jnp.where(keep, jnp.arange(C.shape[0]), jnp.argmax(U, axis=1))
    return x[:, choice]


def repair(eco: Economics, env: Env, x: Array, single_crossing: bool = False) -> Array:
    """An implementable allocation near the proposal ``x[F, K]`` (module docstring); unchanged when
    ``x`` is implementable. Differentiable in ``x`` (the segment's step carries no gradient)."""
    C = cost_matrix(eco, env, x)
    ok = implementable(C)
    if x.shape[0] == 1 and eco.one_dim:
        up = ascending(eco, env)
        sorted_x = jnp.where(up, jnp.sort(x, axis=1), -jnp.sort(-x, axis=1))
        if single_crossing:  # monotone allocations are exactly the implementable ones
            return sorted_x
        use_sorted = ~ok & implementable(cost_matrix(eco, env, sorted_x))
        x, ok = jnp.where(use_sorted, sorted_x, x), ok | use_sorted
    chosen = self_selected(C, x)
    use_chosen = ~ok & implementable(cost_matrix(eco, env, chosen))
    x, ok = jnp.where(use_chosen, chosen, x), ok | use_chosen
    anchor = jnp.broadcast_to(jnp.mean(x, axis=1, keepdims=True), x.shape)

    def halve(_: int, lohi: tuple[Array, Array]) -> tuple[Array, Array]:
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        good = implementable(cost_matrix(eco, env, jax.lax.stop_gradient(anchor + mid * (x - anchor))))
        return jnp.where(good, mid, lo), jnp.where(good, hi, mid)

    zero = jnp.zeros((), x.dtype)
    t, _ = jax.lax.fori_loop(0, REPAIR_HALVINGS, halve, (zero, zero + 1.0))
    t = jnp.where(ok, 1.0, t)
    return anchor + t * (x - anchor)


# ------------------------------------------------------------------------- complete information


def complete_allocation(eco: Economics, env: Env, quick: bool = False) -> Array:
    """Each type's allocation maximizing the principal's utility when paid exactly its cost (IR
    binds): ``K`` independent problems. One allocation field: the better of a root of the
    derivative (exact for concave problems) and a multi-start projected Adam search; several
    fields: the search. ``quick`` (the asymmetric search's starts): the root alone, or a quarter
    of the Adam steps."""
    lo, hi = eco.bounds(env)
    types = eco.per_type(env)

    def surplus(ty: Env, xk: Array) -> Array:
        item = _item(eco, xk)
        return eco.principal(env, ty, item | {eco.payment: eco.cost(env, ty, item)})

    slopes = jax.vmap(jax.grad(lambda x, ty: surplus(ty, x[None])))  # each type's at its own x
    root = _root(lambda x: slopes(x, types), lo[0], hi[0])[None] if lo.shape[0] == 1 else None
    if quick and root is not None:
        return root

    def one(ty: Env, lo_k: Array, hi_k: Array) -> Array:
        fracs = jnp.linspace(0.05, 0.95, CI_STARTS, dtype=lo_k.dtype)
        x0 = lo_k[:, None] + (hi_k - lo_k)[:, None] * fracs[None, :]  # [F, P]
        f = jax.vmap(lambda xp: surplus(ty, xp), in_axes=1)
        inner = lo_k + INSIDE * (hi_k - lo_k)
        xs, vals = optim.projected_ascent(f, x0, lambda x: jnp.clip(x, inner[:, None], hi_k[:, None]),
                                          (hi_k - lo_k)[:, None], CI_STEPS // 4 if quick else CI_STEPS)
        return xs[:, jnp.argmax(vals)]

    best = jax.vmap(one, in_axes=(0, 1, 1), out_axes=1)(types, lo, hi)
    if root is None:
        return best
    value = jax.vmap(surplus, in_axes=(0, 1))
    return jnp.where(value(types, root) >= value(types, best), root, best)


def _root(g: Callable[[Array], Array], lo: Array, hi: Array) -> Array:
    """The maximizer on ``[lo, hi]`` of a concave function with derivative ``g`` (decreasing):
    ``lo`` if ``g(lo) <= 0``, ``hi`` if ``g(hi) >= 0``, else the root of ``g``. Elementwise over
    arrays of problems; derivative evaluations only. The root is first bracketed by a cell of
    :data:`ROOT_GRID` (finer toward the ends, where a slope singular at a bound makes interpolation
    slow), then found by the Anderson–Björck method (Anderson & Björck 1973: regula falsi that
    scales a stale end's value by ``1 − g(x)/g(end replaced)``; superlinear, and the bracket
    always holds the root), with a bisection wherever the interpolation is not finite:
    ``ROOT_FIXED`` steps, then more while any bracket of the batch is wider than ``ROOT_XTOL`` of
    its ends (or a few roundings of the interval; at most ``ROOT_STEPS`` more)."""
    width = hi - lo  # the grid's ends lie a hair inside (module constants)
    points = lo + width * jnp.asarray(ROOT_GRID, lo.dtype).reshape((-1,) + (1,) * lo.ndim)  # [G, ...]
    values = jax.vmap(g)(points)
    g_lo, g_hi = values[0], values[-1]
    inside = (g_lo > 0) & (g_hi < 0)
    # the cell where the slope changes sign: g is decreasing, so the positive values come first
    cell = jnp.clip(jnp.sum(values[1:-1] > 0, axis=0), 0, len(ROOT_GRID) - 2)
    pick = lambda v, i: jnp.take_along_axis(v, i[None], axis=0)[0]  # noqa: E731
    a, b, ga, gb = pick(points, cell), pick(points, cell + 1), pick(values, cell), pick(values, cell + 1)
    floor = 2 * jnp.finfo(lo.dtype).eps * jnp.maximum(jnp.maximum(jnp.abs(lo), jnp.abs(hi)), width)
    tolerance = lambda a, b: jnp.maximum(0.5 * ROOT_XTOL * jnp.maximum(jnp.abs(a), jnp.abs(b)), floor)  # noqa: E731

    def step(c: tuple[Array, ...]) -> tuple[Array, ...]:
        a, b, ga, gb, side = c
        tol = tolerance(a, b)
        x = (a * gb - b * ga) / (gb - ga)
        # at least a tolerance from either end (Brent 1973): a converged interpolation, which
        # rounds onto an end, then closes the bracket; never outside it (a closed bracket stays)
        x = jnp.clip(jnp.clip(jnp.where(jnp.isfinite(x), x, 0.5 * (a + b)), a + tol, b - tol), a, b)
        gx = g(x)
        right = gx < 0  # the root is left of x: x becomes the right end
        m = 1.0 - gx / jnp.where(right, gb, ga)  # the replaced end's value over the new one
        m = jnp.where(m > 0, m, 0.5)
        ga = jnp.where(right & (side == 1), m * ga, ga)  # the left end stayed twice: scale its value
        gb = jnp.where(~right & (side == -1), m * gb, gb)
        return (jnp.where(right, a, x), jnp.where(right, x, b), jnp.where(right, ga, gx), jnp.where(right, gx, gb),
                jnp.where(right, 1, -1).astype(side.dtype))

    ga = jnp.where(jnp.isfinite(ga), ga, jnp.finfo(lo.dtype).max / 4)
    c = (a, b, jnp.where(inside, ga, 1.0), jnp.where(inside, gb, -1.0), jnp.zeros(lo.shape, jnp.int32))
    # a fixed number of steps first (a loop without a test per environment, which batches cheaply),
    # then steps while any bracket of the batch is open
    c = jax.lax.fori_loop(0, ROOT_FIXED, lambda _, c: step(c), c)
    open_ = lambda c: ~jnp.all(~inside | (c[1] - c[0] <= 2 * tolerance(c[0], c[1])))  # noqa: E731
    _, c = jax.lax.while_loop(lambda ic: (ic[0] < ROOT_STEPS) & open_(ic[1]), lambda ic: (ic[0] + 1, step(ic[1])), (0, c))
    a, b, ga, gb, _ = c
    x = jnp.where(jnp.abs(ga) < jnp.abs(gb), a, b)
    return jnp.where(g_lo <= 0, lo, jnp.where(g_hi >= 0, hi, x))


# ------------------------------------------------------------------------------ the exact path


def ironed_allocation(eco: Economics, env: Env) -> Array:
    """The exact asymmetric-information allocation of a single-crossing model (module docstring).

    In the working order (allocations rising with the index, type 0 the one whose IR binds) the
    least payments are ``t_0 = c_0(x_0)``, ``t_j = t_{j−1} + c_j(x_j) − c_j(x_{j−1})``; with the
    principal's utility ``V_j(x) − λ_j t`` the objective is ``Σ_j φ_j(x_j)``,
    ``φ_j(x) = p_j (V_j(x) − λ_j c_j(x)) − Λ_{>j} (c_j(x) − c_{j+1}(x))``,
    ``Λ_{>j} = Σ_{k>j} p_k λ_k`` (Laffont & Martimort eq. 2.56, for any number of types). Ironing:
    ``x̂_i = max_{j≤i} min_{l≥i} x*_{[j, l]}`` over the blocks' own maximizers ``x*``."""
    lo, hi = eco.bounds(env)
    K = lo.shape[1]
    up = ascending(eco, env)
    lo_w, hi_w = _working(up, lo[0]), _working(up, hi[0])
    # each type alone first; a block's maximizer lies between its members' own (every member's
    # derivative has one sign outside them), which brackets the blocks' root finds tightly
    own = _root(_block_slopes(eco, env, up, np.arange(K), np.arange(K)), lo_w, hi_w)
    jj, ll = np.triu_indices(K, 1)  # the blocks [j, l] of two types or more
    if len(jj):
        span = lambda f, v: jnp.stack([f(v[j:l + 1]) for j, l in zip(jj, ll, strict=True)])  # noqa: E731
        b_lo = jnp.maximum(span(jnp.max, lo_w), span(jnp.min, own))
        b_hi = jnp.minimum(span(jnp.min, hi_w), span(jnp.max, own))
        x_star = _root(_block_slopes(eco, env, up, jj, ll), b_lo, jnp.maximum(b_hi, b_lo))
    else:
        x_star = own[:0]
    index = np.full((K, K), K + len(jj))
    index[np.arange(K), np.arange(K)] = np.arange(K)
    index[jj, ll] = K + np.arange(len(jj))
    table = jnp.concatenate([own, x_star, jnp.full(1, jnp.nan, own.dtype)])[index]  # [j, l]; NaN never read
    big = jnp.finfo(lo.dtype).max
    j_ix, i_ix, l_ix = np.arange(K)[:, None, None], np.arange(K)[None, :, None], np.arange(K)[None, None, :]
    inner = jnp.min(jnp.where((l_ix >= i_ix) & (l_ix >= j_ix), table[:, None, :], big), axis=2)  # [j, i]
    x_hat = jnp.max(jnp.where(j_ix[..., 0] <= i_ix[..., 0], inner, -big), axis=0)
    return _working(up, jnp.clip(x_hat, lo_w, hi_w))[None]


def _working(up: Array, v: Array) -> Array:
    """Per-type values ``[K, ...]`` in the working order (its own inverse: a reversal or none)."""
    return jnp.where(up, v, v[::-1])


def _block_slopes(eco: Economics, env: Env, up: Array, jj: np.ndarray, ll: np.ndarray) -> Callable[[Array], Array]:
    """``x[B] ↦`` each block's summed derivative ``Σ_{j ≤ i ≤ l} φ_i'(x_b)`` (:func:`ironed_allocation`),
    the blocks ``[jj[b], ll[b]]`` of consecutive types in the working order."""
    types = jax.tree.map(lambda v: _working(up, v), eco.per_type(env))
    p = _working(up, eco.probabilities(env))
    lo_w = _working(up, eco.bounds(env)[0][0])
    zero, one = jnp.zeros((), lo_w.dtype), jnp.ones((), lo_w.dtype)
    lam = jax.vmap(lambda ty, x: eco.principal(env, ty, _item(eco, x[None], zero))
                   - eco.principal(env, ty, _item(eco, x[None], one)))(types, lo_w)
    Lam = jnp.cumsum((p * lam)[::-1])[::-1]
    Lam_next = jnp.append(Lam[1:], 0.0)  # Λ_{>j}
    K = p.shape[0]
    # type j's terms, stacked [K]: itself, the next type (whose rent j's allocation sets), p, λ, Λ_{>j}
    terms = (types, jax.tree.map(lambda v: jnp.concatenate([v[1:], v[-1:]]), types), p, lam, Lam_next,
             jnp.arange(K) < K - 1)
    sizes = ll - jj + 1
    terms = jax.tree.map(lambda v: v[np.concatenate([np.arange(j, l + 1) for j, l in zip(jj, ll, strict=True)])], terms)

    def phi(x: Array, t_j: Env, t_next: Env, p_j: Array, lam_j: Array, L_j: Array, has_next: Array) -> Array:
        c = eco.cost(env, t_j, _item(eco, x[None]))
        rent = jnp.where(has_next, c - eco.cost(env, t_next, _item(eco, x[None])), 0.0)
        return p_j * (eco.principal(env, t_j, _item(eco, x[None], zero)) - lam_j * c) - L_j * rent

    dphi = jax.vmap(jax.grad(phi))
    if np.all(sizes == 1):  # each type alone
        return lambda x: dphi(x, *terms)
    ends = np.cumsum(sizes)  # each block's members are a run of the stacked terms: static slices, no scatter

    def slopes(x: Array) -> Array:
        d = dphi(jnp.concatenate([jnp.broadcast_to(x[b], (n,)) for b, n in enumerate(sizes)]), *terms)
        return jnp.stack([jnp.sum(d[e - n:e]) for n, e in zip(sizes, ends, strict=True)])

    return slopes


# ---------------------------------------------------------------------------------- the search


def search(eco: Economics, env: Env, phases: tuple[tuple[int | None, int, float], ...] | None = None,
           random_starts: int | None = None, key: Array | None = None, extra_starts: Array | None = None) -> Array:
    """The asymmetric-information allocation of a general model (module docstring). Each phase
    ``(keep, steps, lr)`` keeps the ``keep`` best points (``None``: all) and runs ``steps``
    projected Adam steps from them at the initial rate ``lr``. ``extra_starts`` (``[F, K, S]``) join
    the starts (a learned policy's allocations: warm starts)."""
    lo64 = eco.bounds(env)[0]
    one_dim = lo64.shape[0] == 1 and eco.one_dim
    phases = phases or (PHASES_1D if one_dim else PHASES)
    random_starts = (RANDOM_STARTS_1D if one_dim else RANDOM_STARTS) if random_starts is None else random_starts
    # one field and one type dimension: the ironed allocation, exact under single crossing, joins
    # the candidates (elsewhere it is merely a feasible point or rejected)
    exact = [ironed_allocation(eco, env)[..., None]] if one_dim else []
    structured = structured_starts(eco, env).astype(jnp.float32)
    # the ascent in float32 (its end points are candidates: only the final menu must be exact)
    env64, env = env, jax.tree.map(lambda v: v.astype(jnp.float32), env)
    lo, hi = eco.bounds(env)
    F, K = lo.shape
    key = jax.random.PRNGKey(0) if key is None else key
    up = ascending(eco, env) if one_dim else jnp.asarray(True)
    rand = lo[..., None] + (hi - lo)[..., None] * jax.random.uniform(key, (F, K, random_starts), lo.dtype)
    starts = [structured, rand]
    if extra_starts is not None:
        starts.append(jnp.clip(extra_starts.astype(jnp.float32), lo[..., None], hi[..., None]))
    cols = jnp.concatenate(starts, axis=-1)  # [F, K, P]
    P = cols.shape[-1]
    # one dimension: every start twice, once kept monotone in the single-crossing direction
    ordered = jnp.concatenate([jnp.zeros(P, bool), jnp.ones(P, bool)]) if one_dim else jnp.zeros(P, bool)
    if one_dim:
        cols = jnp.concatenate([cols, cols], axis=-1)
    first = cols

    # the ascent stays a hair inside the box: valuations like sqrt(x) have infinite slopes at the
    # bound, which Adam cannot step from (the bound itself is a candidate below)
    inner = lo + INSIDE * (hi - lo)

    def project(x: Array, mono_cols: Array) -> Array:
        boxed = jnp.clip(x, inner[..., None], hi[..., None])
        if not one_dim:
            return boxed
        mono = jax.vmap(lambda xp: _ordered(xp, up, inner[0], hi[0]), in_axes=1, out_axes=1)(x[0])[None]
        return jnp.where(mono_cols, mono, boxed)

    f = jax.vmap(lambda xp: _objective(eco, env, xp), in_axes=2)
    vals = None
    for keep, steps, lr in phases:
        if keep is not None and keep < cols.shape[-1]:
            best = jnp.argsort(-(f(cols) if vals is None else vals))[:keep]
            cols, ordered = cols[..., best], ordered[best]
        cols, vals = optim.projected_ascent(f, cols, lambda x, o=ordered: project(x, o), (hi - lo)[..., None], steps, lr)
    cand = jnp.concatenate([cols, first], axis=-1).astype(lo64.dtype)
    return best_feasible(eco, env64, jnp.concatenate([cand, lo64[..., None], *exact], axis=-1))


def structured_starts(eco: Economics, env: Env) -> Array:
    """The search's starts beside random ones, ``[F, K, 3]``: the complete-information
    allocation, the same shrunk toward the lower bounds (information rents lower allocations),
    and its mean item for every type (pooling)."""
    lo = eco.bounds(env)[0]
    x_ci = complete_allocation(eco, env, quick=True)
    pooled = jnp.broadcast_to(jnp.mean(x_ci, axis=1, keepdims=True), x_ci.shape)
    return jnp.stack([x_ci, 0.6 * x_ci + 0.4 * lo, pooled], axis=-1)


def polish(eco: Economics, env: Env, starts: Array, steps: int) -> Array:
    """:func:`refine` from ``starts`` (``[F, K, S]``: a learned policy's allocations) and the
    :func:`structured_starts`, at the search's final rate: a learned policy's menus polished
    (``solve --polish``)."""
    return refine(eco, env, jnp.concatenate([starts, structured_starts(eco, env).astype(starts.dtype)], axis=-1),
                  steps, POLISH_LR)


def _objective(eco: Economics, env: Env, x: Array) -> Array:
    """The search's objective: the principal's utility of ``x`` paid its least rents, minus the
    penalty on their positive-cycle residual."""
    C = cost_matrix(eco, env, x)
    R = core.least_rents(C)
    residual = core.ic_shortfall(R, C)
    return eco.value(env, x, R) - PENALTY * jnp.sum(residual / jnp.maximum(1.0, jnp.abs(R)))


def refine(eco: Economics, env: Env, starts: Array, steps: int, lr: float) -> Array:
    """The best feasible of ``starts`` (``[F, K, S]``) and the end points of ``steps`` projected
    Adam steps of the search's objective from each (no other starts): a local search from given
    allocations (``solve --polish``: a learned policy's)."""
    env32 = jax.tree.map(lambda v: v.astype(jnp.float32), env)
    lo, hi = eco.bounds(env32)
    inner = lo + INSIDE * (hi - lo)
    x0 = jnp.clip(starts.astype(jnp.float32), inner[..., None], hi[..., None])
    f = jax.vmap(lambda xp: _objective(eco, env32, xp), in_axes=2)
    ends, _ = optim.projected_ascent(f, x0, lambda x: jnp.clip(x, inner[..., None], hi[..., None]),
                                     (hi - lo)[..., None], steps, lr)
    return best_feasible(eco, env, jnp.concatenate([starts, ends.astype(starts.dtype)], axis=-1))


def best_feasible(eco: Economics, env: Env, xs: Array) -> Array:
    """The candidate ``xs[F, K, P]`` whose least-paid menu is feasible with the largest utility,
    each first clipped to the box (the searches' float32 points round past bounds)."""
    lo, hi = eco.bounds(env)
    xs = jnp.clip(xs.astype(lo.dtype), lo[..., None], hi[..., None])

    def score(x: Array) -> Array:
        C = cost_matrix(eco, env, x)
        t = core.minimal_payments(C)
        ok = core.feasible(core.ir_ic(t[None, :] - C))
        return jnp.where(ok, eco.value(env, x, t), -jnp.inf)

    vals = jax.vmap(score, in_axes=2)(xs)
    return xs[..., jnp.argmax(vals)]
