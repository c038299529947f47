"""Every value that enters is checked against one declaration: bad sampler settings, dimensions,
config fields (flags, --set, config files) and damaged files give one line, exit 2, and leave no
file behind. Bad values are generated from the declared intervals (hypothesis), not listed by hand."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contractjax as cj
from contractjax import batch, cli, domain, files, scenarios
from contractjax.domain import Interval
from contractjax.solver import config
from tests.conftest import ALL, TINY


def run(capsys, *argv: str) -> tuple[int, list[str]]:
    rc = cli.main(list(argv))
    return rc, capsys.readouterr().err.strip().splitlines()


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


def outside(iv: Interval) -> st.SearchStrategy[float]:
    """Numbers that are not in ``iv``: NaN, infinities, values past each finite end, and
    fractions where whole numbers are required."""
    bad = [st.just(math.nan), st.just(math.inf), st.just(-math.inf)]
    if math.isfinite(iv.lo):
        bad.append(st.floats(max_value=iv.lo, exclude_max=not iv.open_lo, allow_nan=False, allow_infinity=False,
                             min_value=iv.lo - 1e6))
    if math.isfinite(iv.hi):
        bad.append(st.floats(min_value=iv.hi, exclude_min=not iv.open_hi, allow_nan=False, allow_infinity=False,
                             max_value=iv.hi + 1e6))
    if iv.integer:
        bad.append(st.integers(1, 100).map(lambda k: k + 0.5))
    return st.one_of(bad).filter(lambda x: not iv.holds(x))


def text(x: float) -> str:
    return repr(float(x)) if math.isfinite(x) else str(x)


# ------------------------------------------------------------------------------ the declaration


@pytest.mark.parametrize("name", ALL)
def test_every_setting_and_field_is_declared_and_the_defaults_are_valid(name: str) -> None:
    sc = scenarios.get(name)
    assert set(sc.defaults) <= set(sc.domain), set(sc.defaults) - set(sc.domain)
    assert set(sc.env_fields) <= set(sc.domain), set(sc.env_fields) - set(sc.domain)
    sc.settings(dict(sc.defaults))  # the defaults pass their own declaration
    envs = cj.sample_envs(sc, 64, seed=3)
    for f, x in envs.items():
        assert sc.domain[f].holds(x).all(), f


def test_interval_membership_and_wording() -> None:
    iv = domain.between(0.0, 1.0, open_lo=True)
    assert iv.holds([0.5, 1.0]).all() and not iv.holds([0.0, math.nan, math.inf, 1.5]).any()
    assert str(iv) == "a finite number in (0, 1]" and str(domain.WHOLE) == "a whole number >= 1"
    assert not domain.WHOLE.holds(2.5) and domain.WHOLE.holds(3.0)


# ------------------------------------------------------------------- sample-envs: settings, dims


@st.composite
def bad_setting(draw: st.DrawFn) -> tuple[str, str, str]:
    """(scenario, setting, VALUE text) with the value outside the declared range or malformed."""
    name = draw(st.sampled_from(ALL))
    sc = scenarios.get(name)
    key = draw(st.sampled_from(sorted(sc.defaults)))
    default, iv = sc.defaults[key], sc.domain[key]
    if key in sc.dims:
        iv = Interval(1, domain.MAX_DIM, integer=True)
    ranged = key not in sc.dims  # every setting but a dimension takes one number or a range LO,HI
    kind = draw(st.sampled_from(["out", "reversed", "arity"] if ranged else ["out", "arity"]))
    if kind == "out":
        x = draw(outside(iv))
        value = text(x) if not ranged else draw(st.sampled_from([text(x), f"{text(x)},{text(x)}"]))
    elif kind == "reversed":  # a range written high to low
        lo = float(default[0][0] if isinstance(default, list) else default[0] if isinstance(default, tuple)
                   else default)
        hi = lo + draw(st.floats(1e-3, 10.0))
        if not iv.holds(hi):
            hi, lo = lo, lo - 1e-3
        value = f"{text(hi)},{text(lo)}"
    else:  # one number too many for its kind
        value = ",".join(["1"] * (3 if ranged else 2))
    return name, key, value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=bad_setting())
def test_bad_sampler_settings_are_one_line_and_write_nothing(tmp_path_factory, capsys, case) -> None:
    name, key, value = case
    folder = tmp_path_factory.mktemp("s")
    rc, err = run(capsys, "sample-envs", "--scenario", name, "--n", "3", "--out", str(folder / "e.json"),
                  "--set", f"{key}={value}")
    assert rc == 2 and len(err) == 1 and key in err[0], (case, err)
    assert not any(folder.iterdir())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(ALL), data=st.data())
def test_bad_dimensions_are_one_line_and_write_nothing(tmp_path_factory, capsys, name, data) -> None:
    sc = scenarios.get(name)
    key = data.draw(st.sampled_from(sc.dims))
    value = data.draw(st.one_of(outside(Interval(1, domain.MAX_DIM, integer=True)).map(text),
                                st.just("2,3"), st.just("two")))
    folder = tmp_path_factory.mktemp("d")
    rc, err = run(capsys, "sample-envs", "--scenario", name, "--n", "3", "--out", str(folder / "e.json"),
                  "--dims", f"{key}={value}")
    assert rc == 2 and len(err) == 1 and key in err[0], err
    assert not any(folder.iterdir())


def test_cross_field_conditions_of_sampled_environments(tmp_path, capsys) -> None:
    rc, err = run(capsys, "sample-envs", "--scenario", "agent", "--n", "3", "--out", str(tmp_path / "e.json"),
                  "--set", "delta=0.5")  # L δ = 4 >= 2
    assert rc == 2 and len(err) == 1 and "delta" in err[0] and not any(tmp_path.iterdir())


def test_sizes_are_estimated_before_allocation(tmp_path, capsys) -> None:
    rc, err = run(capsys, "sample-envs", "--scenario", "dt", "--n", str(10**13), "--out", str(tmp_path / "e.json"))
    assert rc == 2 and len(err) == 1 and "available" in err[0]
    rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(tmp_path / "t"), "--set", "buffer=2e9")
    assert rc == 2 and len(err) == 1 and "buffer" in err[0] and "available" in err[0]
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- train: every field


def _bad_field_value(draw: st.DrawFn) -> tuple[str, str]:
    fields = [f for f in dataclasses.fields(config.Config) if f.metadata["valid"] is not None]
    f = draw(st.sampled_from(fields))
    valid = f.metadata["valid"]
    valid = valid() if callable(valid) else valid  # algo: the algorithms registered now
    if isinstance(valid, tuple):
        value = draw(st.text("abcxyz_", min_size=1, max_size=8).filter(lambda v: v not in valid))
    elif isinstance(f.default, tuple):  # network widths
        value = ",".join([text(draw(outside(valid)))] + ["8"])
    else:
        value = text(draw(outside(valid)))
    return f.name, value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bad_config_values_are_one_line_from_flags_and_files(tmp_path_factory, capsys, data) -> None:
    name, value = data.draw(st.composite(lambda d: _bad_field_value(d))())
    folder = tmp_path_factory.mktemp("c")
    out = str(folder / "run")
    if name in ("scenario", "steps", "seed", "algo"):
        rc, err = run(capsys, "train", "--scenario", "dt", "--out", out, "--set", f"{name}={value}")
        assert rc == 2 and len(err) == 1, err
    else:
        rc, err = run(capsys, "train", "--scenario", "dt", "--out", out, "--set", f"{name}={value}")
        assert rc == 2 and len(err) == 1 and f"--set {name}=" in err[0], err
        cfg_file = folder / "c.json"
        cfg_file.write_text(json.dumps({name: value}))
        rc, err = run(capsys, "train", "--scenario", "dt", "--out", out, "--config", str(cfg_file))
        assert rc == 2 and len(err) == 1 and "c.json" in err[0] and name in err[0], err
    assert sorted(p.name for p in folder.iterdir()) in ([], ["c.json"])


def test_config_file_sampler_and_dims_are_checked_like_flags(tmp_path, capsys) -> None:
    f = tmp_path / "c.toml"
    for body, needle in [("[sampler]\nc = [35.0, nan]\n", "nan"), ("[sampler]\nc = [35.0, 25.0]\n", "ordered"),
                         ("[dims]\nK = 2.5\n", "whole"), ("[sampler]\nwho = 1\n", "who"), ("steps = 'many'\n", "steps")]:
        f.write_text(body)
        rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(tmp_path / "run"), "--config", str(f))
        assert rc == 2 and len(err) == 1 and "c.toml" in err[0] and needle in err[0], (body, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]
    with pytest.raises(domain.InputError, match="sampler"):
        config.make_config("quick", sampler={"dirichlet": 0.0})


# ------------------------------------------------------------------------------- output locations


def test_output_locations_are_checked_before_any_work(tmp_path, capsys) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    a_dir = tmp_path / "dir.json"
    a_dir.mkdir()
    for argv, needle in [
        (["sample-envs", "--scenario", "dt", "--n", "3", "--out", str(a_file / "e.json")], "is a file"),
        (["sample-envs", "--scenario", "dt", "--n", "3", "--out", str(a_dir)], "is a folder"),
        (["train", "--scenario", "dt", "--out", str(a_file)], "is a file"),
        (["train", "--scenario", "dt", "--out", str(a_file / "run")], "is a file"),
        (["quickstart", "--out", str(a_file / "q")], "is a file"),
    ]:
        rc, err = run(capsys, *argv)
        assert rc == 2 and len(err) == 1 and needle in err[0], (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.json", "file"] and not any(a_dir.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder_is_refused_before_work(tmp_path, capsys) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, err = run(capsys, "sample-envs", "--scenario", "dt", "--n", "3", "--out", str(ro / "e.json"))
        assert rc == 2 and len(err) == 1 and "cannot write" in err[0]
    finally:
        ro.chmod(0o755)


def test_quickstart_with_no_environments_creates_nothing(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["quickstart", "--n", "0", "--out", str(tmp_path / "q")])
    assert e.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path, capsys, monkeypatch) -> None:
    """SIGTERM becomes an exception (exit 130): the file being written is removed, nothing else
    is touched."""
    real = np.savez

    def slow_savez(fh, **arrays):
        real(fh, **arrays)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-write, before the rename

    monkeypatch.setattr(np, "savez", slow_savez)
    rc = cli.main(["sample-envs", "--scenario", "dt", "--n", "3", "--out", str(tmp_path / "e.npz")])
    assert rc == 130 and "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- damaged files


def test_damaged_environment_and_menu_files(tmp_path, capsys) -> None:
    envs = tmp_path / "envs.npz"
    assert cli.main(["sample-envs", "--scenario", "dt", "--n", "4", "--out", str(envs)]) == 0
    menus = tmp_path / "menus.json"
    assert cli.main(["oracle", "--scenario", "dt", "--envs", str(envs), "--out", str(menus)]) == 0
    capsys.readouterr()
    whole = envs.read_bytes()
    cases = {"empty.npz": b"", "truncated.npz": whole[: len(whole) // 2], "garbled.npz": whole[:100] + b"\0" * 200,
             "empty.json": b"", "truncated.json": menus.read_bytes()[:50]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        rc, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(tmp_path / name),
                      "--out", str(tmp_path / "o.json"))
        assert rc == 2 and len(err) == 1 and name in err[0], (name, err)
    data = json.loads(menus.read_text())
    data["menus"]["bonus"] = data["menus"]["s"]
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(data))
    rc, err = run(capsys, "evaluate", "--scenario", "dt", "--envs", str(envs), "--menus", str(extra),
                  "--out", str(tmp_path / "ev.json"), "--no-oracle")
    assert rc == 2 and len(err) == 1 and "menus.bonus" in err[0] and "extra.json" in err[0]
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "ev.json").exists()


def test_damaged_runs_give_one_line_with_the_fix(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    args = ["--set", *(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in TINY.items()
                       if k != "steps")]
    assert cli.main(["train", "--scenario", "dt", "--out", str(out), "--steps", "20", "--quiet", *args]) == 0
    envs = tmp_path / "envs.json"
    assert cli.main(["sample-envs", "--scenario", "dt", "--n", "3", "--out", str(envs)]) == 0
    capsys.readouterr()
    solve = ["solve", "--scenario", "dt", "--checkpoint", str(out), "--envs", str(envs), "--out",
             str(tmp_path / "m.json")]
    # the newest checkpoint damaged: the older intact one is offered
    for f in (out / "checkpoints" / "20").rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(b"\0" * 16)
    rc, err = run(capsys, *solve)
    assert rc == 2 and len(err) == 1 and "checkpoint 20" in err[0] and "--checkpoint-step 10" in err[0], err
    rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(out), "--resume", "--quiet", *args)
    assert rc == 2 and len(err) == 1 and "--resume-from 10" in err[0], err
    # a damaged config.json
    cfg = out / "config.json"
    good = cfg.read_text()
    cfg.write_text(good[:40])
    rc, err = run(capsys, *solve)
    assert rc == 2 and len(err) == 1 and "config.json" in err[0] and "damaged" in err[0], err
    cfg.write_text(good)
    # no checkpoints at all
    (out / "checkpoints").rename(tmp_path / "moved")
    rc, err = run(capsys, *solve)
    assert rc == 2 and len(err) == 1 and "checkpoints/" in err[0], err
    assert not (tmp_path / "m.json").exists()


def test_resume_keeps_config_and_summary_in_step(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    args = ["--set", *(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in TINY.items()
                       if k != "steps")]
    assert cli.main(["train", "--scenario", "dt", "--out", str(out), "--steps", "10", "--quiet", *args]) == 0
    assert cli.main(["train", "--scenario", "dt", "--out", str(out), "--resume", "--quiet", *args]) == 0
    summary, saved = json.loads((out / "summary.json").read_text()), json.loads((out / "config.json").read_text())
    assert summary["steps"] == saved["steps"] == summary["config"]["steps"] == 10
    assert cli.main(["train", "--scenario", "dt", "--out", str(out), "--resume", "--steps", "20", "--quiet", *args]) == 0
    summary, saved = json.loads((out / "summary.json").read_text()), json.loads((out / "config.json").read_text())
    assert summary["steps"] == saved["steps"] == 20
    capsys.readouterr()
    rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(out), "--resume", "--steps", "10", "--quiet", *args)
    assert rc == 2 and len(err) == 1 and "already at iteration 20" in err[0], err
    # the run's config is read from disk: --set need not be repeated, and only a real change is refused
    assert cli.main(["train", "--scenario", "dt", "--out", str(out), "--resume", "--steps", "30", "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 30
    rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(out), "--resume", "--steps", "40", "--quiet",
                  "--set", "batch=64")
    assert rc == 2 and len(err) == 1 and "batch" in err[0], err
    # a preset named on resume is part of what was given: one that differs from the run's is refused
    rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(out), "--resume", "--quiet", "--preset", "long")
    assert rc == 2 and len(err) == 1 and "actor_lr" in err[0] and "--resume" in err[0], err


def test_solve_never_writes_non_finite_menus(tmp_path) -> None:
    summary = cj.train("dt", progress=False, **TINY)
    pol = summary["policy"]
    envs = cj.sample_envs("dt", 3)
    bad = dataclasses.replace(pol, actor=jax.tree.map(lambda w: np.full_like(w, np.nan), pol.actor))
    with pytest.raises(ValueError, match="is not finite"):
        bad.menus(envs)
    assert np.all(np.isfinite(pol.menus(envs)["s"]))
    with pytest.raises(files.InputError):
        files.validate_envs(scenarios.get("dt"), envs | {"c": envs["c"] * np.nan})


@pytest.fixture(scope="module")
def env_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("envs")
    out = {}
    for name in ALL:
        sc = scenarios.get(name)
        out[name] = files.write(folder / f"{name}.json", {"scenario": name,
                                                            "fields": files.env_record(sc, cj.sample_envs(sc, 3))})
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(ALL), data=st.data())
def test_bad_environment_values_in_files_are_one_line(tmp_path_factory, capsys, env_files, name, data) -> None:
    """Any field of any scenario's environment file set to a value outside its declared range."""
    sc = scenarios.get(name)
    field = data.draw(st.sampled_from(sorted(f for f in sc.env_fields if f not in sc.dims)))
    record = json.loads(env_files[name].read_text())
    x = np.asarray(record["fields"][field], dtype=float)
    flat = x.reshape(-1)
    flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(outside(sc.domain[field]))
    folder = tmp_path_factory.mktemp("f")
    bad = folder / "bad.npz"
    np.savez(bad, **{f"fields/{k}": np.asarray(v, dtype=float) if k != field else x
                     for k, v in record["fields"].items()}, scenario=np.asarray(name))
    rc, err = run(capsys, "oracle", "--scenario", name, "--envs", str(bad), "--out", str(folder / "o.json"))
    assert rc == 2 and len(err) == 1 and f"'{field}'" in err[0] and "bad.npz" in err[0], (field, err)
    assert sorted(p.name for p in folder.iterdir()) == ["bad.npz"]


