"""Networks of the solver (SPEC §4.1): the noise-prediction MLP of the diffusion actor.

Pruning (SPEC §4.3) acts on the output neurons of the hidden layers through binary masks of
static shape, passed in as an argument: one ``[width]`` vector per hidden layer. A masked neuron
outputs exactly zero, so it contributes nothing downstream and its weights get zero gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def sinusoidal(t: Array, dim: int) -> Array:
    """Sinusoidal embedding of the (integer) diffusion step ``t`` (Vaswani et al.; DDPM)."""
    half = dim // 2
    freqs = jnp.exp(-jnp.log(10000.0) * jnp.arange(half) / max(half - 1, 1))
    angles = jnp.asarray(t, jnp.float32)[..., None] * freqs
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


class NoiseNet(nn.Module):
    """``ε_θ(x_t, e, t)``: MLP on ``[x_t, MLP(sinusoid(t)), e]`` with Mish activations."""

    action_dim: int
    hidden: Sequence[int] = (256, 256, 256)
    t_dim: int = 16

    @nn.compact
    def __call__(self, x: Array, e: Array, t: Array, masks: Sequence[Array] | None = None) -> Array:
        temb = sinusoidal(t, self.t_dim)
        temb = nn.Dense(2 * self.t_dim, name="t_in")(temb)
        temb = nn.Dense(self.t_dim, name="t_out")(jax.nn.mish(temb))
        h = jnp.concatenate([x, jnp.broadcast_to(temb, (*x.shape[:-1], self.t_dim)), e], axis=-1)
        for i, width in enumerate(self.hidden):
            h = jax.nn.mish(nn.Dense(width, name=f"hidden_{i}")(h))
            if masks is not None:
                h = h * masks[i]
        return nn.Dense(self.action_dim, name="out")(h)


def full_masks(hidden: Sequence[int]) -> tuple[Array, ...]:
    """All-ones masks (nothing pruned)."""
    return tuple(jnp.ones(w) for w in hidden)


class Critic(nn.Module):
    """``Q(e, a)``: Mish MLP on ``[e, a]`` with a scalar output (SPEC §4.2)."""

    hidden: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, e: Array, a: Array) -> Array:
        h = jnp.concatenate([e, a], axis=-1)
        for i, width in enumerate(self.hidden):
            h = jax.nn.mish(nn.Dense(width, name=f"hidden_{i}")(h))
        return nn.Dense(1, name="out")(h)[..., 0]


def init_twin(critic: Critic, key: Array, e: Array, a: Array):
    """Two independent critics as one parameter pytree with a leading axis of 2 (vmapped)."""
    return jax.vmap(lambda k: critic.init(k, e, a))(jax.random.split(key, 2))


def apply_twin(critic: Critic, params, e: Array, a: Array) -> Array:
    """Both critics' values, shape ``[2, ...]``."""
    return jax.vmap(lambda p: critic.apply(p, e, a))(params)
