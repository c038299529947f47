"""The one host loop around the compiled chunks, for every training run.

A run is a population of ``N`` agents of one compiled program (``jit(vmap(chunk))``; a single
``train`` run is a population of one, as PureJaxRL's ``vmap(make_train(config))``): the loop
advances them chunk by chunk and owns what happens between chunks — timing (the steady rate
leaves out the first, compiling chunk), the non-finite guard, held-out evaluation and checkpoint
cadence, resume, energy, the progress bar and the metric loggers — and the summary record that
``train``, ``sweep`` and the experiments all read (:func:`summary`).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from contractjax import devices, energy
from contractjax.domain import InputError
from contractjax.solver import checkpoint
from contractjax.solver.config import Config, to_json
from contractjax.solver.evaluation import Evaluator
from contractjax.solver.loggers import Logger
from contractjax.solver.policy import Policy
from contractjax.solver.program import Program, TrainState, statistics

Log = Callable[[str], None]
#: Evaluation entries of a member that diverged (it is not evaluated).
EVAL_KEYS = ("principal_utility", "agents_utility", "paper_reward", "feasible", "gap", "gap_complete", "gap_median",
             "gap_p90", "gap_p99")


class NonFiniteError(InputError):
    """Training produced a non-finite value (the message names the iteration, the quantity and the fix)."""


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


# ---------------------------------------------------------------------------------- populations


def stack(trees: Sequence[Any]) -> Any:
    """Stack pytrees along a new leading (member) axis."""
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def member(states: Any, i: int) -> Any:
    """Member ``i`` of a population, on the host."""
    return jax.tree.map(lambda x: np.asarray(x[i]), states)


def devices_for(n: int) -> int:
    """How many local devices a population of ``n`` is sharded over (all of them; the population is
    padded up to a multiple)."""
    return max(1, jax.local_device_count()) if n > 1 else 1


def shard(states: Any, n_devices: int) -> Any:
    """Place the member axis over ``n_devices`` local devices."""
    return devices.place_leading(states, n_devices, "members")


def init_population(prog: Program, cfgs: Sequence[Config], n_devices: int = 1) -> TrainState:
    """States of the members ``cfgs`` (one program); padded to a multiple of ``n_devices`` by
    repeating the first member, whose extra rows are ignored."""
    cfgs = list(cfgs) + [cfgs[0]] * (-len(cfgs) % n_devices)
    stats = stack([statistics(prog, c.seed) for c in cfgs])
    keys = np.stack([np.asarray(jax.random.PRNGKey(c.seed)) for c in cfgs])
    return shard(prog.population_init(keys, stack([prog.hyper(c) for c in cfgs]), stats), n_devices)


# ---------------------------------------------------------------------------------------- the loop


@dataclasses.dataclass
class Outcome:
    """What a population's training leaves: its states (leading member axis), each member's
    final evaluation, last chunk's metrics and status (``ok`` or the divergence), the timing
    (``seconds_training``; ``iterations_per_second`` of one member) and the measured energy."""

    states: Any
    evals: list[dict[str, float]]
    last: list[dict[str, float]]
    status: list[str]
    timing: dict[str, Any]
    energy: dict[str, Any]


def _due(prev: int, step: int, every: int) -> bool:
    return every > 0 and step // every > prev // every


class Checkpoints:
    """A run's checkpoints: one member's state with its policy (``single``: a ``train`` run, whose
    checkpoints ``solve`` reads), or the whole population's state."""

    def __init__(self, folder: Path, single: bool):
        self.mngr, self.single = checkpoint.manager(folder), single

    def steps(self) -> list[int]:
        return list(self.mngr.all_steps())

    def save(self, states: Any, step: int) -> None:
        if self.single:
            checkpoint.save(self.mngr, member(states, 0))
        else:
            checkpoint.save(self.mngr, states, step)

    def restore(self, states: Any, step: int | None = None, fix: str = "rerun with `resume_from={step}`") -> Any:
        if self.single:
            ts, _ = checkpoint.restore(self.mngr, "state", like=member(states, 0), step=step, fix=fix)
            return stack([ts])
        return checkpoint.restore(self.mngr, "state", like=states, step=step, fix=fix)[0]

    def close(self) -> None:
        checkpoint.close(self.mngr)


