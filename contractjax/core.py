"""Scenario-independent contract theory: IR/IC slacks, feasibility, minimal payments.

Everything here is a pure function of arrays for *one* environment; batch with `jax.vmap`.

Conventions (docs/models.md §1):

* ``U[k, n]`` is the utility of an agent of type ``k`` who takes the item designed for type ``n``.
* IR slack of type ``k`` is ``U[k, k]``; IC slack of the pair ``(k, n)`` is ``U[k, k] - U[k, n]``
  (the diagonal is 0, i.e. trivially satisfied).
* A constraint holds when ``slack >= -TOL * scale`` with ``scale = max(1, |utilities involved|)``.
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

#: Relative feasibility tolerance: slack >= -TOL * max(1, |utilities involved|).
TOL = 1e-6


class Constraints(NamedTuple):
    """Named groups of constraint slacks and their scales (same shapes, any shapes).

    ``slack[name] >= -TOL * scale[name]`` means the constraint holds.
    """

    slack: dict[str, Array]
    scale: dict[str, Array]


def ir(U: Array, name: str = "IR") -> Constraints:
    """IR slacks ``U[k, k]`` from the utility matrix ``U[k, n]``."""
    own = jnp.diagonal(U)
    return Constraints({name: own}, {name: jnp.maximum(1.0, jnp.abs(own))})


def ic(U: Array, name: str = "IC") -> Constraints:
    """All-pairs IC slacks ``U[k, k] − U[k, n]`` (diagonal 0) from the utility matrix ``U[k, n]``."""
    own = jnp.diagonal(U)
    scale = jnp.maximum(1.0, jnp.maximum(jnp.abs(own)[:, None], jnp.abs(U)))
    return Constraints({name: own[:, None] - U}, {name: scale})


def ir_ic(U: Array, prefix: str = "") -> Constraints:
    """IR and all-pairs IC slacks from the utility matrix ``U[k, n]`` (any number of types)."""
    return merge(ir(U, prefix + "IR"), ic(U, prefix + "IC"))


def merge(*groups: Constraints) -> Constraints:
    """Concatenate several named constraint groups (names must be distinct)."""
    slack: dict[str, Array] = {}
    scale: dict[str, Array] = {}
    for g in groups:
        slack.update(g.slack)
        scale.update(g.scale)
    return Constraints(slack, scale)


def flat(c: Constraints) -> tuple[Array, Array]:
    """All slacks and scales of a constraint set as two flat vectors."""
    names = sorted(c.slack)
    slack = jnp.concatenate([jnp.ravel(c.slack[n]) for n in names])
    scale = jnp.concatenate([jnp.ravel(c.scale[n]) for n in names])
    return slack, scale


def violations(c: Constraints, tol: float = TOL) -> Array:
    """Per-constraint violation ``max(0, -slack)``, counted as 0 inside the tolerance."""
    slack, scale = flat(c)
    return jnp.where(slack >= -tol * scale, 0.0, -slack)


#: Tolerance for float32 computations (training): binding constraints computed in float32 carry
#: rounding errors far above ``TOL``; reported figures always come from float64 re-checks.
TOL32 = 1e-4


def feasible(c: Constraints, tol: float = TOL) -> Array:
    """True when every IR and IC constraint holds within the tolerance."""
    return jnp.all(violations(c, tol) == 0.0)


def max_violation(c: Constraints) -> Array:
    """Largest IR/IC violation (0 when feasible)."""
    return jnp.max(violations(c))


def scaled_violation(c: Constraints) -> Array:
    """Sum of ``max(0, -slack) / scale``: a smooth-ish penalty for training and solvers."""
    slack, scale = flat(c)
    return jnp.sum(jax.nn.relu(-slack / scale))


def minimal_payments(cost: Array, floor: Array | None = None) -> Array:
    """Smallest payments that make an allocation feasible, for quasi-linear agents.

    Agent ``k`` taking item ``n`` gets ``weight_k · (R[n] − cost[k, n])`` for some ``weight_k > 0``
    (dividing by it changes no constraint, so pass ``cost`` in payment units), so IR reads
    ``R[k] >= cost[k, k]`` and IC reads ``R[k] >= R[n] + cost[k, k] - cost[k, n]``. The least
    solution is the longest-path fixed point from the IR "source" (Bellman–Ford in the (max, +)
    semiring, ``K - 1`` rounds); it exists iff the allocation is implementable (no positive cycle). Check implementability by
    evaluating the constraints of the returned menu. This is the generic form of the papers'
    closed forms (binding IR of the lowest type and binding local downward IC). ``floor``
    replaces the IR levels ``cost[k, k]`` when participation asks for more (e.g. a per-period IR).

    ``cost`` may carry trailing batch axes, ``cost[k, n, ...]`` (then ``floor[k, ...]`` and the
    result ``R[k, ...]``): searches keep many candidate allocations along the last axis, where
    the elementwise work vectorizes.
    """
    own = diagonal(cost) if floor is None else floor
    R, _ = jax.lax.scan(lambda R, _: (bellman_round(R, cost, floor), None), own, None,
                        length=max(cost.shape[0] - 1, 1), unroll=True)  # no loop inside the searches' loops
    return R


def bellman_round(R: Array, cost: Array, floor: Array | None = None) -> Array:
    """One round of :func:`minimal_payments`: every payment raised to its IR level and to what
    every other item's payment forces (:func:`_forced`)."""
    own = diagonal(cost) if floor is None else floor
    return jnp.maximum(own, jnp.max(_forced(R, cost), axis=1))


