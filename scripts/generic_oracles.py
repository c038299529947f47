"""The generic oracles against each built-in model's own, and on the examples.

    python scripts/generic_oracles.py --n 2000

For dt, aigc and twin (their economics as Models: contractjax/scenarios/as_models.py) and the
examples: the generic oracle's shortfall to the reference (mean, largest, share above it beyond the
feasibility tolerance) and envs/s of both (compilation excluded). The reference is the model's own
oracle for the built-ins, the exact path for the single-crossing example, and a search with 4x the
starts and steps for the two-dimensional one.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import jax
import numpy as np

import contractjax as cj
from contractjax.scenarios import as_models, generic

ROOT = Path(__file__).resolve().parents[1]


def timed(sc, envs) -> tuple[dict, float]:
    cj.oracle(sc, envs)  # compile at this size
    t = time.perf_counter()
    menus = cj.oracle(sc, envs)
    return menus, len(next(iter(envs.values()))) / (time.perf_counter() - t)


def row(name: str, ref_name: str, sc, ref, envs) -> dict:
    m, rate = timed(sc, envs)
    r, ref_rate = timed(ref, envs)
    u = cj.evaluate(sc, envs, m)
    ur = cj.evaluate(ref, envs, r)["principal_utility"]
    short = (ur - u["principal_utility"]) / np.maximum(np.abs(ur), 1e-9)
    above = u["principal_utility"] > ur + 1e-6 * np.maximum(1.0, np.abs(ur))
    return {"model": name, "generic": sc.name, "reference": ref_name, "feasible %": 100 * u["feasible"].mean(),
            "mean shortfall %": 100 * float(np.mean(short)), "largest %": 100 * float(np.max(short)),
            "above ref %": 100 * float(above.mean()), "generic envs/s": rate, "reference envs/s": ref_rate}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="*", default=["dt", "aigc", "twin", "screening", "two_dim"])
    a = p.parse_args()
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), {a.n} environments", flush=True)
    rows = []
    for name in a.models:
        if name in ("dt", "aigc", "twin"):
            builtin = cj.scenarios.get(name)
            envs = cj.sample_envs(builtin, a.n, a.seed)
            m = as_models.models()[name]
            rows.append(row(name, name, m.scenario(), builtin, envs))
            if m.single_crossing:
                rows.append(row(name, name, as_models.with_search(m).scenario(), builtin, envs))
        elif name == "screening":
            sc = cj.scenarios.get(str(ROOT / "examples" / "screening.py"))
            envs = cj.sample_envs(sc, a.n, a.seed)
            rows.append(row(name, "exact path", as_models.with_search(sc.model).scenario(), sc, envs))
        elif name == "two_dim":
            sc = cj.scenarios.get(str(ROOT / "examples" / "two_dim.py"))
            envs = cj.sample_envs(sc, a.n, a.seed)
            longer = dataclasses.replace(sc.model, name="two_dim_long", oracle=_long_search(sc.model)).scenario()
            rows.append(row(name, "4x search", sc, longer, envs))
        print(rows[-1], file=sys.stderr, flush=True)
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r.values()) + " |")


def _long_search(model):
    """A Model oracle override: the search with 4x the starts and steps."""
    sc = model.scenario()
    eco = sc.economics

    def oracle(env, info="asymmetric"):
        if info == "complete":
            return sc.oracle(env, info)
        x = generic.search(eco, env, ((None, 400, 0.02), (8, 400, 0.005)), 4 * generic.RANDOM_STARTS)
        return sc.allocation_menu(env, x)

    return oracle


if __name__ == "__main__":
    main()
