"""On-device replay buffer: a fixed-capacity ring of transitions, pure functions over a pytree.

Static shapes throughout (capacity fixed at creation), so adding and sampling live inside the
jitted training loop without host round trips.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class Buffer(NamedTuple):
    data: Any  # pytree whose leaves have leading axis = capacity
    ptr: Array  # next write position
    size: Array  # number of valid entries (<= capacity)


def init(example: Any, capacity: int) -> Buffer:
    """Empty buffer for transitions shaped like ``example`` (one transition, no batch axis)."""
    data = jax.tree.map(lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example)
    return Buffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def add(buf: Buffer, batch: Any) -> Buffer:
    """Write a batch of transitions (leading axis ``B <= capacity``), overwriting the oldest."""
    capacity = jax.tree.leaves(buf.data)[0].shape[0]
    n = jax.tree.leaves(batch)[0].shape[0]
    idx = (buf.ptr + jnp.arange(n)) % capacity
    data = jax.tree.map(lambda d, x: d.at[idx].set(x), buf.data, batch)
    return Buffer(data, (buf.ptr + n) % capacity, jnp.minimum(buf.size + n, capacity))


def sample(buf: Buffer, key: Array, n: int) -> Any:
    """``n`` transitions drawn uniformly (with replacement) from the valid entries."""
    idx = jax.random.randint(key, (n,), 0, jnp.maximum(buf.size, 1))
    return jax.tree.map(lambda d: d[idx], buf.data)
