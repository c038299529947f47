"""Orbax checkpoints of a training run: the whole training state (to resume) and the policy
(actor parameters, masks, observation statistics: what ``solve`` needs), written between
compiled chunks, never inside them. The latest two are kept.

A damaged checkpoint is an error naming it, and the newest intact one to fall back to. A
checkpoint from an earlier version resumes when it lacks only hyperparameters added since (the
run's configuration sets them); any other difference in the state is an error saying so.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from contractjax.domain import InputError
from contractjax.solver.program import TrainState

KEEP = 2


class CheckpointError(InputError):
    """A missing or damaged checkpoint (the message names the folder, the step and the fix)."""


def manager(out: Path, create: bool = True) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        (Path(out) / "checkpoints").resolve(),
        # written between chunks anyway; synchronous saves fail in the caller, not in orbax's threads
        options=ocp.CheckpointManagerOptions(max_to_keep=KEEP, create=create, enable_async_checkpointing=False),
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
    trees = {"state": ts} | ({"policy": policy_tree(ts)} if single else {})
    where = Path(mngr.directory)
    need = int(1.1 * _nbytes(trees)) + SLACK
    free = shutil.disk_usage(where).free
    if free < need:
        raise OSError(errno.ENOSPC, f"No space left on device for checkpoint {step} (about {need / 2**20:.1f} MiB "
                      f"needed, {free / 2**20:.1f} MiB free)", str(where))
    try:
        with _quiet():
            mngr.save(step, args=ocp.args.Composite(**{k: ocp.args.StandardSave(v) for k, v in trees.items()}))
            mngr.wait_until_finished()
    except Exception as e:
        discard_partial(mngr)
        if _full(e):
            raise OSError(errno.ENOSPC, f"No space left on device for checkpoint {step}", str(where)) from None
        raise


def discard_partial(mngr: ocp.CheckpointManager) -> None:
    """Remove checkpoints that were never finished (orbax's temporary folders; earlier checkpoints
    stay intact)."""
    for partial in Path(mngr.directory).glob("*.orbax-checkpoint-tmp*"):
        shutil.rmtree(partial, ignore_errors=True)


def close(mngr: ocp.CheckpointManager) -> None:
    """Close the manager (waiting for its writes) and remove what a failed write left."""
    try:
        with _quiet():
            mngr.close()
    finally:
        discard_partial(mngr)


#: Room beyond the arrays' own bytes that a checkpoint's metadata takes (about 150 KiB).
SLACK = 192 << 10


def _nbytes(tree: Any) -> int:
    return sum(int(np.prod(np.shape(x))) * np.dtype(getattr(x, "dtype", np.float32)).itemsize
               for x in jax.tree.leaves(tree))


def _full(e: BaseException) -> bool:
    """A full disk, however orbax or tensorstore words it (an ``OSError`` or ``RESOURCE_EXHAUSTED``)."""
    while e is not None:
        if (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)) \
                or "RESOURCE_EXHAUSTED" in str(e) or "No space left" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Orbax logs every failed write of a save at ERROR before raising; the caller reports it once."""
    log = logging.getLogger("absl")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


class VersionError(CheckpointError):
    """A readable checkpoint whose training state has another structure (another version wrote it)."""


#: Leaves that a checkpoint may lack: hyperparameters added since it was written, which the run's
#: configuration sets anyway (a run resumed after an upgrade takes them from it).
FILLABLE = ("agent", "hyper")


def _restore(mngr: ocp.CheckpointManager, step: int, item: str, like: Any = None) -> Any:
    args = ocp.args.StandardRestore(None if like is None else jax.tree.map(ocp.utils.to_shape_dtype_struct, like))
    try:
        with _quiet():
            return mngr.restore(step, args=ocp.args.Composite(**{item: args}))[item]
    except Exception as e:  # orbax raises many types for damaged files; all mean "cannot read"
        error = CheckpointError(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    if like is None:
        raise error from None
    try:  # readable as written? then another version's state, not damage
        with _quiet():
            raw = mngr.restore(step, args=ocp.args.Composite(**{item: ocp.args.StandardRestore(None)}))[item]
    except Exception:
        raise error from None
    return _graft(raw, like)


def _graft(raw: Any, like: Any) -> Any:
    """``like``'s structure filled with ``raw``'s leaves (a checkpoint read as written): leaves
    under :data:`FILLABLE` that ``raw`` lacks keep ``like``'s values; any other difference is a
    :class:`VersionError` naming it."""
    got = {_path(p): v for p, v in jax.tree_util.tree_flatten_with_path(raw)[0]}
    flat, treedef = jax.tree_util.tree_flatten_with_path(like)
    want = {_path(p): v for p, v in flat}
    wrong = [k for k, v in want.items() if (k[:len(FILLABLE)] != FILLABLE if k not in got
                                            else np.shape(got[k]) != np.shape(v))]
    wrong += sorted(set(got) - set(want))
    if wrong:
        raise VersionError(f"it holds another version's training state ({', '.join('.'.join(k) for k in wrong[:4])}"
                           f"{' …' if len(wrong) > 4 else ''} differ)")
    return jax.tree_util.tree_unflatten(treedef, [np.asarray(got[k], np.asarray(v).dtype) if k in got else v
                                                  for k, v in want.items()])


def _path(path: tuple) -> tuple[str, ...]:
    """A pytree key path as the names orbax writes (dict keys, attributes, indices)."""
    return tuple(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def restore(mngr: ocp.CheckpointManager, item: str, like: Any = None, step: int | None = None,
            fix: str = "rerun with `resume_from={step}`") -> tuple[Any, int]:
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
    except VersionError as e:
        raise CheckpointError(f"checkpoint {step} in '{where}' was written by another version of contractjax: "
                              f"{e}; resume with that version or start a new run") from None
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
