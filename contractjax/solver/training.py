"""Training runs: the output folder, resume and the summary of one agent trained by the one host
loop (:mod:`contractjax.solver.loop`, a population of one), and the ``train`` entry point.

Output folder: ``config.json``, ``metrics.jsonl`` (one record per chunk), ``checkpoints/``
(orbax; the latest two) and ``summary.json``. A run never writes into a non-empty folder unless
resuming; a resumed run gives the same result as an uninterrupted one. A non-finite reward, loss
or parameter stops the run with one line naming the iteration and the quantity; the last good
checkpoint is kept.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contractjax import batch, files, limits
from contractjax.domain import InputError
from contractjax.solver import checkpoint, loop
from contractjax.solver import loggers as metric_loggers
from contractjax.solver.config import Config, make_config, to_json, validate
from contractjax.solver.evaluation import Evaluator
from contractjax.solver.policy import Policy, read_config
from contractjax.solver.program import for_config

Log = Callable[[str], None]


class RunError(InputError):
    """A problem with the output folder, a resume or the training itself (one line naming the fix)."""


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
            raise RunError(f"`resume=True`: '{out}' holds no earlier run (config.json and checkpoints/); drop `resume=True`")
        try:
            old = read_config(out)
        except ValueError as e:
            raise RunError(f"`resume=True`: {e}") from None
        new_json, old_json = to_json(cfg), to_json(old)
        changed = [f for f in new_json if f != "steps" and old_json[f] != new_json[f]]
        if changed:
            raise RunError(f"`resume=True`: the run in '{out}' used other values of {', '.join(changed)}; "
                           "resume with the same config (only `steps` may change)")
        return  # config.json takes the new steps once the checkpoint is known to be before them
    if out.exists() and any(out.iterdir()):
        raise RunError(f"`out` '{out}' already holds files; pass `resume=True` to continue that run or choose a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        files.write_text(saved, json.dumps(to_json(cfg), indent=1))
    except OSError as e:
        raise RunError(f"`out` '{out}' cannot be written ({e.strerror}); choose a writable folder") from None


def run(cfg: Config, out: str | Path | None = None, resume: bool = False, progress: bool = True,
        log: Log | None = None, resume_from: int | None = None, loggers: str | Sequence[str] | None = None
        ) -> dict[str, Any]:
    """Train; returns the summary (also written to ``out/summary.json``) with ``policy`` added.

    ``resume=True`` continues the run in ``out`` from its last checkpoint (or ``resume_from``).
    ``loggers``: metric loggers besides ``metrics.jsonl`` (:mod:`contractjax.solver.loggers`:
    ``csv``, ``tensorboard``, ``wandb``). One run is a population of one
    (:mod:`contractjax.solver.loop`)."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    if out is not None and not isinstance(out, str | os.PathLike):
        raise RunError(f"argument 'out' = {out!r}: give the path of a folder")
    if (resume or resume_from is not None) and out is None:
        raise RunError("argument 'resume': give out, the folder of the run to continue")
    cfg = validate(cfg)
    kinds = metric_loggers.parse(loggers)
    prog = for_config(cfg)
    held_out = cfg.eval_envs * batch.env_bytes(prog.scenario, prog.dims)
    limits.check_fits(prog.state_bytes(cfg) + prog.work_bytes(cfg) + held_out,
                      "the training state, one iteration's arrays and the held-out environments",
                      "lower buffer, batch, envs_per_step, denoise_steps, eval_envs or network widths")
    outp = Path(out) if out is not None else None
    if outp is not None:
        prepare_out(outp, cfg, resume or resume_from is not None)
    t_start = time.perf_counter()
    states = loop.init_population(prog, [cfg])
    ckpt = loop.Checkpoints(outp, single=True) if outp is not None else None
    if ckpt is not None and (resume or resume_from is not None):
        if not ckpt.steps():
            log(f"[{cfg.scenario}] resuming: '{outp}' has no checkpoint yet; starting from iteration 0")
        else:
            try:
                states = ckpt.restore(states, resume_from)
            except checkpoint.CheckpointError as e:
                raise RunError(f"`resume=True`: {e}") from None
    step = int(np.asarray(states.step)[0])
    if step > cfg.steps:
        raise RunError(f"`steps` {cfg.steps}: the run in '{outp}' is already at iteration {step}; give `steps` >= {step}")
    if outp is not None and read_config(outp).steps != cfg.steps:
        files.write_text(outp / "config.json", json.dumps(to_json(cfg), indent=1))
    evaluator = Evaluator(prog, cfg.eval_envs, eval_seed(cfg))
    if progress:
        b = evaluator.baselines()
        log(f"[{cfg.scenario}/{cfg.algo}] {cfg.eval_envs} held-out envs (seed {eval_seed(cfg)}): oracle U "
            f"{b['oracle']['principal_utility']:.4g}, random-menu gap {100 * b['random']['gap']:.1f}%")
    name = f"{cfg.scenario}/{cfg.algo}"
    try:
        done = loop.run(prog, [cfg], [name], states, evaluator, ckpt=ckpt,
                        loggers=metric_loggers.make(kinds, outp, name, to_json(cfg)) if outp is not None else (),
                        progress=progress, desc=f"[{name}]")
    finally:
        if ckpt is not None:
            ckpt.close()
    ts, ev = loop.member(done.states, 0), done.evals[0]
    summary = loop.summary(cfg, ts, ev, evaluator, done.last[0], done.timing,
                           seconds_total=time.perf_counter() - t_start, **done.energy)
    if outp is not None:
        files.write_text(outp / "summary.json", files.dumps(summary, indent=1))
    summary["policy"] = Policy.from_state(cfg, ts)
    if progress:
        counts = summary["parameters"]
        log(f"[{name}] done: gap {100 * ev['gap']:.2f}% to the oracle (per environment: median "
            f"{100 * ev['gap_median']:.2f}%, 90th {100 * ev['gap_p90']:.2f}%, 99th {100 * ev['gap_p99']:.2f}%), "
            f"{100 * ev['feasible']:.1f}% feasible on {cfg.eval_envs} held-out envs; actor {counts['compact']} "
            f"parameters after pruning (of {counts['full']})")
    return summary


def train(scenario: str = "dt", out: str | Path | None = None, preset: str = "quick",
          config: str | Path | None = None, resume: bool = False, progress: bool = True,
          loggers: str | Sequence[str] | None = None, **overrides: Any):
    """Python API: ``contractjax.train("dt", steps=3000)`` → summary dict (``summary["policy"]``
    designs menus: ``summary["policy"].menus(envs)``)."""
    cfg = make_config(preset, config, scenario=scenario, **overrides)
    return run(cfg, out, resume, progress, loggers=loggers)
