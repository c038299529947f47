"""docs/scenarios.md's template, written into a folder outside the repository, through every command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from contractjax import cli, files, scenarios
from tests.conftest import TINY, tiny_train_args

ROOT = Path(__file__).resolve().parents[1]


def template() -> str:
    text = (ROOT / "docs" / "scenarios.md").read_text()
    return re.search(r"```python\n(import jax.numpy.*?)```", text, re.S).group(1)


@pytest.fixture
def model_file(tmp_path_factory) -> Path:
    """The guide's template in a fresh folder outside the repository; unregistered afterwards."""
    folder = tmp_path_factory.mktemp("elsewhere")
    path = folder / "my_model.py"
    path.write_text(template())
    yield path
    scenarios.unregister("my_screening")


def test_the_guide_commands_on_a_model_file(model_file, tmp_path, capsys):
    m, d = str(model_file), tmp_path
    assert cli.main(["check-model", m, "--n", "300", "--actions", "2"]) == 0
    assert "every check passed" in capsys.readouterr().out
    assert cli.main(["sample-envs", "--scenario", m, "--n", "200", "--out", str(d / "envs.npz")]) == 0
    assert cli.main(["oracle", "--scenario", m, "--envs", str(d / "envs.npz"), "--out", str(d / "oracle.npz")]) == 0
    assert files.read(d / "oracle.npz")["feasible"].all()
    assert cli.main(tiny_train_args(m, d / "run")) == 0
    cfg = json.loads((d / "run" / "config.json").read_text())
    assert cfg["scenario"] == "my_screening" and cfg["model"] == str(model_file.resolve())
    # solve in a fresh process: the model is found again from the run's record, with no --scenario
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "contractjax.cli", "solve", "--checkpoint", str(d / "run"),
                          "--envs", str(d / "envs.npz"), "--out", str(d / "learned.npz")],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert files.read(d / "learned.npz")["feasible"].all()  # the efforts action space: feasible by construction
    assert cli.main(["evaluate", "--scenario", m, "--envs", str(d / "envs.npz"), "--menus", str(d / "learned.npz"),
                     "--out", str(d / "report.json")]) == 0
    # a sweep file names the model the same way
    sweep = d / "sweep.json"
    sweep.write_text(json.dumps({"scenario": m, "algos": ["diffusion_sac"], "seeds": 1, "set": TINY}))
    assert cli.main(["sweep", "--config", str(sweep), "--out", str(d / "sweep"), "--quiet"]) == 0
    rows = json.loads((d / "sweep" / "results.json").read_text())
    assert len(rows) == 1 and all(r["scenario"] == "my_screening" and r["feasible"] == 1.0 for r in rows)