def ic_shortfall(R: Array, cost: Array) -> Array:
    """``max(0, max_{n≠k} R[n] + cost[k, k] − cost[k, n] − R[k])`` per type: how much more type
    ``k`` must be paid to prefer its own item. Zero for the least rents of an implementable
    allocation; positive after :func:`minimal_payments`' rounds exactly when there is a positive
    cycle. Binding constraints give exactly zero with zero derivative (the diagonal term, which
    would tie with ``R[k]`` and split the derivative, is left out)."""
    K = cost.shape[0]
    eye = jnp.eye(K, dtype=bool).reshape((K, K) + (1,) * (cost.ndim - 2))
    return jax.nn.relu(jnp.max(jnp.where(eye, -jnp.inf, _forced(R, cost)), axis=1) - R)


def _forced(R: Array, cost: Array) -> Array:
    """``[k, n]``: the payment ``R[n] + cost[k, k] − cost[k, n]`` that item ``n``'s payment forces
    on type ``k`` (IC toward ``n``)."""
    return R[None, :] + (diagonal(cost)[:, None] - cost)


def diagonal(a: Array) -> Array:
    """``a[k, k, ...]`` for every ``k`` (the leading two axes' diagonal, kept leading). Static
    slices: ``jnp.diagonal`` becomes a gather, several times slower on CPUs."""
    return jnp.stack([a[k, k] for k in range(a.shape[0])])


@jax.custom_vjp
def least_rents(cost: Array) -> Array:
    """:func:`minimal_payments` (no floor) with the derivative of its longest-path tree.

    At the fixed point every ``R[k]`` is either its IR level or ``R[n] + cost[k, k] − cost[k, n]``
    for a binding item ``n``, so ``∂R`` follows the binding tree back to the IR roots in one
    pass; differentiating through the ``K − 1`` rounds of maxima instead made TWIN's search ~15 %
    slower on CPUs (README, TWIN lever table). Where constraints tie (pooled types: the IR of a
    type and its IC toward an identical item both bind, a zero-weight cycle), autodiff of the
    maxima splits the derivative around that cycle; here a payment's derivative comes only from
    IR when IR binds, else from the binding items whose payments were settled in an earlier
    Bellman–Ford round (ties among those share it equally), which is the derivative of the
    payments along the face of pooled allocations (ironing comes out exact). Where the
    allocation is not implementable the rounds have not converged and this is only an
    approximate derivative (the searches' penalty governs there).
    """
    return minimal_payments(cost)


