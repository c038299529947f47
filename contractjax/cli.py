"""Command-line interface (file formats: docs/models.md §1). Every user error is one line naming the field and the fix."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contractjax import batch, cluster, datasets, experiments, files, scenarios
from contractjax.domain import INT32_MAX, SEED_MAX, check_dims


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _scenario(name: str) -> scenarios.Scenario:
    try:
        return scenarios.get(name)
    except ValueError as e:
        raise files.InputError(f"--scenario: {e}") from None


def _parse_pairs(items: Sequence[str], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise files.InputError(f"{flag} '{item}': write NAME=VALUE (a range as NAME=LO,HI)")
        try:
            nums = [float(v) for v in value.split(",")]
        except ValueError:
            raise files.InputError(f"{flag} '{item}': VALUE must be a number or LO,HI") from None
        out[key] = nums[0] if len(nums) == 1 else tuple(nums)
    return out


def _table(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    cells = [[_fmt(r[c]) for c in cols] for r in rows]
    width = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.rjust(w) for c, w in zip(cols, width, strict=True))
    body = ["  ".join(v.rjust(w) for v, w in zip(row, width, strict=True)) for row in cells]
    return "\n".join([line, *body])


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        if x != x:
            return "n/a"
        return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.4e}"
    return str(x)


def _menu_record(sc, envs, menus, info: str | None = None, slacks: bool = False) -> dict[str, Any]:
    """The menu file (docs/models.md §1): fields, menus, per-environment results (and every slack)."""
    ev = batch.evaluate(sc, envs, menus)
    rec: dict[str, Any] = {"scenario": sc.name}
    if info:
        rec["info"] = info
    rec["fields"] = files.env_record(sc, envs)
    rec["menus"] = menus
    keys = ("principal_utility", "agents_utility", "paper_reward", "feasible", "max_violation")
    rec |= {k: ev[k] for k in keys}
    if slacks:
        rec["slacks"] = ev["slacks"]
    return rec


# ------------------------------------------------------------------------------------- commands


def cmd_sample_envs(args: argparse.Namespace) -> None:
    sc = _scenario(args.scenario)
    dims = check_dims("--dims", _parse_pairs(args.dims, "--dims"), sc.dims)
    settings = _parse_pairs(args.set, "--set")
    sc.settings(settings, "--set")
    if datasets.is_folder_target(args.out):
        index = datasets.sample(sc, args.n, args.seed, dims, settings, args.out, args.shard_size, not args.quiet,
                                args.cluster)
        print(f"wrote {args.n} {sc.name} environments to {args.out} ({len(index['shards'])} shards)")
        return
    _no_cluster(args)
    files.check_out(args.out, args.overwrite)
    envs = batch.sample_envs(sc, args.n, args.seed, dims, settings)
    files.write(args.out, {"scenario": sc.name, "fields": files.env_record(sc, envs)}, args.overwrite)
    print(f"wrote {args.n} {sc.name} environments to {args.out}")


def _streamed(args: argparse.Namespace, sc: scenarios.Scenario, what: str, run) -> bool:
    """Sharded datasets (``--envs DIR``): stream shard by shard into the dataset ``--out DIR/``
    (resumable) and print its summary; False for single files."""
    if not datasets.is_dataset(args.envs):
        if datasets.is_folder_target(args.out) and not Path(args.envs).is_dir():
            raise files.InputError(f"--out '{args.out}' is a folder (a sharded dataset) but --envs is one file; "
                                   "give an output file name ending in .json or .npz")
        _no_cluster(args)
        return False
    if not datasets.is_folder_target(args.out):
        raise files.InputError(f"--envs '{args.envs}' is a sharded dataset; give --out a folder (end it with /)")
    t0 = time.perf_counter()
    summary = run()["summary"]
    seconds = time.perf_counter() - t0
    row = {"scenario": sc.name, "envs": summary["n"], "feasible %": 100 * summary["feasible"],
           "principal U (mean)": summary["principal_utility"], "agents U (mean)": summary["agents_utility"]}
    row |= {f"{k.replace('_', ' ')} %": 100 * summary[k] for k in ("gap", "gap_complete") if k in summary}
    print(_table([row | {"seconds (this run)": seconds}]))
    print(f"wrote {what} to {args.out} (index.json lists the shards; an interrupted run continues when run again)")
    return True


def cmd_oracle(args: argparse.Namespace) -> None:
    sc = _scenario(args.scenario)
    solve = _oracle_of(args, sc)
    if _streamed(args, sc, "oracle menus", lambda: datasets.map_menus(
            sc, args.envs, args.out, solve, f"oracle {sc.name}", not args.quiet, args.cluster, info=args.info)):
        return
    envs = files.load_envs(sc, args.envs)
    files.check_out(args.out, args.overwrite)
    t0 = time.perf_counter()
    menus = solve(envs)
    dt = time.perf_counter() - t0
    rec = _menu_record(sc, envs, menus, args.info)
    files.write(args.out, rec, args.overwrite)
    n = files.n_of(envs)
    print(_table([{
        "scenario": sc.name, "info": args.info, "envs": n,
        "feasible %": 100.0 * float(np.mean(rec["feasible"])),
        "principal U (mean)": float(np.mean(rec["principal_utility"])),
        "agents U (mean)": float(np.mean(rec["agents_utility"])),
        "seconds": dt,
    }]))
    print(f"wrote {args.out}")


def _oracle_of(args: argparse.Namespace, sc: scenarios.Scenario):
    """``envs -> menus``: the oracle, with a trained run's menus as extra starts (``--warm-start``)."""
    if not args.warm_start:
        return lambda e: batch.oracle(sc, e, args.info)
    if sc.warm_oracle is None or args.info != "asymmetric":
        raise files.InputError(f"--warm-start: {sc.name}'s {args.info} oracle takes no starts (it is exact); warm "
                               "starts apply to search-based oracles (twin, your own models without single_crossing)")
    from contractjax import solver

    try:
        pol = solver.load(args.warm_start)
    except ValueError as e:
        raise files.InputError(f"--warm-start: {e}") from None
    if pol.config.scenario != sc.name:
        raise files.InputError(f"--warm-start was trained on '{pol.config.scenario}', not '{sc.name}'")
    return lambda e: batch.oracle(sc, e, "asymmetric", warm_start=pol.menus(e))


