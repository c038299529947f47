"""The compiled program: one compilation per structure, float32 under a global x64, populations
equal to their members trained one by one."""

from __future__ import annotations

import jax
import numpy as np

from contractjax import solver
from contractjax.solver import program as programs
from tests.conftest import tiny


def test_chunk_compiles_once_across_chunks_seeds_and_traced_hyperparameters() -> None:
    cfg = tiny(scenario="aigc")
    prog = programs.for_config(cfg)
    before = prog.traces["chunk"]
    ts = programs.initial_state(cfg)
    for _ in range(3):
        ts, m = prog.chunk(ts, 7)
    # Another learning rate, temperature, pruning rate and seed: traced values, same program.
    other = cfg.replace(actor_lr=3e-5, alpha=0.05, prune_rate=0.5, seed=3)
    assert programs.for_config(other) is prog
    ts2, _ = prog.chunk(programs.initial_state(other), 7)
    assert prog.traces["chunk"] == before + 1
    assert int(ts.step) == 21 and int(ts2.step) == 7
    assert all(np.isfinite(float(v)) for v in m.values())


def test_training_is_float32_even_with_x64_enabled_globally() -> None:
    jax.config.update("jax_enable_x64", True)
    try:
        s = solver.run(tiny(steps=10), progress=False)
    finally:
        jax.config.update("jax_enable_x64", False)
    assert jax.tree.leaves(s["policy"].actor)[0].dtype == np.float32


def _population(cfgs: list) -> programs.TrainState:
    prog = programs.for_config(cfgs[0])
    stats = [programs.statistics(prog, c.seed) for c in cfgs]
    stack = lambda xs: jax.tree.map(lambda *a: np.stack(a), *xs)
    keys = np.stack([jax.random.PRNGKey(c.seed) for c in cfgs])
    return prog.population_init(keys, stack([prog.hyper(c) for c in cfgs]), stack(stats))


def test_population_equals_members_trained_one_by_one() -> None:
    cfgs = [tiny(seed=s, actor_lr=lr) for s, lr in ((0, 1e-3), (1, 3e-4), (2, 1e-2))]
    prog = programs.for_config(cfgs[0])
    pop, m = prog.population_chunk(_population(cfgs), 10)
    assert m["reward"].shape == (3,)
    for i, c in enumerate(cfgs):
        alone, _ = prog.chunk(programs.initial_state(c), 10)
        for a, b in zip(jax.tree.leaves(alone.agent.actor.params), jax.tree.leaves(pop.agent.actor.params), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b[i]), rtol=2e-4, atol=2e-5)


def test_training_feasibility_measures_what_it_says() -> None:
    """dt's efforts map is feasible by construction: float32 rounding of binding constraints
    must not read as infeasible."""
    cfg = tiny(steps=10)
    _, m = programs.for_config(cfg).chunk(programs.initial_state(cfg), 10)
    assert float(m["feasible"]) == 1.0
