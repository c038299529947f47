"""Environment and menu files (docs/models.md, "File format"): ``.json`` or ``.npz``, validated, written atomically.

One object with ``"scenario"`` and ``"fields"`` (every field an array whose leading axis is the
environment index; a scalar parameter has shape ``[n]``). Menu files add ``"menus"`` and the
per-environment ``"principal_utility"``, ``"agents_utility"``, ``"feasible"``, ``"max_violation"``
(and, from ``evaluate``, ``"paper_reward"`` and ``"slacks"``).

In ``.npz`` files nested names are joined with ``/``: ``fields/q``, ``menus/s``, ``slacks/IC``;
the reader also accepts ``fields.q``.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import stat
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contractjax.domain import InputError
from contractjax.scenarios import Scenario

__all__ = ["InputError", "check_finite", "check_folder", "check_out", "load_envs", "load_menus", "read", "read_table",
           "validate_envs",
           "validate_menus", "write", "write_bytes", "write_csv", "write_text"]

GROUPS = ("fields", "menus", "slacks")
#: The errors of a full disk or quota: one line, nothing written.
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


# ------------------------------------------------------------------------------------- reading


def read_table(path: str | os.PathLike, what: str, holds: str, suffixes: tuple[str, ...] = (".toml", ".json")
               ) -> dict[str, Any]:
    """The one object of a ``.toml`` or ``.json`` file (config, sweep and experiment files); ``what``
    names the file in errors (e.g. ``"config file"``), ``holds`` says what it should hold."""
    p = Path(path)
    if not p.is_file():
        kinds = " or ".join(suffixes)
        raise InputError(f"{what} '{p}' {'is a folder' if p.is_dir() else 'does not exist'}; give a {kinds} file of "
                         f"{holds}")
    if p.suffix.lower() not in suffixes:
        raise InputError(f"{what} '{p}' has suffix '{p.suffix}'; use {' or '.join(suffixes)}")
    try:
        text = p.read_text()
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{what} '{p}' cannot be parsed ({str(e).splitlines()[0]})") from None
    except OSError as e:
        raise InputError(f"{what} '{p}' cannot be read ({e.strerror})") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} '{p}' must hold one object of {holds}")
    return data



def read(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``.json`` or ``.npz`` file into ``{"scenario": str, "fields": {..}, ...}``."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"'{p}' is a folder but not a contractjax dataset (it has no index.json); give a .json or "
                         ".npz file, or a folder written by 'contractjax sample-envs --out DIR/'")
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
                    out[k] = {name: _array(name if k == "fields" else f"{k}.{name}", x, f"file '{p}': ",
                                           numbers=k != "slacks")
                              for name, x in v.items()}
                elif k == "scenario" or k == "info":
                    out[k] = v
                else:
                    out[k] = _array(k, v, f"file '{p}': ")
            return _named(out, p)
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
            return _named(out, p)
    except InputError:
        raise
    except Exception as e:  # numpy/zipfile/json raise many types (EOFError, BadZipFile, ...) for damaged files
        what = str(e).splitlines()[0] if str(e) else "truncated or damaged"
        raise InputError(f"file '{p}' is damaged or not a {suffix} file ({type(e).__name__}: {what}); "
                         "rewrite it (e.g. with contractjax sample-envs / oracle)") from None
    raise InputError(f"file '{p}' has suffix '{p.suffix}'; use .json or .npz")


def _named(data: dict[str, Any], p: Path) -> dict[str, Any]:
    """``data`` once its ``scenario`` (if any) is a model name."""
    name = data.get("scenario")
    if name is not None and not isinstance(name, str):
        raise InputError(f"file '{p}': 'scenario' must be a model name (text), got {_kind(np.asarray(name))} of shape "
                         f"{list(np.shape(name))}; rewrite the file (e.g. with contractjax sample-envs)")
    return data


def _array(name: str, value: Any, source: str = "", numbers: bool = False) -> np.ndarray:
    """``value`` as a rectangular array; ``numbers``: of numbers, where true/false (JSON booleans,
    numpy bool arrays) and integers beyond float64 are refused rather than read as 1, 0 or inf."""
    if numbers and has_bool(value):
        raise InputError(f"{source}field '{name}': true/false is not a number; give numbers")
    huge = InputError(f"{source}field '{name}': an integer with more digits than a float64 holds; give numbers "
                      "below 1.8e308")
    try:
        a = np.asarray(value)
    except OverflowError:
        raise huge from None
    except ValueError:
        raise InputError(f"{source}field '{name}': arrays must be rectangular (same length in every environment)") from None
    if a.dtype == object and numbers and _only_numbers(value):  # integers beyond int64 (JSON has no limit)
        try:
            a = np.asarray(value, dtype=np.float64)
        except OverflowError:
            raise huge from None
        except ValueError:
            raise InputError(f"{source}field '{name}': arrays must be rectangular (same length in every "
                             "environment)") from None
        if not np.all(np.isfinite(a)) and _has_huge_int(value):
            raise huge
    if a.dtype == object:
        raise InputError(f"{source}field '{name}': arrays must be rectangular numbers (got ragged or mixed values)")
    if numbers and a.dtype.kind not in "iuf":
        raise InputError(f"{source}field '{name}': values must be numbers (got {_kind(a)})")
    return a


def _kind(a: np.ndarray) -> str:
    return "true/false" if a.dtype.kind == "b" else "text" if a.dtype.kind in "US" else str(a.dtype)


def has_bool(value: Any) -> bool:
    """Whether ``value`` holds true/false anywhere (booleans are not numbers)."""
    if isinstance(value, bool | np.bool_):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "b"
    return isinstance(value, list | tuple) and any(has_bool(v) for v in value)


def _only_numbers(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(_only_numbers(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _has_huge_int(value: Any) -> bool:
    if isinstance(value, int):
        return value.bit_length() > 1024  # beyond float64's largest
    return isinstance(value, list | tuple) and any(_has_huge_int(v) for v in value)


def load_envs(scenario: Scenario, path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and validate an environment file for ``scenario``."""
    data = read(path)
    name = data.get("scenario")
    if name is not None and name != scenario.name:
        raise InputError(
            f"field 'scenario': file '{path}' holds '{name}' environments but `scenario` is "
            f"'{scenario.name}'; pass `scenario='{name}'` or another file"
        )
    if "fields" not in data:
        raise InputError(f"field 'fields': file '{path}' has no 'fields'; write environments with 'contractjax sample-envs'")
    if not isinstance(data["fields"], Mapping):
        raise InputError(f"file '{path}': 'fields' must be an object of named arrays")
    return validate_envs(scenario, data["fields"], f"file '{path}': ")


