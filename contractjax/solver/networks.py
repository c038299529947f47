"""Networks of the solver: the diffusion actor's noise-prediction MLP, plain MLP actors, and
critics as independent ensembles.

Every actor names its hidden layers ``hidden_0 … hidden_{L-1}`` and its output layer ``out``,
so that structured pruning (:mod:`contractjax.solver.pruning`) works on any of them: one binary
mask of static shape ``[width]`` per hidden layer, passed in as an argument. A masked neuron
outputs exactly zero, so it contributes nothing downstream and its weights get zero gradient.
Activations are Mish, as in the reference diffusion-policy implementations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def sinusoidal(t: Array, dim: int) -> Array:
    """Sinusoidal embedding of the (integer) diffusion step ``t`` (Vaswani et al. 2017; Ho et al. 2020)."""
    half = dim // 2
    freqs = jnp.exp(-jnp.log(10000.0) * jnp.arange(half) / max(half - 1, 1))
    angles = jnp.asarray(t, jnp.float32)[..., None] * freqs
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


@jax.custom_jvp
def mish(x: Array) -> Array:
    """Mish ``x · tanh(softplus(x))`` (Misra 2019) with one exponential: ``tanh(log(1 + e^x))
    = n / (n + 2)`` with ``n = e^x (e^x + 2)``, instead of ``jax.nn.mish``'s exp, log1p and tanh
    (the activations are a large part of the update's non-matmul time). Past ``x = 20`` the
    ratio is 1 in float32, so the exponent is capped there. Its derivative
    ``n/(n + 2) + x · 4 e^x (e^x + 1)/(n + 2)²`` reuses the same exponential.
    """
    e = jnp.exp(jnp.minimum(x, 20.0))
    n = e * (e + 2.0)
    return x * (n / (n + 2.0))


@mish.defjvp
def _mish_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    (x,), (dx,) = primals, tangents
    e = jnp.exp(jnp.minimum(x, 20.0))
    n = e * (e + 2.0)
    r = 1.0 / (n + 2.0)
    s = n * r
    return x * s, dx * (s + x * 4.0 * e * (e + 1.0) * r * r)


def _hidden_stack(h: Array, hidden: Sequence[int], masks: Sequence[Array] | None) -> Array:
    for i, width in enumerate(hidden):
        h = mish(nn.Dense(width, name=f"hidden_{i}")(h))
        if masks is not None:
            h = h * masks[i]
    return h


class NoiseNet(nn.Module):
    """``ε_θ(x_t, e, t)``: MLP on ``[x_t, MLP(sinusoid(t)), e]`` (Ho et al. 2020, conditioned on
    the environment ``e``)."""

    action_dim: int
    hidden: Sequence[int] = (256, 256, 256)
    t_dim: int = 16

    @nn.compact
    def __call__(self, x: Array, e: Array, t: Array, masks: Sequence[Array] | None = None) -> Array:
        temb = sinusoidal(t, self.t_dim)
        temb = nn.Dense(2 * self.t_dim, name="t_in")(temb)
        temb = nn.Dense(self.t_dim, name="t_out")(mish(temb))
        h = jnp.concatenate([x, jnp.broadcast_to(temb, (*x.shape[:-1], self.t_dim)), e], axis=-1)
        return nn.Dense(self.action_dim, name="out")(_hidden_stack(h, self.hidden, masks))


class MLP(nn.Module):
    """Mish MLP ``x → out`` with maskable hidden layers (actors of the non-diffusion algorithms)."""

    out: int
    hidden: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, x: Array, masks: Sequence[Array] | None = None) -> Array:
        return nn.Dense(self.out, name="out")(_hidden_stack(x, self.hidden, masks))


def full_masks(hidden: Sequence[int]) -> tuple[Array, ...]:
    """All-ones masks (nothing pruned)."""
    return tuple(jnp.ones(w) for w in hidden)


class Critic(nn.Module):
    """``Q(e, a)`` (or ``V(e)`` when called without ``a``): Mish MLP with a scalar output."""

    hidden: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, e: Array, a: Array | None = None) -> Array:
        h = e if a is None else jnp.concatenate([e, a], axis=-1)
        return nn.Dense(1, name="out")(_hidden_stack(h, self.hidden, None))[..., 0]


def init_ensemble(critic: Critic, n: int, key: Array, *inputs: Array) -> Any:
    """``n`` independent critics as one parameter pytree with a leading axis of ``n`` (vmapped)."""
    return jax.vmap(lambda k: critic.init(k, *inputs))(jax.random.split(key, n))


def apply_ensemble(critic: Critic, params: Any, *inputs: Array) -> Array:
    """Every critic's value, shape ``[n, ...]``."""
    return jax.vmap(lambda p: critic.apply(p, *inputs))(params)
