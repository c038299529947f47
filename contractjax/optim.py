"""Small jittable optimizers for the oracles: projected Adam ascent with best-iterate tracking,
and the projection onto the ordered box ``lo <= x_1 <= … <= x_K <= hi`` (monotone allocations)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from contractjax import core

Array = jax.Array


def project_ordered_box(x: Array, lo: Array | float, hi: Array | float) -> Array:
    """Euclidean projection onto ``{lo <= x_1 <= … <= x_K <= hi}``: isotonic regression, then
    clipping (clipping commutes with the pooled means, so this is exact)."""
    return jnp.clip(core.isotonic(x, jnp.ones_like(x)), lo, hi)


def projected_ascent(
    f: Callable[[Array], Array],
    x0: Array,
    project: Callable[[Array], Array],
    scale: Array | float,
    steps: int,
    lr: float = 0.02,
    active: Array | bool = True,
) -> tuple[Array, Array]:
    """Maximize ``f`` over a convex set by projected Adam steps; returns the best iterate seen.

    Steps are ``scale · lr · adam_direction`` with ``lr`` decaying along a cosine to ``1e-3 lr``
    (``scale``: the natural size of each variable, a scalar or per coordinate). The best iterate
    is kept because Adam need not be monotone on the non-smooth objectives of the oracles.
    ``active = False`` takes no step (returns the projected ``x0``): the loop's trip count is
    traced, so a vmapped batch runs only as many steps as its active members need — none when
    every member is inactive.

    ``f`` may return a vector ``[P]``: then ``x[..., P]`` holds ``P`` independent problems along
    its last axis (``f``'s ``p``-th value depending on column ``p`` only; Adam is elementwise),
    each with its own best iterate — a multi-start search whose elementwise work vectorizes
    across the starts instead of being vmapped over them.
    """
    opt = optax.chain(optax.scale_by_adam(), optax.scale_by_schedule(optax.cosine_decay_schedule(lr, steps, 1e-3)))

    def summed(x: Array) -> tuple[Array, Array]:
        fx = f(x)
        return jnp.sum(fx), fx  # columns are independent: the sum's gradient is each one's

    def vg(x: Array) -> tuple[Array, Array]:
        (_, fx), g = jax.value_and_grad(summed, has_aux=True)(x)
        return fx, g

    x0 = project(x0)

    def step(_, carry):
        x, state, best_x, best_f = carry
        fx, g = vg(x)
        better = fx > best_f
        best_x = jnp.where(better, x, best_x)
        best_f = jnp.where(better, fx, best_f)
        upd, state = opt.update(g, state)
        return project(x + scale * upd), state, best_x, best_f

    init = (x0, opt.init(x0), x0, f(x0))
    x, _, best_x, best_f = jax.lax.fori_loop(0, jnp.where(active, steps, 0), step, init)
    fx = f(x)
    better = fx > best_f
    return jnp.where(better, x, best_x), jnp.where(better, fx, best_f)


def interior_point(
    f: Callable[[Array], Array],
    A: Array,
    b: Array,
    x0: Array,
    iters: int = 60,
    centering: float = 0.1,
    mu_min: float = 1e-11,
) -> Array:
    """Maximize a smooth concave ``f`` subject to ``A x <= b`` by a primal–dual interior-point
    method (infeasible start, fixed iteration count so that it vmaps and jits).

    Newton steps on the perturbed KKT system ``∇(−f) + Aᵀλ = 0``, ``A x + s = b``,
    ``s ∘ λ = μ``, reduced to ``(H + Aᵀ diag(λ/s) A) dx = …``; fraction-to-the-boundary step
    lengths keep ``s, λ > 0``; ``μ`` shrinks by ``centering`` per step down to ``mu_min`` (below
    it the reduced system becomes too ill-conditioned; a non-finite step is not taken). Rows of ``A`` should be
    scaled to unit norm and ``H = −∇²f`` plus the constraint term must be positive definite.
    """
    m = A.shape[0]
    grad = jax.grad(lambda x: -f(x))
    hess = jax.hessian(lambda x: -f(x))
    s0 = jnp.maximum(b - A @ x0, 1.0)
    lam0 = jnp.ones(m, x0.dtype)

    def step(carry, _):
        x, s, lam = carry
        mu = jnp.maximum(centering * jnp.dot(s, lam) / m, mu_min)
        F1 = grad(x) + A.T @ lam
        F2 = A @ x + s - b
        F3 = s * lam - mu
        D = lam / s
        lhs = hess(x) + (A.T * D) @ A
        rhs = -F1 - A.T @ (D * (F2 - F3 / lam))
        dx = jnp.linalg.solve(lhs, rhs)
        dlam = D * (A @ dx + F2 - F3 / lam)
        ds = (-F3 - s * dlam) / lam

        def max_step(v, dv):
            ratio = jnp.where(dv < 0, -v / jnp.where(dv < 0, dv, -1.0), jnp.inf)
            return jnp.minimum(1.0, 0.99 * jnp.min(ratio))

        t = jnp.minimum(max_step(s, ds), max_step(lam, dlam))
        new = (x + t * dx, s + t * ds, lam + t * dlam)
        ok = jnp.all(jnp.isfinite(new[0])) & jnp.all(jnp.isfinite(new[1])) & jnp.all(jnp.isfinite(new[2]))
        return jax.tree.map(lambda a, b_: jnp.where(ok, a, b_), new, (x, s, lam)), None

    (x, _, _), _ = jax.lax.scan(step, (x0, s0, lam0), None, length=iters)
    return x


#: :func:`simplex` outcomes.
OPTIMAL, UNBOUNDED, PIVOT_LIMIT = 0, 1, 2


def simplex(c: Array, A: Array, b: Array, max_pivots: int | None = None, tol: float | None = None
            ) -> tuple[Array, Array, Array, Array]:
    """Maximize ``cᵀx`` subject to ``A x <= b``, ``x >= 0``, where ``b >= 0`` (the origin is a
    vertex: no phase one), by the primal simplex method on a dense tableau.

    Pivots enter the column of the most negative reduced cost (Dantzig) and, after a degenerate
    pivot, the first negative one (Bland), with the ratio test's ties broken by the smallest basic
    index: a cycle would consist of Bland pivots only, which cannot cycle. The loop is a
    ``while_loop`` (vmapped, it runs until the slowest problem of the batch is done).

    Returns ``(x, y, value, status)``: the optimum ``x``, the duals ``y >= 0`` (the optimum of
    ``min bᵀy`` s.t. ``Aᵀy >= c``, ``y >= 0``), ``cᵀx``, and :data:`OPTIMAL`, :data:`UNBOUNDED`
    (then the dual is infeasible; ``x``, ``y`` are the last vertex's) or :data:`PIVOT_LIMIT`
    (``max_pivots``, by default ``50 (p + q)`` for ``p`` rows and ``q`` columns). ``tol``: the
    smallest reduced cost and pivot that count (default ``1e-11`` in float64, ``1e-5`` in float32).
    """
    p, q = A.shape
    if tol is None:
        tol = 1e-11 if A.dtype == jnp.float64 else 1e-5
    limit = 50 * (p + q) if max_pivots is None else max_pivots
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(c)))
    T = jnp.zeros((p + 1, q + p + 1), A.dtype)
    T = T.at[:p, :q].set(A).at[:p, q:q + p].set(jnp.eye(p, dtype=A.dtype)).at[:p, -1].set(b).at[p, :q].set(-c)
    basis = q + jnp.arange(p)

    def running(carry):
        return carry[3] < 0

    def pivot(carry):
        T, basis, degenerate, _, count = carry
        reduced = T[p, :-1]
        negative = reduced < -tol * scale
        bland = jnp.argmax(negative)
        dantzig = jnp.argmin(reduced)
        e = jnp.where(degenerate, bland, dantzig)
        col, rhs = T[:p, e], T[:p, -1]
        positive = col > tol
        ratio = jnp.where(positive, rhs / jnp.where(positive, col, 1.0), jnp.inf)
        best = jnp.min(ratio)
        ties = positive & (ratio <= best + tol * jnp.maximum(1.0, best))
        r = jnp.argmin(jnp.where(ties, basis, q + p))
        status = jnp.where(~jnp.any(negative), OPTIMAL, jnp.where(~jnp.any(positive), UNBOUNDED,
                                                                   jnp.where(count >= limit, PIVOT_LIMIT, -1)))
        status = status.astype(jnp.int32)
        row = T[r] / T[r, e]
        new_T = T - jnp.outer(T[:, e], row)
        new_T = new_T.at[r].set(row)
        go = status < 0
        T = jnp.where(go, new_T, T)
        basis = jnp.where(go, basis.at[r].set(e), basis)
        return T, basis, best <= tol, status, count + 1

    T, basis, _, status, _ = jax.lax.while_loop(running, pivot, (T, basis, jnp.bool_(False), jnp.int32(-1),
                                                                  jnp.int32(0)))
    x = jnp.zeros(q + p, A.dtype).at[basis].set(T[:p, -1])[:q]
    y = T[p, q:q + p]
    return x, y, T[p, -1], status
