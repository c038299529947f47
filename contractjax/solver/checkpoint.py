"""Orbax checkpoints of a training run: the whole training state (to resume) and the policy
(actor parameters, masks, observation statistics: what ``solve`` needs), written between
compiled chunks, never inside them. The latest two are kept.

A damaged checkpoint is an error naming it, and the newest intact one to fall back to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from contractjax.solver.program import TrainState

KEEP = 2


class CheckpointError(ValueError):
    """A missing or damaged checkpoint (the message names the folder, the step and the fix)."""


def manager(out: Path, create: bool = True) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        (Path(out) / "checkpoints").resolve(), options=ocp.CheckpointManagerOptions(max_to_keep=KEEP, create=create),
        item_names=("state", "policy"))


def policy_tree(ts: TrainState) -> dict[str, Any]:
    actor = ts.agent.actor
    return {"actor": actor.params, "target": actor.target, "masks": list(actor.masks), "obs_mean": ts.stats.obs_mean,
            "obs_std": ts.stats.obs_std}


def save(mngr: ocp.CheckpointManager, ts: TrainState, step: int | None = None) -> None:
    """Save the state at its iteration (once per iteration), with its policy when it is one agent's
    (a population's state, saved with an explicit ``step``, has no single policy)."""
    single = step is None
    step = int(ts.step) if single else step
    if step in mngr.all_steps():
        return
    items = {"state": ocp.args.StandardSave(ts)}
    if single:
        items["policy"] = ocp.args.StandardSave(policy_tree(ts))
    mngr.save(step, args=ocp.args.Composite(**items))
    mngr.wait_until_finished()


def _restore(mngr: ocp.CheckpointManager, step: int, item: str, like: Any = None) -> Any:
    args = ocp.args.StandardRestore(None if like is None else jax.tree.map(ocp.utils.to_shape_dtype_struct, like))
    try:
        return mngr.restore(step, args=ocp.args.Composite(**{item: args}))[item]
    except Exception as e:  # orbax raises many types for damaged files; all mean "cannot read"
        raise CheckpointError(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None


def restore(mngr: ocp.CheckpointManager, item: str, like: Any = None, step: int | None = None,
            fix: str = "rerun with --resume-from {step}") -> tuple[Any, int]:
    """The ``item`` (``state`` or ``policy``) of checkpoint ``step`` (default: the latest) and its
    step; a damaged checkpoint is a :class:`CheckpointError` naming the newest intact one and
    ``fix`` (formatted with its step)."""
    steps = sorted(mngr.all_steps())
    where = mngr.directory
    if not steps:
        raise CheckpointError(f"'{where}' holds no checkpoint yet")
    if step is None:
        step = steps[-1]
    elif step not in steps:
        raise CheckpointError(f"'{where}' has no checkpoint {step}; it has: {', '.join(map(str, steps))}")
    try:
        return _restore(mngr, step, item, like), step
    except CheckpointError as e:
        for older in reversed([s for s in steps if s < step]):
            try:
                _restore(mngr, older, item, like)
            except CheckpointError:
                continue
            raise CheckpointError(f"checkpoint {step} in '{where}' is damaged ({e}); checkpoint {older} is intact: "
                                  + fix.format(step=older)) from None
        raise CheckpointError(f"checkpoint {step} in '{where}' is damaged ({e}) and no older one is intact; "
                              "start a new run") from None
