"""Sharded datasets: environments or menus larger than memory, streamed shard by shard.

A dataset is a folder: ``index.json`` plus ``shard-00000.npz``, ``shard-00001.npz``, ... Each
shard is an ordinary contractjax ``.npz`` record (``fields/NAME`` for environments; ``menus/NAME``
and the per-environment results for menus), so ``numpy.load`` — or ``contractjax evaluate`` on one
shard — reads it without this module. Why ``.npz`` shards rather than Parquet: the models' fields
are matrices per environment (``P[K, K]``, TWIN's ``[M, N]`` grids), which ``.npz`` stores as they
are and Parquet only as nested lists; and it adds no dependency. The index records the plan
(scenario, ``n``, shard size, seed and settings, or the source dataset a derived one was computed
from) and which shards are finished.

Streaming keeps memory bounded by one shard (default 100,000 environments). Every shard is
written atomically (temporary file + rename), so an interrupted run leaves whole shards only; run
the same command again and the finished shards are kept (``--resume`` is implied: a folder whose
index plans the same work continues it; a folder holding other work is refused).

Environment ``i`` of a sharded sample is drawn with ``fold_in(PRNGKey(seed), i)``, so a shard's
content does not depend on the shard size; a single-file sample of the same seed draws
differently (``split(PRNGKey(seed), n)``).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from contractjax import batch, files
from contractjax import cluster as ray_cluster
from contractjax.domain import InputError
from contractjax.scenarios import Scenario

INDEX = "index.json"
FORMAT = "contractjax-dataset"
SHARD = 100_000

Record = dict[str, Any]


def is_folder_target(path: str | os.PathLike) -> bool:
    """An output path names a sharded dataset when it ends with a separator, or is an existing
    folder whose name is not a file name (``x.json`` / ``x.npz`` stay file names: an error there)."""
    s = os.fspath(path)
    p = Path(s)
    return s.endswith(("/", os.sep)) or (p.is_dir() and p.suffix.lower() not in (".json", ".npz"))


def is_dataset(path: str | os.PathLike) -> bool:
    return (Path(path) / INDEX).is_file()


def _shard_name(i: int) -> str:
    return f"shard-{i:05d}.npz"


def _read_index(root: Path) -> Record:
    f = root / INDEX
    try:
        data = json.loads(f.read_text())
    except OSError as e:
        raise InputError(f"'{root}' is not a contractjax dataset ({INDEX}: {e.strerror}); give a folder written by "
                         "'contractjax sample-envs --out DIR/' or a .json/.npz file") from None
    except ValueError as e:
        raise InputError(f"'{f}' is damaged ({e}); delete the folder and write it again") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"'{f}' is not a contractjax dataset index; give a folder written by contractjax")
    _check_index(f, data)
    return data


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _check_index(f: Path, data: Record) -> None:
    """The index's plan is whole: ``n`` and the shard size whole numbers, the shards a list of
    ``shard-NNNNN.npz`` records that tile ``0 .. n − 1`` in order."""
    def bad(what: str) -> InputError:
        return InputError(f"'{f}' is damaged ({what}); delete the folder and write it again")

    if not _whole(data.get("n")) or data["n"] < 1:
        raise bad(f"'n' is {data.get('n')!r}, not a whole number of environments")
    if not _whole(data.get("shard_size")) or data["shard_size"] < 1:
        raise bad(f"'shard_size' is {data.get('shard_size')!r}")
    shards = data.get("shards")
    if not isinstance(shards, list) or not shards:
        raise bad("'shards' is not a list of shards")
    start = 0
    for i, sh in enumerate(shards):
        if (not isinstance(sh, dict) or sh.get("file") != _shard_name(i) or not _whole(sh.get("start"))
                or not _whole(sh.get("n")) or sh["start"] != start or sh["n"] < 1):
            raise bad(f"shard {i} is {json.dumps(sh)[:80]}")
        start += sh["n"]
    if start != data["n"]:
        raise bad(f"its shards hold {start} environments, not n = {data['n']}")


class Dataset:
    """An opened dataset folder: ``index`` and shard access (one shard in memory at a time)."""

    def __init__(self, root: str | os.PathLike, kind: str, scenario: Scenario | None = None) -> None:
        self.root = Path(root)
        self.index = _read_index(self.root)
        if self.index.get("kind") != kind:
            raise InputError(f"'{self.root}' holds {self.index.get('kind')}, not {kind}; give a dataset of {kind}")
        if scenario is not None and self.index.get("scenario") != scenario.name:
            raise InputError(f"'{self.root}' holds '{self.index.get('scenario')}' {kind}, not '{scenario.name}'; "
                             f"pass `scenario='{self.index.get('scenario')}'`")
        if not self.index.get("complete"):
            raise InputError(f"'{self.root}' is unfinished ({len(self.done())} of {len(self.index['shards'])} shards); "
                             "run the command that writes it again to finish it")
        for i, shard in enumerate(self.shards):  # every shard's header, before any work
            _check_shard(self.path(i), shard, self.index)

    @property
    def n(self) -> int:
        return int(self.index["n"])

    @property
    def shards(self) -> list[Record]:
        return list(self.index["shards"])

    def done(self) -> list[int]:
        return [i for i, s in enumerate(self.index["shards"]) if s.get("done")]

    def path(self, i: int) -> Path:
        return self.root / self.index["shards"][i]["file"]

    def envs(self, sc: Scenario, i: int) -> dict[str, np.ndarray]:
        return files.load_envs(sc, self.path(i))

    def menus(self, sc: Scenario, i: int, envs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return files.load_menus(sc, self.path(i), envs)


def _plan(kind: str, scenario: str, n: int, shard_size: int, **meta: Any) -> Record:
    shards = [{"file": _shard_name(i), "start": s, "n": min(shard_size, n - s), "done": False}
              for i, s in enumerate(range(0, n, shard_size))]
    return {"format": FORMAT, "version": 1, "kind": kind, "id": uuid.uuid4().hex, "scenario": scenario, "n": n,
            "shard_size": shard_size, "complete": False, **meta, "shards": shards}


def _same_plan(a: Record, b: Record) -> bool:
    drop = ("shards", "complete", "summary", "id")
    return ({k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
            and [(s["file"], s["start"], s["n"]) for s in a["shards"]] == [(s["file"], s["start"], s["n"])
                                                                           for s in b["shards"]])


def _begin(out: Path, plan: Record) -> Record:
    """Create the output folder's index, or continue the one there when it plans the same work."""
    files.check_folder(out)
    if (out / INDEX).is_file():
        old = _read_index(out)
        if not _same_plan(old, json.loads(json.dumps(plan))):
            raise InputError(f"`out` '{out}' holds another dataset ({old.get('kind')} of {old.get('scenario')}, "
                             f"n = {old.get('n')}); choose a new folder")
        return old
    if out.exists() and any(out.iterdir()):
        raise InputError(f"`out` '{out}' is a folder with other files; choose a new or empty folder")
    files.write_text(out / INDEX, files.dumps(plan, indent=1))
    return plan


