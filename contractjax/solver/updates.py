"""Building blocks shared by every algorithm: optimizer states of actors and critics, one masked
actor step, one critic step, Polyak targets, structured pruning inside training, and scanned
replay updates.

Pruning masks live in the actor's state and act on every actor alike (all name their hidden
layers ``hidden_i``): masked neurons get no gradient, no weight decay and no Adam moments (or
Adam revives them), and the target actor shares the masks (Wen et al. 2024 [DT]; Wen et al. 2025
[AGENT]).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from contractjax.solver import buffer, pruning
from contractjax.solver.actors import Actor
from contractjax.solver.networks import Critic, full_masks, init_ensemble

Array = jax.Array


class ActorState(NamedTuple):
    params: Any
    target: Any
    opt: Any
    masks: tuple[Array, ...]


class CriticState(NamedTuple):
    params: Any  # an ensemble: leading axis = number of critics
    target: Any
    opt: Any


def adamw(lr: Array, weight_decay: Array) -> optax.GradientTransformation:
    """AdamW with traced learning rate and weight decay. Built anew at every step from the
    :data:`Hyper` values, so that they are the one copy (``inject_hyperparams`` would keep a
    second one in the optimizer state, which PBT's perturbations would then miss)."""
    return optax.adamw(learning_rate=lr, weight_decay=weight_decay)


def init_actor(actor: Actor, key: Array, obs_dim: int, lr: Array, weight_decay: Array) -> ActorState:
    params = actor.init(key, obs_dim)
    return ActorState(params, params, adamw(lr, weight_decay).init(params), full_masks(actor.hidden))


def init_critics(critic: Critic, n: int, key: Array, lr: Array, weight_decay: Array, *inputs: Array) -> CriticState:
    params = init_ensemble(critic, n, key, *inputs)
    return CriticState(params, params, adamw(lr, weight_decay).init(params))


def actor_step(state: ActorState, grads: Any, lr: Array, weight_decay: Array, tau: Array) -> ActorState:
    """One masked AdamW step and the Polyak target update."""
    mult = pruning.param_masks(state.params, state.masks)
    grads = pruning.apply(grads, mult)  # pruned neurons get no gradient ...
    upd, opt = adamw(lr, weight_decay).update(grads, state.opt, state.params)
    params = pruning.apply(optax.apply_updates(state.params, upd), mult)  # ... nor weight decay
    opt = pruning.mask_opt_state(opt, mult)  # ... nor Adam moments that would revive them
    target = pruning.apply(optax.incremental_update(params, state.target, tau), mult)
    return ActorState(params, target, opt, state.masks)


def critic_step(state: CriticState, grads: Any, lr: Array, weight_decay: Array, tau: Array) -> CriticState:
    upd, opt = adamw(lr, weight_decay).update(grads, state.opt, state.params)
    params = optax.apply_updates(state.params, upd)
    return CriticState(params, optax.incremental_update(params, state.target, tau), opt)


def prune(kind: str, every: int, n_events: int, actor: ActorState, step: Array, rate: Array) -> ActorState:
    """Recompute the masks every ``every`` iterations and zero the pruned weights in the online and
    target actor and in Adam's moments.

    ``cubic_l1``: fraction ``ω_z`` on the cubic schedule over ``n_events`` pruning events, L1
    importance ([DT] eq. 18). ``fixed_l2``: the fixed ``rate``, L2 row norms ([AGENT], EDMSAC)."""
    if kind == "none":
        return actor
    if kind == "cubic_l1":
        frac, norm = pruning.cubic_sparsity(step, rate, n_events, every), "l1"
    else:
        frac, norm = rate, "l2"

    def recompute(actor: ActorState) -> ActorState:
        masks = pruning.update_masks(actor.params, actor.masks, frac, norm)
        mult = pruning.param_masks(actor.params, masks)
        return ActorState(pruning.apply(actor.params, mult), pruning.apply(actor.target, mult),
                          pruning.mask_opt_state(actor.opt, mult), masks)

    # cond, not where: the sorts run only when due (on one agent; vmapped agents select)
    return jax.lax.cond(step % every == 0, recompute, lambda a: a, actor)


def sparsity(masks: tuple[Array, ...]) -> Array:
    """Fraction of hidden neurons pruned."""
    return 1.0 - sum(jnp.sum(m) for m in masks) / sum(m.shape[-1] for m in masks)


def replay_updates(update: Callable[[Any, dict[str, Array], Array], tuple[Any, dict[str, Array]]], state: Any,
                   replay: buffer.Buffer, batch: int, n: int, key: Array) -> tuple[Any, dict[str, Array]]:
    """``n`` updates on minibatches drawn uniformly from the replay buffer (one ``lax.scan``);
    metrics are their means."""

    def one(state: Any, k: Array) -> tuple[Any, dict[str, Array]]:
        k_batch, k_update = jax.random.split(k)
        return update(state, buffer.sample(replay, k_batch, batch), k_update)

    state, metrics = jax.lax.scan(one, state, jax.random.split(key, n))
    return state, jax.tree.map(jnp.mean, metrics)