def cmd_evaluate(args: argparse.Namespace) -> None:
    sc = _scenario(args.scenario)
    if _streamed(args, sc, "the evaluation", lambda: datasets.evaluate(
            sc, args.envs, args.menus, args.out, not args.no_oracle, not args.quiet, args.cluster)):
        return
    envs = files.load_envs(sc, args.envs)
    menus = files.load_menus(sc, args.menus, envs)
    files.check_out(args.out, args.overwrite)
    rec = _menu_record(sc, envs, menus, slacks=True)
    row: dict[str, Any] = {
        "scenario": sc.name, "envs": files.n_of(envs),
        "feasible %": 100.0 * float(np.mean(rec["feasible"])),
        "principal U (mean)": float(np.mean(rec["principal_utility"])),
        "max violation": float(np.max(rec["max_violation"])),
    }
    if not args.no_oracle:
        print(f"solving the {sc.name} oracles for the optimality gaps (skip with --no-oracle) ...", file=sys.stderr,
              flush=True)
        for info, key in (("asymmetric", "oracle_utility"), ("complete", "complete_info_utility")):
            ref = batch.evaluate(sc, envs, batch.oracle(sc, envs, info))["principal_utility"]
            rec[key] = ref
        row["gap to oracle %"] = 100.0 * batch.gap(rec["principal_utility"], rec["oracle_utility"], rec["feasible"])
        row["gap to complete-info %"] = 100.0 * batch.gap(
            rec["principal_utility"], rec["complete_info_utility"], rec["feasible"])
    files.write(args.out, rec, args.overwrite)
    print(_table([row]))
    print(f"wrote {args.out}")