def _check_shard(path: Path, shard: Record, index: Record) -> None:
    """A shard file is there and belongs: its model, its dataset (the index's id) and its number
    of environments, read from the ``.npz`` headers alone (no array is loaded)."""
    def bad(what: str) -> InputError:
        return InputError(f"'{path}' {what}; the dataset is damaged: write it again (or restore the shard)")

    if not path.is_file():
        raise bad("is missing")
    try:
        with zipfile.ZipFile(path) as z:
            heads = {}
            for name in z.namelist():
                with z.open(name) as fh:
                    version = np.lib.format.read_magic(fh)
                    header = {(1, 0): np.lib.format.read_array_header_1_0,
                              (2, 0): np.lib.format.read_array_header_2_0}[version]
                    shape, _, _ = header(fh)
                    heads[name.removesuffix(".npy")] = shape
            small = {k: np.load(z.open(f"{k}.npy")).item() for k in ("scenario", "dataset") if heads.get(k) == ()}
    except (OSError, ValueError, zipfile.BadZipFile, KeyError) as e:
        raise bad(f"is not a readable shard ({type(e).__name__})") from None
    if small.get("scenario") != index.get("scenario"):
        raise bad(f"holds '{small.get('scenario')}', not '{index.get('scenario')}'")
    if "dataset" in small and small["dataset"] != index.get("id"):
        raise bad("belongs to another dataset")
    rows = {shape[0] for k, shape in heads.items() if k.startswith(GROUP[index.get("kind")]) and shape}
    if rows != {shard["n"]}:
        raise bad(f"holds {sorted(rows)} environments, not {shard['n']}")


#: The group of a dataset's shards whose leading axis counts its environments.
GROUP = {"envs": "fields/", "menus": "menus/", "report": "slacks/"}


