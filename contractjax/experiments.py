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
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contractjax import files
from contractjax.domain import InputError, check_whole
from contractjax.solver.algos import registry

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


def __getattr__(name: str) -> Any:
    """``ALGO_LABELS``: each registered algorithm's label (``AlgoSpec.label``), read on each access."""
    if name == "ALGO_LABELS":
        return {spec.name: spec.label for spec in registry.specs()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


VIEWS = ("curves", "bars", "lines", "contracts", "energy")


@dataclasses.dataclass(frozen=True)
class Panel:
    """One sweep and its plot: ``series`` maps a label to the member overrides that define it
    (``algo`` and any Config fields, ``sampler`` settings included).

    ``view`` is what the plot shows: ``curves`` (held-out utility against training iterations),
    or, from the trained policies evaluated after training at each of ``points`` (label ->
    sampler settings of fresh held-out environments; one point of the training settings by
    default), ``bars`` (principal's and agents' mean utility per series beside the oracle, complete
    information and random menus), ``lines`` (the same against the setting ``x``, one line per
    series and value of ``by``), ``contracts`` (the menus of ``states`` held-out environments by
    type, beside the oracle's) or ``energy`` (training energy and CO₂, parameter counts and solve
    time of the masked and the compact actor). ``reuse`` names an earlier panel whose trained
    series this one evaluates instead of training its own."""

    title: str
    series: Mapping[str, Mapping[str, Any]]
    view: str = "curves"
    points: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=lambda: {"": {}})
    x: str = ""
    by: str = ""
    states: int = 3
    reuse: int | None = None


@dataclasses.dataclass(frozen=True)
class Experiment:
    id: str
    paper: str
    figure: str
    scenario: str
    claim: str
    panels: tuple[Panel, ...]
    references: tuple[str, ...] = ()  # extra baselines drawn as lines: "greedy" (TWIN)
    notes: tuple[str, ...] = ()  # choices where the paper is silent (in the summary and docs/results.md)


