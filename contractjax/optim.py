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
