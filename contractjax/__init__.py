"""contractjax — optimal incentive contracts under information asymmetry, in JAX.

Quick use::

    import contractjax as cj
    envs = cj.sample_envs("dt", n=1000, seed=0)
    menus = cj.oracle("dt", envs)               # exact optimum, IR + IC
    report = cj.evaluate("dt", envs, menus)      # utilities, feasibility, every slack
    run = cj.train("dt", out="runs/dt")          # diffusion SAC; run["eval"]["gap"] vs the oracle
    learned = cj.solve("runs/dt", envs)          # menus from the trained policy

Bad arguments raise :class:`InputError` (a ``ValueError``) with one line naming the argument.
"""

from contractjax import core, scenarios
from contractjax.batch import baseline_menus, evaluate, gap, oracle, random_menus, sample_envs
from contractjax.domain import InputError
from contractjax.solver import Config, Policy, solve, sweep, train

__all__ = ["Config", "InputError", "Policy", "baseline_menus", "core", "evaluate", "gap", "oracle", "random_menus",
           "sample_envs", "scenarios", "solve", "sweep", "train"]
