"""The papers' experiments: every id expands into valid sweeps; one runs end to end (tiny budget)
and writes a PNG, a CSV and a summary with the oracle beside each series."""

from __future__ import annotations

import csv
import json

import pytest

from contractjax import cli, experiments
from contractjax.solver import sweeps


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
