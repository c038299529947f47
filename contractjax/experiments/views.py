"""What a panel shows. A view is an object that computes its rows from the panel's trained series,
says how many axes it needs, and draws itself on them (:mod:`.figure` owns the figure).

``curves`` reads the learning curves written during training; the other views evaluate the trained
policies after training on fresh held-out environments at each of their ``points`` (label ->
sampler settings), beside the oracle, complete-information and random menus.
"""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from contractjax import batch, files
from contractjax.domain import InputError
from contractjax.solver.policy import load
from contractjax.solver.program import for_config
from contractjax.solver.training import eval_seed

Rows = list[dict[str, Any]]
#: One trained series: its sweep folder and its members' result records.
Trained = Mapping[str, tuple[Path, Sequence[Mapping[str, Any]]]]
#: The per-seed quantities a table reports as mean ± std over seeds.
PER_SEED = ("utility", "agents_utility", "gap", "feasible")


@dataclasses.dataclass(frozen=True)
class Look:
    """What a plot says about the model: its principal's and agents' names and its settings in
    words (the model's ``roles`` and ``labels``)."""

    principal: str = "principal"
    agents: str = "agent"
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    oracle: str = "exact optimum"  # what the oracle is: a search-based one gives the best it finds

    @classmethod
    def of(cls, scenario: Any) -> Look:
        kind = "exact optimum" if scenario.warm_oracle is None else "best menus of the model's search"
        return cls(*scenario.roles, dict(scenario.labels), kind)

    def utility(self, agents: bool = False) -> str:
        return f"{self.agents if agents else self.principal}'s utility (mean over held-out envs)"

    def setting(self, name: str) -> str:
        return self.labels.get(name, name)


@dataclasses.dataclass(frozen=True)
class Context:
    """What a view needs to compute its rows: the panel's index and title, its trained series,
    the budget and the model's baselines to evaluate beside the oracle (e.g. ``greedy``)."""

    panel: int
    title: str
    trained: Trained
    budget: str
    references: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class View:
    """The base of every view. ``keys``: the panel keys an experiment file may give this view."""

    name: ClassVar[str] = ""
    keys: ClassVar[tuple[str, ...]] = ()
    #: rows are mean ± std over seeds grouped by these keys
    group: ClassVar[tuple[str, ...]] = ("panel", "point", "series")

    def rows(self, ctx: Context) -> tuple[Rows, dict[str, Rows]]:
        """Per-seed rows (averaged over seeds by :func:`over_seeds`) and extra tables by name."""
        raise NotImplementedError

    def shape(self, extra: Mapping[str, Rows]) -> tuple[int, int]:
        """Rows and columns of axes."""
        return 1, 2

    def width(self) -> float:
        """Inches per column of axes."""
        return 5.6

    def plot(self, axes: Any, rows: Rows, extra: Mapping[str, Rows], look: Look, lines: Mapping[str, float]) -> None:
        """Draw on ``axes`` (a 2-D array of the :meth:`shape`); ``lines`` are extra reference values."""
        raise NotImplementedError

    def settings(self) -> set[str]:
        """The sampler settings this view evaluates at (they must be the model's)."""
        return set()


# ------------------------------------------------------------------------------- curves