def cmd_quickstart(args: argparse.Namespace) -> None:
    files.check_folder(Path(args.out).parent)
    out = _fresh_dir(Path(args.out))
    rows = []
    for name in scenarios.BUILTIN:
        print(f"[{name}] sampling {args.n} environments, solving the oracles ...", file=sys.stderr, flush=True)
        sc = scenarios.get(name)
        envs = batch.sample_envs(sc, args.n, args.seed)
        files.write(out / f"{name}-envs.json", {"scenario": name, "fields": files.env_record(sc, envs)})
        t0 = time.perf_counter()
        menus = batch.oracle(sc, envs, "asymmetric")
        seconds = time.perf_counter() - t0
        rec = _menu_record(sc, envs, menus, "asymmetric")
        files.write(out / f"{name}-oracle.json", rec)
        refs = batch.baselines(sc, envs, args.seed, oracle_menus=menus)
        rand = refs["random"]
        u = rec["principal_utility"]
        rows.append({
            "scenario": name, "envs": args.n,
            "oracle U": float(np.mean(u)),
            "feasible %": 100.0 * float(np.mean(rec["feasible"])),
            "complete-info U": float(np.mean(refs["complete_information"]["principal_utility"])),
            "random menu U": float(np.mean(rand["principal_utility"])),
            "random gap %": 100.0 * batch.gap(rand["principal_utility"], u, rand["feasible"]),
            "oracle s (with compile)": seconds,
        })
    print(_table(rows))
    print(f"wrote environments and oracle menus to {out}/")
    if args.train_steps is None or args.train_steps > 0:
        _quick_train(out, args.train_steps, args.seed, args.n)


def _quick_train(out: Path, steps: int | None, seed: int, n: int) -> None:
    """Train the solver on dt (quick preset) and solve the held-out environments written above."""
    from contractjax import solver

    cfg = solver.make_config("quick", scenario="dt", steps=steps, seed=seed, eval_envs=n)
    print(f"[dt] training the diffusion SAC solver (quick preset, {cfg.steps} iterations) ...", file=sys.stderr,
          flush=True)
    solver.run(cfg, out / "train-dt")
    sc = scenarios.get("dt")
    envs = files.load_envs(sc, out / "dt-envs.json")
    rec = _menu_record(sc, envs, solver.solve(out / "train-dt", envs))
    files.write(out / "dt-learned.json", rec)
    oracle_u = files.read(out / "dt-oracle.json")["principal_utility"]
    g = batch.gap(rec["principal_utility"], np.asarray(oracle_u), rec["feasible"])
    print(f"learned dt menus on the {n} environments above: gap {100 * g:.2f}% to the oracle, "
          f"{100 * np.mean(rec['feasible']):.1f}% feasible -> {out}/dt-learned.json")


