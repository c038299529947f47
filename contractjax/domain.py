"""Valid values, declared once: each scenario states the interval of every sampler setting and
environment field next to its defaults, and the sampler, the file loader and the solver's config
all check values against that one declaration.

Every check raises :class:`InputError` with one line: where the value came from (a flag, a file and
field, a config field), the value, and the valid range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


class InputError(ValueError):
    """Invalid user input; the message is one line naming the source, the value and the fix."""


@dataclasses.dataclass(frozen=True)
class Interval:
    """A set of valid numbers: finite, within ``[lo, hi]`` (either end open), whole if ``integer``."""

    lo: float = -math.inf
    hi: float = math.inf
    open_lo: bool = False
    open_hi: bool = False
    integer: bool = False

    def holds(self, x: Any) -> np.ndarray:
        """Elementwise membership (NaN and infinities are never members)."""
        x = np.asarray(x, dtype=np.float64)
        ok = np.isfinite(x)
        with np.errstate(invalid="ignore"):
            ok &= (x > self.lo) if self.open_lo else (x >= self.lo)
            ok &= (x < self.hi) if self.open_hi else (x <= self.hi)
            if self.integer:
                ok &= x == np.round(x)
        return ok

    def __str__(self) -> str:
        kind = "a whole number" if self.integer else "a finite number"
        if self.lo == -math.inf and self.hi == math.inf:
            return kind
        if self.hi == math.inf:
            return f"{kind} {'>' if self.open_lo else '>='} {_num(self.lo)}"
        if self.lo == -math.inf:
            return f"{kind} {'<' if self.open_hi else '<='} {_num(self.hi)}"
        return f"{kind} in {'(' if self.open_lo else '['}{_num(self.lo)}, {_num(self.hi)}{')' if self.open_hi else ']'}"


def first_line(e: BaseException) -> str:
    """An exception's message, first line only (a user's code failing, in one line)."""
    return (str(e).strip().splitlines() or [""])[0]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


REAL = Interval()
POSITIVE = Interval(0.0, open_lo=True)
NON_NEGATIVE = Interval(0.0)
PROBABILITY = Interval(0.0, 1.0)
WHOLE = Interval(1.0, integer=True)


def between(lo: float, hi: float, open_lo: bool = False, open_hi: bool = False) -> Interval:
    return Interval(lo, hi, open_lo, open_hi)


def show(value: Any) -> str:
    """A value as the user wrote it (numbers short, ranges as LO,HI)."""
    if isinstance(value, tuple | list):
        return ",".join(show(v) for v in value)
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


# ------------------------------------------------------------------------------------ settings


def check_setting(source: str, name: str, value: Any, default: Any, interval: Interval) -> Any:
    """A sampler setting, normalized: one number (held fixed) or an ordered range ``(lo, hi)``
    (drawn per environment: a study's values learned by one policy) where the default is a number
    or a range; one range or a range per type (an even count of numbers, each pair ordered) where
    the default lists per-type ranges; a list of numbers (fixed per-type values) where the default
    is one. ``source`` names where the value came from (``--set``,
    ``config field 'sampler'``)."""
    per_type = isinstance(default, list)
    where = f"{source} {name}={show(value)}"
    flat = numbers(value)
    if flat is None:
        raise InputError(f"{where}: give numbers, e.g. {name}={show(default)}")
    if per_type and default and not any(isinstance(v, tuple | list) for v in default):  # fixed values, one per type
        bad = [v for v in flat if not interval.holds(v)]
        if bad:
            raise InputError(f"{where}: {show(bad[0])} is not valid; {name} must be {interval}")
        return flat
    if not per_type and len(flat) not in (1, 2):
        raise InputError(f"{where}: give one number or a range LO,HI, e.g. {name}={show(default)}")
    if per_type and len(flat) % 2 and len(flat) != 1:
        raise InputError(f"{where}: give one range LO,HI or one per type (LO1,HI1,LO2,HI2,...), "
                         f"e.g. {name}={show(default)}")
    bad = [v for v in flat if not interval.holds(v)]
    if bad:
        raise InputError(f"{where}: {show(bad[0])} is not valid; {name} must be {interval}")
    if len(flat) >= 2:
        pairs = list(zip(flat[::2], flat[1::2], strict=True))
        if any(lo > hi for lo, hi in pairs):
            raise InputError(f"{where}: a range must be ordered LO <= HI; write it as "
                             f"{name}={show([v for p in pairs for v in sorted(p)])}")
        return [tuple(p) for p in pairs] if per_type else pairs[0]
    return flat[0] if not per_type else [(flat[0], flat[0])]


def numbers(value: Any) -> list[float] | None:
    """Every number of a number or (nested) list of numbers as floats; ``None`` if anything else is in it."""
    items = value if isinstance(value, tuple | list) else [value]
    out: list[float] = []
    for v in items:
        if isinstance(v, tuple | list):
            inner = numbers(v)
            if inner is None:
                return None
            out += inner
        elif isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            return None
        else:
            out.append(float(v) if not isinstance(v, int) or v.bit_length() <= 1024 else (math.inf if v > 0 else -math.inf))
    return out


def check_settings(source: str, defaults: Mapping[str, Any], domain: Mapping[str, Interval],
                   overrides: Mapping[str, Any] | None, dims: tuple[str, ...] = ()) -> dict[str, Any]:
    """Defaults with checked overrides (an unknown name lists the known ones); dimension names are
    whole numbers and left to :func:`check_dims`."""
    cfg = dict(defaults)
    for k, v in (overrides or {}).items():
        if k not in cfg:
            raise InputError(f"{source} {k}: '{k}' is not a sampler setting; known settings: {', '.join(sorted(cfg))}")
        cfg[k] = check_dims(source, {k: v})[k] if k in dims else check_setting(source, k, v, defaults[k], domain[k])
    return cfg


#: Upper bound of a dimension (types per model): the models' matrices are ``K × K`` per environment.
MAX_DIM = 4096
#: Counts and indices run as int32 inside compiled programs (step counters, loop bounds); seeds
#: are PRNG keys' 32-bit range; training and learned policies take values in float32.
INT32_MAX, SEED_MAX = 2**31 - 1, 2**32 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)


def is_whole(v: Any) -> bool:
    """A whole number (Python or numpy integer; a boolean is not one)."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def check_whole(v: Any, what: str, lo: int, hi: int, example: str = "") -> int:
    """``v`` as an int if whole and in ``[lo, hi]``, else one line naming ``what``."""
    if not is_whole(v) or not lo <= v <= hi:
        raise InputError(f"{what} = {v!r}: give a whole number from {lo:,} to {hi:,}{example}")
    return int(v)


def check_dims(source: str, dims: Mapping[str, Any], known: tuple[str, ...] | None = None) -> dict[str, int]:
    """Dimension values: whole numbers in ``[1, MAX_DIM]``, one each."""
    out = {}
    for k, v in dims.items():
        if known is not None and k not in known:
            raise InputError(f"{source} {k}={show(v)}: '{k}' is not a dimension here; give {', '.join(known)}")
        flat = numbers(v)
        ok = flat is not None and len(flat) == 1 and Interval(1, MAX_DIM, integer=True).holds(flat[0])
        if not ok:
            raise InputError(f"{source} {k}={show(v)}: {k} must be one whole number in [1, {MAX_DIM}]")
        out[k] = int(flat[0])
    return out


# ----------------------------------------------------------------------------- environment fields


def check_fields(source: str, env: Mapping[str, np.ndarray], domain: Mapping[str, Interval]) -> None:
    """Every environment field in its interval (batched arrays: leading axis = environment); the
    first bad value is named with its environment index."""
    for f, x in env.items():
        if f not in domain:
            continue
        x = np.asarray(x, dtype=np.float64)
        ok = domain[f].holds(x).reshape(len(x), -1).all(axis=1)
        if not ok.all():
            i = int(np.argmin(ok))
            raise InputError(f"{source}field '{f}': environment {i} has {show(x[i].tolist())}; "
                             f"{f} must be {domain[f]}")
