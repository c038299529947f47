"""Benchmark of the compiled training program (every algorithm, one agent and populations) and of
`solve`.

Prints the device, the matmul roofline measured on it, and for each algorithm in the paper
configuration (dt with K = 3, batch 512, 6 VP denoising steps, 256-wide Mish MLPs: actor 3 hidden
layers, critics 2): the analytic FLOPs of one iteration, iterations/s and agent-updates/s for
populations of 1..N agents vmapped into one program, and the achieved FLOP/s. Then `solve`
throughput of the masked and the compact (pruned) diffusion actor.

    python scripts/bench_solver.py                                  # CPU: every algorithm, 1 and 2 agents
    python scripts/bench_solver.py --algos diffusion_sac --agents 1 16 64 256 --unroll 6   # on a GPU
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from contractjax import batch, solver
from contractjax.solver import loop
from contractjax.solver import program as programs
from contractjax.solver.config import ALGOS


def dense_flops(sizes: list[int]) -> int:
    return sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def iteration_flops(prog: programs.Program, cfg: solver.Config) -> float:
    """Analytic FLOPs (multiply-adds × 2, matmuls only) of one training iteration: acting on the
    fresh environments and the algorithm's updates. A backward pass costs twice its forward
    (weights + inputs); a backward to the inputs only, once."""
    obs, act, T = prog.obs_dim, prog.action_dim, cfg.denoise_steps
    t = cfg.t_dim
    chain = T * (dense_flops([act + t + obs, *cfg.actor_hidden, act]) + dense_flops([t, 2 * t, t]))
    mlp = dense_flops([obs, *cfg.actor_hidden, 2 * act if cfg.algo in ("sac", "ppo") else act])
    diffusion = cfg.algo in ("diffusion_sac", "diffusion_ddpg") or (cfg.algo == "amortized" and cfg.actor == "diffusion")
    actor = chain if diffusion else mlp
    q = dense_flops([obs + act, *cfg.critic_hidden, 1])
    v = dense_flops([obs, *cfg.critic_hidden, 1])
    B, N, U = cfg.batch, cfg.envs_per_step, cfg.updates_per_step
    acting = actor * N
    if cfg.algo == "ppo":
        return acting + v * N + cfg.ppo_epochs * N * 3 * (actor + v)
    if cfg.algo == "amortized":
        return acting + U * 3 * actor * N
    n_critics = 1 if cfg.algo == "ddpg" else 2
    per_update = 3 * n_critics * q * B  # critics forward + backward
    actor_update = 3 * actor * B + 2 * (n_critics if cfg.algo in ("diffusion_sac", "sac", "diffusion_ddpg") else 1) * q * B
    per_update += actor_update / cfg.policy_delay
    if cfg.bootstrap:
        per_update += actor * B + n_critics * q * B  # target actor on e' and target critics
    return acting + U * per_update


def matmul_roofline(n: int = 2048, reps: int = 10) -> float:
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ a)
    f(a).block_until_ready()
    t0 = time.perf_counter()
    x = a
    for _ in range(reps):
        x = f(x)
    x.block_until_ready()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def bench_population(cfg: solver.Config, n_agents: int, chunks: int, place=None) -> float:
    """Iterations/s of each of ``n_agents`` agents (seeds) vmapped into one program (compile
    excluded); ``place`` puts the population's states on devices (e.g. :func:`loop.shard`)."""
    prog = programs.for_config(cfg)
    if n_agents == 1:
        states, step = programs.initial_state(cfg), prog.chunk
    else:
        states = loop.init_population(prog, [cfg.replace(seed=s) for s in range(n_agents)])
        states = place(states) if place else states
        step = prog.population_chunk
    states, m = step(states)  # compile + first chunk
    jax.block_until_ready(m)
    t0 = time.perf_counter()
    for _ in range(chunks):
        states, m = step(states)
    jax.block_until_ready(m)
    return chunks * cfg.chunk / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algos", nargs="*", default=list(ALGOS), choices=ALGOS)
    p.add_argument("--agents", type=int, nargs="*", default=[1, 2])
    p.add_argument("--chunk", type=int, default=20, help="iterations per compiled call")
    p.add_argument("--chunks", type=int, default=2, help="timed calls per measurement")
    p.add_argument("--unroll", type=int, default=1, help="unroll of the denoising scan (6 = full on GPU)")
    p.add_argument("--updates-per-step", type=int, default=1, help="gradient updates per environment step")
    p.add_argument("--bootstrap", action="store_true", help="TD targets through the target networks (γ > 0)")
    p.add_argument("--solve-envs", type=int, default=20_000)
    args = p.parse_args()

    dev = jax.devices()[0]
    print(f"device: {dev.platform} / {dev.device_kind} ({jax.device_count()} device(s)), jax {jax.__version__}")
    roof = matmul_roofline()
    print(f"matmul roofline (2048² float32, default precision): {roof / 1e9:.1f} GFLOP/s")
    print("\npaper configuration: dt (K = 3), batch 512, 6 VP steps, 256-wide Mish MLPs, "
          f"{'bootstrapped' if args.bootstrap else 'one-step episodes'}, updates per step {args.updates_per_step}")
    print(f"{'algorithm':>15} {'agents':>6} {'GFLOP/it':>9} {'it/s/agent':>11} {'agent-upd/s':>12} {'GFLOP/s':>9} "
          f"{'% roofline':>10}")
    for algo in args.algos:
        cfg = solver.make_config("paper", scenario="dt", algo=algo, dims={"K": 3}, chunk=args.chunk,
                                 unroll=args.unroll, buffer=100_000, warmup=0, bootstrap=args.bootstrap,
                                 updates_per_step=args.updates_per_step)
        flops = iteration_flops(programs.for_config(cfg), cfg)
        for n in args.agents:
            its = bench_population(cfg, n, args.chunks)
            updates = n * its * (cfg.ppo_epochs * cfg.ppo_minibatches if algo == "ppo" else cfg.updates_per_step)
            achieved = n * its * flops
            print(f"{algo:>15} {n:>6} {flops / 1e9:>9.3f} {its:>11.1f} {updates:>12.1f} {achieved / 1e9:>9.1f} "
                  f"{100 * achieved / roof:>9.1f}%", flush=True)

    if args.solve_envs <= 0:
        return
    # Solve throughput with a trained-shaped diffusion policy (pruned 50 %), masked vs compact actor.
    cfg = solver.make_config("paper", scenario="dt", dims={"K": 3}, unroll=args.unroll, buffer=1000, batch=8,
                             envs_per_step=1, actor_lr=1e-3, prune_rate=0.5)
    cfg = cfg.replace(steps=cfg.prune_every * cfg.prune_steps + 1, chunk=cfg.prune_every * cfg.prune_steps + 1)
    ts, _ = programs.for_config(cfg).chunk(programs.initial_state(cfg))
    pol = solver.Policy.from_state(cfg, ts)
    envs = batch.sample_envs("dt", args.solve_envs, 9, {"K": 3})
    counts = pol.parameter_counts()
    print(f"\nsolve ({args.solve_envs} envs, actor pruned to {counts['compact']} of {counts['full']} parameters):")
    for name, pp in (("masked", pol), ("compact", pol.compact())):
        pp.menus(envs)  # compile for these shapes
        t0 = time.perf_counter()
        pp.actions(envs)
        t1 = time.perf_counter()
        pp.menus(envs)
        t2 = time.perf_counter()
        print(f"  {name:8s}: actions {args.solve_envs / (t1 - t0):10.0f} envs/s; menus (actions + float64 payments "
              f"+ checks) {args.solve_envs / (t2 - t1):10.0f} envs/s")


if __name__ == "__main__":
    main()
