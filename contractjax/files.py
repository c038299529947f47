"""Environment and menu files (docs/models.md, "File format"): ``.json`` or ``.npz``, validated, written atomically.

One object with ``"scenario"`` and ``"fields"`` (every field an array whose leading axis is the
environment index; a scalar parameter has shape ``[n]``). Menu files add ``"menus"`` and the
per-environment ``"principal_utility"``, ``"agents_utility"``, ``"feasible"``, ``"max_violation"``
(and, from ``evaluate``, ``"paper_reward"`` and ``"slacks"``).

In ``.npz`` files nested names are joined with ``/``: ``fields/q``, ``menus/s``, ``slacks/IC``;
the reader also accepts ``fields.q``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from contractjax.scenarios import Scenario

GROUPS = ("fields", "menus", "slacks")


class InputError(ValueError):
    """Invalid user input; the message is one line naming the field and the fix."""


# ------------------------------------------------------------------------------------- reading


def read(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``.json`` or ``.npz`` file into ``{"scenario": str, "fields": {..}, ...}``."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"file '{p}' does not exist; give the path of an existing .json or .npz file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            with open(p) as fh:
                raw = json.load(fh)
            if not isinstance(raw, dict):
                raise InputError(f"file '{p}': top level must be a JSON object with 'scenario' and 'fields'")
            out: dict[str, Any] = {}
            for k, v in raw.items():
                if k in GROUPS:
                    if not isinstance(v, dict):
                        raise InputError(f"file '{p}': '{k}' must be an object of named arrays")
                    out[k] = {name: _array(f"{k}.{name}", x) for name, x in v.items()}
                elif k == "scenario" or k == "info":
                    out[k] = v
                else:
                    out[k] = _array(k, v)
            return out
        if suffix == ".npz":
            out = {}
            with np.load(p, allow_pickle=False) as z:
                for key in z.files:
                    value = z[key]
                    for sep in ("/", "."):
                        group, _, name = key.partition(sep)
                        if name and group in GROUPS:
                            out.setdefault(group, {})[name] = value
                            break
                    else:
                        out[key] = value.item() if value.ndim == 0 and value.dtype.kind == "U" else value
            return out
    except InputError:
        raise
    except (OSError, ValueError) as e:
        raise InputError(f"file '{p}' cannot be read ({type(e).__name__}: {e}); give a valid .json or .npz file") from None
    raise InputError(f"file '{p}' has suffix '{p.suffix}'; use .json or .npz")


def _array(name: str, value: Any) -> np.ndarray:
    try:
        a = np.asarray(value)
    except ValueError:
        raise InputError(f"field '{name}': arrays must be rectangular (same length in every environment)") from None
    if a.dtype == object:
        raise InputError(f"field '{name}': arrays must be rectangular numbers (got ragged or mixed values)")
    return a


def load_envs(scenario: Scenario, path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and validate an environment file for ``scenario``."""
    data = read(path)
    name = data.get("scenario")
    if name is not None and name != scenario.name:
        raise InputError(
            f"field 'scenario': file '{path}' holds '{name}' environments but --scenario is "
            f"'{scenario.name}'; pass --scenario {name} or another file"
        )
    if "fields" not in data:
        raise InputError(f"field 'fields': file '{path}' has no 'fields'; write environments with 'contractjax sample-envs'")
    return validate_envs(scenario, data["fields"])


def n_of(fields: Mapping[str, np.ndarray]) -> int:
    return int(next(iter(fields.values())).shape[0]) if fields else 0


