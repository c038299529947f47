"""contractjax — optimal incentive contracts under information asymmetry, in JAX.

Quick use::

    import contractjax as cj
    envs = cj.sample_envs("dt", n=1000, seed=0)
    menus = cj.oracle("dt", envs)               # exact optimum, IR + IC
    report = cj.evaluate("dt", envs, menus)      # utilities, feasibility, every slack
"""

from contractjax import core, scenarios
from contractjax.batch import evaluate, gap, greedy_menus, oracle, random_menus, sample_envs

__all__ = ["core", "evaluate", "gap", "greedy_menus", "oracle", "random_menus", "sample_envs",
           "scenarios"]
