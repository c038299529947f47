"""Scenario registry: ``get(name)`` returns a :class:`Scenario` of pure functions."""

from __future__ import annotations

from contractjax.scenarios.base import Scenario

_REGISTRY: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    """Add a scenario under its name. A new model is a module of pure functions with the standard
    names (``base.FUNCTIONS``), ``SCENARIO = base.from_module(globals(), name=..., ...)``, and this
    one call."""
    _REGISTRY[scenario.name] = scenario
    return scenario


def names() -> list[str]:
    return list(_REGISTRY)


def get(name: str) -> Scenario:
    """The scenario called ``name``; an unknown name is a one-line error listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"scenario '{name}' is unknown; choose one of: {', '.join(_REGISTRY)}"
        ) from None


def _register_builtin() -> None:
    from contractjax.scenarios import agent, aigc, dt, twin

    for mod in (dt, agent, aigc, twin):
        register(mod.SCENARIO)


_register_builtin()

__all__ = ["Scenario", "get", "names", "register"]
