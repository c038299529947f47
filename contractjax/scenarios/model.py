"""A contract model stated by its economics; every other piece of a :class:`Scenario` derived.

The screening setting (Laffont & Martimort 2002, ch. 2–3; Rochet 1987): an agent of private type
``k`` (probability ``p_k``) taking item ``n`` of a menu — an allocation ``x_n`` (one or more
numbers) and a payment ``t_n`` — gets the quasi-linear utility ``t_n − c(x_n, θ_k)``; the principal
gets ``Σ_k p_k π(x_k, t_k, θ_k)``. A :class:`Model` states only the environment fields and their
sampler settings, which fields are the types and which their probabilities, the allocation fields
with their bounds, the cost ``c`` and the principal's utility ``π``. :meth:`Model.scenario` derives
the rest (guide: docs/scenarios.md):

* all IR/IC slacks from the utility matrix ``U[k, n] = t_n − c(x_n, θ_k)`` (:func:`core.ir_ic`);
* least payments of an allocation (:func:`core.minimal_payments`);
* the feasible-by-construction action space ``efforts``: allocation in its box → nearest
  implementable allocation on the segment to a pooled one (:func:`generic.repair`) → least payments;
  ``menu``: allocation and payment boxes (the papers' action);
* random feasible menus, the state vector, a sampler from the settings;
* the oracles (:mod:`contractjax.scenarios.generic`): the complete-information optimum per type, and
  the asymmetric one by the exact path (virtual surplus and ironing) when the model declares
  ``single_crossing``, else by the multi-start search over allocations paid their least payments.

Any derived piece may be replaced by the model's own (``sample``, ``state``, ``oracle``,
``principal_utility``, ``paper_reward``, ``check``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from contractjax import core
from contractjax.domain import InputError, Interval
from contractjax.scenarios import common, generic
from contractjax.scenarios.base import Env, Menu, Parameterization, Scenario, Shape

Array = jax.Array
#: A bound of an allocation field: a number, an environment field's name, or ``env -> array``
#: (broadcast to the type shape).
Bound = float | str | Callable[[Env], Array]
#: Payment box of the ``menu`` action space: up to this multiple of the largest cost of the
#: largest allocation.
PAYMENT_MARGIN = 1.5


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
    """A screening model by its economics (docs/scenarios.md).

    Attributes:
      name: registry name (what ``--scenario`` and ``Config.scenario`` give).
      description: one line.
      dims: integer environment fields that set shapes, e.g. ``("K",)``; added to ``env_fields``.
      env_fields: field -> shape in dimension names, e.g. ``{"a": (), "theta": ("K",)}``.
      defaults / domain: sampler settings (a number: fixed; ``(lo, hi)``: uniform per environment;
        a list of ``(lo, hi)``: one range per type, drawn sorted; a list of numbers: fixed values)
        and the valid :class:`~contractjax.domain.Interval` of every setting and field.
      types: the per-type fields (each sorted ascending along its type dimension).
      probabilities: the field of the type probabilities; its shape is the type shape (``("K",)``,
        or ``("M", "N")`` for two-dimensional types, flattened row-major into ``K = M·N`` types).
      allocation: allocation field -> ``(lo, hi)`` bounds (:data:`Bound`); each has the type shape.
      payment: the payment field's name.
      cost: ``(env, type, item) -> scalar``: type's cost of the item's allocation in payment units
        (its utility is ``payment − cost``; an outside option is a constant added to the cost).
        ``type`` holds the fields with a type dimension, at that type; ``item`` the allocation
        fields of one item.
      principal: ``(env, type, item) -> scalar``: the principal's utility from a ``type`` agent
        taking ``item`` (payment included), averaged over ``probabilities``.
      single_crossing: declares one type dimension, one allocation field, costs with the
        single-crossing property, a principal quasi-linear in the payment (``V(x, θ) − λ t``,
        ``λ > 0``) and concave virtual surpluses: the asymmetric oracle is then exact (virtual
        surplus and ironing, :func:`generic.ironed_oracle`); ``check-model`` verifies it.
      sample, state, oracle, principal_utility, paper_reward, check: optional overrides with the
        :class:`Scenario` signatures.
      baselines: named reference contracts ``env -> menu`` evaluated beside the oracle.
      roles / labels: what the model calls the principal and the agents, and settings in words
        (figure axes; :class:`Scenario`).
      source: where the model was loaded from (set by the loader).
    """

    name: str
    dims: tuple[str, ...]
    env_fields: Mapping[str, Shape]
    defaults: Mapping[str, Any]
    domain: Mapping[str, Interval]
    types: tuple[str, ...]
    probabilities: str
    allocation: Mapping[str, tuple[Bound, Bound]]
    payment: str
    cost: Callable[[Env, Env, Menu], Array]
    principal: Callable[[Env, Env, Menu], Array]
    description: str = ""
    single_crossing: bool = False
    sample: Callable[..., Env] | None = None
    state: Callable[[Env], Array] | None = None
    oracle: Callable[[Env, str], Menu] | None = None
    principal_utility: Callable[[Env, Menu], Array] | None = None
    paper_reward: Callable[[Env, Menu, Array], Array] | None = None
    check: Callable[[Mapping[str, np.ndarray]], None] | None = None
    baselines: Mapping[str, Callable[[Env], Menu]] = dataclasses.field(default_factory=dict)
    roles: tuple[str, str] = ("principal", "agent")
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def scenario(self) -> Scenario:
        """The derived :class:`Scenario` (checked: :func:`validate`)."""
        return _derive(self)


def validate(m: Model) -> None:
    """The declarations agree with each other; each problem is an :class:`InputError` line."""
    def need(ok: bool, problem: str) -> None:
        if not ok:
            raise InputError(f"model '{m.name}': {problem}")

    need(isinstance(m.name, str) and m.name.isidentifier(), f"name {m.name!r} must be an identifier, e.g. 'screening'")
    fields = dict(m.env_fields)
    need(all(isinstance(s, tuple) and all(d in m.dims for d in s) for s in fields.values()),
         f"every env_fields shape must be a tuple of dimension names from dims={m.dims}")
    need(m.probabilities in fields, f"probabilities='{m.probabilities}' is not an env field")
    tshape = fields[m.probabilities]
    need(len(tshape) >= 1, f"probabilities='{m.probabilities}' must have a type dimension, e.g. ('K',)")
    for t in m.types:
        need(t in fields, f"types: '{t}' is not an env field")
        need(len(fields[t]) >= 1 and fields[t][0] in tshape,
             f"types: '{t}' must have a type dimension ({', '.join(tshape)}) as its first axis")
    need(bool(m.allocation), "allocation: give at least one allocation field with its bounds, e.g. {'q': (0.0, 10.0)}")
    for a, b in m.allocation.items():
        need(a not in fields and a != m.payment, f"allocation field '{a}' clashes with another field name")
        need(isinstance(b, tuple | list) and len(b) == 2, f"allocation['{a}'] must be a pair (lo, hi)")
        for x in b:
            need(not isinstance(x, str) or x in fields, f"allocation['{a}'] bound '{x}' is not an env field")
            need(isinstance(x, str) or callable(x) or (isinstance(x, int | float) and not isinstance(x, bool)
                                                        and math.isfinite(x)),
                 f"allocation['{a}'] bound {x!r} must be a finite number, an env field's name or a function of the env")
        if all(isinstance(x, int | float) for x in b):
            need(b[0] < b[1], f"allocation['{a}'] = {tuple(b)}: the lower bound must be below the upper")
    need(m.payment not in fields, f"payment field '{m.payment}' clashes with an env field")
    missing = [f for f in fields if f not in m.domain]
    need(not missing, f"domain has no interval for field '{missing[0] if missing else ''}'; "
                      "declare one, e.g. POSITIVE")
    for f, interval in m.domain.items():
        need(isinstance(interval, Interval), f"domain['{f}'] = {interval!r} is not an interval; use one from "
                                             "contractjax.domain (POSITIVE, PROBABILITY, WHOLE, between(lo, hi), ...)")
    if m.sample is None:
        for f in fields:
            need(f in m.defaults or f == m.probabilities or f in m.dims,
                 f"defaults has no setting for field '{f}' (the derived sampler draws each field from its setting); "
                 "add one or give your own sample")
    need(isinstance(m.roles, tuple | list) and len(m.roles) == 2 and all(isinstance(r, str) for r in m.roles),
         f"roles={m.roles!r} must be two names: the principal's and the agents', e.g. ('buyer', 'seller')")
    need(isinstance(m.baselines, Mapping) and all(isinstance(k, str) and callable(v) for k, v in m.baselines.items()),
         "baselines must map names to functions env -> menu, e.g. {'greedy': greedy_menu}")
    need(isinstance(m.labels, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in m.labels.items()),
         "labels must map setting names to words, e.g. {'a': 'value scale a'}")
    if m.single_crossing:
        need(len(tshape) == 1 and len(m.allocation) == 1,
             "single_crossing needs one type dimension and one allocation field")


# ------------------------------------------------------------------------------- the derivation


def _derive(m: Model) -> Scenario:
    validate(m)
    env_fields = {d: () for d in m.dims if d not in m.env_fields} | dict(m.env_fields)
    tdims = env_fields[m.probabilities]
    menu_fields = {a: tdims for a in m.allocation} | {m.payment: tdims}
    alloc = tuple(m.allocation)

    def value(env: Env, x: Array, t: Array) -> Array:
        if m.principal_utility is None:
            return generic.expected_principal(eco, env, x, t)
        return m.principal_utility(env, to_menu(env, x) | {m.payment: t.reshape(env[m.probabilities].shape)})

    eco = generic.Economics(
        n_types=lambda env: int(np.prod(env[m.probabilities].shape)),
        per_type=functools.partial(_per_type, env_fields, tdims),
        cost=m.cost, principal=m.principal, value=value,
        bounds=functools.partial(_bounds, m), probabilities=lambda env: jnp.ravel(env[m.probabilities]),
        alloc=alloc, payment=m.payment, one_dim=len(tdims) == 1)

    def to_menu(env: Env, x: Array) -> Menu:
        """``x[F, K]`` (one row per allocation field) onto the menu fields' shapes."""
        shape = env[m.probabilities].shape
        return {a: x[i].reshape(shape) for i, a in enumerate(alloc)}

    def alloc_of(menu: Menu) -> Array:
        return jnp.stack([jnp.ravel(menu[a]) for a in alloc])

    def paid(env: Env, x: Array) -> Menu:
        return to_menu(env, x) | {m.payment: generic.least_payments(eco, env, x).reshape(env[m.probabilities].shape)}

    def constraints(env: Env, menu: Menu) -> core.Constraints:
        return core.ir_ic(generic.utility_matrix(eco, env, alloc_of(menu), jnp.ravel(menu[m.payment])))

    def principal_utility(env: Env, menu: Menu) -> Array:
        return generic.expected_principal(eco, env, alloc_of(menu), jnp.ravel(menu[m.payment]))

    def agents_utility(env: Env, menu: Menu) -> Array:
        U = generic.utility_matrix(eco, env, alloc_of(menu), jnp.ravel(menu[m.payment]))
        return jnp.sum(eco.probabilities(env) * jnp.diagonal(U))

    def paper_reward(env: Env, menu: Menu, a: Array) -> Array:
        """The principal's utility when every IR and IC holds, else 0."""
        del a
        return jnp.where(core.feasible(constraints(env, menu)), (m.principal_utility or principal_utility)(env, menu),
                         0.0)

    def payments(env: Env, menu: Menu) -> Menu:
        return paid(env, alloc_of(menu))

    def boxed(env: Env, a: Array) -> Array:
        lo, hi = eco.bounds(env)
        return common.box(a.reshape(lo.shape), hi, lo)

    def efforts_to_menu(env: Env, a: Array) -> Menu:
        """Allocation in its box, repaired to an implementable one (:func:`generic.repair`), with
        the least payments: feasible by construction."""
        return paid(env, generic.repair(eco, env, boxed(env, a), m.single_crossing))

    def t_max(env: Env) -> Array:
        lo, hi = eco.bounds(env)
        return PAYMENT_MARGIN * jnp.maximum(jnp.max(generic.cost_matrix(eco, env, hi)), 0.0) + 1e-9

    def action_to_menu(env: Env, a: Array) -> Menu:
        """``a = (allocations[F·K], payments[K])`` in ``[-1, 1]`` onto the allocation box and
        ``[0, t_max]``."""
        n = len(alloc) * eco.n_types(env)
        t = common.box(a[n:], t_max(env))
        return to_menu(env, boxed(env, a[:n])) | {m.payment: t.reshape(env[m.probabilities].shape)}

    def menu_to_action(env: Env, menu: Menu) -> Array:
        lo, hi = eco.bounds(env)
        return jnp.concatenate([jnp.ravel(common.unbox(alloc_of(menu), hi, lo)),
                                common.unbox(jnp.ravel(menu[m.payment]), t_max(env))])

    def random_menu(key: Array, env: Env) -> Menu:
        """A random allocation through :func:`efforts_to_menu`, plus a random rent added to every
        payment (shifts each type's utility of every item alike: IC kept, IR gains slack)."""
        k1, k2 = jax.random.split(key)
        menu = efforts_to_menu(env, jax.random.uniform(k1, (len(alloc) * eco.n_types(env),), minval=-1.0, maxval=1.0))
        t = menu[m.payment]
        return menu | {m.payment: t + jax.random.uniform(k2) * 0.1 * jnp.mean(jnp.abs(t))}

    def oracle(env: Env, info: str = "asymmetric") -> Menu:
        if info == "complete":
            x = generic.complete_allocation(eco, env)
            return to_menu(env, x) | {m.payment: jnp.diagonal(generic.cost_matrix(eco, env, x)).reshape(
                env[m.probabilities].shape)}
        x = generic.ironed_allocation(eco, env) if m.single_crossing else generic.search(eco, env)
        return paid(env, x)

    def warm_oracle(env: Env, menu: Menu) -> Menu:
        return paid(env, generic.search(eco, env, extra_starts=alloc_of(menu)[..., None]))

    def state(env: Env) -> Array:
        """Every environment field, flattened in declaration order."""
        return jnp.concatenate([jnp.ravel(env[f]) for f in env_fields])

    def sample(key: Array, dims: Mapping[str, int], config: Mapping) -> Env:
        return _sample(m, env_fields, key, dims, config)

    def check(env: Mapping[str, np.ndarray]) -> None:
        for t in m.types:
            common.check_sorted(env, t, axis=1)
        common.check_probabilities(env, m.probabilities, axes=tuple(range(1, 1 + len(tdims))))
        if m.check is not None:
            m.check(env)

    return Scenario(
        name=m.name, description=m.description or m.name, dims=tuple(m.dims), env_fields=env_fields,
        menu_fields=menu_fields, defaults=dict(m.defaults), domain=dict(m.domain),
        sample=m.sample or sample, check=check, state=m.state or state,
        action_size=lambda dims: (len(alloc) + 1) * _count(tdims, dims),
        action_to_menu=action_to_menu, menu_to_action=menu_to_action, constraints=constraints,
        principal_utility=m.principal_utility or principal_utility, agents_utility=agents_utility,
        paper_reward=m.paper_reward or paper_reward, payments=payments,
        oracle=m.oracle or oracle, random_menu=random_menu, baselines=dict(m.baselines),
        effort_size=lambda dims: len(alloc) * _count(tdims, dims), efforts_to_menu=efforts_to_menu,
        extra_parameterizations={"unrepaired": Parameterization(
            lambda dims: len(alloc) * _count(tdims, dims), lambda env, a: paid(env, boxed(env, a)),
            "allocations with least payments, no implementability repair")},
        model=m, economics=eco, allocation_menu=paid, menu_allocation=alloc_of,
        warm_oracle=None if m.single_crossing or m.oracle is not None else warm_oracle,
        roles=tuple(m.roles), labels=dict(m.labels),
    )


