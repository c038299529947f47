"""Energy metering: CodeCarbon when the extra is installed, a stated reason when it is not."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from contractjax import energy, solver
from tests.conftest import tiny


def test_without_the_extra_the_fields_say_why(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "codecarbon", None)  # import fails as if not installed
    with energy.Meter() as m:
        pass
    assert m.result == {"energy_missing": 'CodeCarbon is not installed: pip install -e ".[energy]"'}
    summary = solver.run(tiny(steps=10), progress=False)
    assert summary["energy_missing"].startswith("CodeCarbon is not installed")


def test_codecarbon_measures_a_computation() -> None:
    pytest.importorskip("codecarbon")
    with energy.Meter() as m:
        x = np.random.default_rng(0).random((400, 400))
        for _ in range(200):
            x = x @ x / 400
    r = m.result
    assert r["energy_kwh"] > 0 and r["co2_kg"] > 0 and r["country"] == "USA"
    assert 0.0 < r["grid_kg_per_kwh"] < 2.0 and r["cpu_mode"]
