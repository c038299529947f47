"""Hidden action: the exact batched oracle's throughput by problem size, beside SciPy's HiGHS
solving the same LPs one by one, and the best linear contract's ratio to the optimum.

    python scripts/bench_hidden_action.py                      # sizes 2x2 .. 50x50
    python scripts/bench_hidden_action.py --sizes 10x10 --n 4096

Prints the device, then per size ``n × m`` (outcomes × actions): environments solved, seconds
(after compilation), environments per second, SciPy's time per environment on a sample, the largest
relative difference to SciPy's optimum on that sample, and the mean ratio of the best linear
contract's utility to the optimum.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
from scipy.optimize import linprog

import contractjax as cj

NAME = "hidden_action"


def scipy_optimum(F: np.ndarray, r: np.ndarray, c: np.ndarray) -> float:
    """The principal's optimum, one HiGHS LP per action: ``min F_i·t`` s.t.
    ``(F_i − F_k)·t >= c_i − c_k``, ``t >= 0``; the best implementable action (the reference the
    tests hold the oracle to)."""
    best = -np.inf
    for i in range(F.shape[0]):
        res = linprog(F[i], A_ub=F - F[i], b_ub=c - c[i], bounds=(0, None), method="highs")
        if res.status == 0:
            best = max(best, F[i] @ r - res.fun)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["2x2", "5x5", "10x10", "20x20", "50x50"], help="n x m, e.g. 10x10")
    p.add_argument("--n", type=int, default=0, help="environments per size (default: about 2e6 / (n m^2))")
    p.add_argument("--scipy", type=int, default=50, help="environments per size solved by SciPy as well")
    args = p.parse_args()
    d = jax.devices()[0]
    print(f"device: {d.device_kind} ({d.platform}), jax {jax.__version__}")
    print(f"{'n x m':>7} {'envs':>7} {'s':>7} {'envs/s':>9} {'scipy s/env':>11} {'max rel diff':>12} {'linear/opt':>10}")
    for size in args.sizes:
        n, m = (int(v) for v in size.lower().split("x"))
        count = args.n or int(np.clip(2e6 / (n * m * m), 64, 65_536))
        envs = cj.sample_envs(NAME, count, seed=n * 1000 + m, dims={"n": n, "m": m})
        cj.oracle(NAME, envs)  # compile
        t0 = time.perf_counter()
        menus = cj.oracle(NAME, envs)
        seconds = time.perf_counter() - t0
        u = cj.evaluate(NAME, envs, menus)["principal_utility"]
        lin = cj.evaluate(NAME, envs, cj.baseline_menus(NAME, envs, "linear"))["principal_utility"]
        k = min(args.scipy, count)
        t0 = time.perf_counter()
        ref = np.array([scipy_optimum(envs["F"][i], envs["r"][i], envs["c"][i]) for i in range(k)])
        scipy_s = (time.perf_counter() - t0) / k
        diff = np.max(np.abs(u[:k] - ref) / np.maximum(np.abs(ref), 1e-12))
        ratio = np.mean(lin / np.where(u > 0, u, np.nan), where=u > 0)
        print(f"{size:>7} {count:>7} {seconds:>7.3f} {count / seconds:>9.0f} {scipy_s:>11.2e} {diff:>12.1e} {ratio:>10.3f}")


if __name__ == "__main__":
    main()