def _count(tdims: Shape, dims: Mapping[str, int]) -> int:
    return math.prod(int(dims[d]) for d in tdims)


def _per_type(env_fields: Mapping[str, Shape], tdims: Shape, env: Env) -> Env:
    """Every field with a type dimension, indexed per flattened type: ``[K, rest...]``."""
    shape = tuple(_dim_size(env, env_fields, d) for d in tdims)
    index = dict(zip(tdims, np.unravel_index(np.arange(math.prod(shape)), shape), strict=True))
    out = {}
    for f, spec in env_fields.items():
        axes = [i for i, d in enumerate(spec) if d in tdims]
        if not axes:
            continue
        axes.sort(key=lambda i: tdims.index(spec[i]))
        x = jnp.transpose(env[f], axes + [i for i in range(len(spec)) if i not in axes])
        out[f] = x[tuple(index[spec[i]] for i in axes)]
    return out


def _dim_size(env: Env, env_fields: Mapping[str, Shape], d: str) -> int:
    for f, spec in env_fields.items():
        if d in spec:
            return int(env[f].shape[spec.index(d)])
    raise ValueError(f"dimension '{d}' sizes no field")


def _bounds(m: Model, env: Env) -> tuple[Array, Array]:
    """Lower and upper allocation bounds ``[F, K]``."""
    K = int(np.prod(env[m.probabilities].shape))

    def value(b: Bound) -> Array:
        v = env[b] if isinstance(b, str) else b(env) if callable(b) else jnp.asarray(b, jnp.result_type(float))
        return jnp.broadcast_to(jnp.asarray(v, jnp.result_type(float)), env[m.probabilities].shape).reshape(K)

    lo = jnp.stack([value(b[0]) for b in m.allocation.values()])
    hi = jnp.stack([value(b[1]) for b in m.allocation.values()])
    return lo, jnp.maximum(hi, lo)