def _settled(cost: Array) -> tuple[Array, Array]:
    """The least rents and, per type, the round in which its payment last rose (0: its IR level)."""
    own = diagonal(cost)

    def rnd(carry: tuple[Array, Array], r: Array) -> tuple[tuple[Array, Array], None]:
        R, depth = carry
        new = bellman_round(R, cost)
        return (new, jnp.where(new > R, r + 1, depth).astype(depth.dtype)), None

    rounds = jnp.arange(max(cost.shape[0] - 1, 1), dtype=jnp.int32)
    (R, depth), _ = jax.lax.scan(rnd, (own, jnp.zeros(own.shape, jnp.int32)), rounds, unroll=True)
    return R, depth


def _least_rents_fwd(cost: Array) -> tuple[Array, tuple[Array, Array, Array]]:
    R, depth = _settled(cost)
    return R, (R, depth, cost)


def _least_rents_bwd(res: tuple[Array, Array, Array], g: Array) -> tuple[Array]:
    R, depth, cost = res
    K = cost.shape[0]
    eye = jnp.eye(K, dtype=bool).reshape((K, K) + (1,) * (cost.ndim - 2))
    # [k, n]: type k's IC toward item n binds and item n's payment was settled before type k's
    binding = (_forced(R, cost) >= R[:, None]) & ~eye & (depth[None, :] < depth[:, None])
    n_paths = (depth == 0).astype(g.dtype) + jnp.sum(binding, axis=1, dtype=g.dtype)
    share = binding.astype(g.dtype) / jnp.maximum(n_paths, 1.0)[:, None]
    # derivative w.r.t. R[k] through every type whose rent is built on it (paths have < K edges)
    total, _ = jax.lax.scan(lambda t, _: (g + jnp.sum(share * t[:, None], axis=0), None), g, None,
                            length=max(K - 1, 1), unroll=True)
    return (jnp.where(eye, total[None, :], 0.0) - share * total[:, None],)


least_rents.defvjp(_least_rents_fwd, _least_rents_bwd)


def has_negative_cycle(w: Array, tol: Array | float = 0.0) -> Array:
    """True when the digraph with edge weights ``w[k, n]`` has a cycle of total weight below
    ``-tol`` (Floyd–Warshall closure in the (min, +) semiring; ``K`` rounds of ``K²``). Self-loops
    are ignored: in an IC graph they weigh 0."""
    K = w.shape[0]
    d = w.at[jnp.diag_indices(K)].set(0.0)

    def close(k: Array, d: Array) -> Array:
        return jnp.minimum(d, d[:, k, None] + d[None, k, :])

    d = jax.lax.fori_loop(0, K, close, d)
    return jnp.any(jnp.diagonal(d) < -tol)


def implementable_step(cost0: Array, cost1: Array, iters: int = 30) -> Array:
    """Largest ``t`` in ``[0, 1]`` for which the allocation with cost matrix
    ``cost0 + t (cost1 - cost0)`` is implementable.

    For quasi-linear agents whose cost of an item is linear in the allocation (``cost[k, n] =
    u_k · x_n``), moving the allocation from an implementable anchor ``x⁰`` toward a proposal
    ``x¹`` moves every cost linearly, hence every cycle sum ``S_C`` of the IC graph (weights
    ``cost[k, n] − cost[k, k]``); the allocation is implementable iff no cycle is negative
    (Rochet 1987, cyclic monotonicity), so the implementable ``t`` form an interval ``[0, t*]``
    with ``t* = min(1, min_{C: S_C(1) < 0} S_C(0) / (S_C(0) − S_C(1)))``. ``cost0`` must be
    implementable. Up to :data:`ENUMERATE_CYCLES_UP_TO` types the minimum runs over every simple
    cycle, exactly and differentiably (the binding cycle's ratio); beyond, ``t*`` comes from
    ``iters`` bisection halvings with a negative-cycle check and carries no gradient. Cycles
    within rounding of zero (``100 ε`` of the largest cost) count as non-negative, so ties in the
    anchor do not pin ``t`` at 0.
    """
    if cost0.shape[0] <= ENUMERATE_CYCLES_UP_TO:
        return _step_enumerated(cost0, cost1)
    return _step_bisected(cost0, cost1, iters)


def rounding(cost0: Array, cost1: Array) -> Array:
    """Cycles within this of zero count as non-negative: ``100 ε`` of the largest cost."""
    eps = jnp.finfo(cost1.dtype).eps
    return 100 * eps * jax.lax.stop_gradient(jnp.maximum(1.0, jnp.max(jnp.abs(jnp.stack([cost0, cost1])))))