def cmd_train(args: argparse.Namespace) -> None:
    from contractjax import solver
    from contractjax.solver import config, loggers
    from contractjax.solver.policy import read_config
    from contractjax.solver.training import RunError

    overrides = {"scenario": args.scenario, "steps": args.steps, "seed": args.seed, "algo": args.algo}
    for item in args.set:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise files.InputError(f"--set '{item}': write FIELD=VALUE, e.g. --set actor_lr=3e-4")
        if key in ("scenario", "algo", "steps", "seed") and overrides.get(key) is not None:
            raise files.InputError(f"--set {key}=...: use --{key} (given as {overrides[key]!r}), not both")
        overrides[key] = value
    _scenario(args.scenario)
    kinds = loggers.parse(args.log)
    resuming = args.resume or args.resume_from is not None
    if resuming and not args.out:
        raise files.InputError("--resume: give --out, the folder of the run to continue")
    preset_steps = args.preset is not None and "steps" in config.PRESETS[args.preset]
    if resuming and args.steps is None and not preset_steps and (Path(args.out) / "config.json").is_file():
        try:  # continue to the run's own end unless --steps says otherwise
            overrides["steps"] = read_config(Path(args.out)).steps
        except ValueError as e:
            raise files.InputError(f"--resume: {e}") from None
    cfg = solver.make_config(args.preset or "quick", args.config, given_by="--set", **overrides)
    if resuming and (Path(args.out) / "config.json").is_file():
        # the run's own config, with only what was given here over it (a real change is refused below)
        saved = config.to_json(read_config(Path(args.out)))
        named = set(config.PRESETS[args.preset]) | set(config.PRESET_ALGO.get((args.preset, cfg.algo), {})) \
            if args.preset else set()
        preset = {k: v for k, v in config.to_json(cfg).items() if k in named}
        given = preset | (config.read_config_file(args.config) if args.config else {}) | {
            k: v for k, v in overrides.items() if v is not None}
        cfg = config.validate(config.coerce(saved | given))
    if args.out:
        files.check_folder(args.out)
    out = Path(args.out) if args.out else _fresh_dir(Path("runs") / f"train-{cfg.scenario}")
    try:
        summary = solver.run(cfg, out, resume=args.resume, progress=not args.quiet, resume_from=args.resume_from,
                             loggers=kinds)
    except RunError as e:
        raise files.InputError(str(e)) from None
    ev, b = summary["eval"], summary["baselines"]
    pct = ("gap_median", "gap_p90", "gap_p99")

    def row(name: str, r: dict) -> dict:
        return ({"menus": name, "U": r["principal_utility"], "feasible %": 100 * r["feasible"], "gap %": 100 * r["gap"]}
                | {f"{k[4:]} %": 100 * r[k] for k in pct})

    print(_table([row(f"learned ({cfg.algo})", ev), row("oracle", b["oracle"]), row("random", b["random"])]))
    if "energy_kwh" in summary:
        print(f"training energy {summary['energy_kwh']:.3g} kWh, {1000 * summary['co2_kg']:.3g} g CO2 "
              f"({summary['country']} grid, CPU by {summary['cpu_mode']}; CodeCarbon)")
    print(f"wrote {out}/summary.json, metrics.jsonl and checkpoints/ (solve with: contractjax solve "
          f"--checkpoint {out} --envs FILE --out FILE)")


def cmd_solve(args: argparse.Namespace) -> None:
    from contractjax import solver

    if not datasets.is_dataset(args.envs):
        files.check_out(args.out, args.overwrite)
    try:
        pol = solver.load(args.checkpoint, args.checkpoint_step)
    except ValueError as e:
        raise files.InputError(str(e)) from None
    sc = _scenario(args.scenario) if args.scenario else scenarios.get(pol.config.scenario, pol.config.model)
    if pol.config.scenario != sc.name:
        raise files.InputError(f"--checkpoint was trained on '{pol.config.scenario}', not '{sc.name}'; "
                               f"pass --scenario {pol.config.scenario}")

    def menus_of(envs: dict) -> dict:
        try:
            return pol.menus(envs, args.seed, args.polish)
        except ValueError as e:
            raise files.InputError(f"--envs: {e}") from None

    if _streamed(args, sc, "learned menus", lambda: datasets.map_menus(
            sc, args.envs, args.out, menus_of, f"solving {sc.name}", not args.quiet, args.cluster,
            checkpoint=str(Path(args.checkpoint).resolve()), checkpoint_step=args.checkpoint_step, seed=args.seed)):
        return
    envs = files.load_envs(sc, args.envs)
    t0 = time.perf_counter()
    try:
        menus = pol.menus(envs, args.seed, args.polish)
    except ValueError as e:
        raise files.InputError(f"--envs: {e}") from None
    seconds = time.perf_counter() - t0
    rec = _menu_record(sc, envs, menus)
    files.write(args.out, rec, args.overwrite)
    n = files.n_of(envs)
    print(f"{n} menus in {seconds:.2f} s ({n / seconds:.0f} envs/s incl. compile): mean principal utility "
          f"{np.mean(rec['principal_utility']):.4g}, {100 * np.mean(rec['feasible']):.2f}% feasible -> {args.out}")


