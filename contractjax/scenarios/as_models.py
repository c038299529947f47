"""The built-in models' economics stated as :class:`Model` s, so that the generic oracles can be
measured against each model's own (``scripts/generic_oracles.py``, ``tests/test_models.py``).

Each is the model's cost and the principal's utility, written from the built-in module's own
functions, with the built-in's fields and sampler; everything else is derived. AGENT's two-period
menus with report-dependent second periods are not a one-period screening model and have no
such form (its own oracle is checked against the action-space search instead).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from contractjax.scenarios import aigc, dt, twin
from contractjax.scenarios.base import Env, Scenario
from contractjax.scenarios.model import Model


def _fields(sc: Scenario, **overrides) -> dict:
    return dict(name=f"{sc.name}_generic", dims=sc.dims, env_fields=sc.env_fields, defaults=sc.defaults,
                domain=sc.domain, sample=sc.sample, check=sc.check) | overrides


def _merged(env: Env, type: Env) -> Env:
    return {**env, **type}


def dt_model(single_crossing: bool = True) -> Model:
    """DT: ``c(s, ψ) = (c s + c0) / (ρ ψ)``, principal ``M (ϑ g(s) − r)``."""
    return Model(**_fields(dt.SCENARIO), types=("psi",), probabilities="q", allocation={"s": (0.0, dt.s_max)},
                 payment="r", single_crossing=single_crossing,
                 cost=lambda env, ty, it: dt._w(_merged(env, ty)) * (env["c"] * it["s"] + env["c0"]),
                 principal=lambda env, ty, it: env["M"] * (env["vartheta"] * dt.g(env, it["s"]) - it["r"]))


def aigc_model() -> Model:
    """AIGC: ``c(L, θ) = a L / (L_max f θ)``, principal ``M v(U^EUT)`` (prospect theory: not
    quasi-linear in the payment, so the general search)."""
    def principal(env: Env, ty: Env, it: Env) -> jnp.ndarray:
        e = _merged(env, ty)
        return env["M"] * aigc.pt_value(e, aigc.client_utility(e, it))

    return Model(**_fields(aigc.SCENARIO), types=("theta",), probabilities="Q", allocation={"L": (0.0, "L_max")},
                 payment="R", cost=lambda env, ty, it: aigc._unit_cost(_merged(env, ty)) * it["L"],
                 principal=principal)


def twin_model() -> Model:
    """TWIN: ``c(b, f; θ, σ) = b²/θ + f²/σ``, principal ``Σ H(Q) v(U^AV)`` (Prelec-weighted PT:
    the whole-menu utility overrides the expectation)."""
    def principal(env: Env, ty: Env, it: Env) -> jnp.ndarray:
        e = _merged(env, ty)
        return twin.pt_value(e, twin.av_utility(e, it))

    return Model(**_fields(twin.SCENARIO), types=("theta", "sigma"), probabilities="Q",
                 allocation={"b": (0.0, twin.B_MAX), "f": (0.0, twin.F_MAX)}, payment="R",
                 cost=_twin_cost,
                 principal=principal, principal_utility=twin.principal_utility)


def _twin_cost(env: Env, ty: Env, it: Env) -> jnp.ndarray:
    """TWIN's own cost matrix (:func:`twin.cost_matrix`) for one type and one item (a 1 × 1 grid)."""
    one = {"theta": ty["theta"][None], "sigma": ty["sigma"][None]}
    return twin.cost_matrix(one, it["b"][None, None], it["f"][None, None])[0, 0]


def models() -> dict[str, Model]:
    """The built-in name -> its economics as a Model (dt with the exact path)."""
    return {"dt": dt_model(), "aigc": aigc_model(), "twin": twin_model()}


def with_search(m: Model) -> Model:
    """The same model solved by the general search (no declared structure)."""
    return dataclasses.replace(m, name=f"{m.name}_search", single_crossing=False)
