"""TWIN's oracle against cheaper and longer multi-start searches: accuracy and throughput.

    python scripts/twin_search.py [--n 300] [--n-speed 1000]

Every search is :func:`contractjax.scenarios.twin.search` with other settings (starts, Adam
steps, phases that keep the best points); the reference is a ~15x longer search (40 random and 9
scaled complete-information starts, 2,000 steps). Prints the device, then per search: envs/s on
``--n-speed`` environments (compilation excluded) and the shortfall against the reference on
``--n`` environments (seed 11): mean, largest and how many exceed 1e-4.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

import contractjax as cj
from contractjax import devices
from contractjax.precision import as64, float64
from contractjax.scenarios import twin

REFERENCE = {"random_starts": 40, "ci_scales": (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2), "phases": ((None, 2000),)}
SEARCHES = {
    "26 starts x 250 steps (the oracle)": {},
    "26 x 500": {"phases": ((None, 500),)},
    "22 x 300": {"random_starts": 20, "phases": ((None, 300),)},
    "26 x 100": {"phases": ((None, 100),)},
    "12 x 100": {"random_starts": 10, "phases": ((None, 100),)},
    "26 x 40, then the best 4 x 200": {"phases": ((None, 40), (4, 200))},
    "26 x 30, then the best 2 x 150": {"phases": ((None, 30), (2, 150))},
    "26 x 20, then the best 3 x 120": {"phases": ((None, 20), (3, 120))},
    "26 x 15, then the best 2 x 100": {"phases": ((None, 15), (2, 100))},
}


def utility(envs: dict, settings: dict) -> tuple[np.ndarray, float]:
    """Principal's utility of the search's menus and its seconds per call (after compiling)."""
    fn = devices.jit(jax.vmap(lambda e: twin.search(e, **settings)))
    run = float64(lambda: jax.block_until_ready(devices.chunked(fn, as64(envs))))
    run()
    t0 = time.perf_counter()
    menus = run()
    seconds = time.perf_counter() - t0
    ev = cj.evaluate("twin", envs, {k: np.asarray(v, np.float64) for k, v in menus.items()})
    assert ev["feasible"].all(), "a search returned an infeasible menu"
    return ev["principal_utility"], seconds


def shortfall(envs: dict, settings: dict, reference: np.ndarray) -> np.ndarray:
    return (reference - utility(envs, settings)[0]) / np.abs(reference)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300, help="environments for the accuracy")
    p.add_argument("--n-speed", type=int, default=1000, help="environments for the throughput")
    args = p.parse_args()
    print(f"device: {jax.devices()[0].device_kind}, jax {jax.__version__}")
    envs, fast = cj.sample_envs("twin", args.n, seed=11), cj.sample_envs("twin", args.n_speed, seed=12)
    ref = utility(envs, REFERENCE)[0]
    print(f"{'search':>36} {'envs/s':>8} {'mean':>9} {'largest':>9} {'> 1e-4':>7}")
    for name, settings in SEARCHES.items():
        short = shortfall(envs, settings, ref)
        rate = args.n_speed / utility(fast, settings)[1]
        print(f"{name:>36} {rate:>8.0f} {short.mean():>9.1e} {100 * short.max():>8.2f}% {int(np.sum(short > 1e-4)):>7}")


if __name__ == "__main__":
    main()