COMMAND_FLAGS = {  # every numeric flag of every command, with the rest of a valid command line
    ("sample-envs", "--n"): ["--scenario", "dt", "--out", "x.json"],
    ("sample-envs", "--seed"): ["--scenario", "dt", "--n", "2", "--out", "x.json"],
    ("train", "--steps"): ["--scenario", "dt", "--out", "run"],
    ("train", "--seed"): ["--scenario", "dt", "--out", "run"],
    ("train", "--resume-from"): ["--scenario", "dt", "--out", "run"],
    ("solve", "--seed"): ["--scenario", "dt", "--envs", "e.json", "--checkpoint", "run", "--out", "x.json"],
    ("solve", "--checkpoint-step"): ["--scenario", "dt", "--envs", "e.json", "--checkpoint", "run", "--out", "x.json"],
    ("quickstart", "--n"): ["--out", "q"],
    ("quickstart", "--seed"): ["--out", "q"],
    ("quickstart", "--train-steps"): ["--out", "q"],
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(sorted(COMMAND_FLAGS)), data=st.data())
def test_bad_numeric_flags_are_one_line(tmp_path_factory, capsys, monkeypatch, case, data) -> None:
    (command, flag), rest = case, COMMAND_FLAGS[case]
    bad = ["-1", "1.5", "x", "nan", "inf", "", "1e3"] + ([str(2**32)] if flag == "--seed" else [])
    value = data.draw(st.sampled_from(bad))
    folder = tmp_path_factory.mktemp("a")
    monkeypatch.chdir(folder)
    with pytest.raises(SystemExit) as e:
        cli.main([command, *rest, f"{flag}={value}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and flag in err[0], err
    assert not any(folder.iterdir())


# ------------------------------------------------------------ booleans, extreme values, full disks


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(ALL), data=st.data())
def test_booleans_are_not_numbers_in_any_file_or_call(tmp_path_factory, capsys, env_files, name, data) -> None:
    """``true`` in any field of an environment file (JSON, alone or among numbers), or a bool array
    given to the Python API, is one line naming the field; nothing is written."""
    sc = scenarios.get(name)
    field = data.draw(st.sampled_from(sorted(sc.env_fields)))
    record = json.loads(env_files[name].read_text())
    x = np.asarray(record["fields"][field], dtype=float)
    values = x.tolist()
    flat_index = data.draw(st.integers(0, x.size - 1))
    target = values
    for k in np.unravel_index(flat_index, x.shape)[:-1]:
        target = target[k]
    target[int(np.unravel_index(flat_index, x.shape)[-1]) if x.ndim else 0] = True
    record["fields"][field] = values
    folder = tmp_path_factory.mktemp("b")
    bad = folder / "bad.json"
    bad.write_text(json.dumps(record))
    rc, err = run(capsys, "oracle", "--scenario", name, "--envs", str(bad), "--out", str(folder / "o.json"))
    assert rc == 2 and len(err) == 1 and f"'{field}'" in err[0] and "true/false" in err[0], err
    assert sorted(p.name for p in folder.iterdir()) == ["bad.json"]
    envs = {k: np.asarray(v, float) for k, v in json.loads(env_files[name].read_text())["fields"].items()}
    with pytest.raises(files.InputError, match=f"argument 'envs': field '{field}': true/false"):
        cj.oracle(name, envs | {field: envs[field] > -1})


def test_booleans_in_menus_and_config_files(tmp_path, capsys, env_files) -> None:
    oracle_out = tmp_path / "o.json"
    assert cli.main(["oracle", "--scenario", "dt", "--envs", str(env_files["dt"]), "--out", str(oracle_out)]) == 0
    record = json.loads(oracle_out.read_text())
    record["menus"]["s"][0][0] = True
    bad = tmp_path / "bad_menus.json"
    bad.write_text(json.dumps(record))
    capsys.readouterr()
    rc, err = run(capsys, "evaluate", "--scenario", "dt", "--envs", str(env_files["dt"]), "--menus", str(bad),
                  "--out", str(tmp_path / "e.json"))
    assert rc == 2 and len(err) == 1 and "'menus.s'" in err[0] and "true/false" in err[0], err
    for field in ("actor_lr", "gamma", "algo"):
        cfg = tmp_path / "c.json"
        cfg.write_text(json.dumps({field: True}))
        rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(tmp_path / "run"), "--config", str(cfg))
        assert rc == 2 and len(err) == 1 and field in err[0], err
    assert not (tmp_path / "e.json").exists() and not (tmp_path / "run").exists()


