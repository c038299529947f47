"""Experiments as data: an experiment is a TOML file (docs/experiments.md) of panels, each a set of
series (an algorithm and Config overrides) and a view; the papers' 20 ship as such files under
``papers/<paper>/``, read by the same :func:`load_file` as a user's own.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from contractjax import files, scenarios
from contractjax.domain import InputError
from contractjax.experiments.views import VIEWS, Curves, Evaluated, Lines, View
from contractjax.solver.algos import registry

Series = Mapping[str, Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class Panel:
    """One sweep and its plot: ``series`` maps a label to the Config overrides that define it
    (``algo`` and any Config field, ``sampler`` settings included); ``view`` is what the plot
    shows (:mod:`.views`). ``reuse`` names an earlier panel whose trained series this one
    evaluates instead of training its own."""

    title: str
    series: Series
    view: View = dataclasses.field(default_factory=Curves)
    reuse: int | None = None


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A figure: its panels on one model, the claim it tests, extra reference baselines drawn
    beside the learned policies (the model's ``baselines``, e.g. TWIN's ``greedy``) and notes on choices where
    the paper is silent."""

    id: str
    paper: str
    figure: str
    scenario: str
    claim: str
    panels: tuple[Panel, ...]
    references: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def settings(self) -> set[str]:
        """Every sampler setting the experiment varies (series and evaluation points)."""
        out = {k for p in self.panels for o in p.series.values() for k in o.get("sampler", {})}
        return out | {k for p in self.panels for k in p.view.settings()}


#: The keys of an experiment file and of each of its panels.
FILE_KEYS = ("id", "paper", "figure", "scenario", "claim", "references", "notes", "panels")
PANEL_KEYS = ("title", "view", "algos", "series", "set", "reuse") + tuple(
    dict.fromkeys(k for v in VIEWS.values() for k in v.keys))


def grid(x: str, xs: Sequence[float], by: str = "", bys: Sequence[float] = (),
         fixed: Mapping[str, float] | None = None) -> dict[str, dict[str, float]]:
    """Evaluation points: every value of ``x`` (for every value of ``by``), with ``fixed`` settings."""
    out = {}
    for b in bys or [None]:
        for v in xs:
            point = {x: float(v)} | ({by: float(b)} if by else {})
            out[", ".join(f"{k} = {w:g}" for k, w in point.items())] = point | dict(fixed or {})
    return out


