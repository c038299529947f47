"""The compiled training program: vmapped environments, rewards, on-device replay, the
algorithm's learning step and pruning, with a chunk of iterations as one ``lax.scan`` inside one
``jax.jit`` (and a population of agents as ``jax.jit(jax.vmap(chunk))``).

One *iteration* draws ``envs_per_step`` fresh environments, acts on them (the algorithm's
exploration), rewards the actions, stores the transitions (replay algorithms), lets the algorithm
learn, and recomputes the actor's pruning masks when due. ``steps`` counts iterations.

A :class:`Program` holds what fixes the compiled code (the static fields of the Config); every
number a sweep varies enters as the traced :data:`~contractjax.solver.config.Hyper` inside the
state, so runs that differ only in those share one program and one executable. Its public entry
points — :meth:`Program.init`, :meth:`Program.chunk`, :meth:`Program.population_init`,
:meth:`Program.population_chunk`, :meth:`Program.act` — are jitted once per program (per chunk
length) and count their traces in :attr:`Program.traces`.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import batch, core, devices, limits, scenarios
from contractjax.domain import check_dims
from contractjax.precision import as64, float32, float64
from contractjax.scenarios import Scenario
from contractjax.scenarios.base import Parameterization
from contractjax.solver import algos, buffer, updates
from contractjax.solver.algos import Algorithm, Rollout
from contractjax.solver.config import Config, Hyper, hyper, structure

Array = jax.Array
#: Training counts a menu as feasible when its largest IR/IC violation is below this fraction of
#: a typical utility (``1 / reward_scale``). The float64 tolerance of ``core.TOL`` is meaningless
#: for binding constraints computed in float32; reported figures always come from float64 checks.
TRAIN_FEASIBILITY = 1e-4


class Stats(NamedTuple):
    """Observation standardization and the reward unit, from training draws (per seed)."""

    obs_mean: Array
    obs_std: Array
    reward_scale: Array  # 1 / mean |complete-information utility|


class TrainState(NamedTuple):
    agent: Any  # the algorithm's state (``.actor``, ``.hyper``, ...)
    replay: buffer.Buffer | None
    key: Array
    step: Array  # iterations done
    stats: Stats


@dataclasses.dataclass(frozen=True, eq=False)
class Program:
    """The static structure of a configuration and its compiled entry points."""

    cfg: Config  # its traced and bookkeeping fields are irrelevant here
    scenario: Scenario
    dims: dict[str, int]
    sampler: dict[str, Any]
    parameterization: Parameterization
    algo: Algorithm
    obs_dim: int
    action_dim: int
    traces: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    _compiled: dict = dataclasses.field(default_factory=dict, repr=False)

    def hyper(self, cfg: Config) -> Hyper:
        return hyper(cfg, self.action_dim)

    # -- environment side, pure and vmapped

    def sample(self, key: Array, n: int) -> dict[str, Array]:
        return jax.vmap(lambda k: self.scenario.sample(k, self.dims, self.sampler))(jax.random.split(key, n))

    def observe(self, stats: Stats, env: Mapping[str, Array]) -> Array:
        return (jax.vmap(self.scenario.state)(env) - stats.obs_mean) / stats.obs_std

    def to_menu(self, env: Mapping[str, Array], a: Array) -> dict[str, Array]:
        return jax.vmap(self.parameterization.to_menu)(env, a)

    def objective(self, env: Mapping[str, Array], a: Array, stats: Stats, penalty: Array,
                  temperature: Array | float = 0.0) -> tuple[Array, Array, Array]:
        """``(training reward, principal utility, feasible)`` per environment.

        ``principal``: ``U · s − penalty · Σ max(0, −slack − δ)/scale`` with ``s = reward_scale`` (so the
        penalty is in units of a typical utility) and the dead zone ``δ = TRAIN_FEASIBILITY / s``:
        float32 rounding leaves binding constraints at slacks of ±1e-5 whose penalty gradient
        would otherwise swamp the reward's (exact-gradient training failed on AIGC without it);
        ``paper``: the paper's reward times ``s``. A ``temperature > 0`` takes the reward's
        utility from the model's smoothed response (``Scenario.smoothed_utility``)."""
        sc = self.scenario
        dead_zone = TRAIN_FEASIBILITY / stats.reward_scale

        def one(e: Mapping[str, Array], x: Array) -> tuple[Array, Array, Array]:
            m = self.parameterization.to_menu(e, x)
            c = sc.constraints(e, m)
            u = sc.principal_utility(e, m)
            u_train = u
            if sc.smoothed_utility is not None and self.parameterization.differentiable:
                # a finite temperature in the branch not taken: where() passes its gradient on as 0 · value
                safe = jnp.where(temperature > 0, temperature, 1.0)
                u_train = jnp.where(temperature > 0, sc.smoothed_utility(e, m, safe), u)
            if self.cfg.reward == "paper":
                r = sc.paper_reward(e, m, x) * stats.reward_scale
            else:
                slack, scale = core.flat(c)
                r = u_train * stats.reward_scale - penalty * jnp.sum(jax.nn.relu((-slack - dead_zone) / scale))
            ok = jnp.max(core.violations(c, core.TOL32)) <= dead_zone
            return r, u, ok

        return jax.vmap(one)(env, a)

    # -- the pure training functions

    def initial(self, key: Array, hyper: Hyper, stats: Stats) -> TrainState:
        k_agent, k_run = jax.random.split(key)
        agent = self.algo.init(k_agent, hyper)
        replay = None
        if self.algo.replay:
            example = {"obs": jnp.zeros(self.obs_dim), "action": jnp.zeros(self.action_dim), "reward": jnp.zeros(())}
            if self.cfg.bootstrap:
                example["next_obs"] = jnp.zeros(self.obs_dim)
            replay = buffer.init(example, self.cfg.buffer)
        stats = Stats(*(jnp.asarray(x, jnp.float32) for x in stats))
        return TrainState(agent, replay, k_run, jnp.zeros((), jnp.int32), stats)

    def iteration(self, ts: TrainState, _: Any = None) -> tuple[TrainState, dict[str, Array]]:
        cfg, algo = self.cfg, self.algo
        key, k_env, k_act, k_rand, k_next, k_learn = jax.random.split(ts.key, 6)
        h = ts.agent.hyper
        env = self.sample(k_env, cfg.envs_per_step)
        obs = self.observe(ts.stats, env)
        a, extras = algo.explore(ts.agent, obs, k_act)
        if algo.replay and cfg.warmup > 0:
            a = jnp.where(ts.step < cfg.warmup, jax.random.uniform(k_rand, a.shape, a.dtype, -1.0, 1.0), a)
        temperature = h.smooth * h.smooth_decay ** ts.step.astype(jnp.float32)
        r, u, ok = self.objective(env, a, ts.stats, h.penalty, temperature)
        replay = ts.replay
        if algo.replay:
            trans = {"obs": obs, "action": a, "reward": r}
            if cfg.bootstrap:  # a continuing stream: the next state is the next draw
                trans["next_obs"] = self.observe(ts.stats, self.sample(k_next, cfg.envs_per_step))
            replay = buffer.add(replay, trans)

        def reward_fn(actions: Array) -> Array:
            return self.objective(env, actions, ts.stats, h.penalty, temperature)[0]

        agent, metrics = algo.learn(ts.agent, Rollout(obs, a, r, extras), replay, reward_fn, k_learn)
        actor = updates.prune(cfg.pruning, cfg.prune_every, cfg.prune_steps, agent.actor, ts.step + 1, h.prune_rate)
        agent = agent._replace(actor=actor)
        metrics |= {"reward": jnp.mean(r), "utility": jnp.mean(u), "feasible": jnp.mean(ok.astype(jnp.float32)),
                    "sparsity": updates.sparsity(actor.masks)}
        return TrainState(agent, replay, key, ts.step + 1, ts.stats), metrics

    def run_chunk(self, ts: TrainState, length: int) -> tuple[TrainState, dict[str, Array]]:
        """``length`` iterations as one scan. Metrics are the chunk's means, plus
        ``first_nonfinite`` (the first iteration of the chunk whose metrics were not finite, −1 if
        none) and ``state_finite`` (every array of the agent's state finite at the end)."""
        self.traces["chunk"] += 1
        ts, per_it = jax.lax.scan(self.iteration, ts, None, length=length)
        finite = jnp.all(jnp.stack([jnp.isfinite(v) for v in per_it.values()]), axis=0)
        metrics = jax.tree.map(lambda x: jnp.mean(x, axis=0), per_it)
        metrics["first_nonfinite"] = jnp.where(jnp.all(finite), -1, jnp.argmin(finite))
        metrics["state_finite"] = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(ts.agent)]))
        return ts, metrics

    def eval_actions(self, params: Any, masks: tuple[Array, ...], obs: Array, keys: Array,
                     deterministic: bool = True) -> Array:
        """Evaluation actions, one environment per key (so results do not depend on batching)."""
        self.traces["act"] += 1
        one = lambda o, k: self.algo.actor.act(params, masks, o[None], k, deterministic)[0]
        return jax.vmap(one)(obs, keys)

    # -- compiled entry points (jitted once per program; float32 even under a global x64)

    def _jitted(self, name: Any, build: Callable[[], Callable]) -> Callable:
        if name not in self._compiled:
            self._compiled[name] = float32(build())
        return self._compiled[name]

    def init(self, key: Array, hyper: Hyper, stats: Stats) -> TrainState:
        return self._jitted("init", lambda: jax.jit(self.initial))(key, hyper, stats)

    def chunk(self, ts: TrainState, length: int | None = None) -> tuple[TrainState, dict[str, Array]]:
        """``length`` (default ``cfg.chunk``) iterations; the input state is donated."""
        n = length or self.cfg.chunk
        return self._jitted(("chunk", n), lambda: jax.jit(functools.partial(self.run_chunk, length=n),
                                                         donate_argnums=0))(ts)

    def population_init(self, keys: Array, hypers: Hyper, stats: Stats) -> TrainState:
        """States of a population: one member per key, ``hypers`` and ``stats`` with a leading
        member axis."""
        return self._jitted("population_init", lambda: jax.jit(jax.vmap(self.initial)))(keys, hypers, stats)

    def population_chunk(self, states: TrainState, length: int | None = None) -> tuple[TrainState, dict[str, Array]]:
        """Every member of a population advances ``length`` iterations in one program
        (``jit(vmap(chunk))``); shardings of ``states`` (a member axis over devices) carry over."""
        n = length or self.cfg.chunk
        return self._jitted(("population_chunk", n), lambda: jax.jit(
            jax.vmap(functools.partial(self.run_chunk, length=n)), donate_argnums=0))(states)

    def act(self, params: Any, masks: tuple[Array, ...], obs: Array, keys: Array, deterministic: bool = True) -> Array:
        fn = functools.partial(self.eval_actions, deterministic=deterministic)
        return self._jitted(("act", deterministic), lambda: jax.jit(fn))(params, tuple(masks), obs, keys)

    # -- host side

    def actions(self, params: Any, masks: tuple[Array, ...], stats: Stats, envs: Mapping[str, np.ndarray],
                seed: int = 0, deterministic: bool = True) -> np.ndarray:
        """Evaluation actions for ``envs``: environment ``i`` uses key ``i`` of
        ``split(PRNGKey(seed), n)``, so results do not depend on batching."""

        @float32
        def run() -> np.ndarray:
            e32 = {k: jnp.asarray(v, jnp.float32) for k, v in envs.items()}
            obs = self.observe(Stats(*(jnp.asarray(x, jnp.float32) for x in stats)), e32)
            keys = jax.random.split(jax.random.PRNGKey(seed), obs.shape[0])
            act = functools.partial(self.act, params, tuple(masks), deterministic=deterministic)
            return np.asarray(devices.chunked(act, obs, keys))

        return run()

    def state_shapes(self, cfg: Config) -> TrainState:
        """The shapes of a training state of ``cfg`` (nothing allocated)."""
        stats = Stats(np.zeros(self.obs_dim, np.float32), np.ones(self.obs_dim, np.float32), np.float32(1))
        return jax.eval_shape(self.initial, jax.random.PRNGKey(0), self.hyper(cfg), stats)

    def state_bytes(self, cfg: Config, n: int = 1) -> int:
        """Bytes of ``n`` training states of ``cfg`` (shapes only, nothing allocated)."""
        return n * limits.tree_bytes(self.state_shapes(cfg))

    def work_bytes(self, cfg: Config, n: int = 1) -> int:
        """A generous estimate of ``n`` members' transient arrays in one iteration (the layers'
        activations and their gradients over the minibatch or the step's environments, along the
        denoising chain): enough to refuse sizes that cannot run before anything is allocated."""
        width = max(*cfg.actor_hidden, *cfg.critic_hidden, self.obs_dim, self.action_dim)
        layers = len(cfg.actor_hidden) + len(cfg.critic_hidden) + 2
        return n * 4 * 2 * max(cfg.batch, cfg.envs_per_step) * width * layers * (cfg.denoise_steps + 2)

    def menus(self, envs: Mapping[str, np.ndarray], actions: np.ndarray) -> dict[str, np.ndarray]:
        """Menus in float64 from actions (payments recomputed from float64 efforts, so binding
        constraints pass an external float64 check)."""
        to_menu = devices.vmapped(self.parameterization.to_menu)
        m = float64(lambda: devices.chunked(to_menu, as64(envs), jnp.asarray(actions, jnp.float64)))()
        return {k: np.asarray(v, np.float64) for k, v in m.items()}


