"""The papers' experiments, reproduced with the exact optimum beside them (``contractjax reproduce``).

Each experiment is one or more *panels*; a panel is a sweep (:mod:`contractjax.solver.sweeps`:
algorithms × a grid × seeds, trained as compiled populations) plus a plot of its held-out learning
curves — mean ± std over seeds of the principal's utility against training iterations — with the
oracle's and the complete-information utility as horizontal references (per series, when a series
changes the model, e.g. its loss aversion). Outputs in ``DIR``: ``ID.png``, ``ID.csv`` (every
curve point), ``summary.json`` (final utility and gap per series, the paper's claim, the command,
budget, device and date) and ``panels/`` (each panel's sweep folder: solvable runs, resumable).

Budgets: ``quick`` (minutes per panel on a 2-core CPU), ``paper`` (the papers' hyperparameters:
GPU-sized), ``tiny`` (seconds; for tests).
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contractjax import files
from contractjax.domain import InputError

#: Settings per budget, applied to every member (over the preset named in ``preset``).
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"preset": "quick", "set": {"steps": 20, "chunk": 10, "eval_every": 10, "eval_envs": 16,
                                         "checkpoint_every": 20, "warmup": 5, "batch": 16, "envs_per_step": 8,
                                         "buffer": 256, "actor_hidden": [16, 16], "critic_hidden": [16, 16],
                                         "prune_every": 5, "prune_steps": 2, "denoise_steps": 2}},
    "quick": {"preset": "quick", "set": {"steps": 3000, "chunk": 500, "eval_every": 500, "eval_envs": 300,
                                          "checkpoint_every": 1000}},
    "paper": {"preset": "paper", "set": {}},
}
DEFAULT_SEEDS = {"tiny": 1, "quick": 2, "paper": 5}
ALGO_LABELS = {"diffusion_sac": "diffusion SAC", "diffusion_ddpg": "diffusion DDPG", "sac": "SAC", "ddpg": "DDPG",
               "td3": "TD3", "ppo": "PPO", "amortized": "amortized (exact gradient)"}


@dataclasses.dataclass(frozen=True)
class Panel:
    """One sweep and its plot: ``series`` maps a label to the member overrides that define it
    (``algo`` and any Config fields, ``sampler`` settings included)."""

    title: str
    series: Mapping[str, Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class Experiment:
    id: str
    paper: str
    figure: str
    scenario: str
    claim: str
    panels: tuple[Panel, ...]
    references: tuple[str, ...] = ()  # extra baselines drawn as lines: "greedy" (TWIN)


def _algos(names: Sequence[str], **extra: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {ALGO_LABELS[a]: {"algo": a} for a in names}
    return out | {k: dict(v) for k, v in extra.items()}


def _setting_panel(title: str, symbol: str, field: str, values: Sequence[float]) -> Panel:
    """Diffusion SAC with one sampler setting at several values (each series its own model)."""
    return Panel(title, {f"{symbol} = {v:g}": {"algo": "diffusion_sac", "sampler": {field: v}} for v in values})


def _reference_points(values: Sequence[float], eut_label: str, eut: Mapping[str, float]) -> Panel:
    """Diffusion SAC under prospect theory at several reference points, and the expected-utility
    variant (the loss aversion ``eut`` set to 1 and ``U_ref = 0``: ``v(U) = U``)."""
    pt = _setting_panel("reference point", "PT, U_ref", "U_ref", values)
    return Panel(pt.title, {**pt.series, eut_label: {"algo": "diffusion_sac", "sampler": {**eut, "U_ref": 0.0}}})


_PAPER_ALGOS = ("diffusion_sac", "diffusion_ddpg", "sac", "ddpg", "td3", "ppo", "amortized")

EXPERIMENTS: dict[str, Experiment] = {e.id: e for e in [
    Experiment(
        "dt-fig3", "DT (Wen et al., journal)", "Fig. 3", "dt",
        "complete information > the learned contract > a random scheme",
        (Panel("schemes", {"diffusion SAC (pruned)": {"algo": "diffusion_sac"}}),)),
    Experiment(
        "dt-fig4", "DT (Wen et al., journal)", "Fig. 4", "dt",
        "the pruned diffusion SAC converges more slowly but settles at the highest final reward; pruning improves "
        "diffusion SAC (vs PPO, SAC, diffusion SAC, diffusion DDPG)",
        (Panel("algorithms", _algos(_PAPER_ALGOS, **{"diffusion SAC, unpruned": {"algo": "diffusion_sac",
                                                                                   "pruning": "none"}})),)),
    Experiment(
        "dt-fig7", "DT (Wen et al., journal)", "Fig. 7", "dt",
        "(a) the VP schedule gives the highest reward; (b) higher pruning rates (10/30/50 %) converge more slowly "
        "but reach a higher final reward",
        (Panel("noise schedule", {s: {"algo": "diffusion_sac", "schedule": s} for s in ("vp", "linear", "cosine")}),
         Panel("pruning rate", {f"{int(100 * r)} %": {"algo": "diffusion_sac", "prune_rate": r}
                                for r in (0.1, 0.3, 0.5)}))),
    Experiment(
        "agent-fig6", "AGENT (Wen et al.)", "Fig. 6", "agent",
        "EDMSAC is best (vs DMSAC, DMDDPG, PPO, SAC, DDPG), PPO the worst; EDMSAC gives the highest profit",
        (Panel("algorithms", _algos(("diffusion_ddpg", "sac", "ddpg", "ppo"), **{
            "EDMSAC (pruning=agent)": {"algo": "diffusion_sac", "pruning": "agent", "prune_rate": 0.5},
            "DMSAC (unpruned)": {"algo": "diffusion_sac", "pruning": "none"}})),)),
    Experiment(
        "agent-fig7", "AGENT (Wen et al.)", "Fig. 7", "agent",
        "(a) higher pruning rates (30/50/70 %) converge faster to a higher reward; (b) denoising steps 3/6/12",
        (Panel("pruning rate", {f"{int(100 * r)} %": {"algo": "diffusion_sac", "pruning": "agent", "prune_rate": r}
                                for r in (0.3, 0.5, 0.7)}),
         Panel("denoising steps", {f"T = {t}": {"algo": "diffusion_sac", "denoise_steps": t} for t in (3, 6, 12)}))),
    Experiment(
        "aigc-fig4", "AIGC (Wen et al.)", "Fig. 4", "aigc",
        "complete information > the learned contract > a random policy (U_ref = 200, η = 0.5)",
        (Panel("schemes", {"diffusion SAC": {"algo": "diffusion_sac"}}),)),
    Experiment(
        "aigc-fig5", "AIGC (Wen et al.)", "Fig. 5", "aigc",
        "diffusion SAC ends significantly higher than PPO and SAC (final test rewards 31,960 / 24,608 / 1,258)",
        (Panel("algorithms", _algos(("diffusion_sac", "ppo", "sac"))),)),
    Experiment(
        "aigc-fig7", "AIGC (Wen et al.)", "Fig. 7", "aigc",
        "the expected-utility (EUT) solution is always higher but impractical; a lower reference point U_ref is "
        "better (η = 0.5)",
        (_reference_points((100.0, 200.0, 300.0), "EUT (η = 1, U_ref = 0)", {"eta": 1.0}),)),
    Experiment(
        "aigc-fig8", "AIGC (Wen et al.)", "Fig. 8a", "aigc",
        "smaller loss aversion η gives a higher reward, with the same convergence rate (U_ref = 200)",
        (_setting_panel("loss aversion", "η", "eta", (0.25, 0.5, 1.0, 2.0)),)),
    Experiment(
        "twin-fig5", "TWIN (Zhong et al.)", "Fig. 5", "twin",
        "the diffusion policy is highest and most stable; PPO comparable but lower; greedy and random far below",
        (Panel("algorithms", _algos(("diffusion_sac", "sac", "ppo"))),), references=("greedy",)),
    Experiment(
        "twin-fig6", "TWIN (Zhong et al.)", "Fig. 6", "twin",
        "the expected-utility (EUT) solution is always higher (but impractical); the reward falls as U_ref rises "
        "(κ = 0.5)",
        (_reference_points((0.0, 10.0, 20.0), "EUT (κ = 1, U_ref = 0)", {"kappa": 1.0}),)),
    Experiment(
        "twin-fig7", "TWIN (Zhong et al.)", "Fig. 7", "twin",
        "larger loss aversion κ gives a lower reward, with the same convergence speed (U_ref = 10)",
        (_setting_panel("loss aversion", "κ", "kappa", (0.25, 0.5, 1.0, 2.0)),)),
]}


def get(exp_id: str) -> Experiment:
    if exp_id not in EXPERIMENTS:
        raise InputError(f"experiment '{exp_id}' is unknown; choose one of: {', '.join(EXPERIMENTS)} "
                         "(contractjax reproduce --list)")
    return EXPERIMENTS[exp_id]


def panel_sweeps(exp: Experiment, budget: str, seeds: int) -> list[dict[str, Any]]:
    """Per panel, one sweep specification per series (the series' overrides over the budget; its
    seeds train as one population)."""
    if budget not in BUDGETS:
        raise InputError(f"--budget '{budget}': choose one of {', '.join(BUDGETS)}")
    if seeds < 1:
        raise InputError(f"--seeds {seeds}: give a whole number >= 1")
    b = BUDGETS[budget]
    out = []
    for panel in exp.panels:
        out.append({label: {"scenario": exp.scenario, "algos": [over["algo"]], "preset": b["preset"],
                            "seeds": seeds, "set": dict(b["set"]) | {k: v for k, v in over.items() if k != "algo"}}
                    for label, over in panel.series.items()})
    return out


def run(exp_id: str, out: str | Path, budget: str = "quick", seeds: int | None = None, resume: bool = False,
        progress: bool = True) -> dict[str, Any]:
    """Run an experiment and write its figure, data and summary; returns the summary."""
    from contractjax.solver.sweeps import sweep

    exp = get(exp_id)
    seeds = DEFAULT_SEEDS[budget] if seeds is None and budget in DEFAULT_SEEDS else seeds
    specs = panel_sweeps(exp, budget, seeds)
    outp = files.check_folder(out)
    if not resume and outp.exists() and any(outp.iterdir()):
        raise InputError(f"--out '{outp}' already holds files; pass --resume or choose a new folder")
    _figure_backend()
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    rows: list[dict[str, Any]] = []
    for p, (panel, spec) in enumerate(zip(exp.panels, specs, strict=True)):
        for s, (label, one) in enumerate(spec.items()):
            log(f"[{exp.id}] panel '{panel.title}', series '{label}' ({seeds} seed(s), {budget} budget)")
            folder = outp / "panels" / f"{p}-{s}"
            done = folder / "results.json"
            results = (json.loads(done.read_text()) if resume and done.is_file()
                       else sweep(one, folder, resume=resume and folder.exists(), progress=progress, log=log))
            rows += _series_rows(exp, p, panel.title, label, folder, results)
    table = _aggregate(rows)
    lines = _references(exp, outp)
    files.write_csv(outp / f"{exp.id}.csv", table)
    png = _plot(exp, table, lines, outp / f"{exp.id}.png", budget, seeds)
    final = _finals(table)
    summary = {"id": exp.id, "paper": exp.paper, "figure": exp.figure, "scenario": exp.scenario, "claim": exp.claim,
               "budget": budget, "seeds": seeds, "series": final, "references": lines,
               "command": f"contractjax reproduce {exp.id} --budget {budget} --seeds {seeds} --out {outp}",
               "device": _device(), "date": datetime.date.today().isoformat(), "figure_file": png.name}
    files.write_text(outp / "summary.json", json.dumps(summary, indent=1))
    return summary


def report(runs: str | Path, out: str | Path = "docs/results.md", figures: str | Path = "docs/figures") -> Path:
    """``docs/results.md`` from experiment folders under ``runs`` (each with a ``summary.json``):
    per experiment the paper's claim, ours (final utility, gap to the oracle, per series), the
    figure (copied into ``figures``), the command, budget, device and date. Experiments without a
    run are listed as not yet run."""
    outp, figs = Path(out), Path(figures)
    found = {}
    for f in sorted(Path(runs).glob("**/summary.json")):
        data = json.loads(f.read_text())
        if data.get("id") in EXPERIMENTS and "series" in data:
            found[data["id"]] = (f.parent, data)
    lines = ["# Reproduced experiments", "",
             "Generated by `contractjax reproduce --report RUNS` from the experiments' `summary.json` files. Every "
             "figure draws the exact optimum (oracle) and the complete-information bound beside the learned policies; "
             "gaps are to the oracle on held-out environments.", ""]
    for exp_id, exp in EXPERIMENTS.items():
        lines += [f"## {exp_id}: {exp.paper} {exp.figure}", "", f"**Paper's claim.** {exp.claim}.", ""]
        if exp_id not in found:
            lines += [f"Not run yet: `contractjax reproduce {exp_id} --budget quick --out runs/{exp_id}`.", ""]
            continue
        folder, data = found[exp_id]
        png = folder / data["figure_file"]
        figs.mkdir(parents=True, exist_ok=True)
        files.write_bytes(figs / png.name, png.read_bytes())
        rel = Path(os.path.relpath(figs, outp.parent))
        lines += ["| panel | series | final utility (± std over seeds) | gap to oracle | oracle | complete information |",
                  "|---|---|---|---|---|---|"]
        for r in data["series"]:
            lines.append(f"| {r['panel']} | {r['series']} | {r['utility']:.4g} ± {r['utility_std']:.2g} | "
                         f"{100 * r['gap']:.2f} % | {r['oracle']:.4g} | {r['complete_information']:.4g} |")
        for name, value in data.get("references", {}).items():
            lines.append(f"| reference | {name} contract | {value:.4g} | | | |")
        lines += ["", f"![{exp_id}]({rel / png.name})", "",
                  f"Budget `{data['budget']}`, {data['seeds']} seed(s), {data['device']}, {data['date']}: "
                  f"`{data['command']}`.", ""]
    files.write_text(outp, "\n".join(lines))
    return outp


# ------------------------------------------------------------------------------------ the data


def _series_rows(exp: Experiment, panel: int, title: str, label: str, folder: Path,
                 results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every (member, evaluation step) of one series, with the member's oracle references."""
    curves = _read_curves(folder / "curves.csv")
    rows = []
    for r in results:
        summ = json.loads((folder / r["run"] / "summary.json").read_text())
        b = summ["baselines"]
        for c in curves.get(r["member"], []):
            rows.append({"panel": panel, "panel_title": title, "series": label, "member": r["member"],
                         "seed": r["seed"], "step": c["step"], "utility": c["eval_principal_utility"],
                         "gap": c["eval_gap"], "feasible": c["eval_feasible"],
                         "oracle": b["oracle"]["principal_utility"],
                         "complete_information": b["complete_information"]["principal_utility"],
                         "random": b["random"]["principal_utility"]})
    return rows


