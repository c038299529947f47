"""Noise schedules (docs/models.md §7.1; reference values from the papers' PyTorch code)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from contractjax.solver import diffusion


def test_vp_schedule_values():
    b = diffusion.betas("vp", 6)
    np.testing.assert_allclose(b, [0.1429, 0.3490, 0.5055, 0.6244, 0.7147, 0.7833], atol=1e-4)
    for T in (3, 5, 6, 12, 50):
        s = diffusion.schedule("vp", T)
        assert s.alpha_bars[-1] == pytest.approx(0.00641, abs=5e-5)  # = exp(−(β_min + β_max)/2) for any T


def test_linear_schedule_warns():
    with pytest.warns(UserWarning, match="alpha_bar_T"):
        s = diffusion.schedule("linear", 6)
    assert s.alpha_bars[-1] == pytest.approx(0.94, abs=5e-3)


def test_cosine_schedule_monotone_and_bounded():
    s = diffusion.schedule("cosine", 10)
    assert np.all(np.diff(s.alpha_bars) < 0) and s.betas.max() <= 0.999 and s.alpha_bars[-1] < 0.01
    assert s.sigmas[0] == 0.0 and np.all(s.sigmas[1:] > 0)


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown"):
        diffusion.betas("quadratic", 5)


def _reference_chain(eps_fn, s, x, noise):
    """Step-by-step numpy loop: the DDPM reverse steps (Ho et al. 2020) with the x̂_0 clip."""
    T = len(s.betas)
    for t in reversed(range(T)):
        ab, ab_prev = s.alpha_bars[t], (s.alpha_bars[t - 1] if t > 0 else 1.0)
        eps = np.asarray(eps_fn(jnp.asarray(x), t))
        x0 = np.clip((x - np.sqrt(1 - ab) * eps) / np.sqrt(ab), -1, 1)
        mean = np.sqrt(ab_prev) * s.betas[t] / (1 - ab) * x0 + np.sqrt(s.alphas[t]) * (1 - ab_prev) / (1 - ab) * x
        x = mean + s.sigmas[t] * noise[t]
    return np.clip(x, -1, 1)


def test_scan_chain_equals_step_by_step_reference():
    from contractjax.solver.networks import NoiseNet, full_masks

    s = diffusion.schedule("vp", 6)
    net = NoiseNet(action_dim=4, hidden=(32, 32))
    e = jnp.ones(7)
    params = net.init(jax.random.PRNGKey(0), jnp.zeros(4), e, jnp.zeros((), jnp.int32))
    eps_fn = lambda x, t: net.apply(params, x, e, t, full_masks((32, 32)))
    key = jax.random.PRNGKey(1)
    xT = jax.random.normal(key, (4,))
    noise = jax.random.normal(jax.random.PRNGKey(2), (6, 4))
    got = np.asarray(jax.jit(lambda x, z: diffusion.reverse_chain(eps_fn, s, x, z))(xT, noise))
    want = _reference_chain(eps_fn, s, np.asarray(xT), np.asarray(noise))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.all(np.abs(got) <= 1.0)


def test_chain_step_is_the_spec_formula_when_unclipped():
    """With x̂_0 inside the box, the posterior-mean step equals (x_t − β_t/√(1−ᾱ_t) ε)/√α_t + σ_t z."""
    s = diffusion.schedule("cosine", 5)
    target = np.array([0.3, -0.2])
    sab, s1ab = jnp.asarray(np.sqrt(s.alpha_bars)), jnp.asarray(np.sqrt(1 - s.alpha_bars))
    eps_fn = lambda x, t: (x - sab[t] * target) / s1ab[t]  # makes x̂_0 = target at every step
    xT = np.array([0.9, -1.4])
    noise = np.random.default_rng(0).normal(size=(5, 2)) * 0.01
    got = np.asarray(diffusion.reverse_chain(eps_fn, s, jnp.asarray(xT), jnp.asarray(noise)))
    x = xT.copy()
    for t in reversed(range(5)):
        eps = (x - np.sqrt(s.alpha_bars[t]) * target) / np.sqrt(1 - s.alpha_bars[t])
        x = (x - s.betas[t] / np.sqrt(1 - s.alpha_bars[t]) * eps) / np.sqrt(s.alphas[t]) + s.sigmas[t] * noise[t]
    np.testing.assert_allclose(got, np.clip(x, -1, 1), atol=1e-5)


def test_masked_neurons_output_zero_and_get_no_gradient():
    from contractjax.solver.networks import NoiseNet

    net = NoiseNet(action_dim=3, hidden=(8, 8))
    e, x, t = jnp.ones(5), jnp.ones(3), jnp.asarray(2)
    params = net.init(jax.random.PRNGKey(0), x, e, t)
    masks = (jnp.array([1, 0, 1, 1, 0, 1, 1, 1.0]), jnp.ones(8))
    g = jax.grad(lambda p: jnp.sum(net.apply(p, x, e, t, masks) ** 2))(params)
    k = g["params"]["hidden_0"]["kernel"]
    assert np.all(np.asarray(k[:, 1]) == 0) and np.all(np.asarray(k[:, 4]) == 0)
    assert np.any(np.asarray(k[:, 0]) != 0)
    assert np.all(np.asarray(g["params"]["hidden_1"]["kernel"][1]) == 0)  # input rows of pruned neurons


def test_twin_critics_are_independent_and_polyak_moves_targets():
    import optax

    from contractjax.solver.networks import Critic, apply_ensemble, init_ensemble

    critic = Critic(hidden=(16, 16))
    e, a = jnp.ones((8, 5)), jnp.zeros((8, 3))
    params = init_ensemble(critic, 2, jax.random.PRNGKey(0), e[0], a[0])
    q = apply_ensemble(critic, params, e, a)
    assert q.shape == (2, 8) and not np.allclose(np.asarray(q[0]), np.asarray(q[1]))
    target = jax.tree.map(jnp.zeros_like, params)
    moved = optax.incremental_update(params, target, step_size=0.005)
    k = moved["params"]["out"]["kernel"]
    np.testing.assert_allclose(np.asarray(k), 0.005 * np.asarray(params["params"]["out"]["kernel"]), rtol=1e-6)
