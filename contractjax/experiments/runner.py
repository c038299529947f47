"""Running an experiment: each panel's series trained as sweeps (resumable), each view's rows,
the CSVs, the figure and ``summary.json``."""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from contractjax import batch, files, scenarios
from contractjax.domain import InputError, check_whole
from contractjax.experiments import figure
from contractjax.experiments.catalog import Experiment, get, on_model
from contractjax.experiments.views import Context, Curves, Look, Rows, Trained, held_out, over_seeds
from contractjax.solver import sweeps
from contractjax.solver.policy import read_config

#: Settings per budget, applied to every member (over the preset named in ``preset``).
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"preset": "quick", "set": {"steps": 20, "chunk": 10, "eval_every": 10, "eval_envs": 16,
                                         "checkpoint_every": 20, "warmup": 5, "batch": 16, "envs_per_step": 8,
                                         "buffer": 256, "actor_hidden": [16, 16], "critic_hidden": [16, 16],
                                         "prune_every": 5, "prune_steps": 2, "denoise_steps": 2}},
    "quick": {"preset": "quick", "set": {"steps": 3000, "chunk": 500, "eval_every": 500, "eval_envs": 300,
                                          "checkpoint_every": 1000}},
    "full": {"preset": "quick", "set": {"chunk": 1000, "eval_every": 1000, "eval_envs": 300,
                                         "checkpoint_every": 1000}},
    "paper": {"preset": "paper", "set": {}},
}
DEFAULT_SEEDS = {"tiny": 1, "quick": 2, "full": 2, "paper": 5}


def panel_sweeps(exp: Experiment, budget: str, seeds: int) -> list[dict[str, Any]]:
    """Per panel, one sweep specification per series (the series' overrides over the budget; its
    seeds train as one population); a panel that reuses another has that panel's."""
    if budget not in BUDGETS:
        raise InputError(f"`budget` '{budget}': choose one of {', '.join(BUDGETS)}")
    check_whole(seeds, "seeds", 1, sweeps.MAX_MEMBERS, " seeds per series")
    b = BUDGETS[budget]
    out: list[dict[str, Any]] = []
    for panel in exp.panels:
        if panel.reuse is not None:
            out.append(out[panel.reuse])
            continue
        out.append({label: {"scenario": exp.scenario, "algos": [over["algo"]], "preset": b["preset"],
                            "seeds": seeds, "set": dict(b["set"]) | {k: v for k, v in over.items() if k != "algo"}}
                    for label, over in panel.series.items()})
    return out