def _algos(names: Sequence[str], **extra: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {registry.get(a).label: {"algo": a} for a in names}
    return out | {k: dict(v) for k, v in extra.items()}


def _setting_panel(title: str, symbol: str, field: str, values: Sequence[float]) -> Panel:
    """Diffusion SAC with one sampler setting at several values (each series its own model)."""
    return Panel(title, {f"{symbol} = {v:g}": {"algo": "diffusion_sac", "sampler": {field: v}} for v in values})


def _reference_points(values: Sequence[float], eut_label: str, eut: Mapping[str, float]) -> Panel:
    """Diffusion SAC under prospect theory at several reference points, and the expected-utility
    variant (the loss aversion ``eut`` set to 1 and ``U_ref = 0``: ``v(U) = U``)."""
    pt = _setting_panel("reference point", "PT, U_ref", "U_ref", values)
    return Panel(pt.title, {**pt.series, eut_label: {"algo": "diffusion_sac", "sampler": {**eut, "U_ref": 0.0}}})


def _grid(x: str, xs: Sequence[float], by: str = "", bys: Sequence[float] = (),
          fixed: Mapping[str, float] | None = None) -> dict[str, dict[str, float]]:
    """Evaluation points: every value of ``x`` (for every value of ``by``), with ``fixed`` settings."""
    out = {}
    for b in bys or [None]:
        for v in xs:
            point = {x: float(v)} | ({by: float(b)} if by else {})
            out[", ".join(f"{k} = {w:g}" for k, w in point.items())] = point | dict(fixed or {})
    return out


_EDMSAC = {"algo": "diffusion_sac", "pruning": "fixed_l2", "prune_rate": 0.5}
#: The series of the papers' all-algorithms comparison (``AlgoSpec.paper``), registered by import.
_PAPER_ALGOS = tuple(spec.name for spec in registry.specs() if spec.paper)

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
        "dt-fig5", "DT (Wen et al., journal)", "Fig. 5", "dt",
        "the proposed algorithm gives a higher (not the highest) DT-server utility and the highest mean IIoT-device "
        "utility",
        (Panel("utilities", {"diffusion SAC (pruned 10 %)": {"algo": "diffusion_sac", "prune_rate": 0.1},
                             "diffusion SAC, unpruned": {"algo": "diffusion_sac", "pruning": "none"},
                             **_algos(("diffusion_ddpg", "sac", "ppo"))}, view="bars"),)),
    Experiment(
        "dt-fig6", "DT (Wen et al., journal)", "Fig. 6", "dt",
        "pruning 10 % of the channels lowers training emissions (about 0.38 g; 99 % less than diffusion SAC) at a "
        "similar final reward",
        (Panel("environmental impact", {"pruned 10 %": {"algo": "diffusion_sac", "prune_rate": 0.1},
                                        "unpruned": {"algo": "diffusion_sac", "pruning": "none"}}, view="energy"),),
        notes=("each series trains alone (its own compiled population), so CodeCarbon measures it alone; the energy "
               "per member is the group's divided by its members",
               "pruning is a mask of static shape: training does the same arithmetic pruned or not; the compact "
               "actor drops the pruned neurons, and solve time counts the float64 payments and every constraint "
               "check as well as the actor")),
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
            "EDMSAC (pruning=fixed_l2)": {"algo": "diffusion_sac", "pruning": "fixed_l2", "prune_rate": 0.5},
            "DMSAC (unpruned)": {"algo": "diffusion_sac", "pruning": "none"}})),)),
    Experiment(
        "agent-fig7", "AGENT (Wen et al.)", "Fig. 7", "agent",
        "(a) higher pruning rates (30/50/70 %) converge faster to a higher reward; (b) denoising steps 3/6/12",
        (Panel("pruning rate", {f"{int(100 * r)} %": {"algo": "diffusion_sac", "pruning": "fixed_l2", "prune_rate": r}
                                for r in (0.3, 0.5, 0.7)}),
         Panel("denoising steps", {f"T = {t}": _EDMSAC | {"denoise_steps": t} for t in (3, 6, 12)}),
         Panel("learning rates", {"actor 2e-7, critic 2e-6": _EDMSAC | {"actor_lr": 2e-7, "critic_lr": 2e-6},
                                  "both 1e-4": _EDMSAC | {"actor_lr": 1e-4, "critic_lr": 1e-4}})),
        notes=("panels (b) and (c) use EDMSAC at the 50 % pruning rate of Fig. 8 (the paper does not state them)",)),
    Experiment(
        "agent-fig8", "AGENT (Wen et al.)", "Fig. 8", "agent",
        "higher types get more training rounds and higher rewards in both periods (Lemmas 1–2 and 7–8)",
        (Panel("contracts under three network states", {"EDMSAC": _EDMSAC | {"denoise_steps": 6}}, view="contracts"),),
        notes=("the three network states are the first three held-out environments (the paper does not define them)",
               "learning rates are the budget's: 2e-7 / 2e-6 barely move in a quick budget (agent-fig7, panel c)")),
    Experiment(
        "agent-fig9", "AGENT (Wen et al.)", "Fig. 9", "agent",
        "the proposed dynamic contract is best; dynamic schemes beat static ones; profit rises with N, α and β",
        (Panel("profit vs N (static schemes: β = 0)", {"EDMSAC over N, α, β": _EDMSAC | {
            "sampler": {"N": (3.0, 18.0), "alpha": (200.0, 250.0), "beta": (0.0, 1.0)}}}, view="lines",
            points=_grid("N", (3, 6, 12, 18), "beta", (0.0, 0.5, 1.0), {"alpha": 200.0}), x="N", by="beta"),
         Panel("profit vs β and α (N = 6)", {"EDMSAC over N, α, β": {}}, view="lines",
               points=_grid("beta", (0.0, 0.25, 0.5, 0.75, 1.0), "alpha", (200.0, 250.0), {"N": 6.0}), x="beta",
               by="alpha", reuse=0)),
        notes=("one policy is trained over N in 3..18, α in [200, 250] and β in [0, 1] (all in its state) and "
               "evaluated at each point",
               "schemes (SPEC): dynamic = β > 0, static = β = 0; the random schemes are random feasible menus "
               "(dash-dot) at the same β")),
    Experiment(
        "aigc-fig4", "AIGC (Wen et al.)", "Fig. 4", "aigc",
        "complete information > the learned contract > a random policy (U_ref = 200, η = 0.5)",
        (Panel("schemes", {"diffusion SAC": {"algo": "diffusion_sac"}}),)),
    Experiment(
        "aigc-fig5", "AIGC (Wen et al.)", "Fig. 5", "aigc",
        "diffusion SAC ends significantly higher than PPO and SAC (final test rewards 31,960 / 24,608 / 1,258)",
        (Panel("algorithms", _algos(("diffusion_sac", "ppo", "sac"))),)),
    Experiment(
        "aigc-fig6", "AIGC (Wen et al.)", "Fig. 6", "aigc",
        "higher types get higher rewards and latency requirements (Lemmas 1–2); client utility: diffusion 1,246.44 > "
        "PPO 685.94 > SAC 193.47 (SAC stuck with identical type-2 variables)",
        (Panel("contracts at U_ref = 250", {label: over | {"sampler": {"U_ref": 250.0}} for label, over in
                                            _algos(("diffusion_sac", "ppo", "sac")).items()},
               view="contracts", states=1),),
        notes=("the given state is the first held-out environment",)),
    Experiment(
        "aigc-fig7", "AIGC (Wen et al.)", "Fig. 7", "aigc",
        "the expected-utility (EUT) solution is always higher but impractical; a lower reference point U_ref is "
        "better (η = 0.5)",
        (_reference_points((100.0, 200.0, 300.0), "EUT (η = 1, U_ref = 0)", {"eta": 1.0}),),
        notes=("U_ref values 100, 200, 300 are a choice (not stated)",)),
    Experiment(
        "aigc-fig8", "AIGC (Wen et al.)", "Fig. 8", "aigc",
        "(a) smaller loss aversion η gives a higher reward, with the same convergence rate (U_ref = 200); (b) the "
        "client's utility falls as η and U_ref rise while the mean ASP utility stays stable",
        (_setting_panel("loss aversion", "η", "eta", (0.25, 0.5, 1.0, 2.0)),
         Panel("utilities vs U_ref and η", {"diffusion SAC over U_ref, η": {
             "algo": "diffusion_sac", "sampler": {"U_ref": (100.0, 300.0), "eta": (0.25, 2.0)}}}, view="lines",
             points=_grid("U_ref", (100, 150, 200, 250, 300), "eta", (0.25, 0.5, 1.0, 2.0)), x="U_ref", by="eta")),
        notes=("η values 0.25, 0.5, 1, 2 and U_ref 100–300 are choices (not stated)",
               "(b): one policy trained over U_ref in [100, 300] and η in [0.25, 2] (both in its state)")),
    Experiment(
        "twin-fig5", "TWIN (Zhong et al.)", "Fig. 5", "twin",
        "the diffusion policy is highest and most stable; PPO comparable but lower; greedy and random far below",
        (Panel("algorithms", _algos(("diffusion_sac", "sac", "ppo"))),), references=("greedy",)),
    Experiment(
        "twin-fig6", "TWIN (Zhong et al.)", "Fig. 6", "twin",
        "the expected-utility (EUT) solution is always higher (but impractical); the reward falls as U_ref rises "
        "(κ = 0.5)",
        (_reference_points((0.0, 10.0, 20.0), "EUT (κ = 1, U_ref = 0)", {"kappa": 1.0}),),
        notes=("U_ref values 0, 10, 20 are a choice (not stated)",)),
    Experiment(
        "twin-fig7", "TWIN (Zhong et al.)", "Fig. 7", "twin",
        "larger loss aversion κ gives a lower reward, with the same convergence speed (U_ref = 10)",
        (_setting_panel("loss aversion", "κ", "kappa", (0.25, 0.5, 1.0, 2.0)),),
        notes=("κ values are a choice (not stated)",)),
    Experiment(
        "twin-fig8", "TWIN (Zhong et al.)", "Fig. 8", "twin",
        "every algorithm declines as U_ref rises, and the diffusion policy is always the largest",
        (Panel("algorithms vs reference point", {label: over | {"sampler": {"U_ref": (0.0, 20.0)}} for label, over in
                                                 _algos(("diffusion_sac", "sac", "ppo")).items()},
               view="lines", points=_grid("U_ref", (0, 5, 10, 15, 20)), x="U_ref"),), references=("greedy",),
        notes=("each algorithm is trained once over U_ref in [0, 20] (in its state), κ = 0.5",)),
    Experiment(
        "twin-fig9", "TWIN (Zhong et al.)", "Fig. 9", "twin",
        "the AV's reward falls as κ and as U_ref rise; the mean RSU utility is stable across κ at a fixed U_ref",
        (Panel("AV reward and mean RSU utility vs U_ref and κ", {"diffusion SAC over U_ref, κ": {
            "algo": "diffusion_sac", "sampler": {"U_ref": (0.0, 20.0), "kappa": (0.25, 2.0)}}}, view="lines",
            points=_grid("U_ref", (0, 10, 20), "kappa", (0.25, 0.5, 1.0, 2.0)), x="U_ref", by="kappa"),),
        notes=("one policy trained over U_ref in [0, 20] and κ in [0.25, 2] (both in its state)",)),
    Experiment(
        "twin-fig10", "TWIN (Zhong et al.)", "Fig. 10", "twin",
        "contract items (b, f, R) increase with the type (Lemma 1); the best type's utility is the largest (Lemma 2)",
        (Panel("contracts and utilities under three states", {"diffusion SAC": {"algo": "diffusion_sac"}},
               view="contracts"),),
        notes=("the three states are the first three held-out environments (the paper does not list them)",)),
]}


