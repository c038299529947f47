"""Throughput of the generic exact path (ironing) on a declared single-crossing model.

    python scripts/bench_exact_path.py --n 16384
    XLA_FLAGS=--xla_force_host_platform_device_count=2 python scripts/bench_exact_path.py --n 16384

Prints envs/s (compilation excluded, best of ``--repeat``) of the ironed allocation alone (one
``jit`` of the ``vmap``, float64) and, with several local devices, of the same sharded over all of
them in one program run at once (not what ``oracle`` does on host devices: see the README's
Scaling section). ``oracle`` as users call it (chunks, the least payments, the finiteness check):
``python scripts/bench_oracle.py --scenarios examples/screening.py --n 16384``. The model is
``examples/screening.py`` (3 types) unless ``--model`` names another.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import jax

import contractjax as cj
from contractjax import devices, precision
from contractjax.scenarios import generic

ROOT = Path(__file__).resolve().parents[1]


def rate(fn: Callable[[], object], n: int, repeat: int) -> float:
    jax.block_until_ready(fn())  # compile
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return n / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=16384)
    p.add_argument("--model", default=str(ROOT / "examples" / "screening.py"))
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    sc = cj.scenarios.get(a.model)
    model = getattr(sc, "model", None)
    if model is None or not model.single_crossing:
        raise SystemExit(f"{a.model}: not a model with single_crossing=True (no exact path to time)")
    envs = cj.sample_envs(sc, a.n, 0)
    devs = jax.local_devices()
    print(f"device: {devs[0].device_kind} ({jax.default_backend()}) x {len(devs)}, {a.n} environments of {sc.name}")

    def timed() -> None:
        env64 = precision.as64(envs)
        one = devices.jit(jax.vmap(lambda e: generic.ironed_allocation(sc.economics, e)))
        print(f"ironing alone:    {rate(lambda: one(env64), a.n, a.repeat):>12,.0f} envs/s")
        if len(devs) > 1 and a.n % len(devs) == 0:
            placed = devices.place_leading(env64, len(devs), "env")
            print(f"ironing, sharded: {rate(lambda: one(placed), a.n, a.repeat):>12,.0f} envs/s "
                  f"({len(devs)} devices at once)")

    precision.float64(timed)()


if __name__ == "__main__":
    main()
