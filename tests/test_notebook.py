"""The notebooks' code cells run top to bottom (smaller sizes, the Agg backend), outputs stripped."""

import json
from pathlib import Path

import matplotlib
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SMALLER = {"explore_contracts.ipynb": [("N = 2000", "N = 100"), ("sample_envs(name, 200", "sample_envs(name, 20")],
           "solver_tour.ipynb": [("STEPS = 3000", "STEPS = 60"), ("EVAL_ENVS = 300", "EVAL_ENVS = 20"),
                                 ("sample_envs(SCENARIO, 200", "sample_envs(SCENARIO, 20")],
           "your_own_model.ipynb": [("STEPS = 3000", "STEPS = 40"), ("eval_envs=300", "eval_envs=20"),
                                    ("sample_envs(sc, 1000", "sample_envs(sc, 100"), ("n=500", "n=100"),
                                    ("sample_envs(sc, 200", "sample_envs(sc, 20"), ('"your_own_model.png"',
                                                                                 'str(tmp_path / "m.png")')]}


@pytest.mark.parametrize("name", sorted(SMALLER))
def test_notebook_cells_execute(name, capsys, monkeypatch, tmp_path):
    matplotlib.use("Agg")
    path = NOTEBOOKS / name
    nb = json.loads(path.read_text())
    scope: dict = {"tmp_path": tmp_path}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{name}: strip the outputs before committing"
            src = "".join(cell["source"])
            for a, b in SMALLER[name]:
                src = src.replace(a, b)
            exec(compile(src, str(path), "exec"), scope)
    out = capsys.readouterr().out
    assert {"explore_contracts.ipynb": "feasible: 1.0", "solver_tour.ipynb": "gap to the oracle",
            "your_own_model.ipynb": "wrote your_own_model.png"}[name] in out
    if name == "your_own_model.ipynb":
        from contractjax import scenarios

        scenarios.unregister("procurement")