def n_of(fields: Mapping[str, np.ndarray]) -> int:
    return int(next(iter(fields.values())).shape[0]) if fields else 0


def validate_envs(scenario: Scenario, fields: Mapping[str, Any], source: str = "") -> dict[str, np.ndarray]:
    """Check names, shapes, finiteness and the model's domain; return float64 arrays. ``source``
    (e.g. ``"file 'envs.json': "``) starts every message."""
    unknown = sorted(set(fields) - set(scenario.env_fields))
    if unknown:
        raise InputError(
            f"{source}field '{unknown[0]}' is not a {scenario.name} environment field; "
            f"known fields: {', '.join(scenario.env_fields)}"
        )
    missing = [f for f in scenario.env_fields if f not in fields]
    if missing:
        raise InputError(f"{source}field '{missing[0]}' is missing; a {scenario.name} environment needs: "
                         f"{', '.join(scenario.env_fields)}")
    env = {}
    for f in scenario.env_fields:
        a = _array(f, fields[f], source, numbers=True)
        with np.errstate(over="ignore"):
            a = a.astype(np.float64)
        if a.ndim == 0:
            raise InputError(f"{source}field '{f}': must be an array with one entry per environment (shape [n, ...])")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{source}field '{f}': contains NaN or infinity; give finite numbers")
        env[f] = a
    n = n_of(env)
    if n == 0:
        raise InputError("field 'fields': no environments (leading axis has length 0)")
    dims = {}
    for d in scenario.dims:
        a = env[d]
        if a.shape != (n,):
            raise InputError(f"{source}field '{d}': must have shape [{n}], got {list(a.shape)}")
        if np.any(a != np.round(a)) or np.any(a < 1):
            raise InputError(f"{source}field '{d}': must be a positive whole number")
        if np.any(a != a[0]):
            raise InputError(f"{source}field '{d}': must be the same in every environment of a file "
                             f"(found {sorted(set(a.tolist()))}); split the file by {d}")
        dims[d] = int(a[0])
    for f in scenario.env_fields:
        want = (n, *scenario.shape_of(f, dims))
        if env[f].shape != want:
            hint = (f" (does {', '.join(scenario.dims)} match the arrays?)"
                    if len(want) > 1 else "")
            raise InputError(f"{source}field '{f}': expected shape {list(want)}, got {list(env[f].shape)}{hint}")
    scenario.check_envs(env, source)
    return env