@dataclasses.dataclass(frozen=True)
class Curves(View):
    """Held-out utility against training iterations, with the oracle, complete information and
    random menus as horizontal references (per series when a series changes the model)."""

    name: ClassVar[str] = "curves"
    group: ClassVar[tuple[str, ...]] = ("panel", "series", "step")

    def rows(self, ctx: Context) -> tuple[Rows, dict[str, Rows]]:
        out = []
        for label, (folder, results) in ctx.trained.items():
            curves = _read_curves(folder / "curves.csv")
            for r in results:
                b = files.read_record(folder / r["run"] / "summary.json")["baselines"]
                for c in curves.get(r["member"], []):
                    out.append({"panel": ctx.panel, "panel_title": ctx.title, "series": label, "member": r["member"],
                                "seed": r["seed"], "step": c["step"], "utility": c["eval_principal_utility"],
                                "gap": c["eval_gap"], "feasible": c["eval_feasible"],
                                "oracle": b["oracle"]["principal_utility"],
                                "complete_information": b["complete_information"]["principal_utility"],
                                "random": b["random"]["principal_utility"]})
        return out, {}

    def shape(self, extra: Mapping[str, Rows]) -> tuple[int, int]:
        return 1, 1

    def plot(self, axes: Any, rows: Rows, extra: Mapping[str, Rows], look: Look, lines: Mapping[str, float]) -> None:
        ax = axes[0, 0]
        series = list(dict.fromkeys(r["series"] for r in rows))
        shared = len({(round(r["oracle"], 6), round(r["complete_information"], 6)) for r in rows}) == 1
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
            first = rows[0]
            ax.axhline(first["oracle"], color="k", ls="--", lw=1.2, label=f"oracle ({look.oracle})")
            ax.axhline(first["complete_information"], color="k", ls=":", lw=1.2, label="complete information")
            # the view follows the learned curves after their first evaluation; a random baseline far
            # below is named in the legend instead of squashing them
            late = [r["utility_mean"] - r["utility_std"] for r in rows if r["step"] > min(x["step"] for x in rows)]
            lo = min(late or [first["random"]])
            hi = max(first["complete_information"], *(r["utility_mean"] for r in rows))
            pad = 0.08 * (hi - lo) if hi > lo else 1.0
            below = first["random"] < lo - pad
            ax.axhline(first["random"], color="0.5", ls="-.", lw=1,
                       label=f"random feasible menus ({first['random']:.4g}, below)" if below else "random feasible menus")
            if below:
                ax.set_ylim(lo - pad, hi + pad)
        elif rows:
            ax.plot([], [], color="k", ls="--", label="oracle (per series, dashed)")
            ax.plot([], [], color="k", ls=":", label="complete information (per series, dotted)")
        for j, (name, value) in enumerate(lines.items()):
            ax.axhline(value, color=f"C{len(series) + j}", ls="-.", lw=1, label=f"{name} contract")
        ax.set_xlabel("training iterations")
        ax.set_ylabel(look.utility())
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)


# ------------------------------------------------------------------------------- evaluated views


@dataclasses.dataclass(frozen=True)
class Evaluated(View):
    """A view of the trained policies evaluated after training at each of ``points``."""

    points: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=lambda: {"": {}})
    keys: ClassVar[tuple[str, ...]] = ("points", "grid")

    def settings(self) -> set[str]:
        return {k for pt in self.points.values() for k in pt}

    def rows(self, ctx: Context) -> tuple[Rows, dict[str, Rows]]:
        policies = {label: [(r, load(folder / r["run"])) for r in results]
                    for label, (folder, results) in ctx.trained.items()}
        cfg = next(iter(policies.values()))[0][1].config
        sc = for_config(cfg).scenario
        rows: Rows = []
        extra: dict[str, Rows] = {}
        for point, settings in self.points.items():
            envs = held_out(cfg, settings)
            menus = {"oracle": batch.oracle(sc, envs), "complete information": batch.oracle(sc, envs, "complete"),
                     "random": batch.random_menus(sc, envs)}
            for name in ctx.references:
                menus[name] = batch.baseline_menus(sc, envs, name)
            reports = {k: batch.evaluate(sc, envs, m) for k, m in menus.items()}
            refs = {"oracle": reports["oracle"], "complete_information": reports["complete information"]}
            columns = {}
            for k, rep in reports.items():
                columns[k.replace(" ", "_")] = float(np.mean(rep["principal_utility"]))
                columns[f"{k.replace(' ', '_')}_agents"] = float(np.mean(rep["agents_utility"]))
            for label, members in policies.items():
                for i, (res, pol) in enumerate(members):
                    learned = pol.menus(envs)
                    report = batch.evaluate(sc, envs, learned)
                    summ = batch.summary(report, refs)
                    rows.append({"panel": ctx.panel, "panel_title": ctx.title, "view": self.name, "point": point,
                                 **settings, "series": label, "seed": res["seed"], "utility": summ["principal_utility"],
                                 "agents_utility": summ["agents_utility"], "gap": summ["gap"],
                                 "feasible": summ["feasible"]} | columns)
                    for k, v in self.member(ctx, label, i, res, pol, envs, learned, report, menus, reports).items():
                        extra.setdefault(k, []).extend(v)
            for k, v in self.point(point, menus, reports).items():
                extra.setdefault(k, []).extend(v)
        return rows, extra

    def member(self, ctx: Context, label: str, index: int, result: Mapping[str, Any], policy: Any,
               envs: Mapping[str, np.ndarray], menus: Mapping[str, np.ndarray], report: Mapping[str, Any],
               all_menus: dict[str, Any], all_reports: dict[str, Any]) -> dict[str, Rows]:
        """Extra rows of one trained member at one point (none by default)."""
        return {}

    def point(self, point: str, menus: Mapping[str, Any], reports: Mapping[str, Any]) -> dict[str, Rows]:
        """Extra rows of one point once every member is evaluated (none by default)."""
        return {}