#: The keys of an experiment file and of each of its panels.
FILE_KEYS = ("id", "paper", "figure", "scenario", "claim", "references", "notes", "panels")
PANEL_KEYS = ("title", "view", "algos", "series", "points", "grid", "x", "by", "states", "reuse")


def load_file(path: str | Path) -> Experiment:
    """An experiment from a TOML file (docs/experiments.md): ``scenario`` (a built-in name, a model
    file relative to the experiment file, or a module), ``claim``, optional ``id`` (default: the
    file's name), ``paper``, ``figure``, ``references``, ``notes``, and ``[[panels]]``, each with a
    ``title``, a ``view`` (:data:`VIEWS`), its series — ``algos`` (registered algorithm names, each
    labelled by its algorithm) and/or ``[panels.series.LABEL]`` tables of Config overrides
    (``algo``, any Config field, ``sampler`` settings) — and, for evaluated views, ``points``
    (``[panels.points.LABEL]`` tables of sampler settings) or a ``grid`` (``x``, ``values``, and
    optionally ``by``, ``by_values``, ``fixed``), ``x``, ``by``, ``states`` and ``reuse``."""
    from contractjax import scenarios

    p = Path(path)
    where = f"experiment file '{p}'"
    data = files.read_table(p, "experiment file", "panels (docs/experiments.md)", (".toml",))

    def need(ok: bool, problem: str) -> None:
        if not ok:
            raise InputError(f"{where}: {problem}")

    unknown = sorted(set(data) - set(FILE_KEYS))
    need(not unknown, f"unknown key '{unknown[0] if unknown else ''}'; known: {', '.join(FILE_KEYS)}")
    need(isinstance(data.get("scenario"), str), "give scenario = a model name, model file or module, e.g. "
                                                "\"screening.py\"")
    spec = data["scenario"]
    if spec.endswith(".py") and not Path(spec).is_absolute():
        spec = str((p.parent / spec).resolve())
    sc = scenarios.get(spec)
    panels = data.get("panels")
    need(isinstance(panels, list) and panels and all(isinstance(q, dict) for q in panels),
         "give at least one [[panels]] table")
    out = []
    for i, q in enumerate(panels):
        name = f"panel {i + 1}"
        unknown = sorted(set(q) - set(PANEL_KEYS))
        need(not unknown, f"{name}: unknown key '{unknown[0] if unknown else ''}'; known: {', '.join(PANEL_KEYS)}")
        view = q.get("view", "curves")
        need(view in VIEWS, f"{name}: view = {view!r}; choose one of {', '.join(VIEWS)}")
        algos = q.get("algos", [])
        need(isinstance(algos, list) and all(a in registry.names() for a in algos),
             f"{name}: algos must be a list of registered algorithms ({', '.join(registry.names())})")
        series = q.get("series", {})
        need(isinstance(series, dict) and all(isinstance(v, dict) for v in series.values()),
             f"{name}: each [panels.series.LABEL] must be a table of config overrides")
        series = _algos(algos) | {label: {"algo": "diffusion_sac"} | over for label, over in series.items()}
        reuse = q.get("reuse")
        need(reuse is None or (isinstance(reuse, int) and 0 <= reuse < i), f"{name}: reuse must name an earlier "
                                                                             "panel by index (0 is the first)")
        need(bool(series) or reuse is not None, f"{name}: give its series (algos = [...] or [panels.series.LABEL])")
        points = q.get("points", {"": {}})
        if "grid" in q:
            g = q["grid"]
            need(isinstance(g, dict) and isinstance(g.get("x"), str) and isinstance(g.get("values"), list),
                 f"{name}: grid needs x = \"SETTING\" and values = [...]")
            points = _grid(g["x"], g["values"], g.get("by", ""), g.get("by_values", ()), g.get("fixed"))
        need(isinstance(points, dict) and all(isinstance(v, dict) for v in points.values()),
             f"{name}: each [panels.points.LABEL] must be a table of sampler settings")
        need(isinstance(q.get("title", name), str), f"{name}: title must be a string")
        out.append(Panel(q.get("title", name), series, view, points, q.get("x", ""), q.get("by", ""),
                         int(q.get("states", 3)), reuse))
    def text(k: str, default: str = "") -> str:
        v = data.get(k, default)
        need(isinstance(v, str), f"{k} must be a string")
        return v

    for k in ("references", "notes"):
        need(isinstance(data.get(k, []), list) and all(isinstance(v, str) for v in data.get(k, [])),
             f"{k} must be a list of strings")
    return Experiment(text("id", p.stem), text("paper", "your experiment"), text("figure", p.stem), sc.name,
                      text("claim", ""), tuple(out), tuple(data.get("references", ())), tuple(data.get("notes", ())))


def get(exp_id: str) -> Experiment:
    """A shipped experiment by id, or an experiment file (``*.toml``: :func:`load_file`)."""
    if str(exp_id).endswith(".toml"):
        return load_file(exp_id)
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
        if panel.reuse is not None:  # evaluates an earlier panel's trained series
            out.append(out[panel.reuse])
            continue
        out.append({label: {"scenario": exp.scenario, "algos": [over["algo"]], "preset": b["preset"],
                            "seeds": seeds, "set": dict(b["set"]) | {k: v for k, v in over.items() if k != "algo"}}
                    for label, over in panel.series.items()})
    return out