def dims_of(scenario: Scenario, env: Mapping[str, np.ndarray]) -> dict[str, int]:
    return {d: int(np.asarray(env[d]).reshape(-1)[0]) for d in scenario.dims}


def load_menus(scenario: Scenario, path: str | os.PathLike, env: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Read the ``"menus"`` of a file and check them against the environments."""
    data = read(path)
    src = f"file '{path}': "
    name = data.get("scenario")
    if name is not None and name != scenario.name:
        raise InputError(f"{src}field 'scenario': the menus are for '{name}', not '{scenario.name}'; "
                         f"pass `scenario='{name}'` or another file")
    if "menus" not in data:
        raise InputError(f"{src}field 'menus' is missing; give a file written by 'contractjax oracle' or one "
                         "with a 'menus' object")
    return validate_menus(scenario, data["menus"], env, src)


def validate_menus(scenario: Scenario, menus: Any, env: Mapping[str, np.ndarray], source: str = "") -> dict[str, np.ndarray]:
    """Check a menu batch against validated environments ``env``: names, shapes, numbers, finite;
    return float64 arrays."""
    src = source
    if not isinstance(menus, Mapping):
        raise InputError(f"{src}field 'menus' must be an object of named arrays")
    unknown = sorted(set(menus) - set(scenario.menu_fields))
    if unknown:
        raise InputError(f"{src}field 'menus.{unknown[0]}' is not a {scenario.name} menu field; "
                         f"a {scenario.name} menu has: {', '.join(scenario.menu_fields)}")
    n = n_of(env)
    dims = dims_of(scenario, env)
    out = {}
    for f in scenario.menu_fields:
        if f not in menus:
            raise InputError(f"{src}field 'menus.{f}' is missing; a {scenario.name} menu needs: "
                             f"{', '.join(scenario.menu_fields)}")
        a = _array(f"menus.{f}", menus[f], src, numbers=True)
        want = (n, *scenario.shape_of(f, dims, menu=True))
        if a.shape != want:
            raise InputError(f"{src}field 'menus.{f}': expected shape {list(want)} "
                             f"({n} environments), got {list(a.shape)}")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{src}field 'menus.{f}': contains NaN or infinity; give finite numbers")
        out[f] = a.astype(np.float64)
    return out


# ------------------------------------------------------------------------------------- writing


def check_out(path: str | os.PathLike, overwrite: bool = False, flag: str = "`out`") -> Path:
    """An output file must be .json/.npz, new (unless ``overwrite``) and creatable: checked
    before any work."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{flag} '{p}' is a folder; give a file name ending in .json or .npz")
    if p.suffix.lower() not in (".json", ".npz"):
        raise InputError(f"{flag} '{p}': use a .json or .npz file name")
    if os.path.lexists(p) and not overwrite:  # a dangling link counts: writing would replace it
        raise InputError(f"{flag} '{p}' already exists; choose another name or pass `overwrite=True`")
    check_writable(p.parent, flag, p)
    return p


