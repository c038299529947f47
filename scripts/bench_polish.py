"""Learned warm starts: a trained policy's menus, polished and as the oracle's starts.

    python scripts/bench_polish.py --runs runs/polish [--n 300] [--polish 25 100]

Trains each model with the quick preset into ``--runs/MODEL`` unless a run is there, then on
``--n`` held-out environments (seed 2,000,000) prints, per model and method, the per-environment
gap to the oracle (median, 99th percentile, worst, share above 1 %) and envs/s (compilation
excluded): ``solve``, ``solve --polish STEPS``, the oracle alone and, for search-based oracles,
the oracle warm-started from the policy's menus.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np

import contractjax as cj
from contractjax import batch, scenarios, solver

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"dt": "dt", "agent": "agent", "aigc": "aigc", "twin": "twin",
          "screening": str(ROOT / "examples" / "screening.py"), "two_dim": str(ROOT / "examples" / "two_dim.py")}


def timed(fn) -> tuple[dict, float]:
    fn()  # compile
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def gaps(sc, envs, menus, ref) -> dict[str, float]:
    ev = cj.evaluate(sc, envs, menus)
    g = (ref - ev["principal_utility"]) / np.maximum(np.abs(ref), 1e-9)
    return {"feasible %": 100 * ev["feasible"].mean(), "gap %": 100 * cj.gap(ev["principal_utility"], ref, ev["feasible"]),
            "median %": 100 * float(np.median(g)), "p99 %": 100 * float(np.percentile(g, 99)),
            "worst %": 100 * float(np.max(g)), "> 1 %": int(np.sum(g > 0.01))}


def bench(name: str, out: Path, n: int, polish: list[int]) -> list[dict]:
    """The rows of one model (trained into ``out`` first unless a run is there)."""
    sc = scenarios.get(MODELS[name])
    if not (out / "summary.json").is_file():
        cj.train(MODELS[name], out=out, progress=False)
    pol = solver.load(out)
    envs = cj.sample_envs(sc, n, seed=2_000_000)
    best, t_or = timed(lambda: cj.oracle(sc, envs))
    ref = cj.evaluate(sc, envs, best)["principal_utility"]
    menus, t = timed(lambda: pol.menus(envs))
    rows = [{"model": name, "method": "solve"} | gaps(sc, envs, menus, ref) | {"envs/s": n / t}]
    for steps in polish:
        menus, t = timed(lambda s=steps: pol.menus(envs, polish=s))
        rows.append({"model": name, "method": f"solve --polish {steps}"} | gaps(sc, envs, menus, ref) | {"envs/s": n / t})
    rows.append({"model": name, "method": "oracle"} | gaps(sc, envs, best, ref) | {"envs/s": n / t_or})
    if sc.warm_oracle is not None:
        menus, t = timed(lambda: batch.oracle(sc, envs, warm_start=pol.menus(envs)))
        rows.append({"model": name, "method": "oracle --warm-start"} | gaps(sc, envs, menus, ref) | {"envs/s": n / t})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/polish")
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--polish", type=int, nargs="*", default=[25, 100])
    p.add_argument("--models", nargs="*", default=list(MODELS))
    a = p.parse_args()
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), {a.n} held-out environments", flush=True)
    rows = []
    for name in a.models:
        new = bench(name, Path(a.runs) / name, a.n, a.polish)
        for r in new:
            print(r, flush=True)
        rows += new
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r.values()) + " |")


if __name__ == "__main__":
    main()
