"""Every algorithm on every scenario: a short CPU training beats random feasible menus on held-out
environments, in one compiled program (two chunks, one trace)."""

from __future__ import annotations

import pytest

from contractjax import solver
from contractjax.solver import program
from contractjax.solver.config import ALGOS
from tests.conftest import ALL

SHORT = dict(actor_hidden=(64, 64), critic_hidden=(64, 64), steps=400, chunk=200, eval_envs=100, batch=64,
             envs_per_step=32, denoise_steps=3, eval_every=0, checkpoint_every=0, warmup=20, buffer=20_000,
             eval_actor="online")  # 400 updates: the Polyak target (τ = 0.005) still lags the online actor
#: Where random feasible menus are already strong (aigc: 82 % of the optimum) the Gaussian SAC
#: needs more updates to pass them (measured: 449.6 vs 451.1 at 400, 468.2 vs 451.1 at 1,500).
LONGER = {("sac", "aigc"): 1600}


@pytest.mark.parametrize("scenario", ALL)
@pytest.mark.parametrize("algo", ALGOS)
def test_short_training_beats_random_menus_in_one_program(algo, scenario) -> None:
    cfg = solver.make_config("quick", scenario=scenario, algo=algo, **(SHORT | {"steps": LONGER.get((algo, scenario),
                                                                                                 SHORT["steps"])}))
    prog = program.for_config(cfg)
    before = prog.traces["chunk"]
    s = solver.run(cfg, progress=False)
    assert prog.traces["chunk"] == before + 1
    ev, rnd = s["eval"], s["baselines"]["random"]
    assert ev["principal_utility"] > rnd["principal_utility"], (ev, rnd)
    assert ev["feasible"] == 1.0  # every default parameterization is feasible by construction
