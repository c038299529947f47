"""The scenario interface: a bundle of pure functions plus field metadata.

A scenario module defines functions on *one* environment ``env`` (a dict of arrays named as in
docs/models.md) and *one* menu (likewise); the library vmaps them. Shapes are set by the integer
dimension fields (``K`` for dt/agent/aigc, ``M`` and ``N`` for twin), which must be the same
for every environment of a batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from contractjax.core import Constraints
from contractjax.domain import InputError, Interval, check_fields, check_settings

Array = jax.Array
Env = dict[str, Array]
Menu = dict[str, Array]
#: A field's shape, as names of dimension fields: () scalar, ("K",), ("K", "K"), ("M", "N"), ...
Shape = tuple[str, ...]


class Parameterization(NamedTuple):
    """An action space of the policy: ``size(dims)`` numbers in ``[-1, 1]`` and the bounded map
    ``to_menu(env, a) -> menu``, differentiable unless ``differentiable`` is false (e.g. an
    argmax: algorithms that learn from the reward's gradient cannot use it)."""

    size: Callable[[Mapping[str, int]], int]
    to_menu: Callable[[Env, Array], Menu]
    description: str = ""
    differentiable: bool = True


@dataclasses.dataclass(frozen=True, eq=False)
class Scenario:
    """One contract model. All callables are pure and operate on a single environment.

    Attributes:
      name: registry name (``dt``, ``agent``, ``aigc``, ``twin``).
      dims: integer env fields that set array shapes (constant within a batch).
      env_fields / menu_fields: field name -> shape (in dimension names), in file order.
      defaults: sampler settings; a pair ``(lo, hi)`` is a uniform draw, a number a constant.
      domain: the valid values (:class:`contractjax.domain.Interval`) of every sampler setting and
        environment field, declared once: settings, environment files and configs are checked
        against it.
      sample: ``(key, dims, config) -> env``; draws one environment (types sorted ascending).
      check: ``(env: dict of numpy arrays, batched) -> None``; raises ``ValueError`` naming the
        field on conditions across values (unsorted types, probabilities not summing to 1, ...);
        each value's own range is checked against ``domain`` before.
      state: ``env -> 1-D array``; the fixed-size observation the policy sees.
      action_size: ``dims -> int``.
      action_to_menu: ``(env, a) -> menu``; bounded, differentiable, ``a`` in ``[-1, 1]^d``.
      menu_to_action: ``(env, menu) -> a``; inverse of ``action_to_menu`` where one exists.
      constraints: ``(env, menu) -> Constraints``; *all* IR/IC slacks.
      principal_utility / agents_utility: ``(env, menu) -> scalar``.
      paper_reward: ``(env, menu, a) -> scalar``; the reward exactly as the paper trains on.
      payments: ``(env, menu) -> menu``; the paper's closed-form optimal payments for the menu's
        efforts (the payment fields of the input are ignored).
      oracle: ``(env, info) -> menu``; the exact optimum, ``info`` in {"asymmetric", "complete"}.
      random_menu: ``(key, env) -> menu``; a random *feasible* menu (baseline).
      baselines: named reference contracts, each ``env -> menu``, evaluated beside the oracle
        (TWIN's ``greedy`` contract, hidden action's best ``linear`` one).
      effort_size / efforts_to_menu: optional feasible-by-construction parameterization: the
        policy chooses only the efforts (``effort_size(dims)`` numbers in ``[-1, 1]``) and
        ``efforts_to_menu(env, a)`` orders them and adds the closed-form payments.
      extra_parameterizations: further named action spaces (e.g. AGENT's shared second-period
        menu); see :meth:`parameterizations`.
      model: the :class:`~contractjax.scenarios.model.Model` this scenario was derived from
        (``None`` for one written in full); ``economics``, ``allocation_menu`` and
        ``menu_allocation`` are its pieces the generic oracles work with (warm starts, polish).
      warm_oracle: ``(env, menu) -> menu``; a search-based asymmetric oracle with the given menu's
        allocation among its starts (``oracle --warm-start``: a learned policy's menus).
      smoothed_utility: optional ``(env, menu, temperature) -> scalar``; the principal's utility
        when the agent's discrete choice is smoothed at ``temperature`` (hidden action: a softmax
        response), for the training reward of models whose utility jumps (``Config.smooth``).
      training: Config values the model trains with unless a preset, a config file or the user
        says otherwise (hidden action: the smoothed response, ``smooth``).
      roles: what the model calls the principal and the agents (figure axes, e.g. ``("DT server",
        "IIoT device")``).
      labels: a setting's or field's name in words, with its unit where it has one (figure axes,
        e.g. ``{"eta": "loss aversion η"}``); a name not listed is shown as it is.
    """

    name: str
    description: str
    dims: tuple[str, ...]
    env_fields: Mapping[str, Shape]
    menu_fields: Mapping[str, Shape]
    defaults: Mapping[str, Any]
    domain: Mapping[str, Interval]
    sample: Callable[..., Env]
    check: Callable[[Mapping[str, np.ndarray]], None]
    state: Callable[[Env], Array]
    action_size: Callable[[Mapping[str, int]], int]
    action_to_menu: Callable[[Env, Array], Menu]
    menu_to_action: Callable[[Env, Menu], Array]
    constraints: Callable[[Env, Menu], Constraints]
    principal_utility: Callable[[Env, Menu], Array]
    agents_utility: Callable[[Env, Menu], Array]
    paper_reward: Callable[[Env, Menu, Array], Array]
    payments: Callable[[Env, Menu], Menu]
    oracle: Callable[[Env, str], Menu]
    random_menu: Callable[[Array, Env], Menu]
    baselines: Mapping[str, Callable[[Env], Menu]] = dataclasses.field(default_factory=dict)
    effort_size: Callable[[Mapping[str, int]], int] | None = None
    efforts_to_menu: Callable[[Env, Array], Menu] | None = None
    extra_parameterizations: Mapping[str, Parameterization] = dataclasses.field(default_factory=dict)
    model: Any = None  # the contractjax.scenarios.model.Model it was derived from, if any
    economics: Any = None  # its contractjax.scenarios.generic.Economics (derived models)
    allocation_menu: Callable[[Env, Array], Menu] | None = None  # x[F, K] -> the least-paid menu
    menu_allocation: Callable[[Menu], Array] | None = None  # menu -> x[F, K]
    warm_oracle: Callable[[Env, Menu], Menu] | None = None
    smoothed_utility: Callable[[Env, Menu, Array], Array] | None = None
    training: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    roles: tuple[str, str] = ("principal", "agent")
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def label(self, name: str) -> str:
        """A setting or field in words (:attr:`labels`), else its name."""
        return self.labels.get(name, name)

    @property
    def parameterizations(self) -> dict[str, Parameterization]:
        """Every action space by name: ``menu`` (efforts and payments in the action, the papers'
        setting), ``efforts`` (feasible by construction) when defined, then the extra ones."""
        out = {"menu": Parameterization(self.action_size, self.action_to_menu, "efforts and payments")}
        if self.efforts_to_menu is not None and self.effort_size is not None:
            out["efforts"] = Parameterization(self.effort_size, self.efforts_to_menu, "efforts; closed-form payments")
        return out | dict(self.extra_parameterizations)

    def parameterization(self, name: str) -> Parameterization:
        """The action space ``name``; an unknown name is a one-line error listing the known ones."""
        known = self.parameterizations
        if name not in known:
            raise ValueError(f"parameterization '{name}' is unknown for {self.name}; choose one of: {', '.join(known)}")
        return known[name]

    def settings(self, overrides: Mapping[str, Any] | None = None, source: str = "sampler setting") -> dict[str, Any]:
        """The sampler's settings: defaults with ``overrides``, each checked against ``domain``
        (an :class:`contractjax.domain.InputError` names ``source``, the value and the range)."""
        return check_settings(source, self.defaults, self.domain, overrides, self.dims)

    def check_envs(self, env: Mapping[str, np.ndarray], source: str = "") -> None:
        """Every field of a batch of environments in its interval, then the model's own
        conditions (:attr:`check`); ``source`` prefixes the message (e.g. the file)."""
        check_fields(source, env, self.domain)
        try:
            self.check(env)
        except ValueError as e:
            raise InputError(f"{source}{e}") from None

    def shape_of(self, field: str, dims: Mapping[str, int], menu: bool = False) -> tuple[int, ...]:
        """Concrete per-environment shape of a field for the given dimension values."""
        spec = (self.menu_fields if menu else self.env_fields)[field]
        return tuple(int(dims[d]) for d in spec)


FUNCTIONS = ("sample", "check", "state", "action_to_menu", "menu_to_action", "constraints", "principal_utility",
             "agents_utility", "paper_reward", "payments", "oracle", "random_menu")


def from_module(namespace: Mapping[str, Any], **metadata: Any) -> Scenario:
    """Build a :class:`Scenario` from a module's functions of the standard names
    (``FUNCTIONS``, plus ``efforts_to_menu`` when defined) and the given metadata."""
    missing = [name for name in FUNCTIONS if not callable(namespace.get(name))]
    if missing:
        raise InputError(f"model '{metadata.get('name', '?')}' written in full defines no function '{missing[0]}'; "
                         f"define {', '.join(FUNCTIONS)} (or state the model's economics as a Model: docs/scenarios.md)")
    funcs = {name: namespace[name] for name in FUNCTIONS}
    for name in ("efforts_to_menu",):
        if name in namespace:
            funcs[name] = namespace[name]
    return Scenario(**metadata, **funcs)
