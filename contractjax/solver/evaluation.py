"""Held-out evaluation of a training run against the oracle (never inside the compiled program).

The held-out environments come from the scenario's sampler with a seed disjoint from the
training draws (default ``1_000_000 + seed``); their oracle, complete-information and random
baselines are solved once (:func:`contractjax.batch.baselines`). A learned policy's actions are
turned into float64 menus and checked constraint by constraint; the gap is computed over the
feasible menus, with the feasible share beside it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from contractjax import batch
from contractjax.solver.policy import Policy
from contractjax.solver.program import Program


class Evaluator:
    """Held-out environments and their baselines, computed once."""

    def __init__(self, prog: Program, n: int, seed: int):
        self.prog, self.seed = prog, seed
        self.envs = batch.sample_envs(prog.scenario, n, seed, prog.dims, prog.sampler)
        self.refs = batch.baselines(prog.scenario, self.envs, seed)

    def report(self, menus: Mapping[str, np.ndarray]) -> dict[str, float]:
        return batch.summary(batch.evaluate(self.prog.scenario, self.envs, menus), self.refs)

    def baselines(self) -> dict[str, dict[str, float]]:
        return {name: batch.summary(ev, self.refs) for name, ev in self.refs.items()}

    def __call__(self, policy: Policy) -> dict[str, float]:
        """The report of a policy (its ``eval_actor`` parameters, acting by its ``eval_chain``)."""
        return self.report(self.prog.menus(self.envs, policy.actions(self.envs, self.seed)))
