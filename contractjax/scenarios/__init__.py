"""The model registry: every surface (CLI, Python API, configs, sweeps, workers) finds a model here.

A model is named by any of:

* a registered name (the four built-ins, or one registered in this process with :func:`register`);
* a model file, ``path/to/model.py``, defining one model (a :class:`~contractjax.scenarios.model.Model`
  named ``MODEL``, or a :class:`Scenario` named ``SCENARIO`` written in full with ``from_module``);
* a module, ``package.module``, defining one the same way;
* an entry point of the group ``contractjax.scenarios`` of an installed package (its name is the
  model's name; its value a module or ``module:attribute``).

:func:`get` loads a file or module once, checks it (:func:`contractjax.scenarios.checks.check`)
and registers it; :func:`source` tells where a registered model came from, which training runs
record so that ``solve``, ``--resume`` and cluster workers load it again.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from contractjax.domain import InputError, first_line
from contractjax.scenarios.base import Scenario
from contractjax.scenarios.model import Model

_REGISTRY: dict[str, Scenario] = {}
_SOURCES: dict[str, str] = {}  # name -> the file or module it was loaded from ("" for built-ins)
_LOADED: dict[str, str] = {}  # resolved file or module -> name
_FILE_MODULES: list[ModuleType] = []  # modules imported from files (shipped to cluster workers by value)
_MODULE_SCENARIOS: dict[str, Scenario] = {}  # built-in name -> its module's SCENARIO (registered with more pieces)
ENTRY_POINTS = "contractjax.scenarios"
#: The models that ship with the package, in order.
BUILTIN = ("dt", "agent", "aigc", "twin", "hidden_action")


def register(model: Scenario | Model, source: str = "") -> Scenario:
    """Check a model (one-line :class:`InputError` on any problem) and add it under its name.
    Registering the same model again is a no-op; another model under a taken name is an error."""
    from contractjax.scenarios import checks

    sc = as_scenario(model)
    old = _REGISTRY.get(sc.name)
    if old is not None:
        if old is sc or _MODULE_SCENARIOS.get(sc.name) is sc or (sc.model is not None and old.model is sc.model):
            if source and not _SOURCES.get(sc.name):
                _SOURCES[sc.name] = source
            return old
        where = _SOURCES.get(sc.name) or "a built-in or earlier registration"
        raise InputError(f"model name '{sc.name}' is already taken (by {where}); give your model another name")
    checks.check(sc)
    _REGISTRY[sc.name] = sc
    _SOURCES[sc.name] = source
    return sc


def unregister(name: str) -> None:
    """Remove a registered model (tests, notebooks redefining a model)."""
    _REGISTRY.pop(name, None)
    _SOURCES.pop(name, None)
    for k in [k for k, v in _LOADED.items() if v == name]:
        del _LOADED[k]


def as_scenario(model: Scenario | Model) -> Scenario:
    """The :class:`Scenario` of a model object (derived once per :class:`Model`)."""
    if isinstance(model, Scenario):
        return model
    if isinstance(model, Model):
        for sc in _REGISTRY.values():
            if sc.model is model:
                return sc
        return model.scenario()
    raise InputError(f"{model!r} is not a model: give a registered name, a model file or module, "
                     "or a contractjax Model / Scenario")


def names() -> list[str]:
    """The registered models' names (built-ins first)."""
    return list(_REGISTRY)


def source(name: str) -> str:
    """The file or module a registered model was loaded from; "" for built-ins, models registered
    from code and installed entry points (found by name anywhere)."""
    return _SOURCES.get(name, "")


def get(spec: str | Scenario | Model, model_source: str = "") -> Scenario:
    """The model ``spec`` names (module docstring), loading and registering it on first use;
    ``model_source`` is where to load a name not registered yet (a run's recorded source)."""
    if not isinstance(spec, str):
        sc = as_scenario(spec)
        return register(sc) if sc.name not in _REGISTRY or _REGISTRY[sc.name] is not sc else sc
    if spec in _REGISTRY:
        return _REGISTRY[spec]
    if model_source:
        sc = get(model_source)
        if sc.name != spec:
            raise InputError(f"'{model_source}' now defines model '{sc.name}', not '{spec}' as when the run was made; "
                             "restore the model file or retrain")
        return sc
    key = _resolved(spec)
    if key in _LOADED:
        return _REGISTRY[_LOADED[key]]
    if _is_file(spec):
        module = _import_file(Path(spec))
    elif "." in spec and _importable(spec):
        module = _import_module(spec)
    else:
        module = _entry_point(spec)
        if module is not None:
            key = ""
        elif _importable(spec):
            module = _import_module(spec)
        else:
            raise InputError(f"scenario '{spec}' is unknown; choose one of: {', '.join(_REGISTRY)}, or give a "
                             "model file (path/to/model.py) or module (package.module); docs/scenarios.md")
    sc = register(_model_in(module, spec), source=key)
    if key:
        _LOADED[key] = sc.name
    return sc


