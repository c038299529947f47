"""Figures quoted in the README about the heuristic parts of the oracles.

    python scripts/oracle_accuracy.py [--n-agent 4000] [--n-twin 300]

* AGENT: how much report-dependent second-period menus (the oracle) gain over the closed-form
  optimum among the paper's shared menus.
* AIGC: share of environments whose optimum is the corner (L_1, L_2) = (0, L_max).
* TWIN: shortfall of the default multi-start oracle against a ~15x more expensive search
  (2,000 steps, 40 random and 9 scaled complete-information starts); the range of per-type
  complete-information utilities and allocations under the chosen constants; and how many types
  would rather get nothing (b = f = 0, utility 0) when α is lowered to 0.1.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import twin_search  # scripts/ beside this one

import contractjax as cj
from contractjax.scenarios import agent, twin


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-agent", type=int, default=4000)
    p.add_argument("--n-twin", type=int, default=300)
    p.add_argument("--n-aigc", type=int, default=2000)
    args = p.parse_args()
    print(f"device: {jax.devices()[0].device_kind}")

    envs = cj.sample_envs("agent", args.n_agent, seed=1)
    u = cj.evaluate("agent", envs, cj.oracle("agent", envs))["principal_utility"]
    with jax.enable_x64(True):
        shared = jax.vmap(agent._shared_optimum)({k: jnp.asarray(v) for k, v in envs.items()})
    us = cj.evaluate("agent", envs, {k: np.asarray(v) for k, v in shared.items()})["principal_utility"]
    g = (u - us) / np.abs(us)
    print(f"agent: report-dependent gain over shared menus on {args.n_agent} envs: "
          f"improved in {100 * np.mean(g > 1e-9):.1f} %, mean {100 * g.mean():.2f} %, max {100 * g.max():.2f} %")

    envs = cj.sample_envs("aigc", args.n_aigc, seed=0)
    m = cj.oracle("aigc", envs)
    x = np.round(m["L"] / envs["L_max"][:, None], 6)
    print(f"aigc: optimum (0, L_max) in {100 * np.mean((x[:, 0] == 0) & (x[:, 1] == 1)):.1f} %, "
          f"(L_max, L_max) in {100 * np.mean((x[:, 0] == 1) & (x[:, 1] == 1)):.1f} % of {args.n_aigc} envs")

    for label, config in (("chosen constants", None), ("alpha = 0.1", {"alpha": 0.1})):
        envs = cj.sample_envs("twin", 2000, seed=4, config=config)
        ci = cj.oracle("twin", envs, "complete")
        with jax.enable_x64(True):
            per_type = np.asarray(jax.vmap(twin.av_utility)({k: jnp.asarray(v) for k, v in envs.items()},
                                                            {k: jnp.asarray(v) for k, v in ci.items()}))
        print(f"twin ({label}): per-type complete-information utility {per_type.min():.1f} .. {per_type.max():.1f}, "
              f"b* {ci['b'].min():.1f} .. {ci['b'].max():.1f}, f* {ci['f'].min():.1f} .. {ci['f'].max():.1f}, "
              f"types better off with b = f = 0: {100 * np.mean(per_type <= 0):.2f} %")

    envs = cj.sample_envs("twin", args.n_twin, seed=11)
    short = twin_search.shortfall(envs, {}, twin_search.utility(envs, twin_search.REFERENCE)[0])
    print(f"twin: shortfall vs the expensive search on {args.n_twin} envs: mean {short.mean():.2e},"
          f" max {100 * short.max():.3f} %, envs above 1e-4: {int(np.sum(short > 1e-4))}")

if __name__ == "__main__":
    main()
