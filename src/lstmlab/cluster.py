"""Training on a Ray cluster: each experiment (a grid point) is one Ray task that runs the
same code as a local run (the kind's ``train``) on a worker and returns its
Result; the driver alone writes the run directory, so a worker never needs the driver's
disk.

Ray is an optional extra; this module is imported only when ``--ray`` is asked for.
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable


from .errors import ConfigError
from .config import Config
from . import kinds

INSTALL = 'pip install "lstmlab[ray]"  (in a checkout: pip install -e ".[ray]")'


def connect(address: str):
    """The ``ray`` module, connected: "" starts a local cluster, otherwise ``address``
    (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``). Returns (ray, started_here)."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--ray needs Ray, which is not installed: {INSTALL}") from None
    if ray.is_initialized():
        return ray, False
    reachable(address)
    try:
        with warnings.catch_warnings():
            # Ray starts its processes with fork+exec, which is safe; JAX warns of any fork
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError…
        first = (str(e).strip().splitlines() or [e.__class__.__name__])[0][:200]
        raise ConfigError(f"cannot {'connect to the Ray cluster at ' + address if address else 'start a local Ray cluster'}: "
                          f"{first}") from None
    return ray, True


REACH_S = 10.0  # how long an unreachable cluster address may take to say so


def reachable(address: str) -> None:
    """ConfigError within REACH_S seconds when a HOST:PORT address (also ``ray://``) does
    not accept a connection — ray.init itself retries such an address without end. ""
    and "auto" are left to Ray (a local cluster, or the one this machine has joined)."""
    import socket
    from concurrent.futures import ThreadPoolExecutor, TimeoutError as Late
    hostport = address.removeprefix("ray://")
    if address in ("", "auto"):
        return
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--ray {address!r} is not allowed; allowed: HOST:PORT, "
                          f"ray://HOST:PORT or auto")

    def connect_once():
        socket.create_connection((host, int(port)), timeout=REACH_S).close()
    pool = ThreadPoolExecutor(1)  # the name lookup has no timeout of its own
    try:
        pool.submit(connect_once).result(timeout=REACH_S)
    except Late:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: no answer within "
                          f"{REACH_S:g} s") from None
    except OSError as e:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: "
                          f"{e.strerror or e}") from None
    finally:
        pool.shutdown(wait=False)


def train_point(cfg: Config, workers: int | None, chunk: int | None,
                first: int = 0):
    """One grid point on a worker: the local engine's training of replicas ``first`` …
    (all: 0), with the parameters as numpy arrays so that the Result travels back without
    JAX device buffers."""
    kind = kinds.of(cfg)  # (no checkpoint on a worker)
    return kind.train(cfg, kind.prepare(cfg), first=first, workers=workers,
                      chunk=chunk).portable()


def _one_line(e: BaseException) -> str:
    lines = [line for line in str(e).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else e.__class__.__name__)[:200]


def train(todo: list[Config], datasets: dict, address: str,
          finish: Callable, failed: dict, check: Callable[[], None],
          chunk: int | None, fn: Callable = train_point, priors: dict | None = None) -> None:
    """Train ``todo`` as Ray tasks, calling ``finish`` on each result as it arrives (in
    the order they finish). A task that fails (an exception, a killed worker, out of
    memory) is retried once; if it fails again its name and error go into ``failed`` and
    the others go on. ``check`` raises to stop (Ctrl-C); the pending tasks are then
    cancelled. ``fn(cfg, workers, chunk, first)`` is the task (train_point; tests replace
    it). ``priors``: finished results by name; a task whose config adds seeds to one
    (its kind's extends) trains only the new replicas, merged here.
    """
    priors = {c.name: priors[c.name] for c in todo
              if kinds.of(c).extends((priors or {}).get(c.name), c)}
    ray, started = connect(address)
    try:
        gpus = ray.cluster_resources().get("GPU", 0) > 0
        # One CPU per task (Ray runs as many points at once as the cluster has CPUs), each
        # task's seeds as one thread group; on a GPU node one task holds a GPU and runs all
        # its seeds as one program on it.
        task = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_retries=1,
                          retry_exceptions=True)(fn)
        pending = {task.remote(cfg, None if gpus else 1, chunk,
                               priors[cfg.name].config.seeds if cfg.name in priors else 0): cfg
                   for cfg in todo}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                check()
                for ref in ready:
                    cfg = pending.pop(ref)
                    try:
                        res = ray.get(ref)
                    except Exception as e:  # after its retry: name it, keep the others
                        failed[cfg.name] = _one_line(e)
                        continue
                    res.dataset = datasets[cfg.name]  # the same data, built on the driver
                    if cfg.name in priors:
                        res = kinds.of(cfg).merge(priors[cfg.name], res, cfg)
                    finish(res)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


def require() -> None:
    """ConfigError naming the install command when Ray is not installed (checked before
    anything else is done)."""
    import importlib.util
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(f"--ray needs Ray, which is not installed: {INSTALL}")