def cmd_check_model(args: argparse.Namespace) -> None:
    from contractjax.scenarios import checks

    sc = _scenario(args.model)
    dims = check_dims("--dims", _parse_pairs(args.dims, "--dims"), sc.dims)
    settings = _parse_pairs(args.set, "--set")
    sc.settings(settings, "--set")
    print(f"model '{sc.name}' registered: fields, shapes and defaults checked "
          f"({scenarios.source(sc.name) or 'built in'})", flush=True)
    rows = checks.survey(sc, args.n, args.seed, dims, settings, args.actions)
    print(_table(rows))
    bad = [r["check"] for r in rows if r["ok"] != "yes"]
    if bad:
        raise ModelCheckFailed(f"model '{sc.name}' fails {len(bad)} check(s): {'; '.join(bad)}")
    print(f"model '{sc.name}': every check passed")


class ModelCheckFailed(Exception):
    """check-model found a broken promise (exit 1, not a usage error)."""


def cmd_sweep(args: argparse.Namespace) -> None:
    from contractjax.solver.sweeps import SweepError, sweep

    try:
        rows = sweep(args.config, args.out, resume=args.resume, progress=not args.quiet, cluster=args.cluster,
                     loggers=args.log)
    except (SweepError, ValueError) as e:
        raise files.InputError(str(e)) from None
    fixed = ("member", "group", "scenario", "algo", "seed", "principal_utility", "agents_utility", "paper_reward",
             "feasible", "gap", "gap_complete", "gap_median", "gap_p90", "gap_p99", "updates_per_s",
             "group_agent_updates_per_s", "group_members", "group_energy_kwh", "group_co2_kg", "group_country",
             "group_grid_kg_per_kwh", "group_cpu_mode", "group_energy_device", "group_energy_missing",
             "devices", "wall_s", "run", "status")
    table = [{"member": r["member"], "algo": r["algo"], "seed": r["seed"]} | {k: v for k, v in r.items() if k not in fixed}
             | {"gap %": 100 * r["gap"], "p90 %": 100 * r["gap_p90"], "feasible %": 100 * r["feasible"],
                "U": r["principal_utility"],
                "updates/s": r["updates_per_s"], "status": r["status"]} for r in rows]
    print(_table(table))
    print(f"wrote {args.out}/results.csv, results.json, curves.csv and runs/ (each solves with contractjax solve "
          f"--checkpoint {args.out}/runs/MEMBER)")


def cmd_reproduce(args: argparse.Namespace) -> None:
    if args.report:
        try:
            path = experiments.report(args.report, args.report_out, overwrite=args.overwrite)
        except files.InputError as e:  # the report's `out` is this command's --report-out
            raise files.InputError(str(e).replace("`out`", "`report_out`")) from None
        print(f"wrote {path}")
        return
    if args.list:
        print(_table([{"id": e.id, "paper": f"{e.paper} {e.figure}", "scenario": e.scenario,
                       "panels": ", ".join(p.title for p in e.panels)} for e in experiments.EXPERIMENTS.values()]))
        return
    if not args.id or not args.out:
        raise files.InputError("reproduce: give an experiment ID and --out DIR (or --list)")
    summary = experiments.run(args.id, args.out, args.budget, args.seeds, resume=args.resume, progress=not args.quiet,
                              scenario=_scenario(args.scenario) if args.scenario else None)
    print(_table([{"series": r["series"], "panel": r["panel"], "U": r["utility"], "± std": r["utility_std"],
                   "gap %": 100 * r["gap"], "oracle U": r["oracle"], "complete-info U": r["complete_information"]}
                  for r in summary["series"]]))
    print(f"wrote {args.out}/{summary['id']}.png, {summary['id']}.csv and summary.json")


def _fresh_dir(base: Path) -> Path:
    """``base`` if new, else ``base-2``, ``base-3``, …: earlier results are never overwritten."""
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    path.mkdir(parents=True)
    return path


# --------------------------------------------------------------------------------------- parser


def _cluster_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--cluster", metavar="ADDRESS", type=_address,
                        help=f"run {what} on a Ray cluster: 'local' (this machine), 'auto' or HOST:6379 (needs "
                             "the [cluster] extra; --out on storage every node sees)")


def _address(text: str) -> str:
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a cluster address: give local, auto or HOST:PORT")
    return text


