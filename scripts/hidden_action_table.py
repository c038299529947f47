"""Hidden action: the learned solvers beside the exact LP optimum, in the format of the
learned-contract literature (Wang et al., NeurIPS 2023): per problem size ``n × m`` (outcomes ×
actions), each method's principal utility as a ratio to the LP optimum on held-out instances, the
best linear contract's ratio, training time and inference time per instance.

    python scripts/hidden_action_table.py                                  # README table (CPU: ~1 h)
    python scripts/hidden_action_table.py --sizes 4x4 --algos amortized --steps 1000

The ratio is of sums over the held-out instances (``1 − gap``); every learned contract is
feasible by construction (the ``efforts`` action space: payments, and the agent's best response).
Each method trains with the model's defaults (the smoothed response, docs/models.md §6) and the
given steps; times are wall-clock on the device printed first (training includes compilation).
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

import contractjax as cj

NAME = "hidden_action"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["2x2", "5x5", "10x10", "20x20"], help="n x m, e.g. 10x10")
    p.add_argument("--algos", nargs="+", default=["amortized", "diffusion_sac", "sac", "td3", "ppo"])
    p.add_argument("--steps", type=int, default=5000, help="training iterations per method")
    p.add_argument("--envs", type=int, default=2000, help="held-out instances per size")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    d = jax.devices()[0]
    print(f"device: {d.device_kind} ({d.platform}), jax {jax.__version__}; {args.steps} iterations per method, "
          f"{args.envs} held-out instances per size", flush=True)
    rows = []
    for size in args.sizes:
        n, m = (int(v) for v in size.lower().split("x"))
        dims = {"n": n, "m": m}
        envs = cj.sample_envs(NAME, args.envs, seed=10_000 + args.seed, dims=dims)
        cj.oracle(NAME, envs)  # compile
        t0 = time.perf_counter()
        optimum = cj.evaluate(NAME, envs, cj.oracle(NAME, envs))["principal_utility"]
        lp_us = 1e6 * (time.perf_counter() - t0) / args.envs
        total = optimum.sum()
        linear = cj.evaluate(NAME, envs, cj.baseline_menus(NAME, envs, "linear"))["principal_utility"].sum() / total
        row = {"size": f"{n} × {m}", "LP optimum µs/instance": f"{lp_us:.0f}", "linear": f"{linear:.3f}"}
        for algo in args.algos:
            t0 = time.perf_counter()
            summary = cj.train(NAME, algo=algo, steps=args.steps, dims=dims, seed=args.seed, eval_every=args.steps,
                               progress=False)
            train_s = time.perf_counter() - t0
            policy = summary["policy"]
            policy.menus(envs)  # compile
            t0 = time.perf_counter()
            menus = policy.menus(envs)
            infer_us = 1e6 * (time.perf_counter() - t0) / args.envs
            report = cj.evaluate(NAME, envs, menus)
            ratio = report["principal_utility"].sum() / total
            row[algo] = f"{ratio:.3f} ({train_s:.0f} s, {infer_us:.0f} µs)"
            print(f"{size} {algo}: ratio {ratio:.4f}, feasible {np.mean(report['feasible']):.3f}, training {train_s:.0f} "
                  f"s, inference {infer_us:.1f} µs/instance", flush=True)
        rows.append(row)
    heads = list(rows[0])
    print("\n| " + " | ".join(heads) + " |\n|" + "---|" * len(heads))
    for r in rows:
        print("| " + " | ".join(r[h] for h in heads) + " |")


if __name__ == "__main__":
    main()
