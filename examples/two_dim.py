"""Two-dimensional screening: a platform buys data of quantity ``q`` and quality ``s`` from a
provider with private costs ``(θ_m, σ_n)`` on an ``M × N`` grid of types (Armstrong & Rochet 1999
give the closed form only for special cases; here the generic search finds the optimum).

Provider of type ``(m, n)`` taking the item ``(q, s, t)``: ``t − θ_m q² / 2 − σ_n s² / 2 − σ_n q s / 4``.
Platform: ``α log(1 + q) + β s − t``, averaged over the type probabilities ``P[m, n]``.

    contractjax check-model examples/two_dim.py
"""

import jax.numpy as jnp

from contractjax.domain import POSITIVE, PROBABILITY, WHOLE
from contractjax.scenarios.model import Model


def cost(env, type, item):
    q, s = item["q"], item["s"]
    return type["theta"] * q**2 / 2 + type["sigma"] * (s**2 / 2 + q * s / 4)


def principal(env, type, item):
    return env["alpha"] * jnp.log1p(item["q"]) + env["beta"] * item["s"] - item["t"]


MODEL = Model(
    name="two_dim",
    description="data quantity and quality from a provider with private (θ, σ) costs",
    dims=("M", "N"),
    env_fields={"alpha": (), "beta": (), "theta": ("M",), "sigma": ("N",), "P": ("M", "N")},
    defaults={"M": 2, "N": 2, "alpha": (4.0, 6.0), "beta": (1.0, 2.0), "theta": [(0.5, 1.0), (1.0, 2.0)],
              "sigma": [(0.5, 1.0), (1.0, 2.0)], "dirichlet": 1.0},
    domain={"M": WHOLE, "N": WHOLE, "alpha": POSITIVE, "beta": POSITIVE, "theta": POSITIVE, "sigma": POSITIVE,
            "P": PROBABILITY, "dirichlet": POSITIVE},
    types=("theta", "sigma"),
    probabilities="P",
    allocation={"q": (0.0, 10.0), "s": (0.0, 10.0)},
    payment="t",
    cost=cost,
    principal=principal,
)