def test_no_command_writes_a_non_finite_number(tmp_path, capsys, env_files) -> None:
    """Values inside the declared domain whose arithmetic overflows (vartheta = 1e308 in dt, payments
    at 1e308): one line, nothing written; the writer itself refuses NaN and infinity. (Allocations at
    1e308 are refused earlier, by the model's allocation box.)"""
    record = json.loads(env_files["dt"].read_text())
    record["fields"]["vartheta"] = [1e308] * len(record["fields"]["vartheta"])
    big = tmp_path / "big.json"
    big.write_text(json.dumps(record))
    rc, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(big), "--out", str(tmp_path / "o.json"))
    assert rc == 2 and len(err) == 1 and "finite" in err[0], err
    good = tmp_path / "good.json"
    assert cli.main(["oracle", "--scenario", "dt", "--envs", str(env_files["dt"]), "--out", str(good)]) == 0
    menus = json.loads(good.read_text())
    menus["menus"]["r"] = [[1e308] * len(row) for row in menus["menus"]["r"]]
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps(menus))
    capsys.readouterr()
    rc, err = run(capsys, "evaluate", "--scenario", "dt", "--envs", str(env_files["dt"]), "--menus", str(huge),
                  "--out", str(tmp_path / "e.json"))
    assert rc == 2 and len(err) == 1 and "finite" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.json", "good.json", "huge.json"]
    for suffix in (".json", ".npz"):
        with pytest.raises(files.InputError, match="nothing written.*'menus.r' is nan"):
            files.write(tmp_path / f"x{suffix}", {"scenario": "dt", "menus": {"r": np.array([[1.0, np.nan]])}})
        assert not (tmp_path / f"x{suffix}").exists()


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, env_files, monkeypatch) -> None:
    """``ENOSPC`` while writing (simulated: the machine has no small tmpfs to fill): one line,
    exit 2, no output and no temporary file."""
    import errno

    real = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, _data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.fh, name)

    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: Full(real(fd, mode)))
    for out in ("o.json", "o.npz"):
        rc, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(env_files["dt"]), "--out", str(tmp_path / out))
        assert rc == 2 and len(err) == 1 and "no space left" in err[0] and "nothing written" in err[0], err
    rc, err = run(capsys, "sample-envs", "--scenario", "dt", "--n", "3", "--out", str(tmp_path / "e.json"))
    assert rc == 2 and len(err) == 1 and "no space left" in err[0], err
    assert not any(tmp_path.iterdir())


