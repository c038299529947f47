"""Textbook screening (Laffont & Martimort 2002, ch. 2): a principal buys a quantity ``q`` from an
agent whose marginal cost ``θ_k`` is private, one of ``K`` types with probabilities ``ν_k``.

Agent of type ``k`` taking the item ``(q, t)``: ``t − θ_k q``. Principal: ``S(q) − t`` with
``S(q) = a √q``. Types pool where the probabilities make the virtual costs non-monotone.

    contractjax check-model examples/screening.py
    contractjax train --scenario examples/screening.py --out runs/screening
"""

import jax.numpy as jnp

from contractjax.domain import POSITIVE, PROBABILITY, WHOLE
from contractjax.scenarios.model import Model


def cost(env, type, item):
    """Type's cost of producing ``q`` (in payment units)."""
    return type["theta"] * item["q"]


def principal(env, type, item):
    """The principal's surplus from the item, payment included."""
    return env["a"] * jnp.sqrt(item["q"]) - item["t"]


MODEL = Model(
    name="screening",
    description="K-type textbook screening: quantity q, marginal cost θ, value a·√q",
    dims=("K",),
    env_fields={"a": (), "theta": ("K",), "nu": ("K",)},
    defaults={"K": 3, "a": (8.0, 12.0), "theta": (1.0, 2.0), "dirichlet": 1.0},
    domain={"K": WHOLE, "a": POSITIVE, "theta": POSITIVE, "nu": PROBABILITY, "dirichlet": POSITIVE},
    types=("theta",),
    probabilities="nu",
    allocation={"q": (0.0, 40.0)},
    payment="t",
    cost=cost,
    principal=principal,
    roles=("buyer", "supplier"),  # figure axes: the buyer's utility, the supplier's
    labels={"a": "value scale a", "theta": "marginal cost θ"},
    single_crossing=True,  # one type dimension, θ q has increasing differences, S concave: exact oracle
)