@dataclasses.dataclass(frozen=True)
class Bars(Evaluated):
    """The principal's and the agents' mean utility per series beside the oracle, complete
    information and random menus (and the model's baselines named in the experiment)."""

    name: ClassVar[str] = "bars"

    def plot(self, axes: Any, rows: Rows, extra: Mapping[str, Rows], look: Look, lines: Mapping[str, float]) -> None:
        refs = _references(rows)
        for ax, agents in zip(axes[0], (False, True), strict=True):
            labels = [r["series"] for r in rows] + [k.replace("_", " ") for k in refs]
            mean = ([r["agents_utility_mean" if agents else "utility_mean"] for r in rows]
                    + [rows[0][f"{k}_agents" if agents else k] for k in refs])
            std = [r["agents_utility_std" if agents else "utility_std"] for r in rows] + [0.0] * len(refs)
            colors = [f"C{i}" for i in range(len(rows))] + ["k", "0.35", "0.6", "0.8", "0.9"][:len(refs)]
            bars = ax.bar(range(len(labels)), mean, yerr=std, color=colors, capsize=3)
            ax.bar_label(bars, fmt="%.4g", fontsize=6, rotation=90, padding=2)
            # a baseline far outside the learned and optimal values is clipped (its value is printed)
            core = mean[:len(rows) + 2]  # the series, the oracle and complete information
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
            ax.set_ylabel(look.utility(agents))
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3, axis="y")


@dataclasses.dataclass(frozen=True)
class Lines(Evaluated):
    """The principal's and the agents' mean utility against the setting ``x``, one line per series
    and value of the setting ``by``, with the references at each point."""

    x: str = ""
    by: str = ""
    name: ClassVar[str] = "lines"
    keys: ClassVar[tuple[str, ...]] = ("points", "grid", "x", "by")

    def __post_init__(self) -> None:
        missing = [k for k in (self.x, self.by) if k and any(k not in pt for pt in self.points.values())]
        if not self.x or missing:
            raise InputError(f"view lines: give x = a setting that every evaluation point sets (points: "
                             f"{', '.join(self.points) or 'none'})" if not self.x else
                             f"view lines: setting '{missing[0]}' is not set at every evaluation point; give it in "
                             "each point (or use grid)")

    def plot(self, axes: Any, rows: Rows, extra: Mapping[str, Rows], look: Look, lines: Mapping[str, float]) -> None:
        series = list(dict.fromkeys(r["series"] for r in rows))
        bys = list(dict.fromkeys(r.get(self.by) for r in rows))

        def points(name: str, by: Any) -> Rows:
            return sorted((r for r in rows if r["series"] == name and r.get(self.by) == by), key=lambda r: r[self.x])

        def suffix(by: Any) -> str:
            return f", {self.by} = {by:g}" if self.by else ""

        for ax, agents in zip(axes[0], (False, True), strict=True):
            focus = []  # the learned lines and the oracle: what the axis must show
            for i, (name, by) in enumerate((s, b) for s in series for b in bys):
                pts = points(name, by)
                x = np.array([r[self.x] for r in pts])
                m = np.array([r["agents_utility_mean" if agents else "utility_mean"] for r in pts])
                sd = np.array([r["agents_utility_std" if agents else "utility_std"] for r in pts])
                ax.plot(x, m, "o-", color=f"C{i}", label=name + suffix(by))
                ax.fill_between(x, m - sd, m + sd, color=f"C{i}", alpha=0.2)
                focus += [*(m - sd), *(m + sd)]
            refs = []
            for j, by in enumerate(bys):  # references depend on the environments (the `by` value), not the series
                pts = points(series[0], by)
                for k, ls in zip([k for k in _references(rows) if k != "complete_information"],
                                 ("--", "-.", (0, (1, 1)), (0, (3, 1, 1, 1)), ":"), strict=False):
                    ys = [r[f"{k}_agents" if agents else k] for r in pts]
                    refs.append(([r[self.x] for r in pts], ys, dict(ls=ls, lw=1, color=f"C{j}" if self.by else "k"),
                                 k + suffix(by)))
                    focus += ys if k == "oracle" else []
            _draw_references(ax, refs, focus)
            ax.set_xlabel(look.setting(self.x))
            ax.set_ylabel(look.utility(agents))
            ax.legend(fontsize=6)
            ax.grid(alpha=0.3)