def run(exp_id: str | Path | Experiment, out: str | Path, budget: str = "quick", seeds: int | None = None,
        resume: bool = False, progress: bool = True, scenario: Any = None) -> dict[str, Any]:
    """Run an experiment (a shipped id, an experiment file or an :class:`Experiment`) and write its
    figure, data and summary into ``out``; returns the summary. ``scenario`` runs it on another model (a name,
    model file, module or object: the views are the same; series that set another model's
    sampler settings are refused in one line). With ``resume``, finished series are kept and an
    interrupted one continues."""
    started = time.perf_counter()
    exp = on_model(get(exp_id), scenario) if scenario is not None else get(exp_id)
    if seeds is None:
        seeds = DEFAULT_SEEDS.get(budget, 1)
    specs = panel_sweeps(exp, budget, seeds)
    for spec in specs:  # every series is checked before any training
        for one in spec.values():
            sweeps.expand(one)
    outp = files.check_folder(out)
    if not resume and outp.exists() and any(outp.iterdir()):
        raise InputError(f"`out` '{outp}' already holds files; pass `resume=True` or choose a new folder")
    figure.backend()
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    trained: list[Trained] = []
    for p, (panel, spec) in enumerate(zip(exp.panels, specs, strict=True)):
        if panel.reuse is not None:
            trained.append(trained[panel.reuse])
            continue
        series = {}
        for s, (label, one) in enumerate(spec.items()):
            log(f"[{exp.id}] panel '{panel.title}', series '{label}' ({seeds} seed(s), {budget} budget)")
            folder = outp / "panels" / f"{p}-{s}"
            done = folder / "results.json"
            results = (files.read_record(done) if resume and done.is_file()
                       else sweeps.sweep(one, folder, resume=resume and folder.exists(), progress=progress, log=log))
            series[label] = (folder, results)
        trained.append(series)
    tables: list[Rows] = []
    extra: dict[str, Rows] = {}
    for p, (panel, series) in enumerate(zip(exp.panels, trained, strict=True)):
        if not isinstance(panel.view, Curves):
            log(f"[{exp.id}] panel '{panel.title}': evaluating the trained policies beside the oracle")
        rows, more = panel.view.rows(Context(p, panel.title, series, budget, exp.references))
        tables.append(over_seeds(rows, panel.view.group))
        for k, v in more.items():
            extra.setdefault(k, []).extend(v)
    curves = [r for panel, t in zip(exp.panels, tables, strict=True) if isinstance(panel.view, Curves) for r in t]
    finals = [r for panel, t in zip(exp.panels, tables, strict=True) if not isinstance(panel.view, Curves) for r in t]
    lines = _references(exp, outp) if curves else {}
    files.write_csv(outp / f"{exp.id}.csv", curves + finals)
    for name, rows in extra.items():
        files.write_csv(outp / f"{exp.id}-{name}.csv", rows)
    look = Look.of(scenarios.get(exp.scenario))
    caption = f"{exp.id}: {budget} budget, mean ± std over {seeds} seed(s); oracle = {look.oracle}"
    png = figure.draw(exp, tables, extra, lines, look, outp / f"{exp.id}.png", caption)
    summary = {"id": exp.id, "paper": exp.paper, "figure": exp.figure, "scenario": exp.scenario, "claim": exp.claim,
               "budget": budget, "seeds": seeds, "series": _summary_series(curves + finals),
               "references": lines, "notes": list(exp.notes),
               "command": (f"contractjax reproduce {exp_id} --budget {budget} --seeds {seeds} --out {outp}"
                           if not isinstance(exp_id, Experiment) else
                           f"contractjax.experiments.run(<Experiment {exp.id}>, '{outp}', '{budget}', {seeds})"),
               "device": _device(), "date": datetime.date.today().isoformat(), "figure_file": png.name,
               "wall_s": time.perf_counter() - started,  # this invocation (a resume counts only what it ran)
               "train_s": sum({(str(f), r["group"]): float(r["wall_s"]) for series in trained
                               for f, results in series.values() for r in results}.values())}
    if "energy" in extra:
        summary["energy"] = extra["energy"]
    files.write_text(outp / "summary.json", files.dumps(summary, indent=1))
    return summary


def _references(exp: Experiment, out: Path) -> dict[str, float]:
    """The model's baselines drawn as lines on learning curves (TWIN's greedy contract), on the
    panels' held-out environments (every series shares them)."""
    if not exp.references:
        return {}
    cfg = read_config(next((out / "panels").glob("*/runs/*")))
    envs = held_out(cfg)
    return {name: float(np.mean(batch.evaluate(cfg.scenario, envs, batch.baseline_menus(cfg.scenario, envs, name))
                                ["principal_utility"])) for name in exp.references}


def _summary_series(table: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The summary's rows: per panel, point and series its final value (a curve's last step)."""
    last: dict[tuple, Mapping[str, Any]] = {}
    for r in table:
        last[(r["panel"], r.get("point", ""), r["series"])] = r
    return [{"panel": r["panel_title"] + (f" ({r['point']})" if r.get("point") else ""), "series": r["series"],
             "utility": r["utility_mean"], "utility_std": r["utility_std"], "gap": r["gap_mean"],
             "feasible": r["feasible_mean"], "oracle": r["oracle"], "complete_information": r["complete_information"],
             "random": r["random"]} | ({"agents_utility": r["agents_utility_mean"]} if "agents_utility_mean" in r else {})
            for r in last.values()]


def _device() -> str:
    d = jax.devices()[0]
    return f"CPU, {os.cpu_count()} cores" if d.platform == "cpu" else f"{d.device_kind} ({d.platform})"
