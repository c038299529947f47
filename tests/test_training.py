"""Training runs: checkpoints and resume, the output folder, the non-finite guard, CLI train → solve."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import contractjax as cj
from contractjax import cli, solver
from contractjax.solver.loop import NonFiniteError
from contractjax.solver.training import RunError
from tests.conftest import TINY, tiny, tiny_train_args


def test_resume_equals_uninterrupted_run_and_checkpoint_round_trip(tmp_path) -> None:
    full = solver.run(tiny(), tmp_path / "full", progress=False)
    solver.run(tiny(steps=10), tmp_path / "part", progress=False)
    resumed = solver.run(tiny(), tmp_path / "part", resume=True, progress=False)
    for a, b in zip(jax.tree.leaves(full["policy"].actor), jax.tree.leaves(resumed["policy"].actor), strict=True):
        np.testing.assert_array_equal(a, b)
    assert full["eval"] == resumed["eval"]
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20]
    assert json.loads((tmp_path / "part" / "config.json").read_text())["steps"] == 20  # config follows --steps
    loaded = solver.load(tmp_path / "full")
    for a, b in zip(jax.tree.leaves(loaded.actor), jax.tree.leaves(full["policy"].actor), strict=True):
        np.testing.assert_array_equal(a, b)
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert summary["steps"] == 20 and 0.0 <= summary["eval"]["feasible"] <= 1.0
    # eval_actor = online: the online actor of the same checkpoint, not the Polyak average
    cfg_file = tmp_path / "full" / "config.json"
    cfg_file.write_text(json.dumps(json.loads(cfg_file.read_text()) | {"eval_actor": "online"}))
    online = solver.load(tmp_path / "full")
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(online.actor), jax.tree.leaves(loaded.actor),
                                                        strict=True))


def test_out_folder_is_never_overwritten_and_resume_checks_the_config(tmp_path) -> None:
    solver.run(tiny(steps=10), tmp_path / "r", progress=False)
    with pytest.raises(RunError, match="pass `resume=True`") as e:  # the library names its arguments
        solver.run(tiny(steps=10), tmp_path / "r", progress=False)
    assert "--" not in str(e.value)
    with pytest.raises(RunError, match="actor_lr"):
        solver.run(tiny(steps=20, actor_lr=1e-5), tmp_path / "r", resume=True, progress=False)
    with pytest.raises(RunError, match="no earlier run"):
        solver.run(tiny(), tmp_path / "new", resume=True, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="is a file"):
        solver.run(tiny(), tmp_path / "file", progress=False)


def _poison_checkpoint(out, cfg) -> None:
    """Rewrite the last checkpoint with learning rates that make the next iteration diverge."""
    from contractjax.solver import checkpoint, program

    mngr = checkpoint.manager(out)
    ts, step = checkpoint.restore(mngr, "state", like=program.initial_state(cfg))
    h = ts.agent.hyper._replace(actor_lr=np.float32(1e30), critic_lr=np.float32(1e30))
    mngr.delete(step)
    checkpoint.save(mngr, ts._replace(agent=ts.agent._replace(hyper=h)))
    mngr.close()


def test_divergence_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, capsys) -> None:
    with pytest.raises(NonFiniteError, match=r"iteration 1: .*not finite"):
        solver.run(tiny(steps=30, actor_lr=1e30, critic_lr=1e30), progress=False)
    out = tmp_path / "nan"
    solver.run(tiny(steps=10), out, progress=False)
    _poison_checkpoint(out, tiny(steps=10))
    args = ["train", "--scenario", "dt", "--steps", "30", "--out", str(out), "--resume", "--quiet"]
    for k, v in TINY.items():
        if k != "steps":
            args += ["--set", f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"]
    capsys.readouterr()
    rc = cli.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "iteration 11" in err[0] and "not finite" in err[0], err
    from contractjax.solver import checkpoint

    assert checkpoint.manager(out).all_steps() == [10]  # nothing past the last good checkpoint was written
    assert [json.loads(r)["step"] for r in (out / "metrics.jsonl").read_text().splitlines()] == [10]


def test_cli_train_then_solve(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert cli.main(tiny_train_args("aigc", out)) == 0
    assert cli.main(["sample-envs", "--scenario", "aigc", "--n", "30", "--seed", "4", "--out", str(tmp_path / "e.npz")]) == 0
    assert cli.main(["solve", "--scenario", "aigc", "--checkpoint", str(out), "--envs", str(tmp_path / "e.npz"),
                     "--out", str(tmp_path / "m.json")]) == 0
    rec = json.loads((tmp_path / "m.json").read_text())
    assert len(rec["feasible"]) == 30 and set(rec["menus"]) == {"L", "R"}
    assert all(rec["feasible"])  # efforts parameterization: feasible by construction
    capsys.readouterr()
    assert cli.main(["solve", "--scenario", "dt", "--checkpoint", str(out), "--envs", str(tmp_path / "e.npz"),
                     "--out", str(tmp_path / "m2.json")]) == 2
    assert "aigc" in capsys.readouterr().err


@pytest.mark.slow
def test_short_twin_training_beats_the_greedy_contract() -> None:
    """Diffusion SAC on TWIN with the default networks, 5,000 iterations (a third of the quick
    preset; the online actor, as the Polyak target still lags this early): a smaller gap to the
    oracle than the greedy contract (complete-information allocations, least rents) on the same
    held-out environments (greedy: ~12 % on the default sampler; 3,000 iterations gave 14.7 %)."""
    from contractjax import batch

    summary = solver.train("twin", progress=False, steps=5000, eval_envs=200, eval_every=0, eval_actor="online")
    envs = cj.sample_envs("twin", 200, seed=summary["eval_seed"])
    oracle = batch.evaluate("twin", envs, cj.oracle("twin", envs))["principal_utility"]
    greedy = batch.evaluate("twin", envs, cj.baseline_menus("twin", envs, "greedy"))
    greedy_gap = batch.gap(greedy["principal_utility"], oracle, greedy["feasible"])
    assert summary["eval"]["feasible"] == 1.0
    assert summary["eval"]["gap"] < greedy_gap, (summary["eval"]["gap"], greedy_gap)


def test_loggers_write_csv_and_tensorboard_and_resume_keeps_them_in_step(tmp_path, capsys) -> None:
    import csv
    import importlib.util

    out = tmp_path / "run"
    args = tiny_train_args("dt", out)
    at = args.index("--steps")
    assert cli.main(args[:at + 1] + ["10"] + args[at + 2:] + ["--log", "csv,tensorboard"]) == 0
    assert cli.main(args + ["--log", "csv,tensorboard", "--resume"]) == 0
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["step"] for r in rows] == ["10", "20"] and rows[-1]["eval_gap"] and "reward" in rows[0]
    assert [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").open()] == [10, 20]
    assert any(p.stat().st_size > 0 for p in (out / "tb").glob("events.out.tfevents.*"))
    capsys.readouterr()
    assert cli.main(tiny_train_args("dt", tmp_path / "x") + ["--log", "csv,mlflow"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'mlflow'" in err[0] and not (tmp_path / "x").exists()
    if importlib.util.find_spec("wandb") is None:
        assert cli.main(tiny_train_args("dt", tmp_path / "x") + ["--log", "wandb"]) == 2
        assert "[wandb]" in capsys.readouterr().err


def test_solve_refuses_a_run_whose_config_no_longer_matches_its_checkpoint(tmp_path, capsys) -> None:
    assert cli.main(tiny_train_args("dt", tmp_path / "run")) == 0
    cfg = tmp_path / "run" / "config.json"
    cfg.write_text(json.dumps(json.loads(cfg.read_text()) | {"actor_hidden": [64, 64]}))
    assert cli.main(["sample-envs", "--scenario", "dt", "--n", "3", "--out", str(tmp_path / "e.json")]) == 0
    capsys.readouterr()
    assert cli.main(["solve", "--checkpoint", str(tmp_path / "run"), "--envs", str(tmp_path / "e.json"),
                     "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.json" in err[0] and not (tmp_path / "m.json").exists(), err


def test_a_checkpoint_from_an_earlier_version_resumes_when_only_hyperparameters_were_added(tmp_path) -> None:
    """A hyperparameter added since a checkpoint was written comes from the run's configuration;
    any other difference in the state is one line saying another version wrote it (not 'damaged')."""
    import orbax.checkpoint as ocp

    from contractjax.solver import checkpoint

    old = {"agent": {"hyper": {"tau": np.float32(0.01)}, "w": np.arange(3.0, dtype=np.float32)}, "step": np.int32(7)}
    mngr = checkpoint.manager(tmp_path)
    mngr.save(7, args=ocp.args.Composite(state=ocp.args.StandardSave(old)))
    mngr.wait_until_finished()
    like = {"agent": {"hyper": {"tau": np.float32(0.5), "smooth": np.float32(0.02)}, "w": np.zeros(3, np.float32)},
            "step": np.int32(0)}
    got, step = checkpoint.restore(mngr, "state", like=like)
    assert step == 7 and got["agent"]["hyper"] == {"tau": np.float32(0.01), "smooth": np.float32(0.02)}
    np.testing.assert_array_equal(got["agent"]["w"], old["agent"]["w"])
    for other in ({**like, "agent": {**like["agent"], "v": np.zeros(2, np.float32)}},  # a new non-hyper leaf
                  {**like, "agent": {**like["agent"], "w": np.zeros(4, np.float32)}}):  # another shape
        with pytest.raises(checkpoint.CheckpointError, match="another version of contractjax") as e:
            checkpoint.restore(mngr, "state", like=other)
        assert "damaged" not in str(e.value) and "\n" not in str(e.value)