def _draw_references(ax: Any, refs: list, focus: list[float]) -> None:
    """Reference lines ``(x, y, style, label)`` on an axis that shows ``focus`` (the learned lines and
    the oracle) and every reference within twice their span of it; one farther away is named in the
    legend with its range instead of squashing the rest."""
    lo, hi = min(focus), max(focus)
    span = max(hi - lo, 1e-3 * max(abs(hi), 1.0))
    near = [min(y) <= hi + 2 * span and max(y) >= lo - 2 * span for _, y, _, _ in refs]
    lo = min([lo, *(min(r[1]) for r, n in zip(refs, near, strict=True) if n)])
    hi = max([hi, *(max(r[1]) for r, n in zip(refs, near, strict=True) if n)])
    for (x, y, style, label), n in zip(refs, near, strict=True):
        values = f"{min(y):.4g}" if f"{min(y):.4g}" == f"{max(y):.4g}" else f"{min(y):.4g} to {max(y):.4g}"
        ax.plot(x, y, **style, label=label if n else f"{label} ({values}, {'below' if max(y) < lo else 'above'})")
    if not all(near):
        pad = 0.08 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)


@dataclasses.dataclass(frozen=True)
class Contracts(Evaluated):
    """The menus of the first ``states`` held-out environments by type (each field, each type's
    own utility and the principal's), the first seed's beside the oracle's and complete
    information's."""

    states: int = 3
    name: ClassVar[str] = "contracts"
    keys: ClassVar[tuple[str, ...]] = ("points", "grid", "states")

    def __post_init__(self) -> None:
        if isinstance(self.states, bool) or not isinstance(self.states, int) or not 1 <= self.states <= 20:
            raise InputError(f"view contracts: states = {self.states!r}; give a whole number from 1 to 20")

    def member(self, ctx: Context, label: str, index: int, result: Mapping[str, Any], policy: Any,
               envs: Mapping[str, np.ndarray], menus: Mapping[str, np.ndarray], report: Mapping[str, Any],
               all_menus: dict[str, Any], all_reports: dict[str, Any]) -> dict[str, Rows]:
        if index == 0:  # the first seed's menus are drawn beside the references'
            all_menus[label], all_reports[label] = menus, report
        return {}

    def point(self, point: str, menus: Mapping[str, Any], reports: Mapping[str, Any]) -> dict[str, Rows]:
        """The menus of the first ``states`` environments, one row per (state, scheme, field,
        type), with each type's own utility (its IR slack) and the principal's utility."""
        rows = []
        for scheme, menu in menus.items():
            if scheme == "random":
                continue
            rep = reports[scheme]
            own = {f"utility ({k})": v for k, v in rep["slacks"].items() if k.startswith("IR")}
            for e in range(min(self.states, len(rep["principal_utility"]))):
                base = {"point": point, "state": e, "scheme": scheme}
                rows.append(base | {"quantity": "principal's utility", "type": "",
                                    "value": float(rep["principal_utility"][e])})
                for field, value in (dict(menu) | own).items():
                    arr = np.asarray(value[e])
                    for idx in np.ndindex(arr.shape):
                        rows.append(base | {"quantity": field, "type": ",".join(str(i + 1) for i in idx),
                                            "value": float(arr[idx])})
        return {"contracts": rows}

    def _mine(self, extra: Mapping[str, Rows]) -> Rows:
        return [x for x in extra.get("contracts", []) if x["point"] in self.points]

    def shape(self, extra: Mapping[str, Rows]) -> tuple[int, int]:
        return self.states, len(dict.fromkeys(x["quantity"] for x in self._mine(extra)))

    def width(self) -> float:
        return 3.2

    def plot(self, axes: Any, rows: Rows, extra: Mapping[str, Rows], look: Look, lines: Mapping[str, float]) -> None:
        mine = self._mine(extra)
        quantities = list(dict.fromkeys(r["quantity"] for r in mine))
        schemes = list(dict.fromkeys(r["scheme"] for r in mine))
        for e in range(axes.shape[0]):
            for q, quantity in enumerate(quantities):
                ax = axes[e, q]
                sel = [r for r in mine if r["state"] == e and r["quantity"] == quantity]
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
                    ax.set_ylabel(look.utility())
                if e == 0 and q == len(quantities) - 1:
                    ax.legend(fontsize=6)


