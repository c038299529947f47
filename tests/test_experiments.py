"""The papers' experiments: shipped as files equal to the catalog they replaced, every id expands
into valid sweeps; one runs end to end (tiny budget) and writes a PNG, a CSV and a summary with the
oracle beside each series; every view, and a user's own experiment file on their own model."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from contractjax import cli, experiments
from contractjax.domain import InputError
from contractjax.solver import sweeps


def test_every_paper_figure_has_an_experiment() -> None:
    figures = {"dt": (3, 4, 5, 6, 7), "agent": (6, 7, 8, 9), "aigc": (4, 5, 6, 7, 8), "twin": (5, 6, 7, 8, 9, 10)}
    assert set(experiments.EXPERIMENTS) == {f"{p}-fig{n}" for p, ns in figures.items() for n in ns}
    for exp in experiments.EXPERIMENTS.values():
        assert all(type(panel.view) in experiments.VIEWS.values() for panel in exp.panels)
        assert all(panel.reuse is None or panel.reuse < i for i, panel in enumerate(exp.panels))


def _canonical(exp: experiments.Experiment) -> dict:
    view = lambda v, k, default: getattr(v, k, default)  # noqa: E731
    return json.loads(json.dumps({
        "id": exp.id, "paper": exp.paper, "figure": exp.figure, "scenario": exp.scenario, "claim": exp.claim,
        "references": list(exp.references), "notes": list(exp.notes),
        "panels": [{"title": p.title, "view": p.view.name, "series": p.series, "points": view(p.view, "points", {"": {}}),
                    "x": view(p.view, "x", ""), "by": view(p.view, "by", ""), "states": view(p.view, "states", 3),
                    "reuse": p.reuse} for p in exp.panels]}))


def test_the_shipped_experiment_files_are_the_catalog_they_replaced() -> None:
    """tests/data/paper_experiments.json is the 20 experiments as they were written in Python before
    they became files (series, views, points, settings): the files give the same panels, so the
    same sweeps and outputs."""
    before = json.loads((Path(__file__).parent / "data" / "paper_experiments.json").read_text())
    assert set(before) == set(experiments.EXPERIMENTS)
    for exp_id, exp in experiments.EXPERIMENTS.items():
        assert _canonical(exp) == before[exp_id], exp_id


@pytest.mark.parametrize("exp_id", list(experiments.EXPERIMENTS))
def test_every_experiment_expands_into_valid_sweeps(exp_id: str) -> None:
    exp = experiments.get(exp_id)
    for budget in ("tiny", "quick", "paper"):
        specs = experiments.panel_sweeps(exp, budget, 2)
        assert len(specs) == len(exp.panels)
        for panel, spec in zip(exp.panels, specs, strict=True):
            assert list(spec) == list(panel.series)
            for one in spec.values():
                plan = sweeps.expand(one)
                assert len(plan.members) == 2 and len(plan.groups) == 1
                assert all(m.cfg.scenario == exp.scenario for m in plan.members)


def test_reproduce_end_to_end_writes_figure_data_and_summary(tmp_path, capsys) -> None:
    out = tmp_path / "aigc-fig5"
    assert cli.main(["reproduce", "aigc-fig5", "--budget", "tiny", "--out", str(out), "--quiet"]) == 0
    png = (out / "aigc-fig5.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    rows = list(csv.DictReader((out / "aigc-fig5.csv").open()))
    assert {r["series"] for r in rows} == {"diffusion SAC", "PPO", "SAC"}
    assert all(float(r["oracle"]) <= float(r["complete_information"]) + 1e-9 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["id"] == "aigc-fig5" and len(summary["series"]) == 3
    assert "contractjax reproduce aigc-fig5" in summary["command"]
    # finished series are kept on --resume; an occupied folder is refused without it
    capsys.readouterr()
    assert cli.main(["reproduce", "aigc-fig5", "--budget", "tiny", "--out", str(out), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert cli.main(["reproduce", "aigc-fig5", "--budget", "tiny", "--out", str(out), "--quiet", "--resume"]) == 0
    assert cli.main(["reproduce", "--list"]) == 0
    assert "twin-fig7" in capsys.readouterr().out
    assert cli.main(["reproduce", "nope", "--out", str(tmp_path / "x")]) == 2
    # the report lists every experiment, with this one's table and figure
    md = experiments.report(tmp_path, tmp_path / "docs" / "results.md", tmp_path / "docs" / "figures")
    text = md.read_text()
    assert all(f"## {i}:" in text for i in experiments.EXPERIMENTS)
    assert "![aigc-fig5](figures/aigc-fig5.png)" in text and (tmp_path / "docs" / "figures" / "aigc-fig5.png").is_file()
    # a report is not written over an existing one without --overwrite, nor from a folder without runs
    capsys.readouterr()
    report = ["reproduce", "--report", str(tmp_path), "--report-out", str(md)]
    assert cli.main(report) == 2 and "--overwrite" in capsys.readouterr().err and md.read_text() == text
    # replacing it updates the experiments run under RUNS and keeps the others' sections
    stub = "`contractjax reproduce dt-fig3"
    md.write_text(text.replace(f"Not run yet: {stub}", f"Run elsewhere: {stub}"))
    assert cli.main([*report, "--overwrite"]) == 0
    new = md.read_text()
    assert "Run elsewhere: `contractjax reproduce dt-fig3" in new and "Not run yet: `contractjax reproduce dt-fig4" in new
    assert new.count("## aigc-fig5:") == 1 and "![aigc-fig5]" in new
    assert cli.main(["reproduce", "--report", str(tmp_path), "--report-out", str(tmp_path / "docs"), "--overwrite"]) == 2
    assert "is a folder" in capsys.readouterr().err
    for runs in (tmp_path / "missing", tmp_path / "docs"):
        assert cli.main(["reproduce", "--report", str(runs), "--report-out", str(tmp_path / "r.md")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(runs) in err[0] and not (tmp_path / "r.md").exists(), err


def test_expected_utility_variants_are_settings_of_the_prospect_theory_models(x64) -> None:
    """The EUT series of aigc-fig7 / twin-fig6: with those settings the principal's utility is the
    plain expected utility (AIGC: M Σ Q_k U_k; TWIN: Σ Q_mn U_mn)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import contractjax as cj
    from contractjax.scenarios import aigc, twin

    e = cj.sample_envs("aigc", 50, seed=2, config={"eta": 1.0, "U_ref": 0.0})
    m = cj.random_menus("aigc", e, 0)
    je, jm = jax.tree.map(np.asarray, e), jax.tree.map(np.asarray, m)
    u = jax.vmap(aigc.principal_utility)(je, jm)
    expected = jax.vmap(lambda a, b: a["M"] * jnp.sum(a["Q"] * aigc.client_utility(a, b)))(je, jm)
    np.testing.assert_allclose(u, expected, rtol=1e-12)
    e = cj.sample_envs("twin", 50, seed=2, config={"kappa": 1.0, "U_ref": 0.0})
    m = cj.random_menus("twin", e, 0)
    je, jm = jax.tree.map(np.asarray, e), jax.tree.map(np.asarray, m)
    u = jax.vmap(twin.principal_utility)(je, jm)
    expected = jax.vmap(lambda a, b: jnp.sum(a["Q"] * twin.av_utility(a, b)))(je, jm)
    np.testing.assert_allclose(u, expected, rtol=1e-12)


