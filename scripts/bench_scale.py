"""Scaling benchmark: environments/s against the number of devices and the dataset size, and a
population's agent-updates/s against its size and the number of devices, each beside the
device's measured matmul roofline.

    python scripts/bench_scale.py                               # CPU: 1, 2, 4 forced host devices
    python scripts/bench_scale.py --devices 0 --sizes 1000000 10000000 --agents 1 16 64 256   # GPU: real devices

Each device count runs in its own process (``XLA_FLAGS=--xla_force_host_platform_device_count``
on a CPU: the host's cores split into that many devices; ``--devices 0`` uses the real ones).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = "--child"


def _one_process(args: argparse.Namespace) -> dict:
    """Measurements on the devices of this process."""
    import jax

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_solver import bench_population, matmul_roofline

    import contractjax as cj
    from contractjax import batch, datasets, scenarios, solver
    from contractjax.solver import loop
    from contractjax.solver import program as programs

    out: dict = {"devices": len(jax.local_devices()), "device": jax.devices()[0].device_kind,
                 "roofline_gflops": matmul_roofline() / 1e9}
    cfg = solver.make_config("paper", scenario="dt", dims={"K": 3}, unroll=args.unroll)
    pol = solver.Policy.from_state(cfg, programs.initial_state(cfg))
    envs = batch.sample_envs("dt", args.n, 1, {"K": 3})
    rates = {}
    for name, fn in (("oracle dt", lambda e: batch.oracle("dt", e)), ("oracle aigc", None),
                     ("solve dt", pol.menus)):
        e = cj.sample_envs("aigc", args.n, 1) if name == "oracle aigc" else envs
        fn = fn or (lambda x: batch.oracle("aigc", x))
        fn(e)  # compile
        t0 = time.perf_counter()
        fn(e)
        rates[name] = args.n / (time.perf_counter() - t0)
    out["envs_per_s"] = rates
    sc = scenarios.get("dt")
    out["dataset"] = {}
    for n in args.sizes:  # streamed from a sharded dataset: sampling, then solving, shard by shard
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            datasets.sample(sc, n, 0, {"K": 3}, {}, Path(tmp) / "envs", progress=False)
            t1 = time.perf_counter()
            datasets.map_menus(sc, Path(tmp) / "envs", Path(tmp) / "menus", pol.menus, "solve", progress=False)
            t2 = time.perf_counter()
        out["dataset"][n] = {"sample": n / (t1 - t0), "solve": n / (t2 - t1)}
    pop = {}
    small = cfg.replace(chunk=args.chunk, buffer=20_000, warmup=0)
    n_dev = len(jax.local_devices())
    for n in args.agents:  # the member axis over every device that divides it, as `sweep` places it
        pop[n] = n * bench_population(small, n, args.chunks, lambda s, n=n: loop.shard(s, math.gcd(n, n_dev)))
    out["agent_updates_per_s"] = pop
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", type=int, nargs="*", default=[1, 2, 4],
                   help="forced host device counts (0: the real devices, e.g. GPUs)")
    p.add_argument("--n", type=int, default=50_000, help="environments per in-memory measurement")
    p.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000], help="sharded dataset sizes")
    p.add_argument("--agents", type=int, nargs="*", default=[1, 4], help="population sizes")
    p.add_argument("--chunk", type=int, default=10)
    p.add_argument("--chunks", type=int, default=2)
    p.add_argument("--unroll", type=int, default=1)
    p.add_argument(CHILD, action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(_one_process(args)))
        return
    rows = []
    for d in args.devices:
        env = dict(os.environ)
        if d > 0:
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={d}".strip()
        got = subprocess.run([sys.executable, __file__, CHILD, *sys.argv[1:]], env=env, capture_output=True, text=True)
        if got.returncode:
            sys.exit(f"the {d}-device run failed:\n{got.stderr[-3000:]}")
        rows.append(json.loads(got.stdout.strip().splitlines()[-1]))
    print(f"device: {rows[0]['device']}; matmul roofline per process "
          + ", ".join(f"{r['devices']} dev: {r['roofline_gflops']:.0f} GFLOP/s" for r in rows))
    print(f"\nenvironments/s ({args.n:,} in memory; dt with K = 3, paper-sized actor at initialization):")
    names = list(rows[0]["envs_per_s"])
    print(f"{'devices':>8} " + " ".join(f"{n:>14}" for n in names))
    for r in rows:
        print(f"{r['devices']:>8} " + " ".join(f"{r['envs_per_s'][n]:>14,.0f}" for n in names))
    print("\nsharded datasets, streamed (environments/s):")
    print(f"{'devices':>8} {'size':>12} {'sample':>12} {'solve':>12}")
    for r in rows:
        for n, v in r["dataset"].items():
            print(f"{r['devices']:>8} {int(n):>12,} {v['sample']:>12,.0f} {v['solve']:>12,.0f}")
    print("\npopulations (paper configuration, agent-updates/s):")
    print(f"{'devices':>8} {'agents':>7} {'agent-upd/s':>12}")
    for r in rows:
        for n, v in r["agent_updates_per_s"].items():
            print(f"{r['devices']:>8} {int(n):>7} {v:>12,.1f}")


if __name__ == "__main__":
    main()