def algo_series(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """One series per registered algorithm, labelled by its ``AlgoSpec.label``."""
    return {registry.get(a).label: {"algo": a} for a in names}


def paper_algos() -> tuple[str, ...]:
    """The series of the papers' all-algorithms comparison (``AlgoSpec.paper``)."""
    return tuple(spec.name for spec in registry.specs() if spec.paper)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def parse(data: Mapping[str, Any], where: str, base: Path | None = None, default_id: str = "") -> Experiment:
    """An :class:`Experiment` from a file's table; ``where`` names the file in errors and ``base``
    is the folder a relative model file is read from."""

    def need(ok: bool, problem: str) -> None:
        if not ok:
            raise InputError(f"{where}: {problem}")

    def unknown(table: Mapping[str, Any], known: Sequence[str], name: str = "") -> None:
        extra = sorted(set(table) - set(known))
        need(not extra, f"{name}unknown key '{extra[0] if extra else ''}'; known: {', '.join(known)}")

    def text(k: str, default: str = "") -> str:
        v = data.get(k, default)
        need(isinstance(v, str), f"{k} must be a string")
        return v

    need(isinstance(data, Mapping), "must be a table of keys (docs/experiments.md)")
    unknown(data, FILE_KEYS)
    spec = data.get("scenario")
    need(isinstance(spec, str) and spec != "", "give scenario = a model name, model file or module, e.g. "
                                               "\"screening.py\"")
    if spec.endswith(".py") and not Path(spec).is_absolute() and base is not None:
        spec = str((base / spec).resolve())
    sc = scenarios.get(spec)
    for k in ("references", "notes"):
        need(isinstance(data.get(k, []), list) and all(isinstance(v, str) for v in data.get(k, [])),
             f"{k} must be a list of strings")
    refs = tuple(data.get("references", ()))
    for r in refs:
        need(r in sc.baselines, f"references: model '{sc.name}' has no baseline '{r}'; "
                                + (f"choose among {', '.join(sc.baselines)}" if sc.baselines else "drop it"))
    raw = data.get("panels")
    need(isinstance(raw, list) and raw and all(isinstance(q, dict) for q in raw), "give at least one [[panels]] table")
    panels: list[Panel] = []
    for i, q in enumerate(raw):
        panels.append(_panel(q, i, panels, sc, lambda ok, problem, i=i: need(ok, f"panel {i + 1}: {problem}")))
    return Experiment(text("id", default_id), text("paper", "your experiment"), text("figure", default_id), sc.name,
                      text("claim", ""), tuple(panels), refs, tuple(data.get("notes", ())))


def _panel(q: Mapping[str, Any], i: int, earlier: Sequence[Panel], sc: Any,
           need: Callable[[bool, str], None]) -> Panel:
    """One ``[[panels]]`` table (docs/experiments.md)."""
    extra = sorted(set(q) - set(PANEL_KEYS))
    need(not extra, f"unknown key '{extra[0] if extra else ''}'; known: {', '.join(PANEL_KEYS)}")
    title = q.get("title", f"panel {i + 1}")
    need(isinstance(title, str), "title must be a string")
    name = q.get("view", "curves")
    need(name in VIEWS, f"view = {name!r}; choose one of {', '.join(VIEWS)}")
    cls = VIEWS[name]
    misplaced = sorted(k for k in q if k not in ("title", "view", "algos", "series", "set", "reuse")
                       and k not in cls.keys)
    need(not misplaced, f"key '{misplaced[0] if misplaced else ''}' does not apply to view {name}")
    reuse = q.get("reuse")
    need(reuse is None or (isinstance(reuse, int) and not isinstance(reuse, bool) and 0 <= reuse < i),
         "reuse must name an earlier panel by index (0 is the first)")
    if reuse is not None:
        need(not {"algos", "series", "set"} & set(q), "a panel that reuses another trains nothing; drop its algos, "
                                                      "series and set")
        need(name != "curves", "reuse evaluates trained policies: give it an evaluated view (bars, lines, contracts, "
                               "energy); curves come from training")
        series: Series = earlier[reuse].series
    else:
        series = _series(q, need)
    kwargs: dict[str, Any] = {}
    if issubclass(cls, Evaluated):
        points = q.get("points", {"": {}})
        if "grid" in q:
            need("points" not in q, "give points or grid, not both")
            g = q["grid"]
            need(isinstance(g, dict) and isinstance(g.get("x"), str) and isinstance(g.get("values"), list)
                 and set(g) <= {"x", "values", "by", "by_values", "fixed"},
                 "grid needs x = \"SETTING\" and values = [...] (and optionally by, by_values, fixed)")
            need(all(_number(v) for v in g["values"]) and g["values"], "grid values must be a list of numbers")
            need(isinstance(g.get("by", ""), str) and all(_number(v) for v in g.get("by_values", [])),
                 "grid by must be a setting's name and by_values a list of numbers")
            need(bool(g.get("by")) == bool(g.get("by_values")), "grid: give by and by_values together")
            need(isinstance(g.get("fixed", {}), dict) and all(_number(v) for v in g.get("fixed", {}).values()),
                 "grid fixed must be a table of settings and numbers")
            points = grid(g["x"], g["values"], g.get("by", ""), g.get("by_values", ()), g.get("fixed"))
            if cls is Lines:
                kwargs |= {"x": q.get("x", g["x"]), "by": q.get("by", g.get("by", ""))}
        need(isinstance(points, dict) and points and all(isinstance(v, dict) for v in points.values()),
             "each [panels.points.LABEL] must be a table of sampler settings")
        for label, pt in points.items():
            try:
                sc.settings(pt, f"evaluation point '{label}':")
            except InputError as e:
                need(False, str(e))
        kwargs["points"] = points
        for k in cls.keys:
            if k in q and k not in ("points", "grid"):
                kwargs[k] = q[k]
        if cls is Lines:
            for k in ("x", "by"):
                need(isinstance(kwargs.get(k, ""), str), f"{k} must be a setting's name")
    try:
        return Panel(title, series, cls(**kwargs), reuse)
    except InputError as e:
        need(False, str(e))
        raise  # not reached: need raised


def _series(q: Mapping[str, Any], need: Callable[[bool, str], None]) -> dict[str, dict[str, Any]]:
    """``algos`` (a list of registered algorithms, or "paper": the papers' all-algorithms
    comparison), then ``[panels.series.LABEL]`` tables, each over the panel's ``set``."""
    algos = q.get("algos", [])
    if algos == "paper":
        algos = list(paper_algos())
    need(isinstance(algos, list) and all(isinstance(a, str) and a in registry.names() for a in algos),
         f"algos must be \"paper\" or a list of registered algorithms ({', '.join(registry.names())})")
    common = q.get("set", {})
    need(isinstance(common, dict) and isinstance(common.get("sampler", {}), dict),
         "set must be a table of config overrides (sampler a table of settings)")
    own = q.get("series", {})
    need(isinstance(own, dict) and all(isinstance(v, dict) for v in own.values()),
         "each [panels.series.LABEL] must be a table of config overrides")
    need(all(isinstance(v.get("sampler", {}), dict) for v in own.values()), "a series' sampler must be a table")
    need(bool(algos) or bool(own), "give its series (algos = [...] or [panels.series.LABEL])")
    clash = [a for a in algo_series(algos) if a in own]
    need(not clash, f"series '{clash[0] if clash else ''}' is given twice (by algos and by label); rename one")
    out = {}
    for label, over in (algo_series(algos) | own).items():
        sampler = dict(common.get("sampler", {})) | dict(over.get("sampler", {}))
        out[label] = {"algo": "diffusion_sac"} | dict(common) | dict(over) | ({"sampler": sampler} if sampler else {})
    return out


def load_file(path: str | Path) -> Experiment:
    """An experiment from a TOML file (docs/experiments.md): ``scenario`` (a built-in name, a model
    file relative to the experiment file, or a module), ``claim``, optional ``id`` (default: the
    file's name), ``paper``, ``figure``, ``references``, ``notes``, and ``[[panels]]``, each with a
    ``title``, a ``view`` (:data:`~.views.VIEWS`), its series — ``algos`` (registered algorithm
    names, each labelled by its algorithm; ``"paper"``: the papers' all-algorithms comparison)
    and/or ``[panels.series.LABEL]`` tables of Config overrides (``algo``, any Config field,
    ``sampler`` settings), over the panel's ``set`` — or ``reuse`` (an earlier panel's trained
    series), and the view's own keys: ``points`` or ``grid`` (``x``, ``values``, and optionally
    ``by``, ``by_values``, ``fixed``) for evaluated views, ``x`` and ``by`` for ``lines``,
    ``states`` for ``contracts``."""
    p = Path(path)
    data = files.read_table(p, "experiment file", "panels (docs/experiments.md)", (".toml",))
    return parse(data, f"experiment file '{p}'", p.parent, p.stem)


def _figure_number(name: str) -> tuple[int, str]:
    m = re.search(r"\d+", name)
    return (int(m.group()) if m else 0, name)


def _shipped() -> dict[str, Experiment]:
    """The papers' experiments, one file per figure under ``papers/<paper>/``."""
    root = importlib.resources.files(__package__) / "papers"
    out = {}
    order = {name: i for i, name in enumerate(scenarios.BUILTIN)}  # the papers in the models' order
    for folder in sorted((f for f in root.iterdir() if f.is_dir()), key=lambda f: (order.get(f.name, len(order)), f.name)):
        for f in sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: _figure_number(f.name)):
            exp = load_file(Path(str(f)))
            out[exp.id] = exp
    return out