def _importable(spec: str) -> bool:
    """``spec`` reads as a module path whose top-level package can be found."""
    if not all(part.isidentifier() for part in spec.split(".")):
        return False
    try:
        return importlib.util.find_spec(spec.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def _is_file(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or (os.altsep is not None and os.altsep in spec)


def _resolved(spec: str) -> str:
    return str(Path(spec).resolve()) if _is_file(spec) else spec


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise InputError(f"model file '{path}' does not exist; give the path of a .py file defining MODEL")
    path = path.resolve()
    name = f"contractjax_model_{path.stem}_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"model file '{path}' cannot be imported; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except InputError as e:
        del sys.modules[name]
        raise InputError(f"model file '{path}': {e}") from None
    except Exception as e:  # the user's code: one line naming the file and the error
        del sys.modules[name]
        raise InputError(f"model file '{path}' fails to import: {type(e).__name__}: {first_line(e)}") from None
    except SystemExit as e:  # a script's exit, run on import: the model cannot be loaded, say so
        del sys.modules[name]
        raise InputError(f"model file '{path}' exits while being imported (sys.exit({e.code!r})); keep script code "
                         "under if __name__ == \"__main__\":") from None
    _pickle_by_value(module)
    return module


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"model module '{name}' fails to import: {type(e).__name__}: {first_line(e)}") from None


def _entry_point(name: str) -> ModuleType | Any | None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINTS):
        if ep.name == name:
            try:
                return ep.load()
            except Exception as e:
                raise InputError(f"installed model '{name}' ({ep.value}) fails to load: {type(e).__name__}: "
                                 f"{first_line(e)}") from None
    return None


def _model_in(obj: Any, spec: str) -> Scenario | Model:
    """The one model a module (or an entry point's object) defines."""
    if isinstance(obj, Scenario | Model):
        return obj
    for attr in ("MODEL", "SCENARIO"):
        if isinstance(getattr(obj, attr, None), Scenario | Model):
            return getattr(obj, attr)
    found = [v for k, v in vars(obj).items() if isinstance(v, Scenario | Model) and not k.startswith("_")]
    if len(found) == 1:
        return found[0]
    raise InputError(f"'{spec}' defines {'no' if not found else len(found)} models; define exactly one as "
                     "MODEL = Model(...) (or SCENARIO = from_module(...)); docs/scenarios.md")


def _pickle_by_value(module: ModuleType) -> None:
    """Cluster workers cannot import a module loaded from a file by path: its functions travel by
    value (:func:`file_modules`; :mod:`contractjax.cluster` registers them with Ray's pickler)."""
    _FILE_MODULES.append(module)
    try:
        import cloudpickle
    except ImportError:
        return
    cloudpickle.register_pickle_by_value(module)


def file_modules() -> list[ModuleType]:
    """The modules of the models loaded from files in this process."""
    return list(_FILE_MODULES)


def _register_builtin() -> None:
    from contractjax.scenarios import agent, aigc, as_models, dt, hidden_action, twin

    derived = {name: m.scenario() for name, m in as_models.models().items()}
    for mod in (dt, agent, aigc, twin, hidden_action):
        sc = mod.SCENARIO
        if sc.name in derived:  # its economics as a Model: the oracles' local search polishes its policies
            d = derived[sc.name]
            sc = dataclasses.replace(sc, economics=d.economics, allocation_menu=d.allocation_menu,
                                     menu_allocation=d.menu_allocation)
        _REGISTRY[sc.name] = sc
        _MODULE_SCENARIOS[sc.name] = mod.SCENARIO
    assert tuple(_REGISTRY) == BUILTIN


_register_builtin()

__all__ = ["BUILTIN", "Model", "Scenario", "as_scenario", "get", "names", "register", "source", "unregister"]