def test_a_full_disk_during_training_is_one_line_and_keeps_the_run_resumable(tmp_path, capsys, monkeypatch) -> None:
    """A checkpoint that does not fit: refused before orbax writes (free space checked), and, on a real
    2 MiB tmpfs where this machine can mount one, a write that fails halfway: one line, exit 2, no
    half-written checkpoint; the run resumes."""
    import collections
    import subprocess

    from contractjax.solver import checkpoint
    from tests.conftest import tiny_train_args

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda _p: usage(1 << 20, 1 << 20, 0))
    rc, err = run(capsys, *tiny_train_args("dt", tmp_path / "run"))
    assert rc == 2 and len(err) == 1 and "no space left" in err[0] and "--resume" in err[0], err
    assert not list((tmp_path / "run" / "checkpoints").iterdir())
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(small)], capture_output=True).returncode:
        return  # no tmpfs here: the write that fails halfway is not exercised
    try:
        monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda _p: usage(1 << 40, 0, 1 << 40))
        rc, err = run(capsys, *tiny_train_args("dt", small / "run"))
        assert rc == 2 and len(err) == 1 and "no space left" in err[0], err
        assert not [p for p in (small / "run" / "checkpoints").iterdir() if "tmp" in p.name]
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


def test_the_python_api_checks_its_arguments() -> None:
    """Every public function refuses bad arguments with one InputError line naming the argument."""
    envs = cj.sample_envs("dt", 4)
    menus = cj.oracle("dt", envs)
    cases = [
        (lambda: cj.oracle("dt", {}), "argument 'envs': field 'M' is missing"),
        (lambda: cj.oracle("dt", [1, 2]), "argument 'envs': give a dict"),
        (lambda: cj.oracle(3.5, envs), "argument 'scenario'"),
        (lambda: cj.oracle("dt", envs, info="partial"), "argument 'info'"),
        (lambda: cj.oracle("dt", envs | {"c": envs["c"] * np.nan}), "argument 'envs': field 'c'"),
        (lambda: cj.oracle("dt", envs | {"q": -envs["q"]}), "argument 'envs': field 'q'"),
        (lambda: cj.evaluate("dt", envs, {"s": menus["s"]}), "argument 'menus': field 'menus.r' is missing"),
        (lambda: cj.evaluate("dt", envs, menus | {"s": menus["s"][:, :1]}), "argument 'menus': field 'menus.s'"),
        (lambda: cj.evaluate("dt", envs, menus | {"x": menus["s"]}), "'menus.x' is not a dt menu field"),
        (lambda: cj.gap(np.ones(3), np.ones(4), np.ones(3, bool)), "arguments 'utility', 'reference' and 'feasible'"),
        (lambda: cj.random_menus("dt", {"M": envs["M"]}), "argument 'envs'"),
        (lambda: cj.baseline_menus("dt", envs, "greedy"), "has no baseline 'greedy'"),
        (lambda: cj.sample_envs("dt", True), "n = True"),
        (lambda: cj.gap(["a"], ["b"], [True]), "arrays of numbers"),
        (lambda: cj.gap([np.nan], [1.0], [True]), "NaN or infinity"),
        (lambda: cj.train("dt", out=5, steps=1), "argument 'out'"),
        (lambda: cj.train("dt", config=5), "argument 'config'"),
        (lambda: cj.train("dt", resume=True, steps=1), "argument 'resume'"),
        (lambda: cj.sweep(5, "x"), "argument 'spec'"),
        (lambda: batch.polish_menus("dt", envs, "abc", 2), "argument 'actions'"),
        (lambda: batch.polish_menus("dt", envs, np.zeros((4, 1)), 2), "got shape [4, 1]"),
        (lambda: batch.polish_menus("dt", envs, np.zeros((4, 2)), 2, param="nope"), "argument 'param'"),
    ]
    for call, words in cases:
        with pytest.raises(files.InputError) as e:
            call()
        assert words in str(e.value) and "\n" not in str(e.value), (words, str(e.value))


