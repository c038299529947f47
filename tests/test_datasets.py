"""Sharded datasets: sample, oracle, solve and evaluate stream shard by shard, equal the single-file
results on the same environments, and an interrupted run resumes without redoing finished shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from contractjax import batch, cli, datasets, files, scenarios
from tests.conftest import tiny_train_args


def _concat(ds: datasets.Dataset, read) -> dict[str, np.ndarray]:
    parts = [read(i) for i in range(len(ds.shards))]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_sample_oracle_evaluate_stream_and_equal_single_files(tmp_path, capsys) -> None:
    sc = scenarios.get("aigc")
    envs_dir, oracle_dir, eval_dir = tmp_path / "envs", tmp_path / "oracle", tmp_path / "eval"
    assert cli.main(["sample-envs", "--scenario", "aigc", "--n", "100", "--shard-size", "40", "--seed", "5",
                     "--out", f"{envs_dir}/", "--quiet"]) == 0
    ds = datasets.Dataset(envs_dir, "envs", sc)
    assert [s["n"] for s in ds.shards] == [40, 40, 20] and ds.n == 100
    with np.load(ds.path(1)) as z:  # a shard is an ordinary .npz record
        np.testing.assert_array_equal(z["fields/theta"], batch.sample_range(sc, 40, 40, 5)["theta"])
    envs = _concat(ds, lambda i: ds.envs(sc, i))
    assert cli.main(["oracle", "--scenario", "aigc", "--envs", str(envs_dir), "--out", f"{oracle_dir}/",
                     "--quiet"]) == 0
    om = datasets.Dataset(oracle_dir, "menus", sc)
    menus = _concat(om, lambda i: om.menus(sc, i, ds.envs(sc, i)))
    want = batch.oracle(sc, envs)
    for k in want:
        np.testing.assert_allclose(menus[k], want[k], rtol=1e-12)
    assert cli.main(["evaluate", "--scenario", "aigc", "--envs", str(envs_dir), "--menus", str(oracle_dir),
                     "--out", f"{eval_dir}/", "--quiet"]) == 0
    summary = json.loads((eval_dir / "index.json").read_text())["summary"]
    assert summary["n"] == 100 and summary["feasible"] == 1.0 and abs(summary["gap"]) < 1e-12
    assert summary["principal_utility"] == pytest.approx(np.mean(batch.evaluate(sc, envs, want)["principal_utility"]))
    # mismatched inputs and outputs are one-line errors, and nothing is written
    capsys.readouterr()
    assert cli.main(["evaluate", "--scenario", "aigc", "--envs", str(envs_dir), "--menus", str(oracle_dir),
                     "--out", str(tmp_path / "x.json")]) == 2
    assert "give --out a folder" in capsys.readouterr().err
    assert cli.main(["oracle", "--scenario", "dt", "--envs", str(envs_dir), "--out", f"{tmp_path}/o2/"]) == 2
    assert "pass --scenario aigc" in capsys.readouterr().err
    assert cli.main(["sample-envs", "--scenario", "aigc", "--n", "99", "--out", f"{envs_dir}/"]) == 2
    assert "holds another dataset" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "o2").exists()


def test_interrupted_stream_resumes_without_redoing_finished_shards(tmp_path) -> None:
    sc = scenarios.get("dt")
    datasets.sample(sc, 90, 1, {}, {}, tmp_path / "envs", shard_size=30, progress=False)
    calls: list[int] = []

    def oracle(envs, stop_at: int | None = None):
        calls.append(files.n_of(envs))
        if stop_at is not None and len(calls) == stop_at:
            raise KeyboardInterrupt  # as the CLI turns SIGTERM/SIGINT into
        return batch.oracle(sc, envs)

    with pytest.raises(KeyboardInterrupt):
        datasets.map_menus(sc, tmp_path / "envs", tmp_path / "m", lambda e: oracle(e, stop_at=2), "o", False)
    index = json.loads((tmp_path / "m" / "index.json").read_text())
    assert [s["done"] for s in index["shards"]] == [True, False, False] and not index["complete"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["index.json", "shard-00000.npz"]  # nothing half-written
    with pytest.raises(files.InputError, match="unfinished"):
        datasets.Dataset(tmp_path / "m", "menus", sc)
    calls.clear()
    done = datasets.map_menus(sc, tmp_path / "envs", tmp_path / "m", oracle, "o", False)
    assert calls == [30, 30] and done["complete"] and done["summary"]["n"] == 90  # shard 0 was kept


def test_solve_streams_a_dataset_like_a_file(tmp_path) -> None:
    out = tmp_path / "run"
    assert cli.main(tiny_train_args("dt", out)) == 0
    sc = scenarios.get("dt")
    datasets.sample(sc, 50, 2, {}, {}, tmp_path / "envs", shard_size=20, progress=False)
    assert cli.main(["solve", "--scenario", "dt", "--checkpoint", str(out), "--envs", str(tmp_path / "envs"),
                     "--out", f"{tmp_path}/menus/", "--quiet"]) == 0
    ds, ms = datasets.Dataset(tmp_path / "envs", "envs", sc), datasets.Dataset(tmp_path / "menus", "menus", sc)
    envs = _concat(ds, lambda i: ds.envs(sc, i))
    files.write(tmp_path / "e.npz", {"scenario": "dt", "fields": files.env_record(sc, envs)})
    assert cli.main(["solve", "--scenario", "dt", "--checkpoint", str(out), "--envs", str(tmp_path / "e.npz"),
                     "--out", str(tmp_path / "m.npz")]) == 0
    single = files.load_menus(sc, tmp_path / "m.npz", envs)
    streamed = _concat(ms, lambda i: ms.menus(sc, i, ds.envs(sc, i)))
    for k in single:
        np.testing.assert_allclose(streamed[k], single[k], rtol=1e-6)


def test_damaged_datasets_are_refused_before_any_work(tmp_path, capsys) -> None:
    """A damaged index (a string n, garbage shards), a missing, foreign or short shard: one line,
    found before any output is written; a sample too large for the disk is refused up front."""
    import shutil

    sc = scenarios.get("dt")
    good, other = tmp_path / "good", tmp_path / "other"
    datasets.sample(sc, 60, 1, {}, {}, good, shard_size=20, progress=False)
    datasets.sample(sc, 60, 2, {}, {}, other, shard_size=20, progress=False)
    index = json.loads((good / "index.json").read_text())

    def damaged(name: str, change) -> str:
        d = tmp_path / name
        shutil.copytree(good, d)
        change(d)
        return str(d)

    def edit(**kw):
        return lambda d: (d / "index.json").write_text(json.dumps(index | kw))

    cases = {
        damaged("n_text", edit(n="60")): "'n' is '60'",
        damaged("garbage", edit(shards=[1, 2, 3])): "shard 0 is 1",
        damaged("wrong_total", edit(n=61)): "not n = 61",
        damaged("missing", lambda d: (d / "shard-00001.npz").unlink()): "shard-00001.npz' is missing",
        damaged("foreign", lambda d: shutil.copy(other / "shard-00002.npz", d / "shard-00002.npz")):
            "belongs to another dataset",
        damaged("short", lambda d: np.savez(d / "shard-00002.npz", scenario=np.asarray("dt"), dataset=np.asarray(
            index["id"]), **{f"fields/{k}": v[:5] for k, v in files.read(d / "shard-00002.npz")["fields"].items()})):
            "holds [5] environments, not 20",
    }
    for path, words in cases.items():
        out = tmp_path / f"out-{Path(path).name}"
        assert cli.main(["oracle", "--scenario", "dt", "--envs", path, "--out", f"{out}/", "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], (words, err)
        assert not out.exists()
    assert cli.main(["sample-envs", "--scenario", "dt", "--n", str(10**12), "--out", f"{tmp_path}/huge/"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "on disk" in err[0] and not (tmp_path / "huge").exists(), err
