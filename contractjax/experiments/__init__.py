"""The papers' experiments, and yours, reproduced with the exact optimum beside them
(``contractjax reproduce``; docs/experiments.md).

An experiment is a TOML file of *panels* (:mod:`.catalog`); a panel is a sweep — its series ×
seeds, trained as compiled populations — and a view of the result (:mod:`.views`): learning curves
against training iterations, or the trained policies evaluated after training, always beside the
oracle's and the complete-information utility. :mod:`.runner` runs an experiment into a folder:
``ID.png`` (:mod:`.figure`), ``ID.csv`` (every plotted point), ``summary.json`` (final utility and
gap per series, the claim, the command, budget, device and date) and ``panels/`` (each series'
sweep folder: solvable runs, resumable); :mod:`.report` writes ``docs/results.md``.

Budgets: ``tiny`` (seconds; for tests), ``quick`` (minutes per panel on a 2-core CPU), ``full``
(the solver's quick preset in full, where the learned policies have settled) and ``paper`` (the
papers' hyperparameters: GPU-sized).
"""

from __future__ import annotations

from typing import Any

from contractjax.experiments.catalog import EXPERIMENTS, Experiment, Panel, get, grid, load_file, on_model
from contractjax.experiments.report import report
from contractjax.experiments.runner import BUDGETS, DEFAULT_SEEDS, panel_sweeps, run
from contractjax.experiments.views import VIEWS, Bars, Contracts, Curves, Energy, Lines, View
from contractjax.solver.algos import registry

__all__ = ["BUDGETS", "DEFAULT_SEEDS", "EXPERIMENTS", "VIEWS", "Bars", "Contracts", "Curves", "Energy", "Experiment",
           "Lines", "Panel", "View", "get", "grid", "load_file", "on_model", "panel_sweeps", "report", "run"]


def __getattr__(name: str) -> Any:
    """``ALGO_LABELS``: each registered algorithm's label (``AlgoSpec.label``), read on each access."""
    if name == "ALGO_LABELS":
        return {spec.name: spec.label for spec in registry.specs()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
