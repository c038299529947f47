"""A trained policy: design menus for any number of environments (``contractjax solve``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from contractjax import batch, files
from contractjax.domain import FLOAT32_MAX, InputError
from contractjax.solver import checkpoint, config, pruning
from contractjax.solver.program import Stats, TrainState, for_config


@dataclasses.dataclass
class Policy:
    """Actor parameters (online or target, by ``config.eval_actor``), pruning masks and observation
    statistics of a trained run (host arrays). Its actions follow ``config.eval_chain``."""

    config: config.Config
    actor: Any
    masks: tuple[np.ndarray, ...]
    obs_mean: np.ndarray
    obs_std: np.ndarray

    @classmethod
    def from_state(cls, cfg: config.Config, ts: TrainState) -> Policy:
        """The policy of a training state (copied to the host)."""
        actor = ts.agent.actor
        params = actor.target if cfg.eval_actor == "target" else actor.params
        return cls(cfg, *jax.device_get((params, tuple(actor.masks), ts.stats.obs_mean, ts.stats.obs_std)))

    @property
    def stats(self) -> Stats:
        return Stats(self.obs_mean, self.obs_std, np.float32(1.0))

    def compact(self) -> Policy:
        """The same policy with pruned neurons physically dropped (equal outputs, fewer parameters)."""
        params, widths = pruning.compact(self.actor, self.masks)
        return Policy(self.config.replace(actor_hidden=widths), params,
                      tuple(np.ones(w, np.float32) for w in widths), self.obs_mean, self.obs_std)

    def parameter_counts(self) -> dict[str, int]:
        return {"full": pruning.count(self.actor), "active": pruning.count_active(self.actor, self.masks),
                "compact": pruning.count(pruning.compact(self.actor, self.masks)[0])}

    def actions(self, envs: Mapping[str, np.ndarray], seed: int = 0) -> np.ndarray:
        return for_config(self.config).actions(self.actor, self.masks, self.stats, envs, seed,
                                               deterministic=self.config.eval_chain == "mean")

    def menus(self, envs: Mapping[str, np.ndarray], seed: int = 0, polish: int = 0) -> dict[str, np.ndarray]:
        """Menus (float64) for a batch of environments; deterministic given ``seed``. ``polish``:
        that many steps of local search from the policy's actions (:func:`contractjax.batch.polish_menus`;
        no environment gets worse)."""
        batch.check_seed(seed)
        prog = for_config(self.config)
        envs = files.validate_envs(prog.scenario, envs)
        dims = files.dims_of(prog.scenario, envs)
        if dims != prog.dims:
            raise InputError(f"environments have dimensions {dims} but the policy was trained for {prog.dims}; "
                             "train on these dimensions (config field 'dims')")
        check_float32(envs, "environments")
        actions = self.actions(envs, seed)
        if polish:
            if self.config.param not in ("efforts",):
                raise InputError(f"polish needs an action space feasible by construction (param=efforts); this "
                                 f"policy was trained with param={self.config.param}")
            menus = batch.polish_menus(prog.scenario, envs, actions, polish, self.config.param)
        else:
            menus = prog.menus(envs, actions)
        bad = [k for k, v in menus.items() if not np.all(np.isfinite(v))]
        if bad:
            i = int(np.argwhere(~np.isfinite(np.asarray(menus[bad[0]])))[0][0])
            raise InputError(f"the policy's menu for environment {i} is not finite (field '{bad[0]}'): that "
                             "environment's values are beyond the model's arithmetic (extreme magnitudes: give other "
                             "environments), or the policy's parameters are damaged (retrain)")
        return menus


def check_float32(envs: Mapping[str, np.ndarray], what: str) -> None:
    """The learned policy acts in float32: a field beyond its range is one line naming it."""
    for k, v in envs.items():
        big = np.abs(np.asarray(v, np.float64)) > FLOAT32_MAX
        if np.any(big):
            i = int(np.argwhere(big)[0][0])
            raise InputError(f"{what}: field '{k}' of environment {i} is {float(np.asarray(v)[big][0]):g}, beyond "
                             f"the float32 range (±{FLOAT32_MAX:.3g}) in which learned policies act; give smaller values")


def read_config(root: Path) -> config.Config:
    """The ``config.json`` of a training output folder (one-line errors when missing or damaged)."""
    f = root / "config.json"
    try:
        data = json.loads(f.read_text())
    except OSError as e:
        raise InputError(f"'{f}' cannot be read ({e.strerror}); give the output folder of a training run") from None
    except ValueError as e:
        raise InputError(f"'{f}' is damaged ({e}); restore it or retrain") from None
    if not isinstance(data, dict):
        raise InputError(f"'{f}' is damaged (not an object of Config fields); restore it or retrain")
    try:
        return config.validate(config.coerce(data))
    except ValueError as e:
        raise InputError(f"'{f}': {e}") from None


def load(path: str | Path, step: int | None = None) -> Policy:
    """The policy saved by a training run (its output folder): the latest checkpoint, or ``step``."""
    root = Path(path)
    if root.name == "checkpoints" and not (root / "checkpoints").is_dir():  # the checkpoints/ folder itself
        root = root.parent
    if not (root / "config.json").is_file() or not (root / "checkpoints").is_dir():
        raise InputError(f"`path` '{path}' is not a training output folder (config.json and checkpoints/); "
                         "give the output folder of a training run")
    cfg = read_config(root)
    mngr = checkpoint.manager(root, create=False)
    try:
        got, _ = checkpoint.restore(mngr, "policy", step=step, fix="pass `step={step}`")
    except checkpoint.CheckpointError as e:
        raise InputError(f"`path`: {e}") from None
    finally:
        mngr.close()
    try:
        masks = tuple(np.asarray(m) for m in got["masks"])
        params = jax.tree.map(np.asarray, got["target" if cfg.eval_actor == "target" else "actor"])
        pol = Policy(cfg, params, masks, np.asarray(got["obs_mean"]), np.asarray(got["obs_std"]))
    except (KeyError, TypeError) as e:
        raise InputError(f"`path` '{path}': the saved policy is damaged (missing {e}); retrain") from None
    expected = for_config(cfg).state_shapes(cfg).agent.actor.params
    same = jax.tree.structure(expected) == jax.tree.structure(params) and all(
        np.shape(a) == b.shape for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(expected), strict=True))
    if not same:
        raise InputError(f"`path` '{path}': the saved actor does not have the shapes its config.json describes "
                         "(was config.json edited?); restore the run's own config.json or retrain")
    return pol


def solve(policy: Policy | str | Path, envs: Mapping[str, np.ndarray], seed: int = 0,
          polish: int = 0) -> dict[str, np.ndarray]:
    """Learned menus for ``envs``: ``contractjax.solve(path_or_policy, envs)``; ``polish`` steps
    of local search from them (:meth:`Policy.menus`)."""
    if not isinstance(policy, Policy | str | Path):
        raise InputError(f"argument 'policy' = {policy!r}: give a Policy or the folder of a training run")
    pol = policy if isinstance(policy, Policy) else load(policy)
    return pol.menus(envs, seed, polish)
