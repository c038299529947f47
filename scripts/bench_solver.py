"""Benchmark of the solver's compiled training program and of `solve`.

Prints the device, the analytic FLOPs of one gradient update in the paper configuration (batch
512, 6 VP denoising steps, 256-wide Mish MLPs: actor 3 hidden layers, twin critics 2), updates/s
and the achieved FLOP/s, the matmul roofline measured on the same device, agent-updates/s with
1..N agents vmapped into one program, and solve throughput (masked vs compact actor).

    python scripts/bench_solver.py                    # CPU: 1, 2, 4 agents
    python scripts/bench_solver.py --agents 1 8 64 256 --unroll 6   # on a GPU
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from contractjax import batch, solver
from contractjax.solver import program as programs


def dense_flops(sizes: list[int]) -> int:
    return sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def update_flops(prog: programs.Program, cfg: solver.Config) -> dict[str, float]:
    """Analytic FLOPs (multiply-adds × 2, matmuls only) of one iteration: acting on the
    environment batch, and one update (critic TD step, actor step through the chain, target chain
    when bootstrapping). Backward passes count twice their forward (weights + inputs), a backward
    to the inputs only once."""
    obs, act, T = prog.obs_dim, prog.action_dim, cfg.denoise_steps
    t = cfg.t_dim
    actor = dense_flops([act + t + obs, *cfg.actor_hidden, act]) + dense_flops([t, 2 * t, t])
    critic = dense_flops([obs + act, *cfg.critic_hidden, 1])
    B = cfg.batch
    upd = 3 * 2 * critic * B  # twin critics, forward + backward
    upd += 3 * T * actor * B + 2 * 2 * critic * B  # actor chain fwd + bwd; critics fwd + bwd to the action
    if cfg.bootstrap:
        upd += T * actor * B + 2 * critic * B  # target actor chain and target critics on e'
    acting = T * actor * cfg.envs_per_step
    return {"update": float(upd), "acting": float(acting)}


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


def bench_agents(cfg: solver.Config, n_agents: int, chunks: int) -> float:
    """Iterations/s of ``n_agents`` independent agents (seeds) vmapped into one program."""
    prog = programs.for_config(cfg)
    if n_agents == 1:
        states, fn = programs.initial_state(cfg), prog.chunk
    else:
        stats = programs.statistics(prog, cfg.seed)
        keys = jax.random.split(jax.random.PRNGKey(cfg.seed), n_agents)
        stack = lambda tree: jax.tree.map(lambda x: jnp.broadcast_to(x, (n_agents, *jnp.shape(x))), tree)
        states = prog.population_init(keys, stack(prog.hyper(cfg)), stack(stats))
        fn = prog.population_chunk
    states, m = fn(states)  # compile + first chunk
    jax.block_until_ready(m)
    t0 = time.perf_counter()
    for _ in range(chunks):
        states, m = fn(states)
    jax.block_until_ready(m)
    return chunks * cfg.chunk / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument("--chunk", type=int, default=50, help="iterations per compiled call")
    p.add_argument("--chunks", type=int, default=3, help="timed calls per measurement")
    p.add_argument("--unroll", type=int, default=1, help="unroll of the denoising scan (6 = full on GPU)")
    p.add_argument("--updates-per-step", type=int, default=1, help="gradient updates per environment step")
    p.add_argument("--solve-envs", type=int, default=100_000)
    args = p.parse_args()

    dev = jax.devices()[0]
    print(f"device: {dev.platform} / {dev.device_kind} ({jax.device_count()} device(s)), jax {jax.__version__}")
    roof = matmul_roofline()
    print(f"matmul roofline (2048² float32, default precision): {roof / 1e9:.1f} GFLOP/s")

    # The paper configuration: dt with K = 3 (state 11), full menu in the action (6), one fresh
    # environment and one update per iteration, batch 512, 6 VP steps, 256-wide MLPs.
    paper = solver.make_config("paper", scenario="dt", dims={"K": 3}, chunk=args.chunk, unroll=args.unroll,
                              buffer=100_000, warmup=0,
                              updates_per_step=args.updates_per_step)
    for boot in (True, False):
        cfg = paper.replace(bootstrap=boot)
        prog = programs.for_config(cfg)
        fl = update_flops(prog, cfg)
        per_it = fl["update"] + fl["acting"] / cfg.updates_per_step  # per update
        label = "with target chain (γ-bootstrap)" if boot else "episodic (no target chain)"
        print(f"\npaper configuration, {label}: state {prog.obs_dim}, action {prog.action_dim}, "
              f"{per_it / 1e9:.2f} GFLOP per update (analytic)")
        for n in args.agents:
            its = bench_agents(cfg, n, args.chunks) * cfg.updates_per_step  # updates/s per agent
            print(f"  agents {n:4d}: {n * its:10.1f} agent-updates/s ({its:8.1f} per agent), "
                  f"{n * its * per_it / 1e9:8.1f} GFLOP/s = {100 * n * its * per_it / roof:5.1f}% of the matmul roofline")
            if boot is False:
                break

    if args.solve_envs <= 0:
        return
    # Solve throughput with a trained-shaped policy (pruned 10 %), masked vs compact actor.
    cfg = paper.replace(steps=paper.prune_every * paper.prune_steps + 1, chunk=paper.prune_every * paper.prune_steps + 1,
                        prune_rate=0.5, batch=8, envs_per_step=1, actor_lr=1e-3)
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
