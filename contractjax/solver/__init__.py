"""The learning solver: a conditional diffusion model as the actor of a twin-critic soft
actor-critic with dynamic structured pruning — and the baseline algorithms of the papers — in
one compiled training program.

Modules, in import order: ``config`` (fields, presets), ``diffusion``, ``networks``, ``actors``,
``pruning``, ``buffer``, ``updates``, ``algos`` (one module per algorithm), ``program`` (the
compiled chunk and its entry points), ``evaluation``, ``checkpoint``, ``policy``,
``training`` (``run``, ``train``), ``sweeps`` (populations and sweeps).
"""

from contractjax.solver.config import Config, make_config
from contractjax.solver.policy import Policy, load, solve
from contractjax.solver.program import Program, TrainState, for_config, initial_state
from contractjax.solver.sweeps import sweep
from contractjax.solver.training import run, train

__all__ = ["Config", "Policy", "Program", "TrainState", "for_config", "initial_state", "load", "make_config", "run",
           "solve", "sweep", "train"]
