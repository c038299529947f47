"""The oracles' small optimizers (contractjax.optim)."""

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import optim


def test_projected_ascent_runs_independent_columns_as_separate_problems():
    """``f`` with one value per column: each column follows exactly the path it follows alone,
    with its own best iterate."""
    centers = jnp.asarray([[0.3, -2.0, 5.0], [1.0, 0.5, -0.7]])  # [variables, columns]

    def f(x):  # concave per column, with its maximum at the column's center clipped to [-1, 1]
        return -jnp.sum((x - centers) ** 2 + 0.1 * jnp.abs(x - centers), axis=0)

    def box(x):
        return jnp.clip(x, -1.0, 1.0)

    x0 = jnp.zeros_like(centers)
    run = jax.jit(lambda x0: optim.projected_ascent(f, x0, box, 5.0, 100))
    x, fx = run(x0)
    assert fx.shape == (3,)
    for p in range(3):
        alone = jax.jit(lambda x0, p=p: optim.projected_ascent(lambda y: f(y[:, None].repeat(3, 1))[p], x0, box, 5.0, 100))
        xp, fp = alone(x0[:, p])
        np.testing.assert_allclose(x[:, p], xp, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(fx[p], fp, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(x, jnp.clip(centers, -1.0, 1.0), atol=2e-2)
