"""Gap to the oracle of a trained run under each evaluation mode: online or target (Polyak) actor,
the chain's mean path or a sampled chain, on the run's own held-out environments.

    python scripts/eval_modes.py runs/dt runs/twin      # folders written by `contractjax train`

(The README's eval_actor / eval_chain decision was measured this way on quick-preset runs.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np

import contractjax as cj
from contractjax import batch
from contractjax.solver import checkpoint
from contractjax.solver.policy import Policy, read_config
from contractjax.solver.training import eval_seed


def main(folders: list[str]) -> None:
    print(f"device: {jax.devices()[0].device_kind}")
    for folder in folders:
        root = Path(folder)
        cfg = read_config(root)
        mngr = checkpoint.manager(root, create=False)
        saved, step = checkpoint.restore(mngr, "policy")
        mngr.close()
        envs = cj.sample_envs(cfg.scenario, cfg.eval_envs, seed=eval_seed(cfg), dims=dict(cfg.dims),
                              config=dict(cfg.sampler))
        oracle = batch.evaluate(cfg.scenario, envs, cj.oracle(cfg.scenario, envs))["principal_utility"]
        for actor in ("online", "target"):
            for chain in ("mean", "sample"):
                params = jax.tree.map(np.asarray, saved["actor" if actor == "online" else "target"])
                pol = Policy(cfg.replace(eval_actor=actor, eval_chain=chain), params,
                             tuple(np.asarray(m) for m in saved["masks"]), np.asarray(saved["obs_mean"]),
                             np.asarray(saved["obs_std"]))
                ev = batch.evaluate(cfg.scenario, envs, pol.menus(envs))
                gap = batch.gap(ev["principal_utility"], oracle, ev["feasible"])
                print(f"{folder} (iteration {step}): actor {actor:6s} chain {chain:6s} gap {100 * gap:.2f} %")


if __name__ == "__main__":
    main(sys.argv[1:])
