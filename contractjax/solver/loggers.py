"""Metric loggers of a training run (:mod:`contractjax.solver.loop`), chosen by name: ``jsonl``
(``metrics.jsonl``, always on for a run with a folder), ``csv`` (``metrics.csv``), ``tensorboard``
(``tb/``, the ``[tensorboard]`` extra) and ``wandb`` (Weights & Biases in offline mode under
``wandb/``, the ``[wandb]`` extra; ``wandb sync`` uploads it).

Each gets, after every chunk, one record per member: ``member``, ``step``, ``seconds``, the
chunk's mean metrics and, when the chunk was evaluated, ``eval`` (the held-out report). A resumed
run first calls :meth:`Logger.start` with the step it resumes from: the files drop what came after.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from contractjax import files
from contractjax.domain import InputError

Record = dict[str, Any]
KINDS = ("jsonl", "csv", "tensorboard", "wandb")
#: The module each optional logger needs (its extra has the same name as the logger).
EXTRAS = {"tensorboard": "tensorboardX", "wandb": "wandb"}


class Logger(Protocol):
    def start(self, step: int) -> None: ...
    def write(self, records: Sequence[Record]) -> None: ...
    def close(self) -> None: ...


def flat(record: Mapping[str, Any]) -> Record:
    """``eval`` spread into ``eval_<name>`` entries (tables and scalar dashboards)."""
    out = {k: v for k, v in record.items() if k != "eval"}
    return out | {f"eval_{k}": v for k, v in record.get("eval", {}).items()}


def _kept(line: str, step: int) -> bool:
    try:
        return json.loads(line)["step"] <= step
    except (ValueError, KeyError, TypeError):  # a line cut short by a lost process
        return False


class Jsonl:
    """One JSON line per record, ``shape`` d (default: the record without ``member``)."""

    def __init__(self, path: Path, shape: Callable[[Record], Record] | None = None):
        self.path = path
        self.shape = shape or (lambda r: {k: v for k, v in r.items() if k != "member"})

    def start(self, step: int) -> None:
        if self.path.exists():
            files.write_text(self.path, "".join(ln + "\n" for ln in self.path.read_text().splitlines()
                                                if _kept(ln, step)))

    def write(self, records: Sequence[Record]) -> None:
        with self.path.open("a") as f:
            f.write("".join(files.dumps(self.shape(r)) + "\n" for r in records))

    def close(self) -> None:
        pass


class Csv:
    """A table of the flattened records, rewritten whole after every chunk (new columns appear as
    the held-out evaluations do)."""

    def __init__(self, path: Path):
        self.path, self.rows = path, []

    def start(self, step: int) -> None:
        if self.path.exists():
            with self.path.open(newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if r.get("step", "").isdigit() and int(r["step"]) <= step]

    def write(self, records: Sequence[Record]) -> None:
        self.rows += [flat(r) for r in records]
        files.write_csv(self.path, self.rows)

    def close(self) -> None:
        pass


class TensorBoard:
    """Scalars per member (``member/metric``; a single run's under the metric's own name)."""

    def __init__(self, folder: Path, single: bool):
        from tensorboardX import SummaryWriter

        self.make, self.folder, self.single, self.writer = SummaryWriter, folder, single, None

    def start(self, step: int) -> None:
        self.writer = self.make(str(self.folder), purge_step=step + 1 if step else None)

    def write(self, records: Sequence[Record]) -> None:
        for r in records:
            prefix = "" if self.single else f"{r['member']}/"
            for k, v in flat(r).items():
                if k not in ("member", "step") and isinstance(v, int | float):
                    self.writer.add_scalar(prefix + k, v, r["step"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Wandb:
    """Weights & Biases in offline mode (nothing leaves the machine until ``wandb sync``)."""

    def __init__(self, folder: Path, name: str, config: Mapping[str, Any], single: bool):
        import wandb

        self.wandb, self.folder, self.name, self.config, self.single, self.run = wandb, folder, name, config, single, None

    def start(self, step: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.run = self.wandb.init(mode="offline", dir=str(self.folder), project="contractjax", name=self.name,
                                   config=dict(self.config), reinit="create_new")

    def write(self, records: Sequence[Record]) -> None:
        for r in records:
            prefix = "" if self.single else f"{r['member']}/"
            self.run.log({prefix + k: v for k, v in flat(r).items() if k not in ("member", "step")
                          and isinstance(v, int | float)}, step=r["step"])

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()


def parse(kinds: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"jsonl,tensorboard"`` (or a list) as checked names; ``jsonl`` is always among them."""
    names = [k.strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds or ()) if k.strip()]
    for k in names:
        if k not in KINDS:
            raise InputError(f"`loggers` {k!r} is unknown; choose among {', '.join(KINDS)} (comma-separated)")
        module = EXTRAS.get(k)
        if module is not None and importlib.util.find_spec(module) is None:
            raise InputError(f"`loggers` {k} needs the {k} extra: pip install -e \".[{k}]\"")
    return tuple(dict.fromkeys(["jsonl", *names]))


def make(kinds: Sequence[str], folder: Path, name: str, config: Mapping[str, Any], single: bool = True,
         jsonl: Jsonl | None = None) -> list[Logger]:
    """The loggers ``kinds`` (from :func:`parse`) of a run in ``folder``; ``jsonl`` replaces the
    default ``metrics.jsonl`` writer (a sweep group's ``curves.jsonl``)."""
    out: list[Logger] = []
    for k in kinds:
        if k == "jsonl":
            out.append(jsonl or Jsonl(folder / "metrics.jsonl"))
        elif k == "csv":
            out.append(Csv(folder / "metrics.csv"))
        elif k == "tensorboard":
            out.append(TensorBoard(folder / "tb", single))
        elif k == "wandb":
            out.append(Wandb(folder / "wandb", name, config, single))
    return out