def _no_cluster(args: argparse.Namespace) -> None:
    if getattr(args, "cluster", None):
        raise files.InputError("--cluster maps the shards of a sharded dataset: give --out a folder (end it with /) "
                               "and, for oracle/solve/evaluate, --envs a dataset folder; or drop --cluster")


def build_parser() -> argparse.ArgumentParser:
    from contractjax.solver.algos import registry
    from contractjax.solver.config import Config

    p = _Parser(prog="contractjax", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    names = ", ".join(scenarios.BUILTIN)
    model_help = f"the model: one of {names}, a model file (path/to/model.py) or module (package.module)"

    def command(name: str, help: str, func, envs: bool = True, out: str = "output file (.json or .npz)",
                scenario: bool = True):
        c = sub.add_parser(name, help=help)
        c.add_argument("--scenario", required=scenario, help=model_help + ("" if scenario else
                                                                         " (default: the training run's)"))
        if envs:
            c.add_argument("--envs", required=True,
                           help="environment file (.json or .npz) or a sharded dataset folder (streamed)")
        c.add_argument("--out", required=True, help=out + "; a folder ending in / for a sharded dataset")
        c.add_argument("--overwrite", action="store_true", help="replace --out if it exists (single files)")
        c.add_argument("--quiet", action="store_true", help="no progress bar (sharded datasets)")
        _cluster_option(c, "a sharded dataset's shards (--out DIR/)")
        c.set_defaults(func=func)
        return c

    s = command("sample-envs", "draw random environments from a scenario's sampler", cmd_sample_envs, envs=False)
    s.add_argument("--n", type=_count, required=True, help="number of environments")
    s.add_argument("--seed", type=_seed, default=0)
    s.add_argument("--shard-size", type=_count, default=datasets.SHARD,
                   help=f"environments per shard when --out is a folder (default {datasets.SHARD:,})")
    s.add_argument("--dims", nargs="*", action="extend", default=[], metavar="NAME=VALUE",
                   help="dimension overrides, e.g. K=3 (twin: M=3 N=2)")
    s.add_argument("--set", nargs="*", action="extend", default=[], metavar="NAME=VALUE",
                   help="sampler overrides, e.g. c=25,35 (a range) or rho=0.5 (a constant)")

    o = command("oracle", "optimal menus by optimization", cmd_oracle, out="output menu file (.json or .npz)")
    o.add_argument("--info", choices=batch.INFOS, default="asymmetric",
                   help="asymmetric (IR + IC, default) or complete information (IR only)")
    o.add_argument("--warm-start", metavar="RUN", help="a training run whose menus join the search's starts "
                   "(search-based oracles: twin, your own models)")

    e = command("evaluate", "utilities and constraint slacks of given menus", cmd_evaluate)
    e.add_argument("--menus", required=True, help="file with a 'menus' object (.json or .npz)")
    e.add_argument("--no-oracle", action="store_true", help="skip the optimality gap to the oracles")

    t = sub.add_parser("train", help="train the diffusion SAC solver (or a baseline algorithm) on random environments")
    t.add_argument("--scenario", required=True, help=model_help)
    algos = [f"{a} (default)" if a == Config.algo else a for a in registry.names()]  # read when the parser is built
    t.add_argument("--algo", help=f"{', '.join(algos[:-1])} or {algos[-1]}" if len(algos) > 1 else "".join(algos))
    t.add_argument("--preset", choices=["quick", "long", "paper"],
                   help="quick (default: minutes on a laptop CPU), long (4x the iterations) or paper (the papers' "
                        "hyperparameters)")
    t.add_argument("--config", help="config file (.json or .toml) of Config fields, applied over the preset")
    t.add_argument("--steps", type=_count, help="training iterations (with --resume: default the run's own)")
    t.add_argument("--seed", type=_seed, help="training seed (held-out environments use 1000000 + seed)")
    t.add_argument("--set", nargs="*", action="extend", default=[], metavar="FIELD=VALUE",
                   help="config overrides, e.g. actor_lr=3e-4 pruning=fixed_l2 actor_hidden=256,256")
    t.add_argument("--out", help="output folder (default: a new runs/train-SCENARIO[-N])")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--resume-from", type=_count, metavar="STEP", help="continue the run in --out from checkpoint STEP")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--log", metavar="KINDS", help="metric loggers besides metrics.jsonl, comma-separated: csv, "
                   "tensorboard (the [tensorboard] extra), wandb (offline; the [wandb] extra)")
    t.set_defaults(func=cmd_train)

    v = command("solve", "learned menus for environments, from a trained run", cmd_solve,
                out="output menu file (.json or .npz)", scenario=False)
    v.add_argument("--checkpoint", required=True, help="the --out folder of 'contractjax train'")
    v.add_argument("--seed", type=_seed, default=0, help="seed of the (deterministic) denoising noise")
    v.add_argument("--checkpoint-step", type=_count, metavar="STEP", help="use checkpoint STEP (default: the latest)")
    v.add_argument("--polish", type=_steps, default=0, metavar="STEPS",
                   help="then STEPS projected Adam steps of the principal's utility from the policy's actions "
                        "(feasible action space; no environment gets worse), e.g. 100")

    w = sub.add_parser("sweep", help="train many agents (algorithms, hyperparameters, seeds) as compiled populations")
    w.add_argument("--config", required=True, help="sweep file (.toml or .json): scenario, algos, seeds, [grid], ...")
    w.add_argument("--out", required=True, help="output folder (results.csv, curves.csv, runs/)")
    w.add_argument("--resume", action="store_true", help="skip finished groups, continue an interrupted one")
    w.add_argument("--quiet", action="store_true", help="no progress bars")
    w.add_argument("--log", metavar="KINDS", help="metric loggers of every group besides curves.jsonl, comma-separated: "
                   "csv, tensorboard, wandb (as for train)")
    _cluster_option(w, "the structure groups, one Ray task each (restarted from its checkpoint when a worker is lost)")
    w.set_defaults(func=cmd_sweep)

    r = sub.add_parser("reproduce", help="re-run a paper's experiment with the oracle beside it: figure, data, summary")
    r.add_argument("id", nargs="?", help="experiment id (see --list), e.g. dt-fig4, or your experiment file "
                                         "(.toml: docs/experiments.md)")
    r.add_argument("--list", action="store_true", help="list the experiments")
    r.add_argument("--report", metavar="RUNS", help="write docs/results.md from the experiment folders under RUNS")
    r.add_argument("--report-out", default="docs/results.md", help="where --report writes (default docs/results.md)")
    r.add_argument("--overwrite", action="store_true", help="let --report replace an existing --report-out")
    r.add_argument("--budget", default="quick", choices=list(experiments.BUDGETS),
                   help="quick (default: minutes per panel on a 2-core CPU), full (the quick preset's 15,000 "
                        "iterations, where the policies settle), paper (the papers' settings; GPU-sized) or tiny "
                        "(seconds; a smoke test)")
    r.add_argument("--seeds", type=_count, help="seeds per series (default: quick 2, full 2, paper 5, tiny 1)")
    r.add_argument("--out", help="output folder")
    r.add_argument("--resume", action="store_true", help="keep finished series, continue an interrupted one")
    r.add_argument("--scenario", help="run the experiment on another model (a name, model file or module), e.g. "
                                      "dt-fig4 --scenario examples/screening.py")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_reproduce)

    k = sub.add_parser("check-model", help="check a model: its functions, feasible menus and action spaces, the "
                       "oracle against random menus and the complete-information bound (a table; exit 1 on a failure)")
    k.add_argument("model", help=model_help)
    k.add_argument("--n", type=_count, default=2000, help="environments to sample (default 2000)")
    k.add_argument("--actions", type=_actions, default=4,
                   help="random actions per environment and action space (at most 10,000)")
    k.add_argument("--seed", type=_seed, default=0)
    k.add_argument("--dims", nargs="*", action="extend", default=[], metavar="NAME=VALUE", help="dimension overrides")
    k.add_argument("--set", nargs="*", action="extend", default=[], metavar="NAME=VALUE", help="sampler overrides")
    k.set_defaults(func=cmd_check_model)

    q = sub.add_parser("quickstart", help="every scenario: sample, oracle, baselines, a table")
    q.add_argument("--n", type=_count, default=500, help="environments per scenario")
    q.add_argument("--seed", type=_seed, default=0)
    q.add_argument("--out", default="runs/quickstart", help="output folder (a new one if it exists)")
    q.add_argument("--train-steps", type=_index, default=None,
                   help="then train the dt solver (default: the quick preset's iterations) and solve the "
                        "environments above with it (0: skip)")
    q.set_defaults(func=cmd_quickstart)
    for c in sub.choices.values():  # each command's flags by argument name, for library messages
        c.set_defaults(flags={a.dest: max(a.option_strings, key=len) for a in c._actions if a.option_strings})
    return p