def check_folder(path: str | os.PathLike, flag: str = "`out`") -> Path:
    """An output folder: not a file, and creatable or writable (checked before any work)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{flag} '{p}' is a file; give a folder")
    check_writable(p, flag, p)
    return p


def check_writable(folder: Path, flag: str, target: Path) -> None:
    """``target`` can be created in ``folder``: the nearest existing ancestor is a folder in which
    a file can be written (probed with a temporary file, removed at once)."""
    anc = Path(folder).absolute()
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise InputError(f"{flag} '{target}': '{anc}' is a file, so '{target}' cannot be created; choose another path")
    try:
        with tempfile.TemporaryFile(dir=anc):
            pass
    except OSError as e:
        raise InputError(f"{flag} '{target}': cannot write in '{anc}' ({e.strerror}); choose a writable location") from None


@contextlib.contextmanager
def _atomic(path: Path, mode: str = "wb") -> Iterator[Any]:
    """Write to a temporary file beside ``path`` and rename it into place: ``path`` is either the
    old content or the whole new one, and the temporary file is removed on any exit (also on
    SIGTERM/SIGINT, which the CLI turns into exceptions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
        if path.exists():  # a replaced file keeps its mode
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        else:  # mkstemp makes 0600; give the usual permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in FULL:
            raise InputError(f"'{path}': {(e.strerror or 'disk full').lower()}; nothing written: free space there or "
                             "write elsewhere") from None
        raise


def write(path: str | os.PathLike, data: Mapping[str, Any], overwrite: bool = False) -> Path:
    """Write atomically (temporary file + rename); never replace a file unless ``overwrite``, and
    never write a non-finite number (one line naming the field and the environment instead)."""
    p = check_out(path, overwrite)
    check_finite(_flat(data), f"nothing written to '{p}'")
    with _atomic(p) as fh:
        if p.suffix.lower() == ".json":
            fh.write(json.dumps(_jsonable(data), allow_nan=False).encode())
        else:
            np.savez(fh, **_flat(data))
    return p


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace a binary file atomically (figures)."""
    p = Path(path)
    with _atomic(p) as fh:
        fh.write(data)
    return p


def finite_or_none(obj: Any) -> Any:
    """``obj`` with every non-finite number (an undefined gap, a diverged member's metrics) as
    ``None``: run records say "no value" rather than write NaN or infinity."""
    if isinstance(obj, Mapping):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_none(v) for v in obj]
    if isinstance(obj, float | np.floating) and not np.isfinite(obj):
        return None
    return obj


def read_record(path: str | os.PathLike) -> Any:
    """A run record written by :func:`dumps`, its ``null`` numbers back as NaN."""
    def back(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: back(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [back(v) for v in obj]
        return math.nan if obj is None else obj

    return back(json.loads(Path(path).read_text()))


def dumps(obj: Any, indent: int | None = None) -> str:
    """JSON of a run record with non-finite numbers as ``null`` (:func:`finite_or_none`): what
    every summary, index and log line is written with."""
    return json.dumps(finite_or_none(obj), indent=indent, allow_nan=False)


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Rows as CSV (columns: every key, in order of first appearance; a non-finite number as an
    empty cell), replaced atomically."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(finite_or_none(list(rows)))
    return write_text(path, buf.getvalue())


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace a text file atomically (run records: config.json, summary.json, results)."""
    p = Path(path)
    with _atomic(p, "w") as fh:
        fh.write(text)
    return p


def check_finite(arrays: Mapping[str, Any], what: str) -> None:
    """Every number in ``arrays`` (name -> array, leading axis the environment) is finite, else
    one line naming the first bad field and environment: nothing is written or returned."""
    for name, x in arrays.items():
        a = np.asarray(x)
        if a.dtype.kind not in "fc" or np.all(np.isfinite(a)):
            continue
        bad = np.argwhere(~np.isfinite(a))[0]
        where = f" (environment {bad[0]})" if a.ndim else ""
        raise InputError(f"{what}: '{name.replace('/', '.')}' is {a[tuple(bad)]}{where}: the inputs are beyond where "
                         "the model's arithmetic stays finite (extreme magnitudes); give smaller values")


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
