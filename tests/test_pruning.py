"""Structured pruning: schedule, masks, frozen pruned units, compact reconstruction."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from contractjax.solver import pruning
from contractjax.solver.networks import NoiseNet, full_masks

HIDDEN = (16, 16, 16)


@pytest.fixture(scope="module")
def net():
    n = NoiseNet(action_dim=4, hidden=HIDDEN)
    params = n.init(jax.random.PRNGKey(0), jnp.zeros(4), jnp.zeros(6), jnp.asarray(0))
    return n, params


def test_cubic_schedule():
    w = [float(pruning.cubic_sparsity(z, 0.5, 10, 100)) for z in (0, 500, 1000, 5000)]
    assert w[0] == 0.0 and w[2] == pytest.approx(0.5) and w[3] == pytest.approx(0.5)
    assert w[1] == pytest.approx(0.5 - 0.5 * 0.5**3)


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_mask_invariants(net, norm):
    _, params = net
    masks = full_masks(HIDDEN)
    for frac in (0.25, 0.5):
        new = pruning.update_masks(params, masks, frac, norm)
        for m_old, m in zip(masks, new, strict=True):
            assert m.shape == (16,) and set(np.unique(np.asarray(m))) <= {0.0, 1.0}
            assert int(16 - m.sum()) == round(frac * 16)
            assert np.all(np.asarray(m) <= np.asarray(m_old))  # monotone: pruned stays pruned
        masks = new
    # the pruned neurons are the least important ones of their layer
    k = params["params"]["hidden_0"]["kernel"]
    imp = np.asarray(pruning.importance(k, jnp.ones(16), norm))
    assert imp[np.asarray(masks[0]) == 0].max() <= imp[np.asarray(masks[0]) == 1].min()


def test_pruned_units_stay_frozen_under_adam(net):
    n, params = net
    masks = pruning.update_masks(params, full_masks(HIDDEN), 0.5)
    mult = pruning.param_masks(params, masks)
    params = pruning.apply(params, mult)
    opt = optax.adam(1e-2)
    state = opt.init(params)
    x, e = jnp.ones(4), jnp.ones(6)

    def loss(p):
        return jnp.sum(n.apply(p, x, e, jnp.asarray(3), masks) ** 2)

    for _ in range(5):
        g = pruning.apply(jax.grad(loss)(params), mult)
        upd, state = opt.update(g, state, params)
        state = pruning.mask_opt_state(state, mult)
        params = pruning.apply(optax.apply_updates(params, upd), mult)
    dead = np.asarray(masks[0]) == 0
    k0 = np.asarray(params["params"]["hidden_0"]["kernel"])
    assert np.all(k0[:, dead] == 0) and np.all(np.asarray(params["params"]["hidden_0"]["bias"])[dead] == 0)
    assert np.all(np.asarray(params["params"]["hidden_1"]["kernel"])[dead, :] == 0)
    mu = np.asarray(state[0].mu["params"]["hidden_0"]["kernel"])
    assert np.all(mu[:, dead] == 0) and np.any(mu[:, ~dead] != 0)


def test_compact_network_gives_same_outputs_with_fewer_parameters(net):
    n, params = net
    masks = pruning.update_masks(params, full_masks(HIDDEN), 0.375)
    params = pruning.apply(params, pruning.param_masks(params, masks))
    small, widths = pruning.compact(params, masks)
    assert widths == (10, 10, 10)
    small_net = NoiseNet(action_dim=4, hidden=widths)
    xs = jax.random.normal(jax.random.PRNGKey(1), (32, 4))
    es = jax.random.normal(jax.random.PRNGKey(2), (32, 6))
    ts = jnp.arange(32) % 6
    big_out = n.apply(params, xs, es, ts, masks)
    small_out = small_net.apply(small, xs, es, ts)
    np.testing.assert_allclose(np.asarray(small_out), np.asarray(big_out), atol=1e-5)
    assert pruning.count(small) == pruning.count_active(params, masks) < pruning.count(params)