def run(prog: Program, cfgs: Sequence[Config], names: Sequence[str], states: Any, evaluator: Evaluator, *,
        ckpt: Checkpoints | None = None, stop_on_divergence: bool = True, diverged: dict[int, str] | None = None,
        between: Callable[[Any, int, int, dict[int, str]], Any] | None = None,
        on_checkpoint: Callable[[int, dict[int, str]], None] | None = None,
        loggers: Sequence[Logger] = (), progress: bool = True, desc: str = "train") -> Outcome:
    """Advance the population ``states`` (members ``cfgs``, named ``names``; all share
    ``cfgs[0]``'s compiled structure) to ``cfgs[0].steps`` iterations from the step they are at.

    A member whose metrics or parameters turn non-finite stops the run (``stop_on_divergence``,
    one agent) or is marked in ``diverged`` and no longer evaluated. ``between(states, step,
    chunks, diverged)`` runs after each chunk (PBT) and returns the states; ``on_checkpoint(step,
    diverged)`` before each checkpoint. Every chunk gives each logger one record per member:
    ``member``, ``step``, ``seconds``, the chunk's mean metrics and, when evaluated, ``eval``."""
    from tqdm.auto import tqdm

    cfg, n = cfgs[0], len(cfgs)
    diverged = {} if diverged is None else diverged
    step = int(np.asarray(states.step)[0])
    for lg in loggers:
        lg.start(step)
    bar = tqdm(total=cfg.steps, initial=step, desc=desc, unit="it", disable=not progress or None, file=sys.stderr,
               dynamic_ncols=True, leave=True)
    evals: list[dict[str, float] | None] = [None] * n
    last: list[dict[str, float]] = [{} for _ in range(n)]
    t_train, iters, chunks, t_steady, iters_steady = 0.0, 0, step // max(cfg.chunk, 1), 0.0, 0
    meter = energy.Meter().start()
    try:
        while step < cfg.steps:
            length = min(cfg.chunk, cfg.steps - step)
            t0 = time.perf_counter()
            states, m = prog.population_chunk(states, length)
            m = {k: np.asarray(v) for k, v in jax.device_get(m).items()}
            dt = time.perf_counter() - t0
            if iters:  # the first chunk compiles
                t_steady, iters_steady = t_steady + dt, iters_steady + length
            t_train, iters, chunks = t_train + dt, iters + length, chunks + 1
            prev, step = step, step + length
            per = [{k: float(v[i]) for k, v in m.items()} for i in range(n)]
            for i in range(n):
                try:
                    check_finite(per[i], prev, step)
                except NonFiniteError as e:
                    if stop_on_divergence:
                        raise
                    diverged.setdefault(i, str(e).split(";")[0])
            evaluate = _due(prev, step, cfg.eval_every) or step >= cfg.steps
            records = []
            for i in range(n):
                last[i] = {k: v for k, v in per[i].items() if k not in ("first_nonfinite", "state_finite")}
                evals[i] = evaluator(Policy.from_state(cfgs[i], member(states, i))) \
                    if evaluate and i not in diverged else None
                records.append({"member": names[i], "step": step, "seconds": dt, **last[i]}
                               | ({"eval": evals[i]} if evals[i] is not None else {}))
            for lg in loggers:
                lg.write(records)
            if between is not None and step < cfg.steps:
                states = between(states, step, chunks, diverged)
            bar.update(length)
            bar.set_postfix_str(_postfix(cfg, n, last, evals, diverged), refresh=False)
            if ckpt is not None and (_due(prev, step, cfg.checkpoint_every) or step >= cfg.steps):
                if on_checkpoint is not None:
                    on_checkpoint(step, diverged)
                ckpt.save(states, step)
    finally:
        bar.close()
        for lg in loggers:
            lg.close()
    measured = meter.stop()
    final = [dict.fromkeys(EVAL_KEYS, math.nan) if i in diverged else evals[i] if evals[i] is not None
             else evaluator(Policy.from_state(cfgs[i], member(states, i))) for i in range(n)]
    rate = iters_steady / t_steady if t_steady > 0 else (iters / t_train if t_train > 0 else None)
    timing = {"seconds_training": t_train, "iterations_per_second": rate,
              "updates_per_second": rate * cfg.updates_per_step if rate else None}
    return Outcome(states, final, last, [diverged.get(i, "ok") for i in range(n)], timing, measured)


def _postfix(cfg: Config, n: int, last: list[dict[str, float]], evals: list, diverged: dict[int, str]) -> str:
    """The bar's text: one agent's reward, feasibility and latest held-out gap, or a population's best gap."""
    gaps = [e["gap"] for i, e in enumerate(evals) if e is not None and i not in diverged]
    if n == 1:
        m = last[0]
        s = f"reward {m.get('reward', math.nan):.4g} feasible {100 * m.get('feasible', math.nan):.1f}%"
        if cfg.pruning != "none" and "sparsity" in m:
            s += f" sparsity {100 * m['sparsity']:.0f}%"
        return s + (f" | eval gap {100 * gaps[0]:.2f}%" if gaps else "")
    return f"{n} members" + (f", best gap {100 * min(gaps):.2f}%" if gaps else "") + (
        f", {len(diverged)} diverged" if diverged else "")


def summary(cfg: Config, ts: TrainState, ev: Mapping[str, float], evaluator: Evaluator, last: Mapping[str, float],
            timing: Mapping[str, Any], status: str = "ok", **extra: Any) -> dict[str, Any]:
    """A member's ``summary.json``: what ``train``, ``sweep`` and the experiments read."""
    pol = Policy.from_state(cfg, ts)
    return {"scenario": cfg.scenario, "algo": cfg.algo, "steps": int(ts.step), "eval_envs": cfg.eval_envs,
            "eval_seed": evaluator.seed, "eval": dict(ev), "baselines": evaluator.baselines(),
            "train_metrics": dict(last), "status": status, **timing, "device": jax.devices()[0].device_kind,
            "parameters": pol.parameter_counts(), "config": to_json(cfg), **extra}
