"""Replay buffer: ring overwrite, valid-only sampling, one compilation for every call."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from contractjax.solver import buffer


def test_ring_buffer_wraps_and_samples_valid_entries():
    buf = buffer.init({"x": jnp.zeros(2), "r": jnp.zeros(())}, capacity=5)
    add = jax.jit(buffer.add)
    buf = add(buf, {"x": jnp.ones((3, 2)) * jnp.arange(3.0)[:, None], "r": jnp.arange(3.0)})
    assert int(buf.size) == 3 and int(buf.ptr) == 3
    s = buffer.sample(buf, jax.random.PRNGKey(0), 200)
    assert set(np.asarray(s["r"]).tolist()) <= {0.0, 1.0, 2.0}
    buf = add(buf, {"x": jnp.ones((3, 2)) * 7, "r": jnp.arange(3.0) + 10})
    assert int(buf.size) == 5 and int(buf.ptr) == 1
    np.testing.assert_array_equal(np.asarray(buf.data["r"]), [12.0, 1.0, 2.0, 10.0, 11.0])  # oldest overwritten


def test_add_and_sample_compile_once():
    buf = buffer.init({"x": jnp.zeros(3)}, capacity=64)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(buf, key):
        buf = buffer.add(buf, {"x": jax.random.normal(key, (8, 3))})
        return buf, buffer.sample(buf, key, 4)["x"].sum()

    for i in range(10):
        buf, _ = step(buf, jax.random.PRNGKey(i))
    assert int(buf.size) == 64
