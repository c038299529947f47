"""Small helpers shared by scenario modules: type draws, input checks, box transforms."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def draw_types(key: Array, ranges: Sequence[Sequence[float]], K: int) -> Array:
    """Draw ``K`` sorted type values.

    ``ranges`` lists one ``(lo, hi)`` per type (the papers' settings are for their default K).
    When its length differs from ``K``, the ``K`` values are drawn uniformly from the hull of the
    ranges, ``[min lo, max hi]``, then sorted (a documented extension beyond the papers).
    """
    r = np.asarray(ranges, dtype=float).reshape(-1, 2)
    if r.shape[0] == K:
        u = jax.random.uniform(key, (K,))
        x = r[:, 0] + u * (r[:, 1] - r[:, 0])
    else:
        x = jax.random.uniform(key, (K,), minval=r[:, 0].min(), maxval=r[:, 1].max())
    return jnp.sort(x)


def uniform_or_const(key: Array, spec: Any, shape: tuple[int, ...] = ()) -> Array:
    """Draw a sampler setting: a pair ``(lo, hi)`` is uniform on ``[lo, hi]``, a number is fixed."""
    if isinstance(spec, tuple | list):
        lo, hi = spec
        return jax.random.uniform(key, shape, minval=lo, maxval=hi)
    return jnp.full(shape, spec, dtype=jnp.result_type(float))


def scalars(key: Array, config: Mapping[str, Any], names: Sequence[str], whole: Sequence[str] = ()) -> dict[str, Array]:
    """Scalar settings: a number is held fixed, a range ``(lo, hi)`` is drawn uniformly per
    environment (uniformly among the whole numbers ``lo..hi`` for the fields in ``whole``), so that
    one policy can be trained across a study's values (e.g. reference points) when the field is in
    its state. Each name draws from its own key folded from ``key``: fixed settings consume no
    randomness and the other draws of a sampler do not change."""
    out = {}
    for i, name in enumerate(names):
        spec, k = config[name], jax.random.fold_in(key, 7_919 + i)
        if isinstance(spec, tuple | list) and name in whole:
            lo, hi = spec
            out[name] = jnp.floor(jax.random.uniform(k, minval=lo, maxval=hi + 1.0)).clip(lo, hi)
        else:
            out[name] = uniform_or_const(k, spec)
    return out


def dirichlet(key: Array, n: int, alpha: float = 1.0, shape: tuple[int, ...] = ()) -> Array:
    """Dirichlet(alpha) probability vector(s) of length ``n`` (flat, alpha = 1, by default).

    The flat case is normalized exponentials: same law as ``jax.random.dirichlet`` but without
    its gamma rejection sampler, which takes seconds to compile.
    """
    if alpha == 1.0:
        x = jax.random.exponential(key, (*shape, n))
        return x / jnp.sum(x, axis=-1, keepdims=True)
    return jax.random.dirichlet(key, jnp.full((n,), alpha), shape=shape)


def box(a: Array, hi: Array, lo: Array | float = 0.0) -> Array:
    """Affine map of ``a`` in ``[-1, 1]`` onto ``[lo, hi]`` (clipped), differentiable inside."""
    a = jnp.clip(a, -1.0, 1.0)
    return lo + (hi - lo) * (a + 1.0) / 2.0


def unbox(x: Array, hi: Array, lo: Array | float = 0.0) -> Array:
    """Inverse of :func:`box` on ``[lo, hi]``."""
    return jnp.clip(2.0 * (x - lo) / (hi - lo) - 1.0, -1.0, 1.0)


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def prospect_value(d: Array, gain_exponent: Array, loss_exponent: Array, loss_aversion: Array,
                   tiny: float = 1e-30) -> Array:
    """Prospect-theory value of an outcome ``d`` relative to the reference point:
    ``d^δ+`` for gains, ``−κ (−d)^δ−`` for losses (Kahneman–Tversky; AIGC eq. 7, TWIN eq. 23).

    One power per element (on ``max(|d|, tiny)``, with the exponent of ``d``'s side) and its own
    derivative ``δ |d|^δ / |d|`` rather than two powers and autodiff's: the oracles' searches
    evaluate it at every step (TWIN's search ~10 % faster on CPUs: README, TWIN lever table)."""
    return _prospect(d, gain_exponent, loss_exponent, loss_aversion, tiny)[0]


def _prospect(d, gain_exponent, loss_exponent, loss_aversion, tiny):
    gain = d >= 0
    a = jnp.maximum(jnp.abs(d), tiny)
    e = jnp.where(gain, gain_exponent, loss_exponent)
    p = a**e
    return jnp.where(gain, p, -loss_aversion * p), gain, a, e, p


@prospect_value.defjvp
def _prospect_jvp(tiny, primals, tangents):
    kappa = primals[3]
    dd, dgain, dloss, dkappa = tangents
    v, gain, a, e, p = _prospect(*primals, tiny)
    dv = jnp.where(gain, 1.0, kappa) * e * p / a * dd
    dv += jnp.where(gain, 1.0, -kappa) * p * jnp.log(a) * jnp.where(gain, dgain, dloss) + jnp.where(gain, 0.0, -p) * dkappa
    return v, dv


# ---------------------------------------------------------------- input checks (numpy, batched)


def fail(field: str, problem: str, fix: str) -> None:
    raise ValueError(f"field '{field}': {problem}; {fix}")


def check_sorted(env: Mapping[str, np.ndarray], *fields: str, axis: int = -1) -> None:
    for f in fields:
        d = np.diff(np.asarray(env[f]), axis=axis)
        if np.any(d < 0):
            i = int(np.argwhere((d < 0).reshape(len(d), -1).any(axis=1))[0, 0])
            fail(f, f"types must be sorted ascending (environment {i} is not)",
                 "sort the types and permute their probabilities the same way")


def check_probabilities(env: Mapping[str, np.ndarray], field: str, axes: Any = -1) -> None:
    x = np.asarray(env[field])
    if np.any(x < 0):
        fail(field, "probabilities must be non-negative", "give values in [0, 1]")
    s = x.sum(axis=axes)
    if np.any(np.abs(s - 1.0) > 1e-6):
        i = int(np.argwhere(np.abs(s - 1.0).reshape(len(s), -1) > 1e-6)[0, 0])
        fail(field, f"probabilities must sum to 1 (environment {i} sums to {s.reshape(len(s), -1)[i].tolist()})",
             "normalize them")