def _step_enumerated(cost0: Array, cost1: Array) -> Array:
    src, dst = _cycles(cost0.shape[0])

    def sums(c: Array) -> Array:
        return jnp.sum(c[src, dst] - c[src, src], axis=1)

    one = jnp.ones((), cost1.dtype)
    s0, s1 = jnp.maximum(sums(cost0), 0.0), sums(cost1)
    binding = s1 < -rounding(cost0, cost1)
    ratio = s0 / jnp.where(binding, s0 - s1, 1.0)
    return jnp.minimum(one, jnp.min(jnp.where(binding, ratio, one)))


def _step_bisected(cost0: Array, cost1: Array, iters: int) -> Array:
    cost0, cost1 = jax.lax.stop_gradient(cost0), jax.lax.stop_gradient(cost1)
    tol = rounding(cost0, cost1)
    one = jnp.ones((), cost1.dtype)

    def weights(t: Array) -> Array:
        c = cost0 + t * (cost1 - cost0)
        return c - jnp.diagonal(c)[:, None]

    def halve(_: int, lohi: tuple[Array, Array]) -> tuple[Array, Array]:
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        bad = has_negative_cycle(weights(mid), tol)
        return jnp.where(bad, lo, mid), jnp.where(bad, mid, hi)

    ok = ~has_negative_cycle(weights(one), tol)
    lo, _ = jax.lax.fori_loop(0, iters, halve, (0.0 * one, one))
    return jnp.where(ok, one, lo)


#: Up to this many types, :func:`implementable_step` enumerates the simple cycles (409 at K = 6)
#: and is differentiable; beyond, it bisects and the step carries no gradient.
ENUMERATE_CYCLES_UP_TO = 6


@functools.cache
def _cycles(K: int) -> tuple[np.ndarray, np.ndarray]:
    """Every simple cycle of the complete digraph on ``K`` nodes as padded edge lists
    ``(src[C, K], dst[C, K])``; padding edges are self-loops ``(0, 0)``, which weigh 0."""
    src, dst = [], []
    for r in range(2, K + 1):
        for nodes in itertools.permutations(range(K), r):
            if nodes[0] == min(nodes):
                pad = [0] * (K - r)
                src.append(list(nodes) + pad)
                dst.append([nodes[(i + 1) % r] for i in range(r)] + pad)
    return np.array(src, np.int32).reshape(-1, K), np.array(dst, np.int32).reshape(-1, K)


def isotonic(y: Array, w: Array) -> Array:
    """Weighted isotonic (non-decreasing) regression of ``y`` by the max–min formula.

    ``ŷ_i = max_{j<=i} min_{l>=i} mean_w(y_j..y_l)``; O(K²) memory, exact, jit/vmap friendly —
    meant for the handful of contract types, not long vectors. Used for ironing: for separable
    objectives ``Σ_i w_i (y_i G(x_i) - x_i)`` with concave ``G`` the optimum under ``x_1 <= … <= x_K``
    is the unconstrained optimum evaluated at the ironed ``ŷ`` (Robertson, Wright & Dykstra 1988,
    Thm 1.5.1; Myerson's ironing).
    """
    K = y.shape[0]
    cw = jnp.concatenate([jnp.zeros(1, w.dtype), jnp.cumsum(w)])
    cwy = jnp.concatenate([jnp.zeros(1, y.dtype), jnp.cumsum(w * y)])
    j = jnp.arange(K)[:, None]
    l = jnp.arange(K)[None, :]
    mean = (cwy[l + 1] - cwy[j]) / jnp.where(l >= j, cw[l + 1] - cw[j], 1.0)
    big = jnp.finfo(y.dtype).max
    # inner[j, i] = min_{l >= i} mean[j, l] (only l >= j is valid)
    m = jnp.where(l >= j, mean, big)
    inner = jax.lax.cummin(m, axis=1, reverse=True)
    i = jnp.arange(K)[None, :]
    return jnp.max(jnp.where(j <= i, inner, -big), axis=0)