def _shard_task(work: Callable[[int, Record], Record], out: Path, i: int, shard: Record, dataset: str) -> Record:
    """One shard, here or on a cluster worker: its record (tagged with its dataset's id) checked
    finite and written atomically, its sums returned."""
    rec = work(i, shard) | {"dataset": dataset}
    flat = files._flat(rec)
    files.check_finite(flat, f"nothing written to '{out / shard['file']}'")
    with files._atomic(out / shard["file"]) as fh:
        np.savez(fh, **flat)
    return _partial(rec)


def _check_disk(out: Path, nbytes: int, what: str) -> None:
    """The output fits on its disk (with a tenth to spare), checked before anything is written."""
    anc = out.absolute()
    while not anc.exists():
        anc = anc.parent
    free = shutil.disk_usage(anc).free
    if nbytes * 1.1 > free:
        raise InputError(f"`out` '{out}': {what} take about {_gb(nbytes)} on disk but '{anc}' has {_gb(free)} free; "
                         "sample fewer (`n`) or write elsewhere")


def _gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


def _connect(cluster: str | None) -> None:
    """Connect before anything is written: a wrong address leaves no unfinished folder behind."""
    if cluster is not None:
        ray_cluster.connect(cluster)


def _stream(out: Path, index: Record, work: Callable[[int, Record], Record], progress: bool, what: str,
            cluster: str | None = None) -> Iterator[tuple[int, Record]]:
    """Run ``work(i, shard)`` for every unfinished shard, writing its record atomically and
    marking it done in the index (this process alone writes the index); yields ``(i, sums)`` for
    every shard (:func:`_partial`; finished ones re-read). With ``cluster`` (an address, see
    :mod:`contractjax.cluster`) the shards are Ray tasks, yielded as they finish."""
    from tqdm.auto import tqdm

    total = int(index["n"])
    bar = tqdm(total=total, unit="env", unit_scale=True, desc=what, disable=not progress, dynamic_ncols=True)
    todo = []
    for i, shard in enumerate(index["shards"]):
        path = out / shard["file"]
        if shard.get("done") and path.is_file():
            bar.total = total = total - shard["n"]  # finished before: not part of this run's rate or ETA
            bar.refresh()
            yield i, (_partial(files.read(path)) if index["kind"] != "envs" else {})
        else:
            todo.append(i)

    calls = [(out.resolve(), i, index["shards"][i], index["id"]) for i in todo]
    done = (ray_cluster.map_unordered(cluster, _shard_task, calls, shared=work) if cluster is not None
            else ((j, _shard_task(work, *call)) for j, call in enumerate(calls)))
    for j, sums in done:
        shard = index["shards"][todo[j]]
        shard["done"] = True
        files.write_text(out / INDEX, files.dumps(index, indent=1))
        bar.update(shard["n"])
        yield todo[j], sums
    bar.close()


def _finish(out: Path, index: Record, summary: Record) -> Record:
    index["complete"] = True
    index["summary"] = summary
    files.write_text(out / INDEX, files.dumps(index, indent=1))
    return index


# ----------------------------------------------------------------------------------- commands