def _read_curves(path: Path) -> dict[str, list[dict[str, float]]]:
    import csv

    out: dict[str, list[dict[str, float]]] = {}
    with path.open() as f:
        for rec in csv.DictReader(f):
            if rec.get("eval_principal_utility") not in (None, ""):
                out.setdefault(rec["member"], []).append(
                    {"step": int(rec["step"]), **{k: float(rec[k]) for k in
                                                  ("eval_principal_utility", "eval_gap", "eval_feasible")}})
    return out


def _aggregate(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per (panel, series, step), in the order the series were declared."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: (r["panel"], r["step"])):
        groups.setdefault((r["panel"], r["panel_title"], r["series"], r["step"]), []).append(r)
    order = list(dict.fromkeys(r["series"] for r in rows))
    out = []
    for (panel, title, series, step), sel in sorted(groups.items(), key=lambda g: (g[0][0], order.index(g[0][2]),
                                                                                   g[0][3])):
        u = np.array([r["utility"] for r in sel])
        out.append({"panel": panel, "panel_title": title, "series": series, "step": step, "seeds": len(sel),
                    "utility_mean": float(u.mean()), "utility_std": float(u.std())}
                   | {f"{k}_mean" if k in ("gap", "feasible") else k: float(np.mean([r[k] for r in sel]))
                      for k in ("gap", "feasible", "oracle", "complete_information", "random")})
    return out


def _finals(table: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    last: dict[tuple[int, str], Mapping[str, Any]] = {}
    for r in table:
        last[(r["panel"], r["series"])] = r
    return [{"panel": r["panel_title"], "series": r["series"], "step": r["step"], "utility": r["utility_mean"],
             "utility_std": r["utility_std"], "gap": r["gap_mean"], "feasible": r["feasible_mean"],
             "oracle": r["oracle"], "complete_information": r["complete_information"]} for r in last.values()]


def _references(exp: Experiment, out: Path) -> dict[str, float]:
    """Extra baselines drawn as lines (TWIN's greedy contract), on the panels' held-out environments."""
    if not exp.references:
        return {}
    from contractjax import batch
    from contractjax.solver.policy import read_config
    from contractjax.solver.program import for_config
    from contractjax.solver.training import eval_seed

    cfg = read_config(next((out / "panels").glob("*/runs/*")))  # every series shares the held-out environments
    prog = for_config(cfg)
    envs = batch.sample_envs(prog.scenario, cfg.eval_envs, eval_seed(cfg), prog.dims, prog.sampler)
    lines = {}
    if "greedy" in exp.references:
        lines["greedy"] = float(np.mean(batch.evaluate(prog.scenario, envs,
                                                       batch.greedy_menus(prog.scenario, envs))["principal_utility"]))
    return lines


def _device() -> str:
    import jax

    d = jax.devices()[0]
    return f"CPU, {os.cpu_count()} cores" if d.platform == "cpu" else f"{d.device_kind} ({d.platform})"


# ------------------------------------------------------------------------------------ the figure


def _figure_backend() -> None:
    try:
        import matplotlib
    except ImportError:
        raise InputError("contractjax reproduce draws figures with matplotlib: pip install -e \".[figures]\"") from None
    matplotlib.use("Agg")


def _plot(exp: Experiment, table: Sequence[Mapping[str, Any]], lines: Mapping[str, float], path: Path,
          budget: str, seeds: int) -> Path:
    import matplotlib.pyplot as plt

    n = len(exp.panels)
    fig, axes = plt.subplots(1, n, figsize=(6.4 * n, 4.6), squeeze=False)
    for p, ax in enumerate(axes[0]):
        rows = [r for r in table if r["panel"] == p]
        series = list(dict.fromkeys(r["series"] for r in rows))
        refs = {(r["oracle"], r["complete_information"]) for r in rows}
        shared = len({(round(o, 6), round(c, 6)) for o, c in refs}) == 1
        for i, s in enumerate(series):
            pts = [r for r in rows if r["series"] == s]
            x = np.array([r["step"] for r in pts])
            m = np.array([r["utility_mean"] for r in pts])
            sd = np.array([r["utility_std"] for r in pts])
            color = f"C{i}"
            ax.plot(x, m, color=color, label=f"{s} (gap {100 * pts[-1]['gap_mean']:.2f} %)")
            ax.fill_between(x, m - sd, m + sd, color=color, alpha=0.2)
            if not shared:
                ax.axhline(pts[-1]["oracle"], color=color, ls="--", lw=1)
                ax.axhline(pts[-1]["complete_information"], color=color, ls=":", lw=1)
        if shared and rows:
            ax.axhline(rows[0]["oracle"], color="k", ls="--", lw=1.2, label="oracle (exact optimum)")
            ax.axhline(rows[0]["complete_information"], color="k", ls=":", lw=1.2, label="complete information")
            ax.axhline(rows[0]["random"], color="0.5", ls="-.", lw=1, label="random feasible menus")
        elif rows:
            ax.plot([], [], color="k", ls="--", label="oracle (per series, dashed)")
            ax.plot([], [], color="k", ls=":", label="complete information (per series, dotted)")
        for j, (name, value) in enumerate(lines.items()):
            ax.axhline(value, color=f"C{len(series) + j}", ls="-.", lw=1, label=f"{name} contract")
        ax.set_xlabel("training iterations")
        ax.set_ylabel(f"principal's utility ({exp.scenario}, mean over held-out environments)")
        ax.set_title(f"{exp.paper} {exp.figure}: {exp.panels[p].title}")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{exp.id} — {budget} budget, mean ± std over {seeds} seed(s)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    files.write_bytes(path, buf.getvalue())
    return path
