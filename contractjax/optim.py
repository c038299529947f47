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
    lr: Array | float,
    steps: int,
) -> tuple[Array, Array]:
    """Maximize ``f`` over a convex set by projected Adam steps; returns the best iterate seen.

    ``lr`` may be a per-coordinate array (the natural scale of each variable). The best iterate
    is kept because Adam need not be monotone on the non-smooth objectives of the oracles.
    """
    opt = optax.scale_by_adam()
    x0 = project(x0)
    grad = jax.value_and_grad(f)

    def step(carry, _):
        x, state, best_x, best_f = carry
        fx, g = grad(x)
        better = fx > best_f
        best_x = jnp.where(better, x, best_x)
        best_f = jnp.where(better, fx, best_f)
        upd, state = opt.update(g, state)
        x = project(x + lr * upd)
        return (x, state, best_x, best_f), None

    init = (x0, opt.init(x0), x0, f(x0))
    (x, _, best_x, best_f), _ = jax.lax.scan(step, init, None, length=steps)
    fx = f(x)
    better = fx > best_f
    return jnp.where(better, x, best_x), jnp.where(better, fx, best_f)