def test_bad_model_file_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text(template().replace('"nu": PROBABILITY}', '"nu": PROBABILITY, "a": POSITIVE}').replace(
        '"a": (8.0, 12.0)', '"a": (-8.0, 12.0)'))
    for argv in (["check-model", str(bad)], ["sample-envs", "--scenario", str(bad), "--n", "5", "--out",
                                              str(tmp_path / "e.npz")]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "a must be" in err, err
    assert not (tmp_path / "e.npz").exists()


def test_check_model_exits_1_when_the_declared_structure_fails(tmp_path, capsys):
    """A model declared single-crossing whose principal is not quasi-linear in the payment: the
    exact path's virtual surplus is wrong and the search finds better menus."""
    text = template().replace('return env["a"] * jnp.sqrt(item["q"]) - item["t"]',
                              'return env["a"] * jnp.sqrt(item["q"]) - item["t"] ** 2 / 10')
    (tmp_path / "wrong.py").write_text(text.replace('name="my_screening"', 'name="wrong_sc"'))
    try:
        assert cli.main(["check-model", str(tmp_path / "wrong.py"), "--n", "200", "--actions", "1"]) == 1
        captured = capsys.readouterr()
        assert "NO" in captured.out and "fails" in captured.err
    finally:
        scenarios.unregister("wrong_sc")


def test_unknown_model_lists_the_ways_to_name_one(capsys):
    assert cli.main(["sample-envs", "--scenario", "nope", "--n", "5", "--out", "x.npz"]) == 2
    assert "model file (path/to/model.py) or module" in capsys.readouterr().err


def test_polish_and_warm_start_from_a_trained_policy(tmp_path, capsys):
    """``solve --polish`` never makes an environment worse and stays feasible; ``oracle
    --warm-start`` never falls below the policy's own menus (they are among its starts)."""
    model = tmp_path / "two_dim.py"
    model.write_text((ROOT / "examples" / "two_dim.py").read_text().replace('name="two_dim"', 'name="two_dim_copy"'))
    m, d = str(model), tmp_path
    try:
        assert cli.main(["sample-envs", "--scenario", m, "--n", "100", "--out", str(d / "envs.npz")]) == 0
        assert cli.main(tiny_train_args(m, d / "run")) == 0
        base = ["solve", "--checkpoint", str(d / "run"), "--envs", str(d / "envs.npz")]
        assert cli.main(base + ["--out", str(d / "plain.npz")]) == 0
        assert cli.main(base + ["--out", str(d / "polished.npz"), "--polish", "30"]) == 0
        plain, polished = files.read(d / "plain.npz"), files.read(d / "polished.npz")
        assert polished["feasible"].all()
        tol = 1e-9 * (1 + abs(plain["principal_utility"]))
        assert (polished["principal_utility"] >= plain["principal_utility"] - tol).all()
        assert polished["principal_utility"].mean() > plain["principal_utility"].mean()
        assert cli.main(["oracle", "--scenario", m, "--envs", str(d / "envs.npz"), "--out", str(d / "warm.npz"),
                         "--warm-start", str(d / "run")]) == 0
        warm = files.read(d / "warm.npz")
        assert warm["feasible"].all() and (warm["principal_utility"] >= plain["principal_utility"] - tol).all()
        capsys.readouterr()
        assert cli.main(["oracle", "--scenario", str(ROOT / "examples" / "screening.py"), "--envs",
                         str(d / "envs.npz"), "--out", str(d / "x.npz"), "--warm-start", str(d / "run")]) == 2
        assert "takes no starts" in capsys.readouterr().err
    finally:
        scenarios.unregister("two_dim_copy")


def test_a_paper_experiment_on_a_model_file(model_file, tmp_path, capsys):
    """``reproduce ID --scenario MODEL``: the experiment's views on the user's model, the oracle
    beside the learned curves; an experiment over another model's settings is one line."""
    out = tmp_path / "exp"
    assert cli.main(["reproduce", "dt-fig3", "--budget", "tiny", "--scenario", str(model_file), "--out", str(out),
                     "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "my_screening" and (out / "dt-fig3.png").stat().st_size > 0
    assert all(np.isfinite(r["oracle"]) for r in summary["series"])
    capsys.readouterr()
    assert cli.main(["reproduce", "aigc-fig7", "--budget", "tiny", "--scenario", str(model_file), "--out",
                     str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "does not have" in err


@pytest.mark.parametrize("algo", ["sac", "td3", "ppo", "amortized"])
def test_every_algorithm_on_a_model_file(model_file, tmp_path, algo):
    """Each algorithm family trains on a model file with no solver change; its menus are feasible
    (the derived efforts action space). Diffusion SAC runs in the guide's test above; DDPG and
    diffusion DDPG share TD3's module (every algorithm on every built-in: tests/test_algos.py)."""
    from contractjax import solver

    s = solver.train(str(model_file), out=tmp_path / algo, progress=False, algo=algo,
                     **(TINY | {"steps": 10, "chunk": 10, "checkpoint_every": 10}))
    assert s["scenario"] == "my_screening" and s["eval"]["feasible"] == 1.0