def validate_envs(scenario: Scenario, fields: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Check names, shapes, finiteness and the model's domain; return float64 arrays."""
    unknown = sorted(set(fields) - set(scenario.env_fields))
    if unknown:
        raise InputError(
            f"field '{unknown[0]}' is not a {scenario.name} environment field; "
            f"known fields: {', '.join(scenario.env_fields)}"
        )
    missing = [f for f in scenario.env_fields if f not in fields]
    if missing:
        raise InputError(f"field '{missing[0]}' is missing; a {scenario.name} environment needs: "
                         f"{', '.join(scenario.env_fields)}")
    env = {}
    for f in scenario.env_fields:
        a = _array(f, fields[f])
        if a.dtype.kind not in "biuf":
            raise InputError(f"field '{f}': values must be numbers (got {a.dtype})")
        a = a.astype(np.float64)
        if a.ndim == 0:
            raise InputError(f"field '{f}': must be an array with one entry per environment (shape [n, ...])")
        if not np.all(np.isfinite(a)):
            raise InputError(f"field '{f}': contains NaN or infinity; give finite numbers")
        env[f] = a
    n = n_of(env)
    if n == 0:
        raise InputError("field 'fields': no environments (leading axis has length 0)")
    dims = {}
    for d in scenario.dims:
        a = env[d]
        if a.shape != (n,):
            raise InputError(f"field '{d}': must have shape [{n}], got {list(a.shape)}")
        if np.any(a != np.round(a)) or np.any(a < 1):
            raise InputError(f"field '{d}': must be a positive whole number")
        if np.any(a != a[0]):
            raise InputError(f"field '{d}': must be the same in every environment of a file "
                             f"(found {sorted(set(a.tolist()))}); split the file by {d}")
        dims[d] = int(a[0])
    for f in scenario.env_fields:
        want = (n, *scenario.shape_of(f, dims))
        if env[f].shape != want:
            hint = (f" (does {', '.join(scenario.dims)} match the arrays?)"
                    if len(want) > 1 else "")
            raise InputError(f"field '{f}': expected shape {list(want)}, got {list(env[f].shape)}{hint}")
    try:
        scenario.check(env)
    except ValueError as e:
        raise InputError(str(e)) from None
    return env


def dims_of(scenario: Scenario, env: Mapping[str, np.ndarray]) -> dict[str, int]:
    return {d: int(np.asarray(env[d]).reshape(-1)[0]) for d in scenario.dims}


def load_menus(scenario: Scenario, path: str | os.PathLike, env: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Read the ``"menus"`` of a file and check them against the environments."""
    data = read(path)
    name = data.get("scenario")
    if name is not None and name != scenario.name:
        raise InputError(f"field 'scenario': menus file '{path}' is for '{name}', not '{scenario.name}'")
    if "menus" not in data:
        raise InputError(f"field 'menus': file '{path}' has no 'menus'; give a file written by "
                         "'contractjax oracle' or one with a 'menus' object")
    menus = data["menus"]
    n = n_of(env)
    dims = dims_of(scenario, env)
    out = {}
    for f in scenario.menu_fields:
        if f not in menus:
            raise InputError(f"field 'menus.{f}' is missing; a {scenario.name} menu needs: "
                             f"{', '.join(scenario.menu_fields)}")
        a = _array(f"menus.{f}", menus[f])
        if a.dtype.kind not in "biuf":
            raise InputError(f"field 'menus.{f}': values must be numbers")
        want = (n, *scenario.shape_of(f, dims, menu=True))
        if a.shape != want:
            raise InputError(f"field 'menus.{f}': expected shape {list(want)} "
                             f"({n} environments), got {list(a.shape)}")
        if not np.all(np.isfinite(a)):
            raise InputError(f"field 'menus.{f}': contains NaN or infinity")
        out[f] = a.astype(np.float64)
    return out


# ------------------------------------------------------------------------------------- writing


def check_out(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """An output path must be .json/.npz and new (unless ``overwrite``): checked before any work."""
    p = Path(path)
    if p.suffix.lower() not in (".json", ".npz"):
        raise InputError(f"--out '{p}': use a .json or .npz file name")
    if p.exists() and not overwrite:
        raise InputError(f"--out '{p}' already exists; choose another name or pass --overwrite")
    return p


def write(path: str | os.PathLike, data: Mapping[str, Any], overwrite: bool = False) -> Path:
    """Write atomically (temporary file + rename); never replace a file unless ``overwrite``."""
    p = check_out(path, overwrite)
    suffix = p.suffix.lower()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp" + suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            if suffix == ".json":
                fh.write(json.dumps(_jsonable(data)).encode())
            else:
                np.savez(fh, **_flat(data))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


def _flat(data: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in data.items():
        if isinstance(v, Mapping):
            for name, x in v.items():
                out[f"{k}/{name}"] = np.asarray(x)
        else:
            out[k] = np.asarray(v)
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, str | bool | int | float) or x is None:
        return x
    return np.asarray(x).tolist()


def env_record(scenario: Scenario, env: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Fields in file order, as float64 (dimension fields as integers)."""
    out = {}
    for f in scenario.env_fields:
        a = np.asarray(env[f], dtype=np.float64)
        out[f] = a.astype(np.int64) if f in scenario.dims else a
    return out