def _sample(m: Model, env_fields: Mapping[str, Shape], key: Array, dims: Mapping[str, int], config: Mapping) -> Env:
    """Each field from its setting (:class:`Model`), with its own key folded from ``key``."""
    out: Env = {}
    for i, (f, spec) in enumerate(env_fields.items()):
        shape = tuple(int(dims[d]) for d in spec)
        k = jax.random.fold_in(key, 104_729 + i)
        if f in m.dims:
            out[f] = jnp.asarray(float(dims[f]))
        elif f == m.probabilities and f not in config:
            out[f] = common.dirichlet(k, math.prod(shape), config.get("dirichlet", 1.0)).reshape(shape)
        else:
            out[f] = _draw(k, config[f], shape, sort=f in m.types, whole=m.domain[f].integer, name=f)
    return out


def _draw(key: Array, spec: Any, shape: tuple[int, ...], sort: bool, whole: bool, name: str) -> Array:
    dtype = jnp.result_type(float)
    if isinstance(spec, list) and spec and all(isinstance(v, tuple | list) for v in spec):  # per-type ranges
        x = common.draw_types(key, spec, shape[0]) if len(shape) == 1 else None
        if x is None:
            raise InputError(f"setting '{name}': per-type ranges need a one-dimensional field")
        return x
    if isinstance(spec, list):  # fixed values
        v = jnp.asarray(spec, dtype)
        if v.size != math.prod(shape):
            raise InputError(f"setting '{name}' lists {v.size} values; the field has shape {shape}: give "
                             f"{math.prod(shape)} (or change the dimensions)")
        return v.reshape(shape)
    if isinstance(spec, tuple):
        lo, hi = spec
        if whole:
            x = jnp.floor(jax.random.uniform(key, shape, minval=lo, maxval=hi + 1.0)).clip(lo, hi)
        else:
            x = jax.random.uniform(key, shape, dtype, minval=lo, maxval=hi)
        return jnp.sort(x.reshape(shape[0], -1), axis=0).reshape(shape) if sort and shape else x
    return jnp.full(shape, spec, dtype)