#: Python argument names whose command-line flag is spelled otherwise.
ALIASES = {"path": "checkpoint", "step": "checkpoint_step", "runs": "report", "settings": "set", "loggers": "log",
           "menus_path": "menus", "envs_path": "envs", "spec": "config"}
_ARGUMENT = re.compile(r"`(\w+)(?:=([^`]*))?`")


def in_flags(message: str, flags: Mapping[str, str]) -> str:
    """A library message (which names Python arguments in backticks: `out`, `resume=True`) with
    each argument the command has as its flag (``--out``, ``--resume``); others lose the backticks."""

    def one(m: re.Match) -> str:
        name, value = m.group(1), m.group(2)
        flag = flags.get(ALIASES.get(name, name)) or flags.get(name)
        if flag is None:
            return m.group(0)[1:-1]
        return flag if value in (None, "True") else f"{flag} {value.strip(chr(39) + chr(34))}"

    return _ARGUMENT.sub(one, message)


def _whole(text: str, lo: int, hi: int | None = None) -> int:
    """A whole number in ``[lo, hi]``; else argparse's one-line error (exit 2)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if v < lo or (hi is not None and v > hi):
        raise argparse.ArgumentTypeError(f"{v} must be >= {lo}" + (f" and <= {hi}" if hi is not None else ""))
    return v


def _count(text: str) -> int:
    return _whole(text, 1)


def _index(text: str) -> int:
    return _whole(text, 0)


def _actions(text: str) -> int:
    return _whole(text, 1, 10_000)


def _steps(text: str) -> int:
    return _whole(text, 0, INT32_MAX)  # an int32 loop bound in the compiled program


def _seed(text: str) -> int:
    return _whole(text, 0, SEED_MAX)


def _interrupted(signum: int, _frame: Any) -> None:
    """SIGTERM as an exception, so that temporary files are removed and no output is half-written."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _interrupted) if threading.current_thread() is threading.main_thread() \
        else None
    owned = bool(getattr(args, "cluster", None)) and not cluster.running()  # ours to stop afterwards
    try:
        with warnings.catch_warnings():  # numpy's overflow notes: every output is checked finite instead
            warnings.simplefilter("ignore", RuntimeWarning)
            args.func(args)
    except files.InputError as e:
        print(f"contractjax: error: {in_flags(str(e), args.flags)}", file=sys.stderr)
        return 2
    except ModelCheckFailed as e:
        print(f"contractjax: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in files.FULL:
            raise
        what = e.strerror or "Disk full"
        then = " (then continue with --resume)" if hasattr(args, "resume") else ""
        print(f"contractjax: error: {what[:1].lower() + what[1:]} writing '{e.filename or 'an output'}'; "
              f"free space there or write elsewhere{then}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("contractjax: interrupted; finished files are kept, nothing is half-written (training resumes "
              "with --resume)", file=sys.stderr)
        return 130
    finally:
        if owned:
            cluster.shutdown()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def entry() -> None:
    """The ``contractjax`` command: :func:`main`, and after an interrupt an immediate exit — the
    interpreter's teardown of XLA's and orbax's native threads crashed (SIGSEGV) after SIGTERM in
    some runs, with every file already complete."""
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
