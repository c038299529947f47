"""What every algorithm provides to the training program, and what the program gives it.

An algorithm is a frozen dataclass of static structure (its actor, critics, sizes) with pure
methods over its own state pytree. The state always has an ``actor``
(:class:`~contractjax.solver.updates.ActorState`, which pruning, checkpoints and ``Policy`` use)
and the traced ``hyper``. One training iteration of the program (:mod:`contractjax.solver.program`)
calls, in order:

1. ``explore(state, obs, key) -> (actions, extras)`` on a batch of fresh environments;
2. the program rewards the actions (the scenario's objective) and, when ``replay`` is true,
   stores the transitions in the on-device replay buffer;
3. ``learn(state, rollout, replay, reward_fn, key) -> (state, metrics)``: off-policy algorithms
   sample the replay buffer, PPO learns from the rollout, the amortized solver differentiates
   ``reward_fn`` (the exact reward of any actions on the rollout's environments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax

from contractjax.solver import buffer
from contractjax.solver.actors import Actor

Array = jax.Array
#: Weight of the squared excess of the diffusion chain's raw predictions over the action box in
#: every actor loss: the chain's clips pass gradients straight through, and this keeps the raw
#: values near the box (with hard clips the actor stalls at the bounds).
BOX_WEIGHT = 1.0


class Rollout(NamedTuple):
    """The iteration's fresh environments: observations, executed actions, rewards, and what the
    algorithm's ``explore`` returned beside the actions (PPO: pre-squash sample, log-density,
    value)."""

    obs: Array
    action: Array
    reward: Array
    extras: dict[str, Array]


RewardFn = Callable[[Array], Array]


class Algorithm(Protocol):
    name: str
    actor: Actor
    replay: bool  # learns from the replay buffer

    def init(self, key: Array, hyper: Any) -> Any: ...

    def explore(self, state: Any, obs: Array, key: Array) -> tuple[Array, dict[str, Array]]: ...

    def learn(self, state: Any, rollout: Rollout, replay: buffer.Buffer | None, reward_fn: RewardFn,
              key: Array) -> tuple[Any, dict[str, Array]]: ...