def test_an_npz_whose_scenario_is_an_array(tmp_path, capsys, env_files) -> None:
    record = json.loads(env_files["dt"].read_text())
    bad = tmp_path / "bad.npz"
    np.savez(bad, scenario=np.array(["dt", "dt"]), **{f"fields/{k}": np.asarray(v) for k, v in record["fields"].items()})
    rc, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(bad), "--out", str(tmp_path / "o.json"))
    assert rc == 2 and len(err) == 1 and "'scenario' must be a model name" in err[0], err


def test_an_unreachable_cluster_is_one_line_within_seconds(tmp_path, capsys) -> None:
    """``--cluster HOST:PORT`` where nothing listens: one line naming that address, in seconds,
    nothing written (Ray alone retries for minutes)."""
    pytest.importorskip("ray", reason="the [cluster] extra is not installed")
    import time

    from contractjax import cluster

    if cluster.running():
        pytest.skip("a Ray connection of this process is reused")
    t = time.perf_counter()
    rc, err = run(capsys, "sample-envs", "--scenario", "dt", "--n", "10", "--out", f"{tmp_path}/envs/", "--cluster",
                  "127.0.0.1:1")
    assert rc == 2 and len(err) == 1 and "'127.0.0.1:1'" in err[0] and "nothing answers" in err[0], err
    assert time.perf_counter() - t < 30 and not any(tmp_path.iterdir())
    rc, err = run(capsys, "sample-envs", "--scenario", "dt", "--n", "10", "--out", f"{tmp_path}/envs/", "--cluster",
                  "nonsense")
    assert rc == 2 and len(err) == 1 and "HOST:PORT" in err[0], err


