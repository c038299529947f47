"""Pruning inside training: pruned neurons stay frozen (weights, targets, Adam moments), masks only
grow, the AGENT variant prunes its fixed rate at once; the compact policy acts the same."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from contractjax import batch, solver
from contractjax.solver import program, pruning, updates
from tests.conftest import tiny


def test_pruned_neurons_stay_frozen_and_compact_policy_is_equal() -> None:
    cfg = tiny(steps=30, prune_rate=0.5, pruning="cubic_l1")
    prog = program.for_config(cfg)
    ts, _ = prog.chunk(program.initial_state(cfg), 30)
    actor = ts.agent.actor
    assert 0.4 < float(updates.sparsity(actor.masks)) <= 0.5
    mult = pruning.param_masks(actor.params, actor.masks)
    dead = jax.tree.map(lambda m: m == 0, mult)
    zero = lambda tree: all(bool(jnp.all(jnp.where(d, x, 0.0) == 0)) for d, x in
                            zip(jax.tree.leaves(dead), jax.tree.leaves(tree), strict=True))
    assert zero(actor.params) and zero(actor.target)
    adam = actor.opt[0]
    assert zero(adam.mu) and zero(adam.nu)
    pol = solver.Policy.from_state(cfg, ts)
    # One more chunk: the pruned set only grows (masked neurons never revive).
    ts2, _ = prog.chunk(ts, 30)
    for old, new in zip(pol.masks, ts2.agent.actor.masks, strict=True):
        assert bool(jnp.all(new <= old))
    small = pol.compact()
    envs = batch.sample_envs("dt", 16, 5)
    np.testing.assert_allclose(small.actions(envs), pol.actions(envs), atol=1e-5)
    counts = pol.parameter_counts()
    assert counts["compact"] == counts["active"] < counts["full"]


@pytest.mark.parametrize("algo", ["diffusion_sac", "td3"])
def test_agent_variant_prunes_the_fixed_rate_at_once(algo) -> None:
    """Pruning acts on any actor (the MLP actors name their layers like the noise network)."""
    cfg = tiny(pruning="fixed_l2", prune_rate=0.25, algo=algo)
    ts, _ = program.for_config(cfg).chunk(program.initial_state(cfg), 10)
    assert float(updates.sparsity(ts.agent.actor.masks)) == pytest.approx(0.25)
