"""Sweeps: members grouped into compiled populations, sharding over devices, resume, PBT, and
one-line errors for bad sweep files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from contractjax import cli, limits, solver
from contractjax.solver import loop, program, sweeps
from tests.conftest import TINY, tiny

#: A sweep small enough for CI: 2 algorithms × 2 draws × 2 seeds (2 groups of 4).
SMALL = {
    "scenario": "dt", "algos": ["diffusion_sac", "td3"], "seeds": 2,
    "set": TINY | {"steps": 20, "checkpoint_every": 10, "eval_every": 10},
    "random": {"draws": 2, "actor_lr": {"log_uniform": [1e-4, 1e-3]}, "explore_std": {"uniform": [0.05, 0.2]}},
}


def test_members_group_by_structure() -> None:
    plan = sweeps.expand(SMALL | {"grid": {"denoise_steps": [2, 3]},
                                  "set": {k: v for k, v in SMALL["set"].items() if k != "denoise_steps"}})
    assert len(plan.members) == 2 * 2 * 2 * 2
    assert [len(g.members) for g in plan.groups] == [4, 4, 4, 4]  # a static field in the grid: one program each
    assert [g.cfg.denoise_steps for g in plan.groups] == [2, 3, 2, 3]
    draws = {a: {(m.varied["actor_lr"], m.varied["explore_std"]) for m in plan.members if m.cfg.algo == a}
             for a in ("td3", "diffusion_sac")}
    assert len(draws["td3"]) == 2 and draws["td3"] == draws["diffusion_sac"]  # draws shared by every algorithm
    assert {m.cfg.seed for m in plan.members} == {0, 1}


@pytest.mark.parametrize("change, field", [
    ({"algos": ["a2c"]}, "algos"),
    ({"colour": 1}, "colour"),
    ({"grid": {"actor_lr": []}}, "grid.actor_lr"),
    ({"random": {"draws": 2, "denoise_steps": {"choice": [3, 6]}}}, "random.denoise_steps"),
    ({"random": {"draws": 2, "actor_lr": {"log_uniform": [0, 1e-3]}}}, "random.actor_lr"),
    ({"set": SMALL["set"] | {"critic_lr": -1}}, "critic_lr"),
    ({"set": SMALL["set"] | {"actor_lr": 1e-3}}, "actor_lr"),
    ({"pbt": {"every": 1}}, "pbt"),
    ({"seeds": 0}, "seeds"),
    ({"seeds": 1_000_000_000}, "seeds"),  # refused before a member is built (it grew to 21 GB)
    ({"seeds": 1000, "grid": {"actor_lr": [1e-4] * 101}}, "members"),
    ({"set": SMALL["set"] | {"gamma": True}}, "gamma"),
    ({"seeds": [0, True]}, "seeds"),
    ({"seed": True}, "'seed'"),
    ({"random": {"draws": True, "actor_lr": {"uniform": [1e-4, 1e-3]}}}, "random.draws"),
    ({"schedule": "pbt", "pbt": {"perturb": [0.8, True]}}, "pbt.perturb[1]"),
])
def test_bad_sweep_files_get_one_line_errors_before_training(tmp_path, capsys, change, field) -> None:
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(SMALL | change))
    rc = cli.main(["sweep", "--config", str(spec), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and field in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_population_larger_than_memory_is_refused(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(limits, "available_bytes", lambda: 1 << 10)
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(SMALL))
    assert cli.main(["sweep", "--config", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "needs about" in err and "available" in err and not (tmp_path / "out").exists()


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())


def test_sweep_writes_results_curves_and_solvable_runs_and_resume_equals_uninterrupted(tmp_path, capsys) -> None:
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(SMALL))
    out = tmp_path / "full"
    assert cli.main(["sweep", "--config", str(spec), "--out", str(out), "--quiet"]) == 0
    rows = _rows(out)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"ok"}
    assert all(0 <= r["feasible"] <= 1 and np.isfinite(r["gap"]) for r in rows)
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert {"algo", "seed", "actor_lr", "explore_std", "gap", "feasible", "updates_per_s", "run"} <= set(header)
    curves = (out / "curves.csv").read_text().splitlines()
    assert len(curves) == 1 + 8 * 2  # two chunks per member
    # every member's folder is a training folder that solve reads
    member = out / rows[5]["run"]
    assert cli.main(["sample-envs", "--scenario", "dt", "--n", "10", "--out", str(tmp_path / "e.json")]) == 0
    assert cli.main(["solve", "--scenario", "dt", "--checkpoint", str(member), "--envs", str(tmp_path / "e.json"),
                     "--out", str(tmp_path / "m.json")]) == 0
    # interrupted after the first checkpoint of the second group: its last checkpoint and result are gone
    cut = tmp_path / "cut"
    shutil.copytree(out, cut)
    group = cut / "groups" / rows[-1]["group"]
    (group / "done.json").unlink()
    shutil.rmtree(group / "checkpoints" / "20")
    (cut / "results.json").unlink()
    assert cli.main(["sweep", "--config", str(spec), "--out", str(cut), "--resume", "--quiet"]) == 0
    measured = ("wall_s", "updates_per_s", "group_agent_updates_per_s", "group_energy_kwh", "group_co2_kg",
                "group_grid_kg_per_kwh")  # timings and energy differ between runs
    assert _rows(cut) == [r | {k: c[k] for k in measured if k in c} for r, c in zip(rows, _rows(cut), strict=True)]
    assert (cut / "curves.csv").read_text() == (out / "curves.csv").read_text()
    capsys.readouterr()
    assert cli.main(["sweep", "--config", str(spec), "--out", str(out), "--quiet"]) == 2  # never overwrites
    assert "--resume" in capsys.readouterr().err


def test_population_program_compiles_once() -> None:
    cfgs = [tiny(scenario="aigc", seed=s, penalty=p) for s, p in ((0, 1.0), (1, 5.0), (2, 10.0))]
    prog = program.for_config(cfgs[0])
    before = prog.traces["chunk"]
    states = loop.init_population(prog, cfgs)
    for _ in range(3):
        states, _ = prog.population_chunk(states, 6)
    assert prog.traces["chunk"] == before + 1 and int(np.asarray(states.step)[0]) == 18


def test_pbt_keeps_shapes_and_changes_only_the_exploited_members() -> None:
    cfgs = [tiny(seed=s, actor_lr=lr) for s, lr in enumerate((1e-3, 2e-3, 3e-3, 4e-3))]
    prog = program.for_config(cfgs[0])
    states, _ = prog.population_chunk(loop.init_population(prog, cfgs), 5)
    before = jax.device_get(states)
    pbt = sweeps.PBT(fraction=0.25, perturb=(2.0,), fields=("actor_lr",))
    after, pairs = sweeps.exploit_explore(states, np.array([3.0, 1.0, 4.0, 2.0]), pbt, np.random.default_rng(0))
    after = jax.device_get(after)
    assert pairs == [(1, 2)]  # the worst copies the best
    assert jax.tree.structure(after) == jax.tree.structure(before)
    for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(before), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(np.delete(a, 1, axis=0), np.delete(b, 1, axis=0))
    copied = loop.member(after, 1)
    source = loop.member(before, 2)
    np.testing.assert_array_equal(jax.tree.leaves(copied.agent.actor.params)[0],
                                  jax.tree.leaves(source.agent.actor.params)[0])
    assert float(copied.agent.hyper.actor_lr) == pytest.approx(2 * 3e-3)
    np.testing.assert_array_equal(copied.key, loop.member(before, 1).key)  # each member keeps its own stream


SHARDED = """
import json, sys
import numpy as np
from contractjax.solver import sweeps
rows = sweeps.sweep(json.loads(sys.argv[1]), sys.argv[2], progress=False, log=lambda s: None)
print(json.dumps([[r["gap"], r["devices"]] for r in rows]))
"""


def test_sharded_over_four_host_devices_equals_one_device(tmp_path) -> None:
    spec = SMALL | {"algos": ["td3"], "seeds": 3, "random": {}}
    results = []
    for n, out in ((1, "one"), (4, "four")):
        env = os.environ | {"XLA_FLAGS": f"--xla_force_host_platform_device_count={n} "
                                         "--xla_cpu_multi_thread_eigen=false", "JAX_PLATFORMS": "cpu"}
        got = subprocess.run([sys.executable, "-c", SHARDED, json.dumps(spec), str(tmp_path / out)], env=env,
                             capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
        results.append(json.loads(got.stdout.strip().splitlines()[-1]))
    one, four = results
    assert [d for _, d in one] == [1] * 3 and [d for _, d in four] == [4] * 3
    np.testing.assert_allclose([g for g, _ in four], [g for g, _ in one], rtol=1e-4, atol=1e-5)


def test_reproduce_bounds_its_seeds_before_any_work(tmp_path, capsys) -> None:
    rc = cli.main(["reproduce", "dt-fig4", "--budget", "tiny", "--seeds", "1000000000", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "seeds = 1000000000" in err[0], err
    assert not (tmp_path / "r").exists()


def test_a_single_run_equals_a_population_of_one(tmp_path) -> None:
    """train and sweep run the same loop: a sweep of one member and ``train`` with that member's
    config give the same policy, evaluation and learning curve."""
    spec = {"scenario": "dt", "algos": ["diffusion_sac"], "seeds": 1, "set": TINY | {"steps": 20, "eval_every": 10}}
    rows = sweeps.sweep(spec, tmp_path / "sweep", progress=False, log=lambda s: None)
    folder = tmp_path / "sweep" / rows[0]["run"]
    cfg = solver.load(folder).config
    single = solver.run(cfg, tmp_path / "single", progress=False)
    for a, b in zip(jax.tree.leaves(solver.load(folder).actor), jax.tree.leaves(single["policy"].actor), strict=True):
        np.testing.assert_array_equal(a, b)
    assert json.loads((folder / "summary.json").read_text())["eval"] == single["eval"]
    curve = [json.loads(ln) for ln in (tmp_path / "sweep" / "groups" / rows[0]["group"] / "curves.jsonl").open()]
    metrics = [json.loads(ln) for ln in (tmp_path / "single" / "metrics.jsonl").open()]
    assert [c["eval_gap"] for c in curve] == [m["eval"]["gap"] for m in metrics] and len(curve) == 2