def test_overwrite_keeps_the_mode_and_a_plain_folder_is_named(tmp_path, capsys, env_files) -> None:
    out = tmp_path / "o.json"
    assert cli.main(["oracle", "--scenario", "dt", "--envs", str(env_files["dt"]), "--out", str(out)]) == 0
    out.chmod(0o444)
    assert cli.main(["oracle", "--scenario", "dt", "--envs", str(env_files["dt"]), "--out", str(out),
                     "--overwrite"]) == 0
    assert out.stat().st_mode & 0o777 == 0o444
    (tmp_path / "plain").mkdir()
    capsys.readouterr()
    rc, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(tmp_path / "plain"), "--out",
                  str(tmp_path / "x.json"))
    assert rc == 2 and len(err) == 1 and "is a folder but not a contractjax dataset" in err[0], err


EXTREMES = [1e308, -1e308, 1e300, -1e300, 5e-324, -5e-324, 1e-300, 1e-200, 1e30, -1e30]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(ALL), data=st.data())
def test_extreme_finite_values_give_finite_results_or_one_line(env_files, name, data) -> None:
    """Any field of any model set to an extreme value that its domain admits: the oracle and the
    evaluation either return finite numbers or refuse in one InputError line (never NaN or inf)."""
    sc = scenarios.get(name)
    field = data.draw(st.sampled_from(sorted(f for f in sc.env_fields if f not in sc.dims)))
    admitted = [v for v in EXTREMES if sc.domain[field].holds(v)]
    if not admitted:
        return
    envs = {k: np.asarray(v, float) for k, v in json.loads(env_files[name].read_text())["fields"].items()}
    x = envs[field].copy()
    x.reshape(-1)[data.draw(st.integers(0, x.size - 1))] = data.draw(st.sampled_from(admitted))
    envs[field] = x
    try:
        menus = cj.oracle(name, envs)
        report = cj.evaluate(name, envs, menus)
    except files.InputError as e:
        assert "\n" not in str(e)
        return
    assert all(np.all(np.isfinite(v)) for v in menus.values())
    assert np.all(np.isfinite(report["principal_utility"])) and np.all(np.isfinite(report["max_violation"]))


