"""Where batched work runs: chunks of environments, split over every local device, and the
compile options and caches of the batched programs (used by :mod:`contractjax.batch` and the
sweeps' populations)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

#: Environments per compiled call; bounds device memory for very large batches.
CHUNK = 16384


def chunked(fn, *args, size: int = CHUNK):
    """Apply a batched function in chunks of ``size`` along the leading axis (a host-side loop,
    so that any number of environments fits in device memory), each chunk split over every local
    device (:func:`on_devices`). The last chunk is padded to ``size`` (repeating its last row), so
    that every chunk has one shape and compiles once."""
    n = jax.tree.leaves(args)[0].shape[0]
    if n <= size:
        return on_devices(fn, *args)
    pad = -n % size
    if pad:
        args = jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]), args)
    parts = [on_devices(fn, *jax.tree.map(lambda x, i=i: x[i:i + size], args)) for i in range(0, n + pad, size)]
    return jax.tree.map(lambda *xs: jnp.concatenate(xs)[:n], *parts)


def on_devices(fn, *args):
    """``fn(*args)`` with the leading (environment) axis split over every local device: the
    batch is padded to a multiple of the device count by repeating its last row (a valid input),
    each device computes its own slice (accelerators at once, by :func:`_per_device`; host
    devices in turn), and the padding is dropped from the result. Environments are independent,
    so the result equals one device's; on one device this is just ``fn(*args)``."""
    devices = jax.local_devices()
    n_dev, n = len(devices), jax.tree.leaves(args)[0].shape[0]
    if n_dev == 1 or n < n_dev:
        return fn(*args)
    pad = -n % n_dev
    if pad:
        args = jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]), args)
    if devices[0].platform == "cpu":
        # Host devices (XLA_FLAGS=--xla_force_host_platform_device_count) share the process's one
        # thread pool: running their programs at once gains nothing, and on large batches it
        # deadlocked XLA's CPU runtime (README, "Scaling"). Each device computes its slice in turn.
        size = (n + pad) // n_dev
        parts = [jax.device_get(fn(*jax.device_put(jax.tree.map(lambda x, i=i: x[i * size:(i + 1) * size], args), d)))
                 for i, d in enumerate(devices)]
        out = jax.tree.map(lambda *xs: np.concatenate(xs), *parts)
    else:
        out = _per_device(fn, n_dev, len(args))(*place_leading(args, n_dev, "env"))
    return jax.tree.map(lambda x: x[:n], out) if pad else out


@functools.cache
def _per_device(fn, n_devices: int, n_args: int):
    """``fn`` run by every device on its own slice (``shard_map``) rather than partitioned by XLA
    as one program, in which a vmapped loop whose trip count depends on the data (the oracles'
    ironing and polish) has one trip count for all devices; here each device runs only as many
    steps as its own environments need, with no cross-device agreement. (Not yet timed on GPUs.)"""
    spec = jax.sharding.PartitionSpec("env")
    # check_vma off: the scenarios' loops start their carries from constants (not per-device values)
    return jax.jit(jax.shard_map(fn, mesh=mesh(n_devices, "env"), in_specs=(spec,) * n_args, out_specs=spec,
                                 check_vma=False))


def mesh(n_devices: int, axis: str) -> jax.sharding.Mesh:
    return jax.sharding.Mesh(np.asarray(jax.local_devices()[:n_devices]), (axis,))


def place_leading(tree: Any, n_devices: int, axis: str) -> Any:
    """Every leaf's leading axis split over the first ``n_devices`` local devices (a
    ``NamedSharding`` on a one-axis mesh named ``axis``): environments here, population members in
    sweeps. The leading size must be a multiple of ``n_devices``."""
    if n_devices <= 1:
        return tree
    return jax.device_put(tree, jax.sharding.NamedSharding(mesh(n_devices, axis), jax.sharding.PartitionSpec(axis)))


#: XLA:CPU options for the oracles and evaluations: hand only matrix products to the YNNPACK
#: library, not reductions and elementwise chains, since on the oracles' small per-type axes XLA's
#: own loop fusions are faster (measured in the README's oracle section); the training program
#: was measured unaffected and keeps the defaults.
CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


def jit(fn):
    """``jax.jit(fn)`` with :data:`CPU_OPTIONS` when the default backend is the CPU."""
    return jax.jit(fn, compiler_options=CPU_OPTIONS if jax.default_backend() == "cpu" else None)


@functools.cache
def vmapped(fn):
    """``jit(jax.vmap(fn))``, compiled once per function."""
    return jit(jax.vmap(fn))


def release_compiled() -> None:
    """Drop this module's compiled programs (see :func:`contractjax.batch.release_compiled`)."""
    for fn in (vmapped, _per_device):
        fn.cache_clear()
