"""A trained policy: design menus for any number of environments (``contractjax solve``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from contractjax import io, pruning
from contractjax import training as train

Array = jax.Array


@dataclasses.dataclass
class Policy:
    """Actor parameters, pruning masks and observation normalization of a trained run."""

    config: train.Config
    actor: Any
    masks: tuple[np.ndarray, ...]
    obs_mean: np.ndarray
    obs_std: np.ndarray

    @classmethod
    def from_state(cls, config: train.Config, ts: train.TrainState) -> Policy:
        """The policy of a training state (copied to the host)."""
        actor = ts.sac.actor
        return cls(config, *jax.device_get((actor.params, tuple(actor.masks), ts.obs_mean, ts.obs_std)))

    def compact(self) -> Policy:
        """The same policy with pruned neurons physically dropped (equal outputs, fewer parameters)."""
        params, widths = pruning.compact(self.actor, self.masks)
        return Policy(self.config.replace(actor_hidden=widths), params,
                      tuple(np.ones(w, np.float32) for w in widths), self.obs_mean, self.obs_std)

    def parameter_counts(self) -> dict[str, int]:
        return {"full": pruning.count(self.actor), "active": pruning.count_active(self.actor, self.masks),
                "compact": pruning.count(pruning.compact(self.actor, self.masks)[0])}

    def actions(self, envs: Mapping[str, np.ndarray], seed: int = 0) -> np.ndarray:
        prog = train.program(self.config)
        return train.actions(prog, self.actor, self.masks, self.obs_mean, self.obs_std, envs, seed)

    def menus(self, envs: Mapping[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
        """Menus (float64) for a batch of environments; deterministic given ``seed``."""
        prog = train.program(self.config)
        envs = io.validate_envs(prog.sc, envs)
        dims = io.dims_of(prog.sc, envs)
        if dims != prog.dims:
            raise ValueError(f"environments have dimensions {dims} but the policy was trained for {prog.dims}; "
                             "train on these dimensions (config field 'dims')")
        return train.menus_from_actions(prog, envs, self.actions(envs, seed))


def load(path: str | Path) -> Policy:
    """The latest policy saved by a training run (its output folder)."""
    import orbax.checkpoint as ocp

    root = Path(path)
    if root.name == "checkpoints" and not (root / "checkpoints").is_dir():  # the checkpoints/ folder itself
        root = root.parent
    cfg_file = root / "config.json"
    if not cfg_file.is_file() or not (root / "checkpoints").is_dir():
        raise ValueError(f"--checkpoint '{path}' is not a training output folder (config.json and checkpoints/); "
                         "give the --out folder of 'contractjax train'")
    cfg = train.validate(train.coerce(json.loads(cfg_file.read_text())))
    mngr = train.checkpoint_manager(root)
    step = mngr.latest_step()
    if step is None:
        raise ValueError(f"--checkpoint '{path}' has no checkpoint yet; let training write one")
    got = mngr.restore(step, args=ocp.args.Composite(policy=ocp.args.StandardRestore()))["policy"]
    mngr.close()
    masks = tuple(np.asarray(m) for m in got["masks"])
    return Policy(cfg, jax.tree.map(np.asarray, got["actor"]), masks, np.asarray(got["obs_mean"]),
                  np.asarray(got["obs_std"]))


def solve(policy: Policy | str | Path, envs: Mapping[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """Learned menus for ``envs``: ``contractjax.solve(path_or_policy, envs)``."""
    pol = policy if isinstance(policy, Policy) else load(policy)
    return pol.menus(envs, seed)