@functools.cache
def _program(static: tuple) -> Program:
    cfg = Config(**dict(static))
    sc = scenarios.get(cfg.scenario)
    sampler = sc.settings(dict(cfg.sampler), "config field 'sampler':")
    dims = {d: int(sampler[d]) for d in sc.dims} | check_dims("config field 'dims':", dict(cfg.dims), sc.dims)
    obs_dim = int(sc.state(sc.sample(jax.random.PRNGKey(0), dims, sampler)).shape[0])
    param = sc.parameterization(cfg.param)
    action_dim = int(param.size(dims))
    return Program(cfg, sc, dims, sampler, param, algos.make(cfg, obs_dim, action_dim), obs_dim, action_dim)


def for_config(cfg: Config) -> Program:
    """The Program of a config's structure; configs that differ only in traced or bookkeeping
    fields share one (and therefore one compiled chunk). A model from a file or module is loaded
    first from the config's recorded source (a fresh process: ``solve``, a cluster worker)."""
    scenarios.get(cfg.scenario, cfg.model)
    return _program(structure(cfg))


def release_compiled() -> None:
    """Drop every compiled program and batch function, and jax's caches (see
    :func:`contractjax.batch.release_compiled`); Programs obtained before stay usable and
    recompile on next use."""
    _program.cache_clear()
    batch.release_compiled()
    jax.clear_caches()