def sample(sc: Scenario, n: int, seed: int, dims: Mapping[str, int], settings: Mapping[str, Any], out: str | Path,
           shard_size: int = SHARD, progress: bool = True, cluster: str | None = None) -> Record:
    """Draw ``n`` environments into a sharded dataset (resumable)."""
    cfg = sc.settings(settings, "`settings`")
    d = {k: int(cfg[k]) for k in sc.dims} | dict(dims)
    outp = Path(out)
    _check_disk(outp, int(n) * batch.env_bytes(sc, d) // 4, f"{n} {sc.name} environments")
    _connect(cluster)
    index = _begin(outp, _plan("envs", sc.name, int(n), int(shard_size), seed=int(seed), dims=d,
                               settings=json.loads(json.dumps(dict(settings)))))

    def work(i: int, shard: Record) -> Record:
        envs = batch.sample_range(sc, shard["start"], shard["n"], seed, d, cfg)
        return {"scenario": sc.name, "fields": files.env_record(sc, envs)}

    for _ in _stream(outp, index, work, progress, f"sampling {sc.name}", cluster):
        pass
    return _finish(outp, index, {"n": int(n)})


def map_menus(sc: Scenario, envs_path: str | Path, out: str | Path, menus_of: Callable[[dict], dict], label: str,
              progress: bool = True, cluster: str | None = None, **meta: Any) -> Record:
    """Menus for every shard of an environment dataset (``oracle``, ``solve``), with their
    utilities and feasibility; the summary aggregates them with bounded memory."""
    src = Dataset(envs_path, "envs", sc)
    _connect(cluster)
    outp = Path(out)
    index = _begin(outp, _plan("menus", sc.name, src.n, int(src.index["shard_size"]), source=_source(src), **meta))

    def work(i: int, shard: Record) -> Record:
        envs = src.envs(sc, i)
        menus = menus_of(envs)
        ev = batch.evaluate(sc, envs, menus)
        return {"scenario": sc.name, "menus": menus} | {k: ev[k] for k in RESULTS}

    acc = _Sums()
    for i, sums in _stream(outp, index, work, progress, label, cluster):
        acc.add(i, sums)
    return _finish(outp, index, acc.summary())


def evaluate(sc: Scenario, envs_path: str | Path, menus_path: str | Path, out: str | Path, with_oracle: bool = True,
             progress: bool = True, cluster: str | None = None) -> Record:
    """Every slack and utility of a menus dataset on its environment dataset, shard by shard,
    and (unless ``with_oracle`` is off) the gaps to the oracle and to complete information."""
    src = Dataset(envs_path, "envs", sc)
    menus = Dataset(menus_path, "menus", sc)
    if menus.index.get("source", {}).get("id") != src.index.get("id") or menus.n != src.n:
        raise InputError(f"`menus_path` '{menus_path}' was not computed from `envs_path` '{envs_path}' "
                         f"({menus.n} menus for {src.n} environments); give the matching pair")
    _connect(cluster)
    outp = Path(out)
    index = _begin(outp, _plan("report", sc.name, src.n, int(src.index["shard_size"]), source=_source(src),
                               menus=str(Path(menus_path).resolve()), oracle=with_oracle))

    def work(i: int, shard: Record) -> Record:
        envs = src.envs(sc, i)
        ev = batch.evaluate(sc, envs, menus.menus(sc, i, envs))
        rec = {"scenario": sc.name} | {k: ev[k] for k in RESULTS} | {"slacks": ev["slacks"]}
        if with_oracle:
            for info, key in (("asymmetric", "oracle_utility"), ("complete", "complete_info_utility")):
                rec[key] = batch.evaluate(sc, envs, batch.oracle(sc, envs, info))["principal_utility"]
        return rec

    acc = _Sums()
    for i, sums in _stream(outp, index, work, progress, f"evaluating {sc.name}", cluster):
        acc.add(i, sums)
    return _finish(outp, index, acc.summary())


RESULTS = ("principal_utility", "agents_utility", "paper_reward", "feasible", "max_violation")


def _source(src: Dataset) -> Record:
    return {"path": str(src.root.resolve()), "id": src.index.get("id"), "n": src.n}


def _partial(rec: Mapping[str, Any]) -> Record:
    """One shard's sums for the summary (none for environments)."""
    if "feasible" not in rec:
        return {}
    ok = np.asarray(rec["feasible"], bool)
    u = np.asarray(rec["principal_utility"])
    out = {"n": len(ok), "principal_utility": float(np.sum(u)), "agents_utility": float(np.sum(rec["agents_utility"])),
           "feasible": int(np.sum(ok)), "u_feasible": float(np.sum(u[ok])),
           "max_violation": float(np.max(rec["max_violation"], initial=0.0))}
    for key in ("oracle_utility", "complete_info_utility"):
        if key in rec:
            out[key] = float(np.sum(np.asarray(rec[key])[ok]))
    return out


class _Sums:
    """A dataset's summary from its shards' sums (means, feasibility, gaps over the feasible
    menus), added in shard order whatever order the shards finish in."""

    def __init__(self) -> None:
        self.parts: dict[int, Record] = {}

    def add(self, i: int, sums: Record) -> None:
        self.parts[i] = sums

    def summary(self) -> Record:
        s: dict[str, float] = {}
        for i in sorted(self.parts):
            for k, v in self.parts[i].items():
                s[k] = max(s.get(k, 0.0), v) if k == "max_violation" else s.get(k, 0.0) + v
        n = max(int(s.get("n", 0)), 1)
        out = {"n": int(s.get("n", 0)), "principal_utility": s["principal_utility"] / n,
               "agents_utility": s["agents_utility"] / n, "feasible": s["feasible"] / n,
               "max_violation": s["max_violation"]}
        for key, name in (("oracle_utility", "gap"), ("complete_info_utility", "gap_complete")):
            if key in s:  # batch.gap over the whole dataset
                out[name] = batch.gap_of_sums(s["u_feasible"], s[key]) if s["feasible"] else float("nan")
        return out
