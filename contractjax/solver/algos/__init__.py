"""The algorithms, by name (``Config.algo``), all in the same compiled training program.

| name | actor | learning signal | source |
|---|---|---|---|
| ``diffusion_sac`` | diffusion chain | twin critics, entropy (DIME bound) | the four papers (DMSAC / EDMSAC with pruning) |
| ``diffusion_ddpg`` | diffusion chain | twin critics, ``−min Q`` | the papers' DMDDPG; GDMOPT |
| ``sac`` | tanh-Gaussian | twin critics, entropy, auto temperature | Haarnoja et al. 2018 |
| ``ddpg`` | tanh MLP | one critic | Lillicrap et al. 2016 |
| ``td3`` | tanh MLP | clipped double Q, smoothing, delay | Fujimoto et al. 2018 |
| ``ppo`` | tanh-Gaussian | clipped surrogate, value baseline | Schulman et al. 2017 |
| ``amortized`` | diffusion chain or MLP | exact reward gradient | Dütting et al. 2019 (RegretNet) |
"""

from __future__ import annotations

from contractjax.solver import diffusion
from contractjax.solver.actors import Actor, DeterministicActor, DiffusionActor, GaussianActor
from contractjax.solver.algos.amortized import Amortized
from contractjax.solver.algos.base import Algorithm, Rollout
from contractjax.solver.algos.dpg import DPG
from contractjax.solver.algos.ppo import PPO
from contractjax.solver.algos.sac import SAC
from contractjax.solver.config import Config
from contractjax.solver.networks import Critic


def diffusion_actor(cfg: Config, action_dim: int) -> DiffusionActor:
    return DiffusionActor(action_dim, tuple(cfg.actor_hidden), cfg.t_dim,
                          diffusion.schedule(cfg.schedule, cfg.denoise_steps), cfg.unroll)


def make(cfg: Config, obs_dim: int, action_dim: int) -> Algorithm:
    """The algorithm ``cfg.algo`` with its networks, for observations of size ``obs_dim`` and
    actions of size ``action_dim``."""
    hidden = tuple(cfg.actor_hidden)
    critic = Critic(tuple(cfg.critic_hidden))
    replay = dict(obs_dim=obs_dim, batch=cfg.batch, updates_per_step=cfg.updates_per_step, bootstrap=cfg.bootstrap)
    name = cfg.algo
    if name in ("diffusion_sac", "sac"):
        actor: Actor = diffusion_actor(cfg, action_dim) if name == "diffusion_sac" else GaussianActor(action_dim, hidden)
        return SAC(name, actor, critic, auto_alpha=cfg.auto_alpha, **replay)
    if name == "diffusion_ddpg":
        return DPG(name, diffusion_actor(cfg, action_dim), critic, n_critics=2, actor_q="min",
                   policy_delay=cfg.policy_delay, **replay)
    if name in ("ddpg", "td3"):
        td3 = name == "td3"
        return DPG(name, DeterministicActor(action_dim, hidden), critic, n_critics=2 if td3 else 1, smoothing=td3,
                   policy_delay=cfg.policy_delay, **replay)
    if name == "ppo":
        return PPO(name, GaussianActor(action_dim, hidden), critic, obs_dim, cfg.ppo_epochs, cfg.ppo_minibatches)
    if name == "amortized":
        actor = diffusion_actor(cfg, action_dim) if cfg.actor == "diffusion" else DeterministicActor(action_dim, hidden)
        return Amortized(name, actor, obs_dim, cfg.updates_per_step)
    raise ValueError(f"config field 'algo' = {name!r}: unknown algorithm")


__all__ = ["Algorithm", "Rollout", "make"]