@dataclasses.dataclass(frozen=True)
class Energy(Evaluated):
    """Training electricity and CO₂ (CodeCarbon, the ``energy`` extra), the final utility, the
    actor's parameter counts and the solve time per environment of the masked and the compact
    actor."""

    name: ClassVar[str] = "energy"

    def member(self, ctx: Context, label: str, index: int, result: Mapping[str, Any], policy: Any,
               envs: Mapping[str, np.ndarray], menus: Mapping[str, np.ndarray], report: Mapping[str, Any],
               all_menus: dict[str, Any], all_reports: dict[str, Any]) -> dict[str, Rows]:
        n = 64 if ctx.budget == "tiny" else 20_000
        reps = -(-n // len(next(iter(envs.values()))))
        big = {k: np.concatenate([v] * reps)[:n] for k, v in envs.items()}
        times = {}
        for name, p in (("masked", policy), ("compact", policy.compact())):
            p.menus(big)  # compile
            t0 = time.perf_counter()
            for _ in range(3):
                p.menus(big)
            times[f"solve_us_per_env_{name}"] = 1e6 * (time.perf_counter() - t0) / (3 * n)
        row = {"series": label, "seed": result["seed"],
               **{f"params_{k}": v for k, v in policy.parameter_counts().items()}, **times, "solve_envs": n}
        members = max(int(result.get("group_members") or 1), 1)
        for k in ("group_energy_kwh", "group_co2_kg"):  # the group's measurement, shared by its members
            if result.get(k) not in (None, ""):
                row[k.removeprefix("group_")] = float(result[k]) / members
        for k in ("group_country", "group_grid_kg_per_kwh", "group_cpu_mode", "group_energy_device",
                  "group_energy_missing", "wall_s"):
            if result.get(k) not in (None, ""):
                row[k.removeprefix("group_")] = result[k]
        return {"energy": [row]}

    def shape(self, extra: Mapping[str, Rows]) -> tuple[int, int]:
        return 1, 4

    def plot(self, axes: Any, rows: Rows, extra: Mapping[str, Rows], look: Look, lines: Mapping[str, float]) -> None:
        axes = axes[0]
        energy = extra["energy"]
        series = list(dict.fromkeys(r["series"] for r in energy))
        colors = [f"C{i}" for i in range(len(series))]

        def per(key: str) -> tuple[list[float], list[float]]:
            vals = [[float(r[key]) for r in energy if r["series"] == s and r.get(key) not in (None, "")]
                    for s in series]
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
        ax.set_ylabel(f"final {look.utility()}")
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


def _references(rows: Rows) -> list[str]:
    """The reference contracts evaluated beside the series (oracle, complete information, random
    and the model's baselines), in that order: the columns with an ``_agents`` twin."""
    return [k.removesuffix("_agents") for k in (rows[0] if rows else {}) if k.endswith("_agents")]


#: Every view by name (an experiment file's ``view``).
VIEWS: dict[str, type[View]] = {v.name: v for v in (Curves, Bars, Lines, Contracts, Energy)}


# ------------------------------------------------------------------------------- shared data


def over_seeds(rows: Sequence[Mapping[str, Any]], by: Sequence[str]) -> Rows:
    """Mean ± std over seeds of the per-seed quantities (:data:`PER_SEED`) per group ``by``, in
    order of first appearance (the order the series were declared, steps ascending); every other
    number is averaged (each seed's held-out references), text is the group's."""
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


def held_out(cfg: Any, settings: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """A run's held-out environments (its evaluation seed and size), at ``settings`` over its sampler."""
    prog = for_config(cfg)
    return batch.sample_envs(prog.scenario, cfg.eval_envs, eval_seed(cfg), prog.dims,
                             {**prog.sampler, **(settings or {})})


def _read_curves(path: Path) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {}
    with path.open() as f:
        for rec in csv.DictReader(f):
            if rec.get("eval_principal_utility") not in (None, ""):
                out.setdefault(rec["member"], []).append(
                    {"step": int(rec["step"]), **{k: float(rec[k] or "nan") for k in
                                                  ("eval_principal_utility", "eval_gap", "eval_feasible")}})
    return out