@pytest.mark.parametrize("name, field", [("dt", "s"), ("aigc", "L"), ("twin", "f")])
def test_menus_outside_the_models_allocation_box_are_refused(tmp_path, capsys, env_files, name, field) -> None:
    """A negative data size (or one past its bound) is not evaluated: one line naming the field,
    the environment and the bounds, from the CLI and the Python API."""
    out = tmp_path / "o.json"
    assert cli.main(["oracle", "--scenario", name, "--envs", str(env_files[name]), "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    x = np.asarray(record["menus"][field], float)
    x.reshape(len(x), -1)[1, 0] = -1.0
    record["menus"][field] = x.tolist()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    capsys.readouterr()
    rc, err = run(capsys, "evaluate", "--scenario", name, "--envs", str(env_files[name]), "--menus", str(bad),
                  "--out", str(tmp_path / "e.json"))
    assert rc == 2 and len(err) == 1 and f"'{field}' of environment 1" in err[0] and "bounds" in err[0], err
    assert not (tmp_path / "e.json").exists()
    envs = files.load_envs(scenarios.get(name), env_files[name])
    with pytest.raises(files.InputError, match="outside the model's allocation bounds"):
        cj.evaluate(name, envs, {k: np.asarray(v, float) for k, v in record["menus"].items()})


@pytest.mark.parametrize("flags, words", [
    (["--steps", str(2**31)], "steps"),
    (["--set", "chunk=100000000000000000000"], "chunk"),
    (["--set", "denoise_steps=1000000000"], "denoise_steps"),
    (["--set", "batch=2000000000", "buffer=512"], "needs about"),
])
def test_sizes_beyond_what_can_run_are_refused_before_training(tmp_path, capsys, flags, words) -> None:
    """Counts run as int32 in the compiled program and one iteration's arrays must fit in memory:
    anything larger is one line before a folder is made."""
    rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(tmp_path / "run"), "--quiet", *flags)
    assert rc == 2 and len(err) == 1 and words in err[0], err
    assert not (tmp_path / "run").exists()


def test_values_beyond_float32_are_named_before_training_or_solving(tmp_path, capsys, env_files) -> None:
    """Training and learned policies run in float32: a sampler setting or an environment beyond its
    range is one line naming it (not a blame on the policy's parameters)."""
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"sampler": {"c": 1e308}}))
    rc, err = run(capsys, "train", "--scenario", "dt", "--out", str(tmp_path / "run"), "--config", str(cfg))
    assert rc == 2 and len(err) == 1 and "c = 1e+308" in err[0] and "float32" in err[0], err
    assert not (tmp_path / "run").exists()
    record = json.loads(env_files["dt"].read_text())
    record["fields"]["M"] = [1e308] * len(record["fields"]["M"])
    big = tmp_path / "big.json"
    big.write_text(json.dumps(record))
    from contractjax.solver.policy import check_float32  # what Policy.menus checks before it acts

    with pytest.raises(files.InputError, match="field 'M' of environment 0 is 1e\\+308.*float32"):
        check_float32(files.load_envs(scenarios.get("dt"), big), "environments")


