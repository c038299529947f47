"""The experiment's figure: one row of axes per panel, each drawn by its view. The only module that
imports matplotlib (the ``figures`` extra), always with the Agg backend."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contractjax import files
from contractjax.domain import InputError
from contractjax.experiments.views import Look, Rows


def backend() -> None:
    """matplotlib with the Agg backend, or one line naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("contractjax reproduce draws figures with matplotlib: pip install -e \".[figures]\"") from None
    matplotlib.use("Agg")


def draw(exp: Any, tables: Sequence[Rows], extra: Mapping[str, Rows], lines: Mapping[str, float], look: Look,
         path: Path, caption: str) -> Path:
    """The figure of ``exp``: panel ``p`` is drawn by its view from ``tables[p]`` (its rows, mean ±
    std over seeds) and the ``extra`` tables; ``lines`` are extra reference values (curves)."""
    backend()
    import matplotlib.pyplot as plt

    shapes = [panel.view.shape(extra) for panel in exp.panels]
    height = sum(4.4 * r for r, _ in shapes)
    width = max(panel.view.width() * c for panel, (_, c) in zip(exp.panels, shapes, strict=True))
    fig = plt.figure(figsize=(max(width, 7.0), height + 0.4), layout="constrained")
    subs = fig.subfigures(len(exp.panels), 1, squeeze=False, height_ratios=[r for r, _ in shapes])[:, 0]
    for panel, sub, (r, c), rows in zip(exp.panels, subs, shapes, tables, strict=True):
        sub.suptitle(f"{exp.paper} {exp.figure}: {panel.title}", fontsize=10)
        panel.view.plot(sub.subplots(r, c, squeeze=False), rows, extra, look, lines)
    fig.suptitle(caption, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    files.write_bytes(path, buf.getvalue())
    return path
