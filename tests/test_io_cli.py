"""File round trips and every CLI error path: one line, non-zero exit, nothing overwritten."""

import json

import numpy as np
import pytest

import contractjax as cj
from contractjax import files
from contractjax.cli import main
from tests.conftest import ALL


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("name", ALL)
def test_json_npz_roundtrip(tmp_path, name):
    sc = cj.scenarios.get(name)
    envs = cj.sample_envs(name, 7, seed=3)
    menus = cj.random_menus(name, envs)
    rec = {"scenario": name, "fields": files.env_record(sc, envs), "menus": menus,
           "feasible": np.ones(7, bool), "max_violation": np.zeros(7)}
    files.write(tmp_path / "a.json", rec)
    files.write(tmp_path / "a.npz", rec)
    a, b = files.read(tmp_path / "a.json"), files.read(tmp_path / "a.npz")
    assert a["scenario"] == b["scenario"] == name
    for group in ("fields", "menus"):
        assert set(a[group]) == set(b[group])
        for k in a[group]:
            np.testing.assert_array_equal(a[group][k], b[group][k])
            np.testing.assert_array_equal(np.asarray(a[group][k], float), np.asarray(rec[group][k], float))
    assert a["feasible"].dtype == bool and b["feasible"].dtype == bool
    loaded = files.load_envs(sc, tmp_path / "a.npz")
    for k, v in envs.items():
        np.testing.assert_array_equal(loaded[k], v)


def test_cli_pipeline(tmp_path, capsys):
    envs, orc, ev = tmp_path / "e.npz", tmp_path / "o.json", tmp_path / "ev.npz"
    assert run(capsys, "sample-envs", "--scenario", "dt", "--n", "50", "--out", str(envs))[0] == 0
    rc, out, _ = run(capsys, "oracle", "--scenario", "dt", "--envs", str(envs), "--out", str(orc))
    assert rc == 0 and "100" in out
    rc, out, _ = run(capsys, "evaluate", "--scenario", "dt", "--envs", str(envs), "--menus", str(orc),
                     "--out", str(ev))
    assert rc == 0
    data = files.read(ev)
    assert data["feasible"].all() and np.allclose(data["principal_utility"], data["oracle_utility"])
    assert "IC" in data["slacks"]


def test_cli_sample_options(tmp_path, capsys):
    out = tmp_path / "e.json"
    rc, _, _ = run(capsys, "sample-envs", "--scenario", "dt", "--n", "5", "--out", str(out),
                   "--dims", "K=4", "--set", "c=20,21", "rho=0.5")
    assert rc == 0
    f = files.read(out)["fields"]
    assert f["q"].shape == (5, 4) and np.all((f["c"] >= 20) & (f["c"] <= 21)) and np.all(f["rho"] == 0.5)
    rc, _, err = run(capsys, "sample-envs", "--scenario", "dt", "--n", "5", "--out", str(tmp_path / "x.json"),
                     "--set", "nope=1")
    assert rc == 2 and "nope" in err and len(err.strip().splitlines()) == 1


@pytest.fixture
def envfile(tmp_path):
    p = tmp_path / "envs.json"
    files.write(p, {"scenario": "dt", "fields": files.env_record(cj.scenarios.get("dt"), cj.sample_envs("dt", 4))})
    return p


def _mutate(tmp_path, envfile, fn, name="bad.json"):
    data = json.loads(envfile.read_text())
    fn(data)
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def _set(field, idx, value):
    def fn(d):
        if len(idx) == 1:
            d["fields"][field][idx[0]] = value
        else:
            d["fields"][field][idx[0]][idx[1]] = value
    return fn


BAD_ENVS = {
    "unsorted types": (_set("psi", (0, 0), 1e9), "psi"),
    "negative cost": (_set("c", (1,), -3.0), "'c'"),
    "probabilities do not sum to one": (_set("q", (2, 0), 0.9), "sum to 1"),
    "negative probability": (_set("q", (2, 0), -0.1), "'q'"),
    "NaN": (lambda d: d["fields"]["c"].__setitem__(0, float("nan")), "NaN"),
    "K does not match arrays": (lambda d: d["fields"].__setitem__("K", [3, 3, 3, 3]), "'q'"),
    "K differs between envs": (lambda d: d["fields"].__setitem__("K", [2, 2, 3, 2]), "'K'"),
    "wrong shape": (lambda d: d["fields"].__setitem__("psi", [[1.0, 2.0, 3.0]] * 4), "psi"),
    "ragged": (lambda d: d["fields"].__setitem__("psi", [[1.0, 2.0], [1.0]] * 2), "psi"),
    "missing field": (lambda d: d["fields"].pop("vartheta"), "vartheta"),
    "unknown field": (lambda d: d["fields"].__setitem__("zeta", [1, 1, 1, 1]), "zeta"),
    "wrong scenario": (lambda d: d.__setitem__("scenario", "aigc"), "scenario"),
    "no fields": (lambda d: d.pop("fields"), "fields"),
    "non-numeric": (lambda d: d["fields"].__setitem__("c", ["a", "b", "c", "d"]), "'c'"),
}


