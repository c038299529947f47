"""Oracle throughput (environments/s) per scenario on the current device.

    python scripts/bench_oracle.py [--n 10000] [--repeats 3] [--scenarios dt agent ...]

Prints the device, then per scenario and information structure: compile time, best-of-repeats
wall time for ``--n`` environments (after compilation), and environments per second.
"""

from __future__ import annotations

import argparse
import time

import jax

import contractjax as cj
from contractjax import batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--scenarios", nargs="*", default=cj.scenarios.names())
    args = p.parse_args()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} {dev.device_kind} ({jax.device_count()} device(s)), jax {jax.__version__}")
    print(f"{'scenario':>8} {'info':>10} {'n':>7} {'compile s':>10} {'run s':>8} {'envs/s':>10} {'feasible %':>10}")
    for name in args.scenarios:
        envs = cj.sample_envs(name, args.n, seed=0)
        for info in batch.INFOS:
            t0 = time.perf_counter()
            menus = cj.oracle(name, envs, info)  # includes compilation
            first = time.perf_counter() - t0
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                menus = cj.oracle(name, envs, info)
                best = min(best, time.perf_counter() - t0)
            feas = 100.0 * cj.evaluate(name, envs, menus)["feasible"].mean() if info == "asymmetric" else float("nan")
            print(f"{name:>8} {info:>10} {args.n:>7} {first - best:>10.2f} {best:>8.3f} {args.n / best:>10.0f} "
                  f"{feas:>10.2f}")


if __name__ == "__main__":
    main()
