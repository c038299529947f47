"""Twin-critic soft actor-critic around the diffusion actor (SPEC §4.2), with the actor's
dynamic structured pruning (SPEC §4.3) applied inside the update.

Everything is a pure function of explicit state. The static structure (network widths, number of
denoising steps, schedule, which losses are on) lives in :class:`Nets`; every number a sweep may
vary lives in :class:`Hyper` as a traced array, so changing it (or vmapping over it) does not
recompile.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from contractjax import diffusion, pruning
from contractjax.networks import Critic, NoiseNet, apply_twin, full_masks, init_twin

Array = jax.Array
PRUNING = ("none", "dt", "agent")
#: Weight of the squared excess of the chain's raw predictions over the action box in the actor
#: loss: the clips pass gradients straight through, and this keeps the raw values near the box.
BOX_WEIGHT = 1.0


class Hyper(NamedTuple):
    """Traced hyperparameters (scalars, or ``[n_agents]`` arrays when agents are vmapped)."""

    actor_lr: Array
    critic_lr: Array
    alpha_lr: Array
    weight_decay: Array
    tau: Array  # Polyak rate of the target networks
    gamma: Array  # discount; only used when bootstrapping (see Nets.bootstrap)
    alpha: Array  # initial (or fixed) entropy temperature
    target_entropy: Array  # for the auto-tuned temperature
    explore_std: Array  # std of the exploration noise added at the chain's last step
    prune_rate: Array  # target sparsity ω̂ (DT) or fixed pruning rate (AGENT)
    penalty: Array  # weight of the scaled IR/IC violation in the principal reward


@dataclasses.dataclass(frozen=True, eq=False)
class Nets:
    """Static structure of the agent: modules, schedule, switches."""

    actor: NoiseNet
    critic: Critic
    sched: diffusion.Schedule
    obs_dim: int
    unroll: int = 1
    auto_alpha: bool = False
    bootstrap: bool = False  # False: every transition ends its episode (d = 1), the TD target is r
    pruning: str = "dt"
    prune_every: int = 100
    prune_steps: int = 20

    @property
    def action_dim(self) -> int:
        return self.actor.action_dim


class ActorState(NamedTuple):
    params: Any
    target: Any
    opt: Any
    masks: tuple[Array, ...]


class CriticState(NamedTuple):
    params: Any  # two independent critics, leading axis 2
    target: Any
    opt: Any


class SACState(NamedTuple):
    actor: ActorState
    critic: CriticState
    log_alpha: Array
    alpha_opt: Any
    hyper: Hyper


class Batch(NamedTuple):
    obs: Array
    action: Array
    reward: Array
    next_obs: Array | None = None


def _adam(lr: Array, wd: Array) -> optax.GradientTransformation:
    return optax.inject_hyperparams(optax.adamw)(learning_rate=lr, weight_decay=wd)


def _alpha_opt(lr: Array) -> optax.GradientTransformation:
    return optax.inject_hyperparams(optax.adam)(learning_rate=lr)


def init(nets: Nets, key: Array, hyper: Hyper) -> SACState:
    """Fresh parameters, targets equal to the online networks, nothing pruned."""
    ka, kc = jax.random.split(key)
    obs = jnp.zeros((1, nets.obs_dim))
    act = jnp.zeros((1, nets.action_dim))
    masks = full_masks(nets.actor.hidden)
    ap = nets.actor.init(ka, act, obs, jnp.zeros((), jnp.int32), masks)
    cp = init_twin(nets.critic, kc, obs, act)
    log_alpha = jnp.log(jnp.asarray(hyper.alpha, jnp.float32))
    return SACState(
        actor=ActorState(ap, ap, _adam(hyper.actor_lr, hyper.weight_decay).init(ap), masks),
        critic=CriticState(cp, cp, _adam(hyper.critic_lr, hyper.weight_decay).init(cp)),
        log_alpha=log_alpha,
        alpha_opt=_alpha_opt(hyper.alpha_lr).init(log_alpha),
        hyper=hyper,
    )


def act(nets: Nets, params: Any, masks: tuple[Array, ...], obs: Array, key: Array,
        final_std: Array | float) -> tuple[Array, Array, Array]:
    """Sample actions for a batch of observations: ``(a, log π surrogate, box excess)``
    (:func:`contractjax.diffusion.sample`)."""
    k0, k1 = jax.random.split(key)
    x_T = jax.random.normal(k0, (*obs.shape[:-1], nets.action_dim), obs.dtype)
    noise = jax.random.normal(k1, (nets.sched.betas.shape[0], *x_T.shape), obs.dtype)
    eps_fn = lambda x, t: nets.actor.apply(params, x, obs, t, masks)
    return diffusion.sample(eps_fn, nets.sched, x_T, noise, final_std, nets.unroll)


def _min_q(nets: Nets, params: Any, obs: Array, a: Array) -> Array:
    return jnp.min(apply_twin(nets.critic, params, obs, a), axis=0)


def update(nets: Nets, st: SACState, batch: Batch, key: Array) -> tuple[SACState, dict[str, Array]]:
    """One gradient step of the critics, the actor and (optionally) the temperature."""
    h = st.hyper
    alpha = jnp.exp(st.log_alpha)
    k_next, k_pi = jax.random.split(key)

    # Critics: TD target r + γ (min Q̂(e', a') − α log π(a'|e')) for continuing streams, else r.
    y = batch.reward
    if nets.bootstrap:
        a2, logp2, _ = act(nets, st.actor.target, st.actor.masks, batch.next_obs, k_next, h.explore_std)
        y = y + h.gamma * (_min_q(nets, st.critic.target, batch.next_obs, a2) - alpha * logp2)
    y = jax.lax.stop_gradient(y)

    def critic_loss(p):
        q = apply_twin(nets.critic, p, batch.obs, batch.action)
        return jnp.mean(jnp.sum((q - y) ** 2, axis=0)), q

    (c_loss, q), g = jax.value_and_grad(critic_loss, has_aux=True)(st.critic.params)
    upd, c_opt = _adam(h.critic_lr, h.weight_decay).update(g, st.critic.opt, st.critic.params)
    c_params = optax.apply_updates(st.critic.params, upd)
    critic = CriticState(c_params, optax.incremental_update(c_params, st.critic.target, h.tau), c_opt)

    # Actor: E[α log π(a|e) − min Q(e, a)], the action differentiated through the whole chain.
    mult = pruning.param_masks(st.actor.params, st.actor.masks)

    def actor_loss(p):
        a, logp, excess = act(nets, p, st.actor.masks, batch.obs, k_pi, h.explore_std)
        return jnp.mean(alpha * logp - _min_q(nets, c_params, batch.obs, a) + BOX_WEIGHT * excess), logp

    (a_loss, logp), g = jax.value_and_grad(actor_loss, has_aux=True)(st.actor.params)
    g = pruning.apply(g, mult)  # pruned neurons get no gradient ...
    upd, a_opt = _adam(h.actor_lr, h.weight_decay).update(g, st.actor.opt, st.actor.params)
    a_params = pruning.apply(optax.apply_updates(st.actor.params, upd), mult)  # ... nor weight decay
    a_opt = pruning.mask_opt_state(a_opt, mult)  # ... nor Adam moments that would revive them
    a_target = pruning.apply(optax.incremental_update(a_params, st.actor.target, h.tau), mult)
    actor = ActorState(a_params, a_target, a_opt, st.actor.masks)

    log_alpha, alpha_opt = st.log_alpha, st.alpha_opt
    if nets.auto_alpha:
        err = jax.lax.stop_gradient(jnp.mean(logp) + h.target_entropy)
        g = -err  # d/d log α of −log α · (E log π + H̄)
        upd, alpha_opt = _alpha_opt(h.alpha_lr).update(g, alpha_opt)
        log_alpha = log_alpha + upd

    metrics = {"critic_loss": c_loss, "actor_loss": a_loss, "q": jnp.mean(q), "log_pi": jnp.mean(logp),
               "alpha": jnp.exp(log_alpha)}
    return SACState(actor, critic, log_alpha, alpha_opt, h), metrics


def prune(nets: Nets, actor: ActorState, step: Array, rate: Array) -> ActorState:
    """Recompute the masks every ``prune_every`` iterations and zero the pruned weights in the
    online and target actor and in Adam's moments (SPEC §4.3).

    DT: fraction ``ω_z`` on the cubic schedule over ``prune_steps`` pruning steps, L1 importance.
    AGENT: the fixed ``rate``, L2 row norms."""
    if nets.pruning == "none":
        return actor
    if nets.pruning == "dt":
        frac, norm = pruning.cubic_sparsity(step, rate, nets.prune_steps, nets.prune_every), "l1"
    else:
        frac, norm = rate, "l2"
    def recompute(actor: ActorState) -> ActorState:
        masks = pruning.update_masks(actor.params, actor.masks, frac, norm)
        mult = pruning.param_masks(actor.params, masks)
        return ActorState(pruning.apply(actor.params, mult), pruning.apply(actor.target, mult),
                          pruning.mask_opt_state(actor.opt, mult), masks)

    # cond, not where: the sorts run only when due (on one agent; vmapped agents select)
    return jax.lax.cond(step % nets.prune_every == 0, recompute, lambda a: a, actor)


def sparsity(masks: tuple[Array, ...]) -> Array:
    """Fraction of hidden neurons pruned."""
    return 1.0 - sum(jnp.sum(m) for m in masks) / sum(m.shape[-1] for m in masks)
