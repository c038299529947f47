"""Noise schedules of the conditional diffusion policy (SPEC §4.1).

Schedule constants are computed in numpy at trace time (the number of steps ``T`` is static);
the reverse chain itself belongs to the solver and uses these arrays as constants.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

SCHEDULES = ("vp", "linear", "cosine")
#: A schedule whose final ᾱ_T exceeds this leaves a visibly non-Gaussian x_T, so starting the
#: reverse chain from pure noise is inconsistent (ANCHORS: linear with T = 6 ends at 0.94).
ALPHA_BAR_WARN = 0.1


class Schedule(NamedTuple):
    """Per-step constants, index ``t = 0 … T−1`` for the paper's ``t = 1 … T``."""

    betas: np.ndarray
    alphas: np.ndarray
    alpha_bars: np.ndarray
    sigmas: np.ndarray  # reverse-step noise scale (posterior std), 0 at the last step


def betas(kind: str, T: int, beta_min: float = 0.1, beta_max: float = 10.0) -> np.ndarray:
    """``β_t`` for ``t = 1 … T``.

    * ``vp``: ``1 − exp(−β_min/T − (2t − 1)/(2T²) (β_max − β_min))``;
    * ``linear``: ``1e-4 … 2e-2`` evenly;
    * ``cosine``: Nichol & Dhariwal (2021), ``s = 0.008``, clipped at 0.999.
    """
    if T < 1:
        raise ValueError(f"denoising steps T must be >= 1, got {T}")
    t = np.arange(1, T + 1, dtype=np.float64)
    if kind == "vp":
        return 1.0 - np.exp(-beta_min / T - (2 * t - 1) / (2 * T**2) * (beta_max - beta_min))
    if kind == "linear":
        return np.linspace(1e-4, 2e-2, T)
    if kind == "cosine":
        s = 0.008
        f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
        return np.clip(1.0 - f[1:] / f[:-1], 0.0, 0.999)
    raise ValueError(f"schedule '{kind}' is unknown; choose one of: {', '.join(SCHEDULES)}")


def schedule(kind: str, T: int, warn: bool = True) -> Schedule:
    """All constants of a schedule; warns when ``ᾱ_T`` is far from 0."""
    b = betas(kind, T)
    a = 1.0 - b
    ab = np.cumprod(a)
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    sig = np.sqrt(b * (1.0 - ab_prev) / (1.0 - ab))
    sig[0] = 0.0  # the last reverse step (t = 1) adds no noise
    if warn and ab[-1] > ALPHA_BAR_WARN:
        warnings.warn(
            f"schedule '{kind}' with T = {T} ends at alpha_bar_T = {ab[-1]:.3f}, far from 0: the reverse chain "
            "starts from pure noise that the forward process never reaches; use 'vp' or 'cosine' or more steps",
            stacklevel=2,
        )
    return Schedule(b, a, ab, sig)


def reverse_chain(
    eps_fn: Callable[[Array, Array], Array],
    sched: Schedule,
    x_T: Array,
    noise: Array,
) -> Array:
    """Denoise ``x_T`` into an action by the reverse DDPM chain, as a ``lax.scan`` over steps.

    ``eps_fn(x_t, t)`` predicts the noise (``t`` = 0-based step index, traced); ``noise`` holds
    the ``T`` Gaussian draws up front (shape ``[T, *x_T.shape]``; step ``t`` uses ``noise[t]``).
    Each step forms ``x̂_0 = (x_t − √(1−ᾱ_t) ε)/√ᾱ_t``, clips it to ``[−1, 1]`` (the references'
    action box), and takes the posterior mean
    ``μ = √ᾱ_{t−1} β_t/(1−ᾱ_t) x̂_0 + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t) x_t`` plus ``σ_t z`` (no noise
    at the last step). Without the clip, ``μ`` equals SPEC §4.1's
    ``(x_t − β_t/√(1−ᾱ_t) ε)/√α_t``. The result is clipped to ``[−1, 1]``.
    """
    T = sched.betas.shape[0]
    ab = sched.alpha_bars
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    c_x0 = np.sqrt(ab_prev) * sched.betas / (1.0 - ab)
    c_xt = np.sqrt(sched.alphas) * (1.0 - ab_prev) / (1.0 - ab)
    consts = np.stack([np.sqrt(ab), np.sqrt(1.0 - ab), c_x0, c_xt, sched.sigmas], axis=1)[::-1]
    steps = jnp.arange(T)[::-1]

    def step(x, inp):
        t, k, z = inp
        sab, s1ab, a0, at, sig = (k[i].astype(x.dtype) for i in range(5))
        eps = eps_fn(x, t)
        x0 = jnp.clip((x - s1ab * eps) / sab, -1.0, 1.0)
        return a0 * x0 + at * x + sig * z, None

    x, _ = jax.lax.scan(step, x_T, (steps, jnp.asarray(consts), noise[::-1]))
    return jnp.clip(x, -1.0, 1.0)