def run(exp_id: str, out: str | Path, budget: str = "quick", seeds: int | None = None, resume: bool = False,
        progress: bool = True, scenario: Any = None) -> dict[str, Any]:
    """Run an experiment and write its figure, data and summary; returns the summary.
    ``scenario`` runs it on another model (a name, model file, module or object: the views are
    the same; series that set another model's sampler settings are refused in one line)."""
    from contractjax.solver.sweeps import MAX_MEMBERS, sweep

    if seeds is not None:
        check_whole(seeds, "seeds", 1, MAX_MEMBERS, " seeds per series")
    started = time.perf_counter()
    exp = on_model(get(exp_id), scenario) if scenario is not None else get(exp_id)
    seeds = DEFAULT_SEEDS[budget] if seeds is None and budget in DEFAULT_SEEDS else seeds
    specs = panel_sweeps(exp, budget, seeds)
    outp = files.check_folder(out)
    if not resume and outp.exists() and any(outp.iterdir()):
        raise InputError(f"--out '{outp}' already holds files; pass --resume or choose a new folder")
    _figure_backend()
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    trained: list[dict[str, tuple[Path, list[dict[str, Any]]]]] = []
    for p, (panel, spec) in enumerate(zip(exp.panels, specs, strict=True)):
        if panel.reuse is not None:
            trained.append(trained[panel.reuse])
            continue
        trained.append({})
        for s, (label, one) in enumerate(spec.items()):
            log(f"[{exp.id}] panel '{panel.title}', series '{label}' ({seeds} seed(s), {budget} budget)")
            folder = outp / "panels" / f"{p}-{s}"
            done = folder / "results.json"
            results = (files.read_record(done) if resume and done.is_file()
                       else sweep(one, folder, resume=resume and folder.exists(), progress=progress, log=log))
            trained[p][label] = (folder, results)
    curves: list[dict[str, Any]] = []
    finals: list[dict[str, Any]] = []
    extra: dict[str, list[dict[str, Any]]] = {}
    for p, panel in enumerate(exp.panels):
        if panel.view == "curves":
            for label, (folder, results) in trained[p].items():
                curves += _series_rows(exp, p, panel.title, label, folder, results)
        else:
            log(f"[{exp.id}] panel '{panel.title}': evaluating the trained policies beside the oracle")
            rows, more = _evaluate(exp, p, panel, trained[p], budget)
            finals += rows
            for k, v in more.items():
                extra.setdefault(k, []).extend(v)
    table = _over_seeds(curves, ("panel", "series", "step"))
    final_table = _over_seeds(finals, ("panel", "point", "series"))
    lines = _references(exp, outp) if curves else {}
    files.write_csv(outp / f"{exp.id}.csv", table + final_table)
    for name, rows in extra.items():
        files.write_csv(outp / f"{exp.id}-{name}.csv", rows)
    png = _plot(exp, table, final_table, extra, lines, outp / f"{exp.id}.png", budget, seeds)
    summary = {"id": exp.id, "paper": exp.paper, "figure": exp.figure, "scenario": exp.scenario, "claim": exp.claim,
               "budget": budget, "seeds": seeds, "series": _summary_series(table + final_table),
               "references": lines, "notes": list(exp.notes),
               "command": f"contractjax reproduce {exp_id} --budget {budget} --seeds {seeds} --out {outp}",
               "device": _device(), "date": datetime.date.today().isoformat(), "figure_file": png.name,
               "wall_s": time.perf_counter() - started,  # this invocation (a --resume counts only what it ran)
               "train_s": sum({(str(f), r["group"]): float(r["wall_s"]) for panel in trained
                               for f, results in panel.values() for r in results}.values())}
    if "energy" in extra:
        summary["energy"] = extra["energy"]
    files.write_text(outp / "summary.json", files.dumps(summary, indent=1))
    return summary


def report(runs: str | Path, out: str | Path = "docs/results.md", figures: str | Path | None = None,
           overwrite: bool = False) -> Path:
    """``docs/results.md`` from experiment folders under ``runs`` (each with a ``summary.json``):
    per experiment the paper's claim, ours (final utility, gap to the oracle, per series), the
    figure (copied into ``figures``, by default ``figures/`` beside ``out``; existing figures are
    replaced only with ``overwrite``), the command, budget, device and date. Experiments without a
    run are listed as not yet run. ``runs`` must hold at least one experiment; an existing ``out``
    is replaced only with ``overwrite``."""
    outp = Path(out)
    figs = outp.parent / "figures" if figures is None else Path(figures)  # beside the report by default
    if not Path(runs).is_dir():
        raise InputError(f"--report '{runs}' is not a folder; give the folder that holds the experiment runs "
                         "(each written by contractjax reproduce ID --out RUNS/ID)")
    if outp.is_dir():
        raise InputError(f"--report-out '{outp}' is a folder; give the path of a Markdown file, e.g. docs/results.md")
    if outp.exists() and not overwrite:
        raise InputError(f"--report-out '{outp}' already exists; pass --overwrite to replace it, or choose another")
    files.check_writable(outp.parent, "--report-out", outp)
    found = {}
    for f in sorted(Path(runs).glob("**/summary.json")):
        try:
            data = files.read_record(f)
        except (OSError, ValueError):
            raise InputError(f"'{f}' is damaged; run that experiment again (contractjax reproduce ID --out DIR)") from None
        if isinstance(data, dict) and data.get("id") in EXPERIMENTS and "series" in data:
            found[data["id"]] = (f.parent, data)
    if not found:
        raise InputError(f"--report '{runs}' holds no experiment runs (summary.json of contractjax reproduce); run "
                         "one first: contractjax reproduce ID --out RUNS/ID")
    taken = [figs / d["figure_file"] for _, d in found.values() if (figs / d["figure_file"]).exists()]
    if taken and not overwrite:
        raise InputError(f"figure '{taken[0]}' already exists; pass --overwrite to replace it and the report's other "
                         "figures, or choose another --report-out")
    lines = ["# Reproduced experiments", "",
             "Generated by `contractjax reproduce --report RUNS` from the experiments' `summary.json` files. Every "
             "figure draws the exact optimum (oracle) and the complete-information bound beside the learned policies; "
             "gaps are to the oracle on held-out environments. Which of the papers' claims these runs support, claim "
             "by claim: [claims.md](claims.md).", ""]
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
        lines += ["| panel | series | final utility (± std over seeds) | gap to oracle | feasible | oracle | "
                  "complete information | random menus |", "|---|---|---|---|---|---|---|---|"]
        for r in data["series"]:
            lines.append(f"| {r['panel']} | {r['series']} | {r['utility']:.4g} ± {r['utility_std']:.2g} | "
                         f"{100 * r['gap']:.2f} % | {100 * r['feasible']:.0f} % | {r['oracle']:.4g} | "
                         f"{r['complete_information']:.4g} | {r.get('random', float('nan')):.4g} |")
        for name, value in data.get("references", {}).items():
            lines.append(f"| reference | {name} contract | {value:.4g} | | | | | |")
        lines += ["", "**Ours, ranked by final utility per panel.** " + _ranking(data["series"]), ""]
        if data.get("energy"):
            lines += ["| series | seed | electricity (Wh) | CO₂ (g) | actor parameters full / active / compact | "
                      "solve µs per env, masked / compact |", "|---|---|---|---|---|---|"]
            for r in data["energy"]:
                wh = f"{1e3 * r['energy_kwh']:.3g}" if "energy_kwh" in r else "n/a"
                g = f"{1e3 * r['co2_kg']:.3g}" if "co2_kg" in r else "n/a"
                lines.append(f"| {r['series']} | {r['seed']} | {wh} | {g} | {r['params_full']} / "
                             f"{r['params_active']} / {r['params_compact']} | {r['solve_us_per_env_masked']:.3g} / "
                             f"{r['solve_us_per_env_compact']:.3g} |")
            lines.append("")
        if data.get("notes"):
            lines += ["**Choices where the paper is silent.** " + "; ".join(data["notes"]) + ".", ""]
        wall = f", training {data['train_s'] / 60:.1f} min" if "train_s" in data else ""
        lines += [f"![{exp_id}]({rel / png.name})", "",
                  f"Budget `{data['budget']}`, {data['seeds']} seed(s), {data['device']}{wall}, {data['date']}: "
                  f"`contractjax reproduce {exp_id} --budget {data['budget']} --seeds {data['seeds']} "
                  f"--out runs/{exp_id}`.", ""]
    files.write_text(outp, "\n".join(lines))
    return outp


