"""More than one process or machine, on Ray (the ``[cluster]`` extra: ``pip install -e ".[cluster]"``).

``--cluster local`` starts a Ray instance on this machine (one worker per core);
``--cluster ADDRESS`` joins a running cluster: ``ray start --head`` on one machine, ``ray start
--address HEAD:6379`` on every other, then ``--cluster HEAD:6379`` (or ``auto`` on a machine of
the cluster). The work goes out as Ray tasks:

* a sweep's structure groups (one compiled population each, :func:`contractjax.solver.sweeps.sweep`),
  each on a node with a device (one GPU when the cluster has GPUs, else one core). A group
  checkpoints as it trains; when its worker or node is lost, Ray runs the task again and the
  group continues from its last checkpoint. Training from a checkpoint is deterministic, so the
  results equal those of a run without the loss (``tests/test_cluster.py`` kills a worker
  mid-group);
* a sharded dataset's shards (``sample-envs``/``oracle``/``solve``/``evaluate`` with ``--out DIR/``,
  :mod:`contractjax.datasets`): each task writes its shard atomically and the driver alone keeps
  the index, so a lost task's shard is simply computed again.

Tasks write their outputs themselves: ``--out`` must be on storage that every node mounts at the
same path (one machine: any folder; several: NFS or the like), and every node needs contractjax
installed in the same Python environment.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from contractjax.domain import InputError

#: Times Ray runs a task again after its worker process or node is lost.
RETRIES = 3
#: Seconds a cluster address has to answer before ``--cluster`` gives up (one line).
CONNECT_TIMEOUT = 5.0


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("`cluster` needs Ray: pip install -e \".[cluster]\" (or run without `cluster`)") from None
    return ray


def connect(address: str) -> Any:
    """Ray, connected to the cluster at ``address`` (``local``: a new instance on this machine)."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    _reachable(address)
    try:
        if address == "local":
            ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, configure_logging=False,
                     log_to_driver=True)
        else:
            ray.init(address=address, configure_logging=False, log_to_driver=True)
    except (ConnectionError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"`cluster` '{address}': cannot connect ({first}); start one with 'ray start --head' and "
                         "pass its address (HOST:6379; with token authentication also RAY_AUTH_MODE=token and the "
                         "head's token in ~/.ray/auth_token), or pass `cluster='local'`") from None
    return ray


def _reachable(address: str, timeout: float | None = None) -> None:
    """A cluster address answers a TCP connection within ``CONNECT_TIMEOUT`` seconds: Ray itself
    retries an address where nothing listens for minutes (and names another in its errors)."""
    if address in ("local", "auto"):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"`cluster` '{address}': give HOST:PORT of a Ray head (e.g. 10.0.0.1:6379), auto or local")
    wait = CONNECT_TIMEOUT if timeout is None else timeout
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=wait).close()
    except OSError as e:
        raise InputError(f"`cluster` '{address}': nothing answers at {host}:{port} within {wait:g} s "
                         f"({e.strerror or type(e).__name__}); start a head with 'ray start --head' and pass its "
                         "address, or pass `cluster='local'`") from None


def running() -> bool:
    """Whether this process is connected to Ray already (then ``--cluster`` reuses that connection)."""
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized()


def shutdown() -> None:
    if running():
        import ray

        ray.shutdown()


def map_unordered(address: str, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], shared: Any = None,
                  retries: int = RETRIES) -> Iterator[tuple[int, Any]]:
    """``fn(shared, *call)`` for every call as Ray tasks; yields ``(index, result)`` as they finish.

    ``shared`` (e.g. a policy or a scenario's work function) is sent to the cluster once. Each task
    asks for one GPU when the cluster has any, else one core; a task whose worker is lost is run
    again up to ``retries`` times (``fn`` must be safe to repeat: it writes its outputs atomically
    or continues from its own checkpoint)."""
    ray = connect(address)
    from contractjax import scenarios

    for module in scenarios.file_modules():  # model files: workers cannot import them by name
        ray.cloudpickle.register_pickle_by_value(module)
    gpu = ray.cluster_resources().get("GPU", 0) > 0
    task = ray.remote(fn).options(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=retries,
                                  retry_exceptions=False)
    ref = ray.put(shared)
    pending = {task.remote(ref, *call): i for i, call in enumerate(calls)}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for r in done:
                i = pending.pop(r)
                try:
                    got = ray.get(r)
                except ray.exceptions.RayTaskError as e:  # the task's own error, as if raised here
                    if isinstance(getattr(e, "cause", None), Exception):
                        raise e.cause from None
                    raise
                yield i, got
    finally:  # an error or an interrupt here: stop the rest (their finished outputs stay)
        for r in pending:
            ray.cancel(r, force=True)
