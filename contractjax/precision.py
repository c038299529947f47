"""The one switch between float64 (oracles, evaluations, reported menus) and float32 (training).

Oracles and evaluations run with 64-bit types so that binding constraints pass a float64
re-check of the written files; the training program stays float32 even when a user or a
notebook turned ``jax_enable_x64`` on globally. Both switches are local (``jax.enable_x64``),
never global state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


def _with_x64(enabled: bool, fn: F) -> F:
    @functools.wraps(fn)
    def wrapped(*args: Any, **kw: Any) -> Any:
        with jax.enable_x64(enabled):
            return fn(*args, **kw)

    return wrapped  # type: ignore[return-value]


def float64(fn: F) -> F:
    """Trace and run ``fn`` with 64-bit types on."""
    return _with_x64(True, fn)


def float32(fn: F) -> F:
    """Trace and run ``fn`` with 64-bit types off (the training program)."""
    return _with_x64(False, fn)


def as64(tree: Mapping[str, Any]) -> dict[str, jax.Array]:
    """A dict of arrays as float64 JAX arrays (call inside :func:`float64`)."""
    return {k: jnp.asarray(v, dtype=jnp.float64) for k, v in tree.items()}


def to_numpy(tree: Any, dtype: Any = None) -> Any:
    """Every leaf as a numpy array (optionally cast), for files and reports."""
    return jax.tree.map(lambda x: np.asarray(x, dtype=dtype), tree)
