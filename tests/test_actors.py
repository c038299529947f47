"""Actors: the diffusion chain's entropy surrogate has a gradient and its clips pass gradients;
the tanh-Gaussian log-density is exact; every actor stays in the box."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from contractjax.solver import diffusion
from contractjax.solver.actors import DeterministicActor, DiffusionActor, GaussianActor
from contractjax.solver.networks import full_masks


def test_entropy_surrogate_has_a_gradient() -> None:
    actor = DiffusionActor(3, (16, 16), 8, diffusion.schedule("vp", 4))
    params = actor.init(jax.random.PRNGKey(0), 5)
    obs = jnp.ones((4, 5))

    def mean_logp(p):
        return jnp.mean(actor.sample(p, full_masks(actor.hidden), obs, jax.random.PRNGKey(0), 0.1).log_prob)

    norms = [float(jnp.linalg.norm(x)) for x in jax.tree.leaves(jax.grad(mean_logp)(params))]
    assert all(np.isfinite(norms)) and max(norms) > 0


def test_chain_values_are_the_clipped_chain_and_gradients_pass_the_clip() -> None:
    sched = diffusion.schedule("vp", 4)
    x_T = jnp.array([[3.0, -3.0, 0.2]])
    noise = jax.random.normal(jax.random.PRNGKey(1), (4, 1, 3))
    a, _, excess = diffusion.sample(lambda x, t: 0.0 * x, sched, x_T, noise)
    assert bool(jnp.all(jnp.abs(a) <= 1.0)) and float(excess[0]) > 0
    g = jax.grad(lambda x: jnp.sum(diffusion.sample(lambda y, t: 0.0 * y, sched, x, noise)[0]))(x_T)
    assert bool(jnp.all(g != 0))  # a hard clip would give zero gradient for the saturated entries


def test_tanh_gaussian_log_density_is_exact() -> None:
    """log π(a) of a 1-D tanh-Gaussian against the change-of-variables density on a grid."""
    actor = GaussianActor(1, (8,))
    params = actor.init(jax.random.PRNGKey(0), 2)
    obs = jnp.array([[0.3, -0.7]])
    masks = full_masks(actor.hidden)
    mean, log_std = (float(v[0, 0]) for v in actor.distribution(params, masks, obs))
    s = actor.sample(params, masks, jnp.repeat(obs, 4000, axis=0), jax.random.PRNGKey(1))
    a = np.asarray(s.action[:, 0], np.float64)
    u = np.arctanh(a)
    want = (-0.5 * ((u - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi)) - np.log(1 - a**2)
    np.testing.assert_allclose(np.asarray(s.log_prob), want, rtol=1e-3, atol=2e-3)
    assert np.all(np.abs(a) < 1)


def test_deterministic_actor_explores_inside_the_box() -> None:
    actor = DeterministicActor(4, (8,))
    params = actor.init(jax.random.PRNGKey(0), 3)
    masks = full_masks(actor.hidden)
    obs = jnp.ones((64, 3))
    a0 = actor.act(params, masks, obs, jax.random.PRNGKey(0))
    a = actor.sample(params, masks, obs, jax.random.PRNGKey(2), 5.0).action
    assert np.all(np.abs(np.asarray(a)) <= 1) and not np.allclose(a, a0)
    np.testing.assert_array_equal(actor.sample(params, masks, obs, jax.random.PRNGKey(2), 0.0).action, a0)


def test_diffusion_actor_evaluates_by_its_mean_path_or_one_sampled_chain() -> None:
    actor = DiffusionActor(3, (16,), 8, diffusion.schedule("vp", 4))
    params = actor.init(jax.random.PRNGKey(0), 5)
    masks = full_masks(actor.hidden)
    obs = jax.random.normal(jax.random.PRNGKey(1), (32, 5))
    k1, k2 = jax.random.PRNGKey(2), jax.random.PRNGKey(3)
    np.testing.assert_array_equal(actor.act(params, masks, obs, k1), actor.act(params, masks, obs, k2))
    assert not np.allclose(actor.act(params, masks, obs, k1, False), actor.act(params, masks, obs, k2, False))
    assert np.all(np.abs(np.asarray(actor.act(params, masks, obs, k1))) <= 1)