#: The papers' experiments by id (``contractjax reproduce --list``).
EXPERIMENTS: dict[str, Experiment] = _shipped()


def get(exp_id: str | Path | Experiment) -> Experiment:
    """A shipped experiment by id, an experiment file (``*.toml``: :func:`load_file`) or an
    :class:`Experiment` itself."""
    if isinstance(exp_id, Experiment):
        return exp_id
    if str(exp_id).endswith(".toml"):
        return load_file(exp_id)
    if exp_id not in EXPERIMENTS:
        raise InputError(f"experiment '{exp_id}' is unknown; choose one of: {', '.join(EXPERIMENTS)} "
                         "(contractjax reproduce --list), or give an experiment file (.toml)")
    return EXPERIMENTS[exp_id]


def on_model(exp: Experiment, scenario: Any) -> Experiment:
    """``exp`` with its series trained and evaluated on another model (its references kept only
    where the model has them)."""
    sc = scenarios.get(scenario)
    foreign = sorted(exp.settings() - set(sc.defaults))
    if foreign:
        raise InputError(f"experiment {exp.id} varies {exp.scenario}'s setting '{foreign[0]}', which model '{sc.name}' "
                         "does not have; choose an experiment whose series differ by algorithm or hyperparameters "
                         "(e.g. dt-fig4, aigc-fig5, agent-fig6)")
    refs = tuple(r for r in exp.references if r in sc.baselines)
    return dataclasses.replace(exp, scenario=sc.name, references=refs)
