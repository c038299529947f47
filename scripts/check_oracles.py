"""End-to-end check through the CLI: for every scenario, sample --n environments, write the
oracle menus, evaluate them, and require 100 % feasibility (exit 1 otherwise).

    python scripts/check_oracles.py [--n 10000] [--scenarios dt agent aigc twin] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from contractjax import files, scenarios


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--scenarios", nargs="*", default=scenarios.names())
    p.add_argument("--keep", help="folder to keep the files in (default: a temporary one)")
    args = p.parse_args()
    out = Path(args.keep or tempfile.mkdtemp(prefix="contractjax-check-"))
    out.mkdir(parents=True, exist_ok=True)
    ok = True
    print(f"{'scenario':>8} {'n':>6} {'feasible %':>10} {'max violation':>13} {'gap to CI %':>11} {'oracle s':>8}")
    for name in args.scenarios:
        envs, menus, report = out / f"{name}-envs.npz", out / f"{name}-oracle.npz", out / f"{name}-report.npz"
        cli = [sys.executable, "-m", "contractjax.cli"]
        subprocess.run([*cli, "sample-envs", "--scenario", name, "--n", str(args.n), "--seed", str(args.seed),
                        "--out", str(envs), "--overwrite"], check=True, stdout=subprocess.DEVNULL)
        t0 = time.perf_counter()
        subprocess.run([*cli, "oracle", "--scenario", name, "--envs", str(envs), "--out", str(menus), "--overwrite"],
                       check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        subprocess.run([*cli, "evaluate", "--scenario", name, "--envs", str(envs), "--menus", str(menus),
                        "--out", str(report), "--overwrite"], check=True, stdout=subprocess.DEVNULL)
        r = files.read(report)
        feas = 100.0 * float(np.mean(r["feasible"]))
        gap_ci = 100.0 * (1.0 - r["principal_utility"].sum() / r["complete_info_utility"].sum())
        print(f"{name:>8} {args.n:>6} {feas:>10.2f} {float(r['max_violation'].max()):>13.3g} {gap_ci:>11.3f} "
              f"{seconds:>8.1f}", flush=True)
        ok &= feas == 100.0
    print(f"files in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