# ------------------------------------------------------------------------------------ initial state


def statistics(prog: Program, seed: int, n: int = 4096) -> Stats:
    """Observation mean/std over ``n`` training draws of ``seed``, and the reward scale
    ``1 / mean |complete-information utility|`` (a global unit, not a per-environment target)."""
    keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 7), n)
    env = float32(batch.sampler(prog.scenario, prog.dims, prog.sampler))(keys)
    obs = np.asarray(jax.vmap(prog.scenario.state)(env), np.float64)
    mean, std = obs.mean(0), obs.std(0)
    std = np.where(std > 1e-6 * np.maximum(1.0, np.abs(mean)), std, 1.0)  # constant features pass through
    sub = {k: np.asarray(v[:1024], np.float64) for k, v in env.items()}
    u = batch.evaluate(prog.scenario, sub, batch.oracle(prog.scenario, sub, "complete"))["principal_utility"]
    scale = 1.0 / max(float(np.mean(np.abs(u))), 1e-12)
    return Stats(mean.astype(np.float32), std.astype(np.float32), np.float32(scale))


def initial_state(cfg: Config) -> TrainState:
    """A fresh training state for ``cfg`` (its seed, its traced values)."""
    prog = for_config(cfg)
    return prog.init(jax.random.PRNGKey(cfg.seed), prog.hyper(cfg), statistics(prog, cfg.seed))
