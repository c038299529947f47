"""Deterministic policy gradient: ``ddpg`` (Lillicrap et al. 2016), ``td3`` (Fujimoto et al. 2018)
and ``diffusion_ddpg`` (the diffusion chain trained on ``−Q`` with no entropy term: the papers'
DMDDPG baseline, and what the reference PyTorch code GDMOPT trains).

Losses, for a replay minibatch ``(e, a, r[, e'])`` and ``n`` critics (DDPG 1, TD3 and
diffusion-DDPG 2):

* critics: ``Σ_i E (Q_i(e, a) − y)²``, ``y = r`` for one-step episodes or, with ``bootstrap``,
  ``y = r + γ min_i Q̂_i(e', ã')`` with ``ã' = μ̂(e')`` (TD3: plus clipped noise,
  ``clip(ã' + clip(σ̃ z, −c, c), −1, 1)``: target policy smoothing);
* actor, every ``policy_delay`` critic updates (TD3: 2): ``−E Q_1(e, μ_θ(e))`` (DDPG, TD3) or
  ``−E min_i Q_i(e, μ_θ(e))`` (diffusion-DDPG, as GDMOPT), plus ``BOX_WEIGHT · excess`` for the
  chain; targets move by Polyak averaging on the same updates.

Exploration: Gaussian noise of std ``explore_std`` on the action, clipped to the box. With
one-step episodes the target networks and target smoothing do not enter the loss (the TD target
is the reward); clipped double Q and the delay still do.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from contractjax.solver import buffer, updates
from contractjax.solver.actors import Actor
from contractjax.solver.algos.base import BOX_WEIGHT, RewardFn, Rollout
from contractjax.solver.networks import Critic, apply_ensemble
from contractjax.solver.updates import ActorState, CriticState

Array = jax.Array


class DPGState(NamedTuple):
    actor: ActorState
    critic: CriticState
    hyper: Any
    n_updates: Array  # critic updates done (for the delayed actor updates)
    actor_loss: Array  # of the last actor update (reported between delayed updates)


@dataclasses.dataclass(frozen=True, eq=False)
class DPG:
    name: str
    actor: Actor
    critic: Critic
    obs_dim: int
    batch: int
    updates_per_step: int
    n_critics: int = 1
    smoothing: bool = False
    policy_delay: int = 1
    actor_q: str = "first"  # first | min
    bootstrap: bool = False
    replay: bool = True

    def init(self, key: Array, hyper: Any) -> DPGState:
        ka, kc = jax.random.split(key)
        obs, act = jnp.zeros((1, self.obs_dim)), jnp.zeros((1, self.actor.action_dim))
        return DPGState(updates.init_actor(self.actor, ka, self.obs_dim, hyper.actor_lr, hyper.weight_decay),
                        updates.init_critics(self.critic, self.n_critics, kc, hyper.critic_lr, hyper.weight_decay, obs, act),
                        hyper, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32))

    def explore(self, state: DPGState, obs: Array, key: Array) -> tuple[Array, dict[str, Array]]:
        k_pi, k_noise = jax.random.split(key)
        pi = state.actor
        a = self.actor.sample(pi.params, pi.masks, obs, k_pi, 0.0).action
        return jnp.clip(a + state.hyper.explore_std * jax.random.normal(k_noise, a.shape, a.dtype), -1.0, 1.0), {}

    def learn(self, state: DPGState, rollout: Rollout, replay: buffer.Buffer | None, reward_fn: RewardFn,
              key: Array) -> tuple[DPGState, dict[str, Array]]:
        return updates.replay_updates(self.update, state, replay, self.batch, self.updates_per_step, key)

    def update(self, state: DPGState, batch: dict[str, Array], key: Array) -> tuple[DPGState, dict[str, Array]]:
        h, pi = state.hyper, state.actor
        k_next, k_smooth, k_pi = jax.random.split(key, 3)
        obs = batch["obs"]

        y = batch["reward"]
        if self.bootstrap:
            nxt = batch["next_obs"]
            a2 = self.actor.sample(pi.target, pi.masks, nxt, k_next, 0.0).action
            if self.smoothing:
                eps = jnp.clip(h.target_noise * jax.random.normal(k_smooth, a2.shape, a2.dtype), -h.noise_clip,
                               h.noise_clip)
                a2 = jnp.clip(a2 + eps, -1.0, 1.0)
            y = y + h.gamma * jnp.min(apply_ensemble(self.critic, state.critic.target, nxt, a2), axis=0)
        y = jax.lax.stop_gradient(y)

        def critic_loss(p: Any) -> tuple[Array, Array]:
            q = apply_ensemble(self.critic, p, obs, batch["action"])
            return jnp.mean(jnp.sum((q - y) ** 2, axis=0)), q

        (c_loss, q), g = jax.value_and_grad(critic_loss, has_aux=True)(state.critic.params)
        critic = updates.critic_step(state.critic, g, h.critic_lr, h.weight_decay, h.tau)

        def actor_loss(p: Any) -> Array:
            s = self.actor.sample(p, pi.masks, obs, k_pi, 0.0)
            qs = apply_ensemble(self.critic, critic.params, obs, s.action)
            q_pi = qs[0] if self.actor_q == "first" else jnp.min(qs, axis=0)
            return jnp.mean(-q_pi + BOX_WEIGHT * s.excess)

        def improve(actor: ActorState) -> tuple[ActorState, Array]:
            loss, g = jax.value_and_grad(actor_loss)(actor.params)
            return updates.actor_step(actor, g, h.actor_lr, h.weight_decay, h.tau), loss

        if self.policy_delay == 1:
            actor, a_loss = improve(pi)
        else:  # cond: the chain's backward pass runs only on the delayed updates
            actor, a_loss = jax.lax.cond(state.n_updates % self.policy_delay == 0, improve,
                                         lambda a: (a, state.actor_loss), pi)
        metrics = {"critic_loss": c_loss, "actor_loss": a_loss, "q": jnp.mean(q)}
        return DPGState(actor, critic, h, state.n_updates + 1, a_loss), metrics
