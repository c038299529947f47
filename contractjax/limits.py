"""Sizes checked against the machine before anything is allocated: one estimate, one message."""

from __future__ import annotations

import os

import jax

from contractjax.domain import InputError

#: Leave this share of the available memory to everything else.
HEADROOM = 0.8


def available_bytes() -> int:
    """Memory the next allocation can use: the device's free memory on an accelerator, else the
    host's available memory (``MemAvailable``; total physical memory where that is unknown)."""
    dev = jax.local_devices()[0]
    if dev.platform != "cpu":
        stats = dev.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def tree_bytes(tree: object) -> int:
    """Bytes of every array (or ``ShapeDtypeStruct``) in a pytree."""
    return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree)))


def check_fits(nbytes: int, what: str, fix: str) -> None:
    """Raise :class:`~contractjax.domain.InputError` (one line: the estimate, what is available, the fix) when ``nbytes``
    exceeds the headroom of the available memory."""
    free = available_bytes()
    if nbytes > HEADROOM * free:
        raise InputError(f"{what} needs about {_human(nbytes)} but {_human(free)} is available; {fix}")


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"
