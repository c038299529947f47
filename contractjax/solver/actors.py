"""Actors: a policy ``π(a | e)`` over actions in ``[−1, 1]^d``, with maskable hidden layers.

Three kinds, one interface (``init``, ``sample``, ``act``), so that every algorithm, pruning,
checkpoints and :class:`~contractjax.solver.policy.Policy` treat them alike:

* :class:`DiffusionActor` — the conditional DDPM chain (Ho et al. 2020) with the DIME entropy
  bound (Celik et al. 2025) as its log-density surrogate;
* :class:`GaussianActor` — a tanh-squashed Gaussian with exact log-density (Haarnoja et al.
  2018, appendix C);
* :class:`DeterministicActor` — ``tanh(MLP(e))`` (Lillicrap et al. 2016; Fujimoto et al. 2018).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from contractjax.solver import diffusion
from contractjax.solver.networks import MLP, NoiseNet, full_masks

Array = jax.Array
Masks = tuple[Array, ...]
#: Bounds of the Gaussian actor's log standard deviation.
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class Sample(NamedTuple):
    """A batch of actions with their log-density (or its surrogate) and the summed squared
    excess of the raw prediction over the box (only the diffusion chain has one)."""

    action: Array
    log_prob: Array
    excess: Array


class Actor(Protocol):
    action_dim: int
    hidden: tuple[int, ...]

    def init(self, key: Array, obs_dim: int) -> Any: ...

    def sample(self, params: Any, masks: Masks, obs: Array, key: Array, std: Array | float) -> Sample:
        """Training-time actions, reparameterized (differentiable in ``params``)."""
        ...

    def act(self, params: Any, masks: Masks, obs: Array, key: Array, deterministic: bool = True) -> Array:
        """Evaluation actions (no exploration noise; ``deterministic=False`` lets a stochastic
        policy other than its exploration noise sample, e.g. the diffusion chain)."""
        ...


@dataclasses.dataclass(frozen=True, eq=False)
class DiffusionActor:
    """The reverse chain of :func:`contractjax.solver.diffusion.sample`; ``std`` is the std of the
    chain's last step (its exploration noise)."""

    action_dim: int
    hidden: tuple[int, ...]
    t_dim: int
    sched: diffusion.Schedule
    unroll: int = 1

    @property
    def net(self) -> NoiseNet:
        return NoiseNet(self.action_dim, self.hidden, self.t_dim)

    def init(self, key: Array, obs_dim: int) -> Any:
        x, e = jnp.zeros((1, self.action_dim)), jnp.zeros((1, obs_dim))
        return self.net.init(key, x, e, jnp.zeros((), jnp.int32), full_masks(self.hidden))

    def sample(self, params: Any, masks: Masks, obs: Array, key: Array, std: Array | float) -> Sample:
        k0, k1 = jax.random.split(key)
        x_T = jax.random.normal(k0, (*obs.shape[:-1], self.action_dim), obs.dtype)
        noise = jax.random.normal(k1, (self.sched.betas.shape[0], *x_T.shape), obs.dtype)
        eps_fn = lambda x, t: self.net.apply(params, x, obs, t, masks)
        return Sample(*diffusion.sample(eps_fn, self.sched, x_T, noise, std, self.unroll))

    def act(self, params: Any, masks: Masks, obs: Array, key: Array, deterministic: bool = True) -> Array:
        """Deterministic: the chain's mean path (``x_T = 0``, no noise at any step); else one
        stochastic chain (random ``x_T`` and the posterior noise of every step but the last)."""
        if not deterministic:
            return self.sample(params, masks, obs, key, 0.0).action
        x_T = jnp.zeros((*obs.shape[:-1], self.action_dim), obs.dtype)
        noise = jnp.zeros((self.sched.betas.shape[0], *x_T.shape), obs.dtype)
        eps_fn = lambda x, t: self.net.apply(params, x, obs, t, masks)
        return diffusion.sample(eps_fn, self.sched, x_T, noise, 0.0, self.unroll)[0]


@dataclasses.dataclass(frozen=True, eq=False)
class GaussianActor:
    """``a = tanh(u)``, ``u ~ N(μ(e), σ(e)²)``; ``log π(a|e) = log N(u) − Σ log(1 − tanh²u)``.
    Evaluation acts with ``tanh(μ(e))``. ``std`` is ignored: the policy carries its own."""

    action_dim: int
    hidden: tuple[int, ...]

    @property
    def net(self) -> MLP:
        return MLP(2 * self.action_dim, self.hidden)

    def init(self, key: Array, obs_dim: int) -> Any:
        return self.net.init(key, jnp.zeros((1, obs_dim)), full_masks(self.hidden))

    def distribution(self, params: Any, masks: Masks, obs: Array) -> tuple[Array, Array]:
        """``(μ, log σ)`` of the pre-squash Gaussian."""
        out = self.net.apply(params, obs, masks)
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, params: Any, masks: Masks, obs: Array, key: Array, std: Array | float = 0.0) -> Sample:
        mean, log_std = self.distribution(params, masks, obs)
        u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
        logp = gaussian_log_prob(u, mean, log_std) - jnp.sum(tanh_log_det(u), axis=-1)
        return Sample(jnp.tanh(u), logp, jnp.zeros_like(logp))

    def act(self, params: Any, masks: Masks, obs: Array, key: Array, deterministic: bool = True) -> Array:
        return jnp.tanh(self.distribution(params, masks, obs)[0])


@dataclasses.dataclass(frozen=True, eq=False)
class DeterministicActor:
    """``a = tanh(MLP(e))``; ``sample`` adds Gaussian noise of std ``std`` (clipped to the box)."""

    action_dim: int
    hidden: tuple[int, ...]

    @property
    def net(self) -> MLP:
        return MLP(self.action_dim, self.hidden)

    def init(self, key: Array, obs_dim: int) -> Any:
        return self.net.init(key, jnp.zeros((1, obs_dim)), full_masks(self.hidden))

    def sample(self, params: Any, masks: Masks, obs: Array, key: Array, std: Array | float = 0.0) -> Sample:
        a = self.act(params, masks, obs, key)
        a = jnp.clip(a + std * jax.random.normal(key, a.shape, a.dtype), -1.0, 1.0)
        zero = jnp.zeros(a.shape[:-1], a.dtype)
        return Sample(a, zero, zero)

    def act(self, params: Any, masks: Masks, obs: Array, key: Array, deterministic: bool = True) -> Array:
        return jnp.tanh(self.net.apply(params, obs, masks))


def gaussian_log_prob(x: Array, mean: Array, log_std: Array) -> Array:
    """``Σ log N(x; μ, σ²)`` over the last axis."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * np.log(2.0 * np.pi), axis=-1)


def gaussian_entropy(log_std: Array) -> Array:
    """Entropy of a diagonal Gaussian, summed over the last axis."""
    return jnp.sum(log_std + 0.5 * np.log(2.0 * np.pi * np.e), axis=-1)


def tanh_log_det(u: Array) -> Array:
    """``log(1 − tanh²u)`` computed stably as ``2 (log 2 − u − softplus(−2u))``."""
    return 2.0 * (np.log(2.0) - u - jax.nn.softplus(-2.0 * u))
