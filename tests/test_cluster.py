"""A local Ray cluster on this machine's cores: a sweep's groups and a dataset's shards as Ray
tasks, one worker killed mid-run each time, and the results equal to a run on one machine."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from contractjax import batch, cli, datasets, scenarios
from contractjax.solver import sweeps
from tests.conftest import TINY, tiny_train_args

ray = pytest.importorskip("ray", reason="the [cluster] extra is not installed")

#: Two groups (two programs) of two members; every chunk checkpoints, so a killed group has
#: something to continue from, and enough chunks that the kill lands mid-group.
SPEC = {"scenario": "dt", "algos": ["td3", "sac"], "seeds": 2,
        "set": TINY | {"steps": 60, "chunk": 5, "checkpoint_every": 5, "eval_every": 30}}
MEASURED = ("wall_s", "updates_per_s", "group_agent_updates_per_s", "group_energy_kwh", "group_co2_kg",
            "group_grid_kg_per_kwh")  # timings and energy differ between runs


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(address="local", num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False,
             configure_logging=False, log_to_driver=False)
    yield "local"  # connected: contractjax.cluster.connect reuses it
    ray.shutdown()


def _in_thread(fn, *args, **kw):
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = e

    t = threading.Thread(target=target)
    t.start()
    return t, box


def _wait(cond, what: str, timeout: float = 300.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = cond()
        if got:
            return got
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_sweep_on_a_local_cluster_survives_a_killed_worker_and_equals_one_machine(tmp_path, local_cluster) -> None:
    alone = sweeps.sweep(SPEC, tmp_path / "alone", progress=False, log=lambda s: None)
    out = tmp_path / "cluster"
    thread, box = _in_thread(sweeps.sweep, SPEC, out, progress=False, log=lambda s: None, cluster=local_cluster)
    group = out / "groups" / alone[0]["group"]

    def checkpointed() -> int | None:  # the worker of the first group, once it has a checkpoint to go back to
        try:
            steps = [int(d.name) for d in (group / "checkpoints").iterdir() if d.name.isdigit()]  # finalized ones
            pid = json.loads((group / "attempts.jsonl").read_text().splitlines()[0])["pid"]
        except (OSError, ValueError, IndexError, KeyError):
            return None
        return pid if steps and max(steps) < SPEC["set"]["steps"] else None

    os.kill(_wait(checkpointed, "the first checkpoint"), signal.SIGKILL)
    thread.join(600)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    attempts = [json.loads(ln) for ln in (group / "attempts.jsonl").read_text().splitlines()]
    assert len(attempts) == 2 and 0 < attempts[1]["from_step"] < SPEC["set"]["steps"]  # restarted, not redone
    assert attempts[0]["pid"] != attempts[1]["pid"] != os.getpid()
    rows = box["value"]
    assert rows == [a | {k: r[k] for k in MEASURED if k in r} for a, r in zip(alone, rows, strict=True)]
    assert (out / "curves.csv").read_text() == (tmp_path / "alone" / "curves.csv").read_text()
    assert json.loads((out / "results.json").read_text()) == rows


def _ray_workers_running(task: str) -> list[int]:
    """Ray sets a worker's process title to ``ray::TASK`` while it runs that task."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "cmdline").read_bytes().startswith(f"ray::{task}".encode()):
                pids.append(int(d.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker in /proc")
def test_dataset_shards_on_a_local_cluster_survive_a_killed_worker(tmp_path, local_cluster) -> None:
    sc = scenarios.get("dt")

    def slow(envs: dict) -> dict:  # the oracle, slowed so that a worker is killed while it holds a shard
        time.sleep(0.4)  # (a local function: Ray's workers get it by value, they cannot import tests/)
        return batch.oracle(sc, envs)

    envs = tmp_path / "envs"
    datasets.sample(sc, 1200, 3, {}, {}, envs, shard_size=150, progress=False, cluster=local_cluster)
    alone = datasets.map_menus(sc, envs, tmp_path / "alone", slow, "oracle", progress=False)
    thread, box = _in_thread(datasets.map_menus, sc, envs, tmp_path / "cluster", slow, "oracle",
                             progress=False, cluster=local_cluster)
    os.kill(_wait(lambda: _ray_workers_running("_shard_task")[:1], "a shard task")[0], signal.SIGKILL)
    thread.join(300)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    assert box["value"]["summary"] == alone["summary"]
    for shard in alone["shards"]:
        a, b = np.load(tmp_path / "alone" / shard["file"]), np.load(tmp_path / "cluster" / shard["file"])
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files if k != "dataset"), shard["file"]
    assert not [p for p in (tmp_path / "cluster").iterdir() if p.suffix not in (".npz", ".json")]  # no temporaries


def test_cli_sample_and_solve_on_a_local_cluster_equal_one_machine(tmp_path, local_cluster, capsys) -> None:
    envs = str(tmp_path / "envs") + "/"
    sample = ["sample-envs", "--scenario", "dt", "--n", "600", "--shard-size", "200", "--quiet"]
    assert cli.main(sample + ["--out", envs, "--cluster", "local"]) == 0
    assert cli.main(sample + ["--out", str(tmp_path / "envs1") + "/"]) == 0
    for i in range(3):
        a, b = np.load(tmp_path / "envs" / f"shard-{i:05d}.npz"), np.load(tmp_path / "envs1" / f"shard-{i:05d}.npz")
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files if k != "dataset")  # its id
    assert cli.main(tiny_train_args("dt", tmp_path / "run")) == 0
    solve = ["solve", "--scenario", "dt", "--checkpoint", str(tmp_path / "run"), "--envs", envs, "--quiet"]
    assert cli.main(solve + ["--out", str(tmp_path / "m") + "/", "--cluster", "local"]) == 0
    assert cli.main(solve + ["--out", str(tmp_path / "m1") + "/"]) == 0
    got = [json.loads((tmp_path / d / "index.json").read_text()) for d in ("m", "m1")]
    assert got[0]["complete"] and got[0]["summary"] == got[1]["summary"] and got[0]["summary"]["n"] == 600
    for i in range(3):
        a, b = np.load(tmp_path / "m" / f"shard-{i:05d}.npz"), np.load(tmp_path / "m1" / f"shard-{i:05d}.npz")
        assert all(np.array_equal(a[k], b[k]) for k in a.files if k != "dataset")
    assert ray.is_initialized()  # the fixture's connection was reused, not stopped
    capsys.readouterr()
    rc = cli.main(["oracle", "--scenario", "dt", "--envs", str(tmp_path / "envs" / "shard-00000.npz"),
                   "--out", str(tmp_path / "one.json"), "--cluster", "local"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--cluster" in err[0] and not (tmp_path / "one.json").exists()


def test_a_failing_task_raises_its_own_error_and_leaves_no_shard_done(tmp_path, local_cluster) -> None:
    sc = scenarios.get("dt")
    datasets.sample(sc, 300, 0, {}, {}, tmp_path / "envs", shard_size=100, progress=False)

    def damaged(envs: dict) -> dict:
        raise ValueError("field 'c' of the environments is damaged")

    with pytest.raises(ValueError, match="field 'c'") as err:
        datasets.map_menus(sc, tmp_path / "envs", tmp_path / "m", damaged, "oracle", progress=False,
                           cluster=local_cluster)
    assert type(err.value) is ValueError  # the task's own error, not Ray's wrapper with its traceback
    index = json.loads((tmp_path / "m" / "index.json").read_text())
    assert not index["complete"] and not any(s["done"] for s in index["shards"])


def test_a_model_file_on_a_local_cluster(tmp_path, local_cluster) -> None:
    """A model from a file outside the package: workers (other processes) get it with the shard
    tasks, and a sweep group's worker loads it from the configs' recorded source."""
    from tests.test_user_model_cli import template

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    model = folder / "my_model.py"
    model.write_text(template().replace('name="my_screening"', 'name="cluster_screening"'))
    try:
        m = str(model)
        for cluster in ([], ["--cluster", "local"]):
            tag = "c" if cluster else "l"
            assert cli.main(["sample-envs", "--scenario", m, "--n", "300", "--shard-size", "100", "--out",
                             f"{tmp_path}/{tag}envs/", "--quiet", *cluster]) == 0
            assert cli.main(["oracle", "--scenario", m, "--envs", f"{tmp_path}/{tag}envs/", "--out",
                             f"{tmp_path}/{tag}oracle/", "--quiet", *cluster]) == 0
        got = [json.loads((tmp_path / d / "index.json").read_text()) for d in ("loracle", "coracle")]
        assert got[1]["complete"] and got[0]["summary"] == got[1]["summary"] and got[1]["summary"]["feasible"] == 1.0
        for i in range(3):
            a, b = (np.load(tmp_path / d / f"shard-{i:05d}.npz") for d in ("loracle", "coracle"))
            assert all(np.array_equal(a[k], b[k]) for k in a.files if k != "dataset")
        spec = {"scenario": m, "algos": ["td3"], "seeds": 1, "set": TINY}
        rows = sweeps.sweep(spec, tmp_path / "sweep", progress=False, cluster=local_cluster)
        assert rows[0]["scenario"] == "cluster_screening" and rows[0]["feasible"] == 1.0
    finally:
        scenarios.unregister("cluster_screening")
