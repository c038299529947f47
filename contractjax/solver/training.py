"""Training runs: the host loop around the compiled chunks — progress, metrics log, held-out
evaluation against the oracle, checkpoints, resume — and the ``train`` entry point.

Output folder: ``config.json``, ``metrics.jsonl`` (one record per chunk), ``checkpoints/``
(orbax; the latest two) and ``summary.json``. A run never writes into a non-empty folder unless
resuming; a resumed run gives the same result as an uninterrupted one. A non-finite reward, loss
or parameter stops the run with one line naming the iteration and the quantity; the last good
checkpoint is kept.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax

from contractjax import batch, energy, files, limits
from contractjax.domain import InputError
from contractjax.solver import checkpoint
from contractjax.solver.config import Config, make_config, to_json, validate
from contractjax.solver.evaluation import Evaluator
from contractjax.solver.policy import Policy, read_config
from contractjax.solver.program import Program, TrainState, for_config, initial_state

Log = Callable[[str], None]


class RunError(InputError):
    """A problem with the output folder, a resume or the training itself (one line naming the fix)."""


class NonFiniteError(RunError):
    """Training produced a non-finite value."""


def eval_seed(cfg: Config) -> int:
    return 1_000_000 + cfg.seed if cfg.eval_seed is None else cfg.eval_seed


def prepare_out(out: Path, cfg: Config, resume: bool) -> None:
    """Check (and create) the output folder before any work."""
    saved = out / "config.json"
    try:
        files.check_folder(out)
    except files.InputError as e:
        raise RunError(str(e)) from None
    if resume:
        if not saved.is_file() or not (out / "checkpoints").is_dir():
            raise RunError(f"--resume: '{out}' holds no earlier run (config.json and checkpoints/); drop --resume")
        try:
            old = read_config(out)
        except ValueError as e:
            raise RunError(f"--resume: {e}") from None
        new_json, old_json = to_json(cfg), to_json(old)
        changed = [f for f in new_json if f != "steps" and old_json[f] != new_json[f]]
        if changed:
            raise RunError(f"--resume: the run in '{out}' used other values of {', '.join(changed)}; "
                           "resume with the same config (only --steps may change)")
        return  # config.json takes the new steps once the checkpoint is known to be before them
    if out.exists() and any(out.iterdir()):
        raise RunError(f"--out '{out}' already holds files; pass --resume to continue that run or choose a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        files.write_text(saved, json.dumps(to_json(cfg), indent=1))
    except OSError as e:
        raise RunError(f"--out '{out}' cannot be written ({e.strerror}); choose a writable folder") from None


def _due(prev: int, step: int, every: int) -> bool:
    return every > 0 and step // every > prev // every


#: Metrics shown in the progress line when the algorithm reports them.
SHOWN = (("critic_loss", "critic"), ("value_loss", "value"), ("actor_loss", "actor"), ("alpha", "alpha"))


def progress_line(cfg: Config, step: int, rate: float, m: Mapping[str, float],
                  ev: Mapping[str, float] | None) -> str:
    eta = (cfg.steps - step) / max(rate, 1e-9)
    s = (f"[{cfg.scenario}/{cfg.algo}] {step:>{len(str(cfg.steps))}}/{cfg.steps} {rate:7.0f} it/s eta {eta:5.0f}s | "
         f"reward {m['reward']:.4g} feasible {100 * m['feasible']:.1f}%")
    s += "".join(f" {label} {m[k]:.3g}" for k, label in SHOWN if k in m)
    if cfg.pruning != "none":
        s += f" sparsity {100 * m['sparsity']:.0f}%"
    if ev is not None:
        s += f" | eval gap {100 * ev['gap']:.2f}% feasible {100 * ev['feasible']:.1f}%"
    return s


def check_finite(metrics: Mapping[str, float], start: int, end: int) -> None:
    """Raise :class:`NonFiniteError` naming the iteration and the quantity (a chunk ran the
    iterations ``start + 1 … end``)."""
    bad = int(metrics["first_nonfinite"])
    if bad >= 0:
        names = [k for k, v in metrics.items() if not math.isfinite(v)]
        raise NonFiniteError(f"training diverged at iteration {start + bad + 1}: {', '.join(names) or 'a metric'} "
                             "not finite; the last good checkpoint is kept; lower the learning rates or the penalty")
    if not metrics["state_finite"]:
        raise NonFiniteError(f"training diverged by iteration {end}: the agent's parameters are not finite; the last "
                             "good checkpoint is kept; lower the learning rates")


def run(cfg: Config, out: str | Path | None = None, resume: bool = False, progress: bool = True,
        log: Log | None = None, resume_from: int | None = None) -> dict[str, Any]:
    """Train; returns the summary (also written to ``out/summary.json``) with ``policy`` added.

    ``resume=True`` continues the run in ``out`` from its last checkpoint (or ``resume_from``)."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    cfg = validate(cfg)
    prog = for_config(cfg)
    limits.check_fits(prog.state_bytes(cfg) + cfg.eval_envs * batch.env_bytes(prog.scenario, prog.dims),
                      "the training state and the held-out environments", "lower buffer, batch, eval_envs or network widths")
    outp = Path(out) if out is not None else None
    if outp is not None:
        prepare_out(outp, cfg, resume or resume_from is not None)
    t_start = time.perf_counter()
    ts = initial_state(cfg)
    mngr = checkpoint.manager(outp) if outp is not None else None
    if mngr is not None and (resume or resume_from is not None):
        if not mngr.all_steps():
            log(f"[{cfg.scenario}] --resume: '{outp}' has no checkpoint yet; starting from iteration 0")
        else:
            try:
                ts, _ = checkpoint.restore(mngr, "state", like=ts, step=resume_from)
            except checkpoint.CheckpointError as e:
                raise RunError(f"--resume: {e}") from None
    step = int(ts.step)
    if step > cfg.steps:
        raise RunError(f"--steps {cfg.steps}: the run in '{outp}' is already at iteration {step}; give --steps >= {step}")
    if outp is not None and read_config(outp).steps != cfg.steps:
        files.write_text(outp / "config.json", json.dumps(to_json(cfg), indent=1))
    metrics_path = outp / "metrics.jsonl" if outp is not None else None
    if metrics_path is not None and metrics_path.exists():  # drop records past the checkpoint
        keep = [ln for ln in metrics_path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
        files.write_text(metrics_path, "".join(ln + "\n" for ln in keep))
    evaluator = Evaluator(prog, cfg.eval_envs, eval_seed(cfg))
    if progress:
        b = evaluator.baselines()
        log(f"[{cfg.scenario}/{cfg.algo}] {cfg.eval_envs} held-out envs (seed {eval_seed(cfg)}): oracle U "
            f"{b['oracle']['principal_utility']:.4g}, random-menu gap {100 * b['random']['gap']:.1f}%")
    try:
        with energy.Meter() as meter:  # this call's training (a resumed run measures its own part)
            ts, ev, timing, last = _loop(cfg, prog, ts, evaluator, mngr, metrics_path, progress, log)
    finally:
        if mngr is not None:
            mngr.close()
    pol = Policy.from_state(cfg, ts)
    summary = {
        "scenario": cfg.scenario, "algo": cfg.algo, "steps": int(ts.step), "eval_envs": cfg.eval_envs,
        "eval_seed": eval_seed(cfg), "eval": ev, "baselines": evaluator.baselines(), "train_metrics": last,
        "seconds_total": time.perf_counter() - t_start, **timing,
        "device": jax.devices()[0].device_kind, "parameters": pol.parameter_counts(), "config": to_json(cfg),
        **meter.result,
    }
    if outp is not None:
        files.write_text(outp / "summary.json", json.dumps(summary, indent=1))
    summary["policy"] = pol
    if progress:
        counts = summary["parameters"]
        log(f"[{cfg.scenario}/{cfg.algo}] done: gap {100 * ev['gap']:.2f}% to the oracle (per environment: median "
            f"{100 * ev['gap_median']:.2f}%, 90th {100 * ev['gap_p90']:.2f}%, 99th {100 * ev['gap_p99']:.2f}%), "
            f"{100 * ev['feasible']:.1f}% feasible on {cfg.eval_envs} held-out envs; actor {counts['compact']} "
            f"parameters after pruning (of {counts['full']})")
    return summary


def _loop(cfg: Config, prog: Program, ts: TrainState, evaluator: Evaluator, mngr: Any,
          metrics_path: Path | None, progress: bool, log: Log) -> tuple[TrainState, dict, dict, dict]:
    step = int(ts.step)
    ev: dict[str, float] | None = None
    t_train, iters, last = 0.0, 0, {}
    t_steady, iters_steady = 0.0, 0  # chunks after the first (which compiles)
    while step < cfg.steps:
        length = min(cfg.chunk, cfg.steps - step)
        t0 = time.perf_counter()
        ts, m = prog.chunk(ts, length)
        m = {k: float(v) for k, v in jax.device_get(m).items()}
        dt = time.perf_counter() - t0
        prev, step = step, int(ts.step)
        check_finite(m, prev, step)
        if iters:
            t_steady, iters_steady = t_steady + dt, iters_steady + length
        t_train += dt
        iters += length
        if _due(prev, step, cfg.eval_every) or step >= cfg.steps:
            ev = evaluator(Policy.from_state(cfg, ts))
        else:
            ev = None
        last = {k: v for k, v in m.items() if k not in ("first_nonfinite", "state_finite")}
        if metrics_path is not None:
            with metrics_path.open("a") as f:
                f.write(json.dumps({"step": step, "seconds": dt, **last} | ({"eval": ev} if ev else {})) + "\n")
        if progress:
            log(progress_line(cfg, step, length / dt, last, ev))
        if mngr is not None and (_due(prev, step, cfg.checkpoint_every) or step >= cfg.steps):
            checkpoint.save(mngr, ts)
    if ev is None:
        ev = evaluator(Policy.from_state(cfg, ts))
    rate = iters_steady / t_steady if t_steady > 0 else (iters / t_train if t_train > 0 else None)
    timing = {"seconds_training": t_train, "iterations_per_second": rate,
              "updates_per_second": rate * cfg.updates_per_step if rate else None}
    return ts, ev, timing, last


def train(scenario: str = "dt", out: str | Path | None = None, preset: str = "quick",
          config: str | Path | None = None, resume: bool = False, progress: bool = True, **overrides: Any):
    """Python API: ``contractjax.train("dt", steps=3000)`` → summary dict (``summary["policy"]``
    designs menus: ``summary["policy"].menus(envs)``)."""
    cfg = make_config(preset, config, scenario=scenario, **overrides)
    return run(cfg, out, resume, progress)
