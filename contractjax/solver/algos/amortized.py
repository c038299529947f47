"""Amortized optimization: no critic — the actor is trained on the exact gradient of the
scenario's differentiable reward through the action → menu map, as learned mechanism design
trains its networks (RegretNet / RochetNet, Dütting et al. 2019).

Each iteration draws fresh environments ``e`` and takes ``updates_per_step`` steps on
``−E r(e, a_θ(e)) + BOX_WEIGHT · excess``, with ``a_θ`` a plain ``tanh`` MLP (``actor = "mlp"``,
the default) or the diffusion chain (``actor = "diffusion"``; noise from the key, no exploration
noise). None of the four papers ran it; it shows what the critic's gradient estimate costs the RL
algorithms. The chain is a poor fit here: the exact gradient passes its straight-through clips
as if they were not there (dt, quick preset, 3,000 iterations: 19.9 % gap with the chain, 1.4 %
with the MLP).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from contractjax.solver import buffer, updates
from contractjax.solver.actors import Actor
from contractjax.solver.algos.base import BOX_WEIGHT, RewardFn, Rollout
from contractjax.solver.updates import ActorState

Array = jax.Array


class AmortizedState(NamedTuple):
    actor: ActorState
    hyper: Any


@dataclasses.dataclass(frozen=True, eq=False)
class Amortized:
    name: str
    actor: Actor
    obs_dim: int
    updates_per_step: int
    replay: bool = False

    def init(self, key: Array, hyper: Any) -> AmortizedState:
        return AmortizedState(updates.init_actor(self.actor, key, self.obs_dim, hyper.actor_lr, hyper.weight_decay), hyper)

    def explore(self, state: AmortizedState, obs: Array, key: Array) -> tuple[Array, dict[str, Array]]:
        pi = state.actor
        return self.actor.sample(pi.params, pi.masks, obs, key, 0.0).action, {}

    def learn(self, state: AmortizedState, rollout: Rollout, replay: buffer.Buffer | None, reward_fn: RewardFn,
              key: Array) -> tuple[AmortizedState, dict[str, Array]]:
        h = state.hyper

        def step(actor: ActorState, k: Array) -> tuple[ActorState, Array]:
            def loss(p: Any) -> Array:
                s = self.actor.sample(p, actor.masks, rollout.obs, k, 0.0)
                return jnp.mean(-reward_fn(s.action) + BOX_WEIGHT * s.excess)

            value, g = jax.value_and_grad(loss)(actor.params)
            return updates.actor_step(actor, g, h.actor_lr, h.weight_decay, h.tau), value

        actor, losses = jax.lax.scan(step, state.actor, jax.random.split(key, self.updates_per_step))
        return AmortizedState(actor, h), {"actor_loss": jnp.mean(losses)}