def test_every_view_from_one_trained_series(tmp_path, monkeypatch) -> None:
    """bars, lines, contracts and energy evaluate an earlier panel's trained policies (``reuse``)
    at fresh held-out points beside the oracle; every view lands in the CSVs, the figure and the
    summary."""
    from contractjax.experiments import Bars, Contracts, Energy, Experiment, Lines, Panel, grid

    series = {"diffusion SAC": {"algo": "diffusion_sac", "sampler": {"vartheta": (10.0, 15.0)}}}
    exp = Experiment("t-views", "test", "Fig. 0", "dt", "none", (
        Panel("curves", series),
        Panel("bars", series, Bars(), reuse=0),
        Panel("lines", series, Lines(grid("vartheta", (10, 15), "c", (25, 35)), x="vartheta", by="c"), reuse=0),
        Panel("contracts", series, Contracts(states=2), reuse=0),
        Panel("energy", series, Energy(), reuse=0)))
    monkeypatch.setitem(experiments.EXPERIMENTS, exp.id, exp)
    summary = experiments.run(exp.id, tmp_path / "v", "tiny", progress=False)
    assert len(list((tmp_path / "v" / "panels").iterdir())) == 1  # trained once
    rows = list(csv.DictReader((tmp_path / "v" / "t-views.csv").open()))
    lines = [r for r in rows if r.get("view") == "lines"]
    assert sorted((float(r["vartheta"]), float(r["c"])) for r in lines) == [(10, 25), (10, 35), (15, 25), (15, 35)]
    # a lower unit cost c can only raise the optimum (the same menus stay feasible and cost the devices less)
    by = {(float(r["vartheta"]), float(r["c"])): float(r["oracle"]) for r in lines}
    assert by[(10, 25)] >= by[(10, 35)] and by[(15, 25)] >= by[(15, 35)] and by[(15, 25)] > by[(10, 25)]
    assert all(float(r["oracle"]) <= float(r["complete_information"]) + 1e-9 for r in rows if r.get("view"))
    contracts = list(csv.DictReader((tmp_path / "v" / "t-views-contracts.csv").open()))
    assert {r["scheme"] for r in contracts} == {"oracle", "complete information", "diffusion SAC"}
    assert {r["state"] for r in contracts} == {"0", "1"}
    assert {r["quantity"] for r in contracts} >= {"s", "r", "principal's utility"}
    # the oracle's own utilities (IR slacks) are non-negative and rise with the type (information rents)
    own = [float(r["value"]) for r in contracts if r["scheme"] == "oracle" and r["quantity"].startswith("utility")
           and r["state"] == "0"]
    assert own[0] >= -1e-6 and own == sorted(own)
    (energy,) = summary["energy"]
    assert energy["params_compact"] <= energy["params_active"] <= energy["params_full"]
    assert energy["solve_us_per_env_masked"] > 0 and energy["solve_us_per_env_compact"] > 0
    assert "energy_kwh" in energy or "energy_missing" in energy
    assert {r["panel"].split(" (")[0] for r in summary["series"]} == {"curves", "bars", "lines", "contracts", "energy"}
    png = (tmp_path / "v" / "t-views.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000


@pytest.mark.skipif(not os.environ.get("CJ_ALL_EXPERIMENTS"), reason="about 20 minutes on 2 cores: CJ_ALL_EXPERIMENTS=1")
@pytest.mark.parametrize("exp_id", list(experiments.EXPERIMENTS))
def test_every_experiment_runs_end_to_end(tmp_path, exp_id: str) -> None:
    summary = experiments.run(exp_id, tmp_path / exp_id, "tiny", progress=False)
    assert (tmp_path / exp_id / f"{exp_id}.png").read_bytes()[:4] == b"\x89PNG"
    assert list(csv.DictReader((tmp_path / exp_id / f"{exp_id}.csv").open()))
    assert summary["series"] and all(r["oracle"] <= r["complete_information"] + 1e-6 for r in summary["series"])


def test_a_users_experiment_file_on_their_own_model(tmp_path, capsys) -> None:
    """An experiment file (TOML) for a model file outside the package runs end to end: figure, data
    and summary; a broken file is one line naming the key."""
    model = Path(__file__).resolve().parents[1] / "examples" / "screening.py"
    (tmp_path / "exp.toml").write_text(f'''
claim = "td3 lands between the random menus and the optimum"
scenario = "{model}"
[[panels]]
title = "one algorithm"
algos = ["td3"]
[[panels]]
title = "over a"
view = "lines"
x = "a"
grid = {{ x = "a", values = [8.0, 12.0] }}
reuse = 0
''')
    out = tmp_path / "out"
    assert cli.main(["reproduce", str(tmp_path / "exp.toml"), "--budget", "tiny", "--out", str(out), "--quiet"]) == 0
    assert {"exp.png", "exp.csv", "summary.json"} <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "screening" and {s["panel"] for s in summary["series"]} >= {"one algorithm"}
    (tmp_path / "bad.toml").write_text(f'scenario = "{model}"\n[[panels]]\ntitle = "x"\nalgo = ["td3"]\n')
    capsys.readouterr()
    assert cli.main(["reproduce", str(tmp_path / "bad.toml"), "--budget", "tiny", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'algo'" in err[0] and not (tmp_path / "b").exists(), err


BAD_PANELS = [
    ('algos = ["td3"]\nx = "a"', "key 'x' does not apply to view curves"),
    ('view = "bars"\nreuse = 0\nalgos = ["td3"]', "panel 2: a panel that reuses another trains nothing"),
    ('view = "curves"\nreuse = 0', "panel 2: reuse evaluates trained policies"),
    ('view = "lines"\nreuse = 0\ngrid = { x = "a", values = ["8"] }', "grid values must be a list of numbers"),
    ('view = "lines"\nreuse = 0\ngrid = { x = "a", values = [8.0], by = "theta" }', "give by and by_values together"),
    ('view = "lines"\nreuse = 0\ngrid = { x = "zeta", values = [8.0] }', "'zeta' is not a sampler setting"),
    ('view = "lines"\nreuse = 0\npoints = { low = { a = 8.0 } }', "view lines: give x ="),
    ('view = "bars"\nreuse = 0\npoints = { low = { a = -1.0 } }', "evaluation point 'low'"),
    ('view = "contracts"\nreuse = 0\nstates = 0', "states = 0"),
    ('view = "contracts"\nreuse = 5', "reuse must name an earlier panel"),
    ('algos = "all"', 'algos must be "paper" or a list'),
    ('algos = ["td3"]\nseries.TD3 = { algo = "td3" }', "series 'TD3' is given twice"),
    ('view = "pie"\nreuse = 0', "view = 'pie'"),
]


@pytest.mark.parametrize(("panel", "message"), BAD_PANELS)
def test_a_bad_experiment_file_is_one_line_naming_the_key(tmp_path, panel: str, message: str) -> None:
    model = Path(__file__).resolve().parents[1] / "examples" / "screening.py"
    f = tmp_path / "bad.toml"
    f.write_text(f'scenario = "{model}"\n[[panels]]\nalgos = ["td3"]\n[[panels]]\n{panel}\n')
    with pytest.raises(InputError) as e:
        experiments.load_file(f)
    assert message in str(e.value) and str(f) in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_references_must_be_known_and_defined_by_the_model(tmp_path) -> None:
    model = Path(__file__).resolve().parents[1] / "examples" / "screening.py"
    for refs, message in ((["greedy"], "model 'screening' has no baseline 'greedy'"), (["best"], "no baseline 'best'")):
        (tmp_path / "r.toml").write_text(f'scenario = "{model}"\nreferences = {json.dumps(refs)}\n'
                                         '[[panels]]\nalgos = ["td3"]\n')
        with pytest.raises(InputError, match=message):
            experiments.load_file(tmp_path / "r.toml")


def test_figures_name_the_models_roles_and_settings() -> None:
    """What a plot says about a model comes from the model (roles, labels), for any model."""
    from contractjax import scenarios
    from contractjax.experiments.views import Look

    dt = Look.of(scenarios.get("dt"))
    assert dt.utility() == "DT server's utility (mean over held-out envs)"
    assert dt.utility(agents=True).startswith("IIoT device's") and dt.setting("vartheta").endswith("ϑ")
    screening = Look.of(scenarios.get(str(Path(__file__).resolve().parents[1] / "examples" / "screening.py")))
    assert screening.principal == "buyer" and screening.setting("a") == "value scale a"
    assert screening.setting("nu") == "nu"  # a setting without words is shown by its name
    # the oracle line says what the oracle is: exact (closed forms, the exact path) or a search's best
    assert dt.oracle == screening.oracle == "exact optimum"
    assert "search" in Look.of(scenarios.get("twin")).oracle


def test_line_plots_show_the_learned_lines_and_name_far_references() -> None:
    """A reference far from the learned lines and the oracle (random menus) is named with its
    values in the legend rather than squashing the axis; a near one (greedy) stays in view."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from contractjax.experiments.views import _draw_references

    fig, ax = plt.subplots()
    x = [0.0, 10.0, 20.0]
    ax.plot(x, [326.0, 316.0, 306.0])
    refs = [(x, [329.7, 319.7, 309.8], {"ls": "--"}, "oracle"), (x, [290.7, 280.7, 270.7], {"ls": ":"}, "greedy"),
            (x, [52.6, 44.0, 36.2], {"ls": "-."}, "random")]
    _draw_references(ax, refs, [306.0, 326.0, 309.8, 329.7])
    lo, hi = ax.get_ylim()
    labels = ax.get_legend_handles_labels()[1]
    assert lo < 270.7 and hi > 329.7 and lo > 52.6  # greedy in view, random out of it
    assert "random (36.2 to 52.6, below)" in labels and "greedy" in labels and "oracle" in labels
    plt.close(fig)