def _ranking(series: Sequence[Mapping[str, Any]]) -> str:
    """Per panel, the series from the highest final utility down, with their gaps."""
    panels: dict[str, list[Mapping[str, Any]]] = {}
    for r in series:
        panels.setdefault(r["panel"], []).append(r)
    parts = []
    for panel, rows in panels.items():
        ranked = sorted(rows, key=lambda r: -r["utility"])
        parts.append(f"{panel}: " + " > ".join(f"{r['series']} ({100 * r['gap']:.2f} %)" for r in ranked))
    return "; ".join(parts) + "."


# ------------------------------------------------------------------------------------ the data


def _series_rows(exp: Experiment, panel: int, title: str, label: str, folder: Path,
                 results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every (member, evaluation step) of one series, with the member's oracle references."""
    curves = _read_curves(folder / "curves.csv")
    rows = []
    for r in results:
        summ = files.read_record(folder / r["run"] / "summary.json")
        b = summ["baselines"]
        for c in curves.get(r["member"], []):
            rows.append({"panel": panel, "panel_title": title, "series": label, "member": r["member"],
                         "seed": r["seed"], "step": c["step"], "utility": c["eval_principal_utility"],
                         "gap": c["eval_gap"], "feasible": c["eval_feasible"],
                         "oracle": b["oracle"]["principal_utility"],
                         "complete_information": b["complete_information"]["principal_utility"],
                         "random": b["random"]["principal_utility"]})
    return rows


def _evaluate(exp: Experiment, p: int, panel: Panel, trained: Mapping[str, tuple[Path, Sequence[Mapping[str, Any]]]],
              budget: str) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Every trained member of a panel on fresh held-out environments at each of the panel's
    points, beside the oracle, complete-information and random menus (and TWIN's greedy one)."""
    from contractjax import batch
    from contractjax.solver.policy import load
    from contractjax.solver.program import for_config

    policies = {label: [(r, load(folder / r["run"])) for r in results] for label, (folder, results) in trained.items()}
    first = next(iter(policies.values()))[0][1]
    prog = for_config(first.config)
    rows: list[dict[str, Any]] = []
    extra: dict[str, list[dict[str, Any]]] = {}
    for point, settings in panel.points.items():
        envs = _held_out(first.config, settings)
        menus = {"oracle": batch.oracle(prog.scenario, envs), "complete information":
                 batch.oracle(prog.scenario, envs, "complete"), "random": batch.random_menus(prog.scenario, envs)}
        if "greedy" in exp.references:
            menus["greedy"] = batch.greedy_menus(prog.scenario, envs)
        reports = {k: batch.evaluate(prog.scenario, envs, m) for k, m in menus.items()}
        refs = {"oracle": reports["oracle"], "complete_information": reports["complete information"]}
        ref_cols = {}
        for k, rep in reports.items():
            name = k.replace(" ", "_")
            ref_cols[name] = float(np.mean(rep["principal_utility"]))
            ref_cols[f"{name}_agents"] = float(np.mean(rep["agents_utility"]))
        for label, members in policies.items():
            for i, (res, pol) in enumerate(members):
                learned = pol.menus(envs)
                report = batch.evaluate(prog.scenario, envs, learned)
                summ = batch.summary(report, refs)
                rows.append({"panel": p, "panel_title": panel.title, "view": panel.view, "point": point, **settings,
                             "series": label, "seed": res["seed"], "utility": summ["principal_utility"],
                             "agents_utility": summ["agents_utility"], "gap": summ["gap"],
                             "feasible": summ["feasible"]} | ref_cols)
                if panel.view == "contracts" and i == 0:  # the first seed's menus beside the references'
                    menus[label], reports[label] = learned, report
                if panel.view == "energy":
                    extra.setdefault("energy", []).append(_energy_row(label, res, pol, envs, budget))
        if panel.view == "contracts":
            extra.setdefault("contracts", []).extend(
                _contract_rows({k: m for k, m in menus.items() if k != "random"}, reports, panel.states, point))
    return rows, extra


def _contract_rows(menus: Mapping[str, Mapping[str, np.ndarray]], reports: Mapping[str, Mapping[str, Any]],
                   states: int, point: str) -> list[dict[str, Any]]:
    """The menus of the first ``states`` environments, one row per (state, scheme, field, type),
    with each type's own utility (its IR slack) and the principal's utility, from each scheme's
    evaluation report."""
    rows = []
    for scheme, menu in menus.items():
        rep = reports[scheme]
        own = {f"utility ({k})": v for k, v in rep["slacks"].items() if k.startswith("IR")}
        for e in range(min(states, len(rep["principal_utility"]))):
            base = {"point": point, "state": e, "scheme": scheme}
            rows.append(base | {"quantity": "principal's utility", "type": "", "value": float(rep["principal_utility"][e])})
            for field, value in (dict(menu) | own).items():
                arr = np.asarray(value[e])
                for idx in np.ndindex(arr.shape):
                    rows.append(base | {"quantity": field, "type": ",".join(str(i + 1) for i in idx),
                                        "value": float(arr[idx])})
    return rows


def _energy_row(label: str, res: Mapping[str, Any], pol: Any, envs: Mapping[str, np.ndarray],
                budget: str) -> dict[str, Any]:
    """Training energy of the member's group (CodeCarbon; or why it is missing), the actor's
    parameter counts and the solve time per environment of the masked and the compact actor."""
    n = 64 if budget == "tiny" else 20_000
    reps = -(-n // len(next(iter(envs.values()))))
    big = {k: np.concatenate([v] * reps)[:n] for k, v in envs.items()}
    times = {}
    for name, p in (("masked", pol), ("compact", pol.compact())):
        p.menus(big)  # compile
        t0 = time.perf_counter()
        for _ in range(3):
            p.menus(big)
        times[f"solve_us_per_env_{name}"] = 1e6 * (time.perf_counter() - t0) / (3 * n)
    row = {"series": label, "seed": res["seed"], **{f"params_{k}": v for k, v in pol.parameter_counts().items()},
           **times, "solve_envs": n}
    members = max(int(res.get("group_members") or 1), 1)
    for k in ("group_energy_kwh", "group_co2_kg"):  # the group's measurement, shared by its members
        if res.get(k) not in (None, ""):
            row[k.removeprefix("group_")] = float(res[k]) / members
    for k in ("group_country", "group_grid_kg_per_kwh", "group_cpu_mode", "group_energy_device",
              "group_energy_missing", "wall_s"):
        if res.get(k) not in (None, ""):
            row[k.removeprefix("group_")] = res[k]
    return row


PER_SEED = ("utility", "agents_utility", "gap", "feasible")


def _over_seeds(rows: Sequence[Mapping[str, Any]], by: tuple[str, ...]) -> list[dict[str, Any]]:
    """Mean ± std over seeds of the per-seed quantities (``PER_SEED``) per group ``by``, in order of
    first appearance (the order the series were declared, steps ascending); every other number is
    averaged (each seed's held-out references), text is the group's."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    out = []
    for sel in groups.values():
        row: dict[str, Any] = {"seeds": len(sel)}
        for k, v in sel[0].items():
            if k in ("seed", "member"):
                continue
            if k in by or isinstance(v, str):
                row[k] = v
                continue
            x = np.array([r[k] for r in sel], dtype=float)
            if k in PER_SEED:
                row[f"{k}_mean"], row[f"{k}_std"] = float(x.mean()), float(x.std())
            else:
                row[k] = float(x.mean())
        out.append(row)
    return out


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


def _held_out(cfg: Any, settings: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """A run's held-out environments (its evaluation seed and size), at ``settings`` over its sampler."""
    from contractjax import batch
    from contractjax.solver.program import for_config
    from contractjax.solver.training import eval_seed

    prog = for_config(cfg)
    return batch.sample_envs(prog.scenario, cfg.eval_envs, eval_seed(cfg), prog.dims, {**prog.sampler,
                                                                                        **(settings or {})})


def _read_curves(path: Path) -> dict[str, list[dict[str, float]]]:
    import csv

    out: dict[str, list[dict[str, float]]] = {}
    with path.open() as f:
        for rec in csv.DictReader(f):
            if rec.get("eval_principal_utility") not in (None, ""):
                out.setdefault(rec["member"], []).append(
                    {"step": int(rec["step"]), **{k: float(rec[k] or "nan") for k in
                                                  ("eval_principal_utility", "eval_gap", "eval_feasible")}})
    return out


def _references(exp: Experiment, out: Path) -> dict[str, float]:
    """Extra baselines drawn as lines (TWIN's greedy contract), on the panels' held-out environments."""
    if not exp.references:
        return {}
    from contractjax import batch
    from contractjax.solver.policy import read_config

    cfg = read_config(next((out / "panels").glob("*/runs/*")))  # every series shares the held-out environments
    envs = _held_out(cfg)
    lines = {}
    if "greedy" in exp.references:
        greedy = batch.greedy_menus(cfg.scenario, envs)
        lines["greedy"] = float(np.mean(batch.evaluate(cfg.scenario, envs, greedy)["principal_utility"]))
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


def _plot(exp: Experiment, table: Sequence[Mapping[str, Any]], finals: Sequence[Mapping[str, Any]],
          extra: Mapping[str, Sequence[Mapping[str, Any]]], lines: Mapping[str, float], path: Path, budget: str,
          seeds: int) -> Path:
    """One figure, one row of axes per panel (a grid of states × quantities for ``contracts``)."""
    import matplotlib.pyplot as plt

    shapes = [_panel_shape(panel, extra) for panel in exp.panels]
    height = sum(4.4 * r for r, _ in shapes)
    width = max(5.6 * c if exp.panels[p].view != "contracts" else 3.2 * c for p, (_, c) in enumerate(shapes))
    fig = plt.figure(figsize=(max(width, 7.0), height + 0.4), layout="constrained")
    subs = fig.subfigures(len(exp.panels), 1, squeeze=False, height_ratios=[r for r, _ in shapes])[:, 0]
    for p, (panel, sub, (r, c)) in enumerate(zip(exp.panels, subs, shapes, strict=True)):
        axes = sub.subplots(r, c, squeeze=False)
        sub.suptitle(f"{exp.paper} {exp.figure}: {panel.title}", fontsize=10)
        rows = [x for x in (table if panel.view == "curves" else finals) if x["panel"] == p]
        if panel.view == "curves":
            _plot_curves(exp, axes[0, 0], rows, lines)
        elif panel.view == "bars":
            _plot_bars(exp, axes[0], rows)
        elif panel.view == "lines":
            _plot_lines(exp, panel, axes[0], rows)
        elif panel.view == "contracts":
            _plot_contracts(exp, axes, [x for x in extra["contracts"] if x["point"] in panel.points])
        else:
            _plot_energy(axes[0], rows, extra["energy"])
    fig.suptitle(f"{exp.id}: {budget} budget, mean ± std over {seeds} seed(s); oracle = exact optimum", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    files.write_bytes(path, buf.getvalue())
    return path


def _panel_shape(panel: Panel, extra: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[int, int]:
    if panel.view == "curves":
        return 1, 1
    if panel.view == "contracts":
        quantities = dict.fromkeys(x["quantity"] for x in extra.get("contracts", []) if x["point"] in panel.points)
        return panel.states, len(quantities)
    return 1, 4 if panel.view == "energy" else 2


def on_model(exp: Experiment, scenario: Any) -> Experiment:
    """``exp`` with its series trained and evaluated on another model (its own references kept
    only where the model has them)."""
    from contractjax import scenarios

    sc = scenarios.get(scenario)
    settings = {k for p in exp.panels for o in p.series.values() for k in o.get("sampler", {})}
    settings |= {k for p in exp.panels for pt in p.points.values() for k in pt}
    foreign = sorted(settings - set(sc.defaults))
    if foreign:
        raise InputError(f"experiment {exp.id} varies {exp.scenario}'s setting '{foreign[0]}', which model '{sc.name}' "
                         "does not have; choose an experiment whose series differ by algorithm or hyperparameters "
                         "(e.g. dt-fig4, aigc-fig5, agent-fig6)")
    refs = tuple(r for r in exp.references if r != "greedy" or sc.greedy_menu is not None)
    return dataclasses.replace(exp, scenario=sc.name, references=refs)


def _ylabel(exp: Experiment, agents: bool = False) -> str:
    who = {"dt": ("DT server", "IIoT device"), "agent": ("cloud server", "edge server"),
           "aigc": ("client", "ASP"), "twin": ("AV", "RSU")}.get(exp.scenario, ("principal", "agent"))
    return f"{who[1]}'s mean utility (type-weighted)" if agents else f"{who[0]}'s utility (mean over held-out envs)"


def _plot_curves(exp: Experiment, ax: Any, rows: Sequence[Mapping[str, Any]], lines: Mapping[str, float]) -> None:
    series = list(dict.fromkeys(r["series"] for r in rows))
    refs = {(round(r["oracle"], 6), round(r["complete_information"], 6)) for r in rows}
    shared = len(refs) == 1
    for i, s in enumerate(series):
        pts = [r for r in rows if r["series"] == s]
        x = np.array([r["step"] for r in pts])
        m = np.array([r["utility_mean"] for r in pts])
        sd = np.array([r["utility_std"] for r in pts])
        ax.plot(x, m, color=f"C{i}", label=f"{s} (gap {100 * pts[-1]['gap_mean']:.2f} %)")
        ax.fill_between(x, m - sd, m + sd, color=f"C{i}", alpha=0.2)
        if not shared:
            ax.axhline(pts[-1]["oracle"], color=f"C{i}", ls="--", lw=1)
            ax.axhline(pts[-1]["complete_information"], color=f"C{i}", ls=":", lw=1)
    if shared and rows:
        ax.axhline(rows[0]["oracle"], color="k", ls="--", lw=1.2, label="oracle (exact optimum)")
        ax.axhline(rows[0]["complete_information"], color="k", ls=":", lw=1.2, label="complete information")
        # the view follows the learned curves after their first evaluation; a random baseline far below
        # is named in the legend instead of squashing them
        late = [r["utility_mean"] - r["utility_std"] for r in rows if r["step"] > min(x["step"] for x in rows)]
        lo, hi = min(late or [rows[0]["random"]]), max(rows[0]["complete_information"], *(r["utility_mean"] for r in rows))
        pad = 0.08 * (hi - lo) if hi > lo else 1.0
        below = rows[0]["random"] < lo - pad
        ax.axhline(rows[0]["random"], color="0.5", ls="-.", lw=1,
                   label=f"random feasible menus ({rows[0]['random']:.4g}, below)" if below else "random feasible menus")
        if below:
            ax.set_ylim(lo - pad, hi + pad)
    elif rows:
        ax.plot([], [], color="k", ls="--", label="oracle (per series, dashed)")
        ax.plot([], [], color="k", ls=":", label="complete information (per series, dotted)")
    for j, (name, value) in enumerate(lines.items()):
        ax.axhline(value, color=f"C{len(series) + j}", ls="-.", lw=1, label=f"{name} contract")
    ax.set_xlabel("training iterations")
    ax.set_ylabel(_ylabel(exp))
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def _references_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return [k for k in ("oracle", "complete_information", "random", "greedy") if rows and k in rows[0]]


def _plot_bars(exp: Experiment, axes: Sequence[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    refs = _references_of(rows)
    for ax, agents in zip(axes, (False, True), strict=True):
        labels = [r["series"] for r in rows] + [k.replace("_", " ") for k in refs]
        mean = ([r["agents_utility_mean" if agents else "utility_mean"] for r in rows]
                + [rows[0][f"{k}_agents" if agents else k] for k in refs])
        std = [r["agents_utility_std" if agents else "utility_std"] for r in rows] + [0.0] * len(refs)
        colors = [f"C{i}" for i in range(len(rows))] + ["k", "0.35", "0.6", "0.8"][:len(refs)]
        bars = ax.bar(range(len(labels)), mean, yerr=std, color=colors, capsize=3)
        ax.bar_label(bars, fmt="%.4g", fontsize=6, rotation=90, padding=2)
        # a baseline far outside the learned and optimal values is clipped (its value is printed)
        core = [m for m, lab in zip(mean, labels, strict=True) if lab not in ("random", "greedy")]
        lo, hi = min(0.0, *core), max(0.0, *core)
        if max(mean) > hi + 2 * (hi - lo) or min(mean) < lo - 2 * (hi - lo):
            bottom, top = lo - 0.15 * (hi - lo) if lo < 0 else 0.0, hi + 0.25 * (hi - lo)
            ax.set_ylim(bottom, top)
            for i, v in enumerate(mean):
                if not bottom <= v <= top:
                    ax.text(i, top if v > top else bottom, f"{v:.4g} (off scale)", ha="center",
                            va="top" if v > top else "bottom", fontsize=6, rotation=90, color="w")
        ax.axhline(rows[0]["oracle_agents" if agents else "oracle"], color="k", ls="--", lw=1, label="oracle")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(_ylabel(exp, agents))
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")


def _plot_lines(exp: Experiment, panel: Panel, axes: Sequence[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    series = list(dict.fromkeys(r["series"] for r in rows))
    bys = list(dict.fromkeys(r.get(panel.by) for r in rows))

    def points(series: str, by: Any) -> list[Mapping[str, Any]]:
        return sorted((r for r in rows if r["series"] == series and r.get(panel.by) == by), key=lambda r: r[panel.x])

    def suffix(by: Any) -> str:
        return f", {panel.by} = {by:g}" if panel.by else ""

    for ax, agents in zip(axes, (False, True), strict=True):
        for i, (name, by) in enumerate((s, b) for s in series for b in bys):
            pts = points(name, by)
            x = np.array([r[panel.x] for r in pts])
            m = np.array([r["agents_utility_mean" if agents else "utility_mean"] for r in pts])
            sd = np.array([r["agents_utility_std" if agents else "utility_std"] for r in pts])
            ax.plot(x, m, "o-", color=f"C{i}", label=name + suffix(by))
            ax.fill_between(x, m - sd, m + sd, color=f"C{i}", alpha=0.2)
        for j, by in enumerate(bys):  # references depend on the environments (the `by` value), not the series
            pts = points(series[0], by)
            for k, ls in (("oracle", "--"), ("random", "-."), ("greedy", (0, (1, 1)))):
                if k in pts[0]:
                    ax.plot([r[panel.x] for r in pts], [r[f"{k}_agents" if agents else k] for r in pts], ls=ls, lw=1,
                            color=f"C{j}" if panel.by else "k", label=k + suffix(by))
        ax.set_xlabel(_SETTING_LABELS.get(panel.x, panel.x))
        ax.set_ylabel(_ylabel(exp, agents))
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)


def _plot_contracts(exp: Experiment, axes: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    quantities = list(dict.fromkeys(r["quantity"] for r in rows))
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    for e in range(axes.shape[0]):
        for q, quantity in enumerate(quantities):
            ax = axes[e, q]
            sel = [r for r in rows if r["state"] == e and r["quantity"] == quantity]
            types = list(dict.fromkeys(r["type"] for r in sel))
            width = 0.8 / max(len(schemes), 1)
            for j, scheme in enumerate(schemes):
                vals = {r["type"]: r["value"] for r in sel if r["scheme"] == scheme}
                color = {"oracle": "k", "complete information": "0.6"}.get(scheme, f"C{j}")
                ax.bar(np.arange(len(types)) + (j - (len(schemes) - 1) / 2) * width,
                       [vals.get(t, np.nan) for t in types], width, color=color, label=scheme)
            ax.set_xticks(range(len(types)), [f"type {t}" if t else "" for t in types], fontsize=7)
            ax.set_title(f"state {e + 1}: {quantity}", fontsize=8)
            ax.grid(alpha=0.3, axis="y")
            if q == 0:
                ax.set_ylabel(_ylabel(exp))
            if e == 0 and q == len(quantities) - 1:
                ax.legend(fontsize=6)


def _plot_energy(axes: Sequence[Any], rows: Sequence[Mapping[str, Any]], energy: Sequence[Mapping[str, Any]]) -> None:
    series = list(dict.fromkeys(r["series"] for r in energy))
    colors = [f"C{i}" for i in range(len(series))]

    def per(key: str) -> tuple[list[float], list[float]]:
        vals = [[float(r[key]) for r in energy if r["series"] == s and r.get(key) not in (None, "")] for s in series]
        return [float(np.mean(v)) if v else np.nan for v in vals], [float(np.std(v)) if v else 0.0 for v in vals]

    e, _ = per("energy_kwh")
    c, _ = per("co2_kg")
    ax = axes[0]
    if np.all(np.isnan(e)):
        why = next((r["energy_missing"] for r in energy if r.get("energy_missing")), "not measured")
        ax.text(0.5, 0.5, f"energy not measured:\n{why}", ha="center", va="center", fontsize=7, wrap=True)
    else:
        x = np.arange(len(series))
        ax.bar(x - 0.2, 1e3 * np.array(e), 0.4, color=colors, label="electricity (Wh)")
        ax.bar(x + 0.2, 1e3 * np.array(c), 0.4, color=colors, hatch="//", alpha=0.6, label="CO₂ (g)")
        ax.set_xticks(x, series, fontsize=7)
        ax.legend(fontsize=7)
    ax.set_ylabel("training electricity (Wh) and CO₂ (g), CodeCarbon")
    ax = axes[1]
    ax.bar(range(len(rows)), [r["utility_mean"] for r in rows], yerr=[r["utility_std"] for r in rows],
           color=colors[:len(rows)], capsize=3)
    ax.axhline(rows[0]["oracle"], color="k", ls="--", lw=1, label="oracle")
    ax.set_xticks(range(len(rows)), [r["series"] for r in rows], fontsize=7)
    ax.set_ylabel("final utility (mean over held-out envs)")
    ax.legend(fontsize=7)
    for ax, keys, unit in ((axes[2], ("params_full", "params_active", "params_compact"), "actor parameters"),
                           (axes[3], ("solve_us_per_env_masked", "solve_us_per_env_compact"),
                            "solve time per environment (µs)")):
        width = 0.8 / len(keys)
        for j, key in enumerate(keys):
            m, sd = per(key)
            ax.bar(np.arange(len(series)) + (j - (len(keys) - 1) / 2) * width, m, width, yerr=sd, capsize=2,
                   label=key.split("_")[-1], color=f"C{j + 2}")
        ax.set_xticks(range(len(series)), series, fontsize=7)
        ax.set_ylabel(unit)
        ax.legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")


_SETTING_LABELS = {"U_ref": "reference point U_ref", "eta": "loss aversion η", "kappa": "loss aversion κ",
                   "N": "number of edge servers N", "alpha": "α (value of model quality)",
                   "beta": "β (weight of period 2)"}