def test_run_records_hold_no_nan_and_read_back(tmp_path) -> None:
    """An undefined value (a gap with no feasible menu, a diverged member) is written as null, never
    NaN, and read back as NaN; a CSV cell is left empty."""
    rec = {"gap": float("nan"), "rows": [{"u": np.float64("inf"), "ok": 1.0}], "name": "x"}
    files.write_text(tmp_path / "s.json", files.dumps(rec, indent=1))
    text = (tmp_path / "s.json").read_text()
    assert "NaN" not in text and "Infinity" not in text and json.loads(text)["gap"] is None
    back = files.read_record(tmp_path / "s.json")
    assert math.isnan(back["gap"]) and math.isnan(back["rows"][0]["u"]) and back["rows"][0]["ok"] == 1.0
    files.write_csv(tmp_path / "t.csv", [{"a": float("nan"), "b": 2.0}])
    assert (tmp_path / "t.csv").read_text().splitlines()[1] == ",2.0"


def test_odd_numbers_in_files_and_api_arguments(tmp_path, capsys, env_files) -> None:
    """Integers beyond int64 are numbers, beyond float64 one line; seeds, dims and config of the
    Python API are checked; a dangling link at --out is not replaced."""
    record = json.loads(env_files["dt"].read_text())
    n = len(record["fields"]["c"])
    big = tmp_path / "big.json"
    big.write_text(json.dumps(record | {"fields": record["fields"] | {"c": [10**30] * n}}).replace(
        "1e+30", "1" + "0" * 30))
    assert files.read(big)["fields"]["c"].dtype == np.float64
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps(record | {"fields": record["fields"] | {"c": [1] * n}}).replace(
        '"c": [1', '"c": [1' + "0" * 400))
    rc, err = run(capsys, "oracle", "--scenario", "dt", "--envs", str(huge), "--out", str(tmp_path / "o.json"))
    assert rc == 2 and len(err) == 1 and "more digits than a float64" in err[0], err
    for call, words in [(lambda: cj.sample_envs("dt", 3, seed=True), "argument 'seed'"),
                        (lambda: cj.sample_envs("dt", 3, seed=2**64), "argument 'seed'"),
                        (lambda: cj.sample_envs("dt", 3, dims=3), "argument 'dims'"),
                        (lambda: cj.random_menus("dt", cj.sample_envs("dt", 2), seed="x"), "argument 'seed'"),
                        (lambda: cj.solve(5, {}), "argument 'policy'")]:
        with pytest.raises(files.InputError, match=words):
            call()
    link = tmp_path / "d.json"
    link.symlink_to(tmp_path / "nowhere" / "x.json")
    rc, err = run(capsys, "sample-envs", "--scenario", "dt", "--n", "2", "--out", str(link))
    assert rc == 2 and "already exists" in err[0] and link.is_symlink()


def test_the_library_names_arguments_and_the_command_line_names_flags(tmp_path, capsys) -> None:
    """One message, two audiences: the Python API names the argument a user passed (`path`,
    `resume=True`), the command line the flag they typed (--checkpoint, --resume)."""
    envs = tmp_path / "e.json"
    assert run(capsys, "sample-envs", "--scenario", "dt", "--n", "2", "--out", str(envs))[0] == 0
    with pytest.raises(domain.InputError) as e:
        cj.solve(tmp_path / "nothing", cj.sample_envs("dt", 2))
    assert "`path`" in str(e.value) and "--" not in str(e.value)
    rc, err = run(capsys, "solve", "--checkpoint", str(tmp_path / "nothing"), "--envs", str(envs), "--out",
                  str(tmp_path / "m.json"))
    assert rc == 2 and f"--checkpoint '{tmp_path / 'nothing'}'" in err[0] and "`" not in err[0], err
    cj.sweep({"scenario": "dt", "set": dict(TINY, steps=10)}, tmp_path / "s", progress=False)
    with pytest.raises(domain.InputError, match=r"`out` .* pass `resume=True`"):
        cj.sweep({"scenario": "dt", "set": dict(TINY, steps=10)}, tmp_path / "s", progress=False)
    (tmp_path / "s.json").write_text(json.dumps({"scenario": "dt", "set": dict(TINY, steps=10)}))
    rc, err = run(capsys, "sweep", "--config", str(tmp_path / "s.json"), "--out", str(tmp_path / "s"))
    assert rc == 2 and "--out" in err[-1] and "--resume" in err[-1] and "`" not in err[-1], err


def test_no_library_message_names_a_command_line_flag() -> None:
    """Outside cli.py, a raised message names Python arguments (in backticks, which the command
    line turns into its flags); a flag appears only inside a quoted command (contractjax ..., ray ...)."""
    import ast
    import re

    root = Path(cj.__file__).parent
    found = []
    for f in root.rglob("*.py"):
        if f.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for c in ast.walk(node.exc):
                    if isinstance(c, ast.Constant) and isinstance(c.value, str):
                        text = re.sub(r"(contractjax|ray) [^;)']*", "", c.value)
                        if re.search(r"--[a-z]", text):
                            found.append(f"{f.relative_to(root)}:{node.lineno}: {c.value}")
    assert not found, found