@pytest.mark.parametrize("case", list(BAD_ENVS))
def test_cli_rejects_bad_envs(tmp_path, capsys, envfile, case):
    fn, needle = BAD_ENVS[case]
    bad = _mutate(tmp_path, envfile, fn)
    out = tmp_path / "menus.json"
    rc, _, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(bad), "--out", str(out))
    assert rc == 2, case
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_cli_file_errors(tmp_path, capsys, envfile):
    out = tmp_path / "m.json"
    for argv, needle in [
        (["oracle", "--scenario", "dt", "--envs", str(tmp_path / "missing.json"), "--out", str(out)], "does not exist"),
        (["oracle", "--scenario", "nope", "--envs", str(envfile), "--out", str(out)], "--scenario"),
        (["oracle", "--scenario", "dt", "--envs", str(envfile), "--out", str(tmp_path / "m.txt")], ".json or .npz"),
    ]:
        rc, _, err = run(capsys, *argv)
        assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    garbage = tmp_path / "g.json"
    garbage.write_text("{not json")
    rc, _, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(garbage), "--out", str(out))
    assert rc == 2 and "is damaged" in err
    garbage_npz = tmp_path / "g.npz"
    garbage_npz.write_bytes(b"not a zip")
    rc, _, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(garbage_npz), "--out", str(out))
    assert rc == 2 and "is damaged" in err
    assert not out.exists()


def test_cli_never_overwrites(tmp_path, capsys, envfile):
    out = tmp_path / "m.json"
    out.write_text("precious")
    rc, _, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(envfile), "--out", str(out))
    assert rc == 2 and "--overwrite" in err and out.read_text() == "precious"
    rc, _, err = run(capsys, "sample-envs", "--scenario", "dt", "--n", "3", "--out", str(out))
    assert rc == 2 and out.read_text() == "precious"
    rc, _, _ = run(capsys, "oracle", "--scenario", "dt", "--envs", str(envfile), "--out", str(out), "--overwrite")
    assert rc == 0 and "menus" in files.read(out)


def test_cli_bad_menus(tmp_path, capsys, envfile):
    menus = tmp_path / "m.json"
    assert run(capsys, "oracle", "--scenario", "dt", "--envs", str(envfile), "--out", str(menus))[0] == 0
    data = json.loads(menus.read_text())
    data["menus"]["s"] = data["menus"]["s"][:3]  # 3 menus for 4 environments
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out = tmp_path / "ev.json"
    rc, _, err = run(capsys, "evaluate", "--scenario", "dt", "--envs", str(envfile), "--menus", str(bad),
                     "--out", str(out))
    assert rc == 2 and "menus.s" in err and not out.exists()
    rc, _, err = run(capsys, "evaluate", "--scenario", "dt", "--envs", str(envfile), "--menus", str(envfile),
                     "--out", str(out))
    assert rc == 2 and "'menus'" in err and not out.exists()


def test_cli_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["oracle", "--scenario", "dt"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--envs" in err


def test_quickstart_never_overwrites(tmp_path, capsys):
    out = tmp_path / "q"
    rc, text, _ = run(capsys, "quickstart", "--n", "20", "--out", str(out), "--train-steps", "20")
    assert rc == 0 and "learned dt menus" in text and (out / "dt-learned.json").is_file()
    assert (out / "train-dt" / "summary.json").is_file()
    rc, text, _ = run(capsys, "quickstart", "--n", "20", "--out", str(out), "--train-steps", "0")
    assert rc == 0 and (tmp_path / "q-2").is_dir() and "q-2" in text
    for name in ALL:
        assert (out / f"{name}-oracle.json").is_file()
