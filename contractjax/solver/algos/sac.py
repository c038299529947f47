"""Soft actor-critic with twin critics (Haarnoja et al. 2018): ``diffusion_sac`` (the papers'
solver: the diffusion chain as the actor) and ``sac`` (a tanh-Gaussian actor).

Losses, for a replay minibatch ``(e, a, r[, e'])``, with ``ℓ`` the actor's log-density (exact for
the Gaussian; the DIME bound along the chain for the diffusion actor, Celik et al. 2025):

* critics: ``Σ_i E (Q_i(e, a) − y)²`` with ``y = r`` for one-step episodes (every draw of the
  environment is a fresh decision), or ``y = r + γ (min_i Q̂_i(e', a') − α ℓ(a'|e'))``,
  ``a' ~ π̂(·|e')`` (target actor), when the draws are one continuing stream (``bootstrap``);
* actor: ``E[α ℓ(a|e) − min_i Q_i(e, a)] + BOX_WEIGHT · excess``, ``a ~ π_θ(·|e)`` reparameterized
  (through the whole chain for the diffusion actor);
* temperature (``auto_alpha``): ``−log α · (E ℓ + H̄)`` (Haarnoja et al. 2018b, eq. 18).

Targets move by Polyak averaging with rate ``τ``. Exploration: the diffusion chain's last step
has std ``explore_std``; the Gaussian actor explores with its own noise.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from contractjax.solver import buffer, updates
from contractjax.solver.actors import Actor
from contractjax.solver.algos.base import BOX_WEIGHT, RewardFn, Rollout
from contractjax.solver.networks import Critic, apply_ensemble
from contractjax.solver.updates import ActorState, CriticState

Array = jax.Array


class SACState(NamedTuple):
    actor: ActorState
    critic: CriticState
    log_alpha: Array
    alpha_opt: Any
    hyper: Any


def _alpha_opt(lr: Array) -> optax.GradientTransformation:
    return optax.adam(learning_rate=lr)


@dataclasses.dataclass(frozen=True, eq=False)
class SAC:
    name: str
    actor: Actor
    critic: Critic
    obs_dim: int
    batch: int
    updates_per_step: int
    auto_alpha: bool = False
    bootstrap: bool = False
    replay: bool = True

    def init(self, key: Array, hyper: Any) -> SACState:
        ka, kc = jax.random.split(key)
        obs, act = jnp.zeros((1, self.obs_dim)), jnp.zeros((1, self.actor.action_dim))
        log_alpha = jnp.log(jnp.asarray(hyper.alpha, jnp.float32))
        return SACState(
            updates.init_actor(self.actor, ka, self.obs_dim, hyper.actor_lr, hyper.weight_decay),
            updates.init_critics(self.critic, 2, kc, hyper.critic_lr, hyper.weight_decay, obs, act),
            log_alpha, _alpha_opt(hyper.alpha_lr).init(log_alpha), hyper)

    def explore(self, state: SACState, obs: Array, key: Array) -> tuple[Array, dict[str, Array]]:
        pi = state.actor
        return self.actor.sample(pi.params, pi.masks, obs, key, state.hyper.explore_std).action, {}

    def learn(self, state: SACState, rollout: Rollout, replay: buffer.Buffer | None, reward_fn: RewardFn,
              key: Array) -> tuple[SACState, dict[str, Array]]:
        return updates.replay_updates(self.update, state, replay, self.batch, self.updates_per_step, key)

    def _min_q(self, params: Any, obs: Array, a: Array) -> Array:
        return jnp.min(apply_ensemble(self.critic, params, obs, a), axis=0)

    def update(self, state: SACState, batch: dict[str, Array], key: Array) -> tuple[SACState, dict[str, Array]]:
        """One gradient step of the critics, the actor and (optionally) the temperature."""
        h, pi = state.hyper, state.actor
        alpha = jnp.exp(state.log_alpha)
        k_next, k_pi = jax.random.split(key)
        obs = batch["obs"]

        y = batch["reward"]
        if self.bootstrap:
            nxt = self.actor.sample(pi.target, pi.masks, batch["next_obs"], k_next, h.explore_std)
            y = y + h.gamma * (self._min_q(state.critic.target, batch["next_obs"], nxt.action) - alpha * nxt.log_prob)
        y = jax.lax.stop_gradient(y)

        def critic_loss(p: Any) -> tuple[Array, Array]:
            q = apply_ensemble(self.critic, p, obs, batch["action"])
            return jnp.mean(jnp.sum((q - y) ** 2, axis=0)), q

        (c_loss, q), g = jax.value_and_grad(critic_loss, has_aux=True)(state.critic.params)
        critic = updates.critic_step(state.critic, g, h.critic_lr, h.weight_decay, h.tau)

        def actor_loss(p: Any) -> tuple[Array, Array]:
            s = self.actor.sample(p, pi.masks, obs, k_pi, h.explore_std)
            return jnp.mean(alpha * s.log_prob - self._min_q(critic.params, obs, s.action) + BOX_WEIGHT * s.excess), \
                s.log_prob

        (a_loss, logp), g = jax.value_and_grad(actor_loss, has_aux=True)(pi.params)
        actor = updates.actor_step(pi, g, h.actor_lr, h.weight_decay, h.tau)

        log_alpha, alpha_opt = state.log_alpha, state.alpha_opt
        if self.auto_alpha:
            err = jax.lax.stop_gradient(jnp.mean(logp) + h.target_entropy)
            upd, alpha_opt = _alpha_opt(h.alpha_lr).update(-err, alpha_opt)  # d/d log α of −log α · (E ℓ + H̄)
            log_alpha = log_alpha + upd

        metrics = {"critic_loss": c_loss, "actor_loss": a_loss, "q": jnp.mean(q), "log_pi": jnp.mean(logp),
                   "alpha": jnp.exp(log_alpha)}
        return SACState(actor, critic, log_alpha, alpha_opt, h), metrics
