"""The training algorithms by name: one :class:`AlgoSpec` per algorithm, registered once.

Everything that names algorithms reads this registry when it needs them: ``Config.algo``'s
validation and its error messages, the algorithm defaults beneath a preset
(``config.ALGO_DEFAULTS``), :func:`contractjax.solver.algos.make`, sweep files, the experiments'
labels (``experiments.ALGO_LABELS``) and the ``--algo`` help. Adding an algorithm is one module (an
:class:`~contractjax.solver.algos.base.Algorithm`) and one call, from this package or from your own
code before training::

    from contractjax.solver.algos import registry
    registry.register(registry.AlgoSpec("my_sac", "my SAC", build_my_sac, {"actor_lr": 3e-4}))

where ``build_my_sac(cfg, obs_dim, action_dim)`` returns the algorithm with its networks; then
``contractjax.train("dt", algo="my_sac")`` and sweeps with ``algos = ["my_sac"]`` accept it. The
built-in algorithms register in :mod:`contractjax.solver.algos`. This module imports nothing of the
solver, so :mod:`contractjax.solver.config` reads it without an import cycle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from contractjax.domain import InputError

if TYPE_CHECKING:
    from contractjax.solver.algos.base import Algorithm
    from contractjax.solver.config import Config

#: ``build(cfg, obs_dim, action_dim)``: the algorithm ``cfg.algo`` with its networks.
Builder = Callable[["Config", int, int], "Algorithm"]


@dataclasses.dataclass(frozen=True)
class AlgoSpec:
    """One algorithm: ``name`` (the ``Config.algo`` value), ``label`` (its name in figures and
    tables), ``build`` (a :data:`Builder`), ``defaults`` (Config values applied beneath the preset)
    ``paper`` (a series of the papers' all-algorithms comparison, ``reproduce dt-fig4``) and
    ``gradient`` (it learns from the reward's gradient through the action space, which must then
    be differentiable)."""

    name: str
    label: str
    build: Builder
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    paper: bool = False
    gradient: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise InputError(f"algorithm name {self.name!r}: give a name of letters, digits and underscores")
        if not callable(self.build):
            raise InputError(f"algorithm '{self.name}': build must be a callable (cfg, obs_dim, action_dim)")
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))


_SPECS: dict[str, AlgoSpec] = {}


def register(spec: AlgoSpec, *, replace: bool = False) -> AlgoSpec:
    """Add ``spec`` (``replace``: over a registered one of the same name); returns it."""
    if spec.name in _SPECS and not replace:
        raise InputError(f"algorithm '{spec.name}' is already registered; unregister it first or pass replace=True")
    _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> AlgoSpec:
    """Remove the algorithm ``name``; returns its spec."""
    spec = get(name)
    del _SPECS[name]
    return spec


def get(name: str) -> AlgoSpec:
    """The registered algorithm ``name`` (an unknown one is a one-line error listing them)."""
    try:
        return _SPECS[name]
    except (KeyError, TypeError):
        raise InputError(f"algorithm {name!r} is unknown; choose one of {', '.join(_SPECS)}") from None


def names() -> tuple[str, ...]:
    """The registered algorithms' names, in registration order."""
    return tuple(_SPECS)


def specs() -> tuple[AlgoSpec, ...]:
    """The registered algorithms, in registration order."""
    return tuple(_SPECS.values())
