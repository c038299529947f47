"""Proximal policy optimization (Schulman et al. 2017) with a tanh-Gaussian actor and a learned
value baseline.

Every environment draw is a one-step episode, so the return is the reward and the advantage is
``A = r − V(e)`` (no bootstrapping, no GAE). Each iteration acts on a fresh batch of environments
(``envs_per_step``), then runs ``ppo_epochs`` passes of ``ppo_minibatches`` minibatches over it,
all inside the compiled chunk. For a minibatch, with ``u`` the stored pre-squash sample and
``ρ = exp(log N(u; μ_θ, σ_θ) − log N_old(u))`` (the tanh Jacobian cancels in the ratio):

* actor: ``−E min(ρ Â, clip(ρ, 1 − ε, 1 + ε) Â) − c_H E H[N(μ_θ, σ_θ)]`` with ``Â`` the advantage
  normalized over the minibatch (eq. 7 of the paper, plus the entropy bonus of its eq. 9);
* value: ``c_V E (V(e) − r)²`` (its own optimizer, learning rate ``critic_lr``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from contractjax.solver import buffer, updates
from contractjax.solver.actors import GaussianActor, gaussian_entropy, gaussian_log_prob
from contractjax.solver.algos.base import RewardFn, Rollout
from contractjax.solver.networks import Critic, apply_ensemble
from contractjax.solver.updates import ActorState, CriticState

Array = jax.Array


class PPOState(NamedTuple):
    actor: ActorState
    value: CriticState  # an ensemble of one V(e)
    hyper: Any


@dataclasses.dataclass(frozen=True, eq=False)
class PPO:
    name: str
    actor: GaussianActor
    critic: Critic
    obs_dim: int
    epochs: int
    minibatches: int
    replay: bool = False

    def init(self, key: Array, hyper: Any) -> PPOState:
        ka, kv = jax.random.split(key)
        return PPOState(updates.init_actor(self.actor, ka, self.obs_dim, hyper.actor_lr, hyper.weight_decay),
                        updates.init_critics(self.critic, 1, kv, hyper.critic_lr, hyper.weight_decay,
                                     jnp.zeros((1, self.obs_dim))), hyper)

    def _value(self, params: Any, obs: Array) -> Array:
        return apply_ensemble(self.critic, params, obs)[0]

    def explore(self, state: PPOState, obs: Array, key: Array) -> tuple[Array, dict[str, Array]]:
        pi = state.actor
        mean, log_std = self.actor.distribution(pi.params, pi.masks, obs)
        u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
        extras = {"u": u, "log_prob": gaussian_log_prob(u, mean, log_std),
                  "value": self._value(state.value.params, obs)}
        return jnp.tanh(u), extras

    def learn(self, state: PPOState, rollout: Rollout, replay: buffer.Buffer | None, reward_fn: RewardFn,
              key: Array) -> tuple[PPOState, dict[str, Array]]:
        n = rollout.obs.shape[0]
        data = {"obs": rollout.obs, "u": rollout.extras["u"], "log_prob": rollout.extras["log_prob"],
                "ret": rollout.reward, "adv": rollout.reward - rollout.extras["value"]}

        def epoch(state: PPOState, k: Array) -> tuple[PPOState, dict[str, Array]]:
            order = jax.random.permutation(k, n).reshape(self.minibatches, -1)
            return jax.lax.scan(self.update, state, jax.tree.map(lambda x: x[order], data))

        state, metrics = jax.lax.scan(epoch, state, jax.random.split(key, self.epochs))
        return state, jax.tree.map(jnp.mean, metrics)

    def update(self, state: PPOState, mb: dict[str, Array]) -> tuple[PPOState, dict[str, Array]]:
        h, pi = state.hyper, state.actor
        adv = (mb["adv"] - jnp.mean(mb["adv"])) / (jnp.std(mb["adv"]) + 1e-8)

        def actor_loss(p: Any) -> tuple[Array, tuple[Array, Array]]:
            mean, log_std = self.actor.distribution(p, pi.masks, mb["obs"])
            ratio = jnp.exp(gaussian_log_prob(mb["u"], mean, log_std) - mb["log_prob"])
            clipped = jnp.clip(ratio, 1.0 - h.clip_eps, 1.0 + h.clip_eps)
            entropy = jnp.mean(gaussian_entropy(log_std))
            return -jnp.mean(jnp.minimum(ratio * adv, clipped * adv)) - h.ent_coef * entropy, (entropy, ratio)

        (a_loss, (entropy, ratio)), g = jax.value_and_grad(actor_loss, has_aux=True)(pi.params)
        actor = updates.actor_step(pi, g, h.actor_lr, h.weight_decay, h.tau)

        def value_loss(p: Any) -> Array:
            return h.vf_coef * jnp.mean((self._value(p, mb["obs"]) - mb["ret"]) ** 2)

        v_loss, g = jax.value_and_grad(value_loss)(state.value.params)
        value = updates.critic_step(state.value, g, h.critic_lr, h.weight_decay, h.tau)
        metrics = {"actor_loss": a_loss, "value_loss": v_loss, "entropy": entropy,
                   "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > h.clip_eps).astype(jnp.float32))}
        return PPOState(actor, value, h), metrics
