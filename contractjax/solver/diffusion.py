"""The conditional diffusion policy: noise schedules, the reverse chain and its entropy bound
(DDPM, Ho et al. 2020; the actor of the four papers, e.g. Wen et al. 2024 [DT], Sec. IV).

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
#: reverse chain from pure noise is inconsistent (the reference PyTorch implementations: linear with T = 6 ends at 0.94).
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
    unroll: int = 1,
) -> Array:
    """Denoise ``x_T`` into an action by the reverse DDPM chain, as a ``lax.scan`` over steps.

    ``eps_fn(x_t, t)`` predicts the noise (``t`` = 0-based step index, traced); ``noise`` holds
    the ``T`` Gaussian draws up front (shape ``[T, *x_T.shape]``; step ``t`` uses ``noise[t]``).
    Each step forms ``x̂_0 = (x_t − √(1−ᾱ_t) ε)/√ᾱ_t``, clips it to ``[−1, 1]`` (the references'
    action box), and takes the posterior mean
    ``μ = √ᾱ_{t−1} β_t/(1−ᾱ_t) x̂_0 + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t) x_t`` plus ``σ_t z`` (no noise
    at the last step). Without the clip, ``μ`` equals the papers' step
    ``(x_t − β_t/√(1−ᾱ_t) ε)/√α_t``. The result is clipped to ``[−1, 1]``.
    """
    return sample(eps_fn, sched, x_T, noise, 0.0, unroll)[0]


def _clip(x: Array) -> Array:
    """Clip to ``[−1, 1]`` with a straight-through gradient: a chain whose prediction left the box
    still learns (a hard clip has zero gradient there, the references' stuck-at-the-bound failure)."""
    return x + jax.lax.stop_gradient(jnp.clip(x, -1.0, 1.0) - x)


#: Floor of the last step's standard deviation inside the log-density surrogate (the chain
#: itself adds no noise there unless exploration asks for it).
MIN_FINAL_STD = 1e-3


def sample(
    eps_fn: Callable[[Array, Array], Array],
    sched: Schedule,
    x_T: Array,
    noise: Array,
    final_std: Array | float = 0.0,
    unroll: int = 1,
) -> tuple[Array, Array, Array]:
    """The reverse chain of :func:`reverse_chain`, with ``final_std · noise[0]`` added at the last
    step (exploration noise), and a tractable surrogate of ``log π(a | e)``.

    Surrogate (the entropy bound of DIME, Celik et al. 2025): along the sampled path,
    ``ℓ = log N(x_T; 0, I) + Σ_t log p_θ(x_{t−1} | x_t) − Σ_t log q(x_t | x_{t−1})`` with the
    Gaussian reverse steps ``p_θ`` (std ``σ_t``; ``max(final_std, MIN_FINAL_STD)`` at the last
    step) and the forward noising steps ``q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t I)``. Its
    expectation upper-bounds ``E log π`` (by ``E KL(p_θ(x_{1:T}|x_0) ‖ q(x_{1:T}|x_0))``), so
    ``−ℓ`` is a lower bound of the entropy; it depends on θ only through the forward terms,
    which is where the actor's entropy gradient comes from. The clips are ignored in ``ℓ``.

    The clips pass gradients straight through (values are clipped); the third output, the squared
    excess of the last step's ``x̂_0`` (the raw action) over the box, lets a loss keep the raw
    action inside it. Only the last step: penalizing the intermediate ``x̂_0`` as well asks the
    actor to be a good denoiser, which competes with its objective (on AIGC, 1,500 iterations,
    64-wide networks, two seeds: gaps of 2.4–7.2 % with every step penalized, 0.08–0.13 % with
    the last step only; DT 12–17 % vs 8–10 %).
    Returns ``(a, ℓ, excess)``, the last two reduced over the last axis.
    """
    T = sched.betas.shape[0]
    ab = sched.alpha_bars
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    c_x0 = np.sqrt(ab_prev) * sched.betas / (1.0 - ab)
    c_xt = np.sqrt(sched.alphas) * (1.0 - ab_prev) / (1.0 - ab)
    consts = np.stack([np.sqrt(ab), np.sqrt(1.0 - ab), c_x0, c_xt, sched.sigmas, np.sqrt(sched.alphas),
                       sched.betas], axis=1)[::-1]
    steps = jnp.arange(T)[::-1]
    final_std = jnp.asarray(final_std, x_T.dtype)
    d = x_T.shape[-1]
    half_log_2pi = 0.5 * np.log(2.0 * np.pi)

    def step(carry, inp):
        x, logp, excess = carry
        t, k, z = inp
        sab, s1ab, a0, at, sig, sa, beta = (k[i].astype(x.dtype) for i in range(7))
        sig = jnp.where(t == 0, final_std, sig)
        eps = eps_fn(x, t)
        x0_raw = (x - s1ab * eps) / sab
        excess = jnp.where(t == 0, jnp.sum(jax.nn.relu(jnp.abs(x0_raw) - 1.0) ** 2, axis=-1), excess)
        x_new = a0 * _clip(x0_raw) + at * x + sig * z
        log_sig = jnp.log(jnp.where(t == 0, jnp.maximum(sig, MIN_FINAL_STD), sig))
        log_p = -0.5 * jnp.sum(z**2, axis=-1) - d * (log_sig + half_log_2pi)
        log_q = -0.5 * jnp.sum((x - sa * x_new) ** 2, axis=-1) / beta - d * (0.5 * jnp.log(beta) + half_log_2pi)
        return (x_new, logp + log_p - log_q, excess), None

    logp0 = -0.5 * jnp.sum(x_T**2, axis=-1) - d * half_log_2pi
    carry = (x_T, logp0, jnp.zeros_like(logp0))
    (x, logp, excess), _ = jax.lax.scan(step, carry, (steps, jnp.asarray(consts), noise[::-1]), unroll=unroll)
    return _clip(x), logp, excess
