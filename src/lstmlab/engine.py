"""The one engine behind ``lstmlab run``, ``lstmlab sweep`` and ``lstmlab.sweep``: hold a
run directory, resume what finished there, train the rest (on this machine or as Ray
tasks), save each experiment as it finishes, and stop cleanly on Ctrl-C.

What the user sees is not decided here: the caller passes an :class:`Observer` (the CLI's
lives in ``console``), so the engine runs the same in a terminal, a script or a notebook.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from . import budget, measure, records
from .config import Config, sizes_text, training_key
from .errors import ConfigError, DataError
from . import kinds
from .experiments import run as run_experiment
from .kinds import ExperimentResult as Result
from .programs import cancel_ahead
from .tables import sequence_text


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; raised where the run can stop cleanly. ``finished``
    holds the experiments finished (and saved) by then."""

    def __init__(self, signum: int, finished: list | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.finished = finished or []


class StopRequest:
    """While active, SIGINT (Ctrl-C) and SIGTERM only record a request, which the run loop
    honours between training chunks (``check``). An asynchronous KeyboardInterrupt would
    land inside JAX while worker threads still run compiled code, and the interpreter
    would then exit under them (a segmentation fault). A second signal leaves at once.
    Outside the main thread (signals cannot be caught there) it does nothing."""

    def __init__(self, on_signal: Callable[[], None] = lambda: None,
                 on_second: Callable[[], None] = lambda: None):
        self.signum = None
        self._old = {}
        self._on_signal, self._on_second = on_signal, on_second

    def _handle(self, signum, frame):
        if self.signum is not None:
            self._on_second()
            os._exit(128 + signum)
        self.signum = signum
        self._on_signal()

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class Observer:
    """What the engine reports as it goes; every method does nothing here. ``training``
    returns a context whose value is called with (epochs done, history so far) between
    chunks of a local training (what its kind's training reports)."""

    def warn(self, line: str) -> None: ...
    def begin(self, cfgs: list[Config], todo: list[Config], datasets: dict) -> None: ...
    def start(self, cfg: Config, ds, cached: bool) -> None: ...
    def finished(self, res: Result) -> None: ...
    def stopping(self) -> None: ...
    def leaving(self) -> None: ...

    def training(self, cfg: Config, ds):
        return nullcontext(lambda *progress: None)


@dataclass
class Outcome:
    """The experiments of one invocation, in the order asked for: finished (fresh or
    resumed) and failed (Ray tasks that failed twice: name → one line)."""

    results: list[Result]
    everything: list[Result]  # every finished experiment of the directory, in order
    failed: dict[str, str] = field(default_factory=dict)


def settings_diff(a: dict, b: dict) -> list[str]:
    """How settings ``b`` differ from ``a`` (dicts of a Config's fields), one "name old →
    new" each; a note is words, not a setting."""
    def short(v):  # a long sequence cut short; one size per layer as it is typed (64,32)
        return repr(sequence_text(v)) if isinstance(v, str) else \
            sizes_text(v, ",") if isinstance(v, (list, tuple)) else repr(v)
    return [f"{k} {short(a.get(k))} → {short(b[k])}" for k in b
            if k != "note" and a.get(k) != b[k]]


def replacement(run_dir: Path, old: Config, new: Config) -> str:
    """One line naming a finished experiment that these settings would replace, and how
    its settings differ."""
    return (f"{run_dir / new.name} holds a finished experiment with other settings "
            f"({', '.join(settings_diff(asdict(old), asdict(new)))})")


def execute(run_dir: Path, cfgs: list[Config], datasets: list, *,
            force: bool = False, observer: Observer | None = None, save_models: bool = True,
            workers: int | None = None, chunk: int | None = None, ray: str | None = None,
            write_files: Callable[[list[Result], list[Result]], None] | None = None,
            on_locked: Callable[[], None] | None = None,
            asked: dict[str, int] | None = None, looks: list[int] | None = None,
            ahead: bool = True, kind: str = "run",
            saved: Callable[[Result, bool], None] | None = None) -> Outcome:
    """Run ``cfgs`` (already validated, with their ``datasets``) in ``run_dir``.

    Experiments that finished there with the same settings are loaded, not trained; one
    with other settings is replaced only with ``force``. Each experiment is saved as it
    finishes, so an interrupt (:class:`Interrupted`) or a crash loses only the one in
    training. ``write_files(finished, everything in the directory)`` is called once, at
    the end or at an interrupt; ``on_locked`` once the directory is held. ``ray``: None
    trains here; "" starts a local Ray cluster; otherwise the address of one to join
    (``workers`` is then 1 per task: Ray runs as many tasks at once as it has CPUs).
    ``asked`` (settling): experiment → the seeds the run asked for; their finished records
    with fewer seeds are replaced without a word, and the new ones remember the request
    and the settling design ``looks`` that grew them.
    ``ahead`` (local training): start compiling every experiment's training at once, on
    background threads (``train.compile_ahead``); off, each compiles when it trains.
    ``kind``: "run" or "sweep" — a directory holds one kind, and only what lstmlab wrote
    (``records.claim``). ``saved(result, more)`` is called after each experiment it saves;
    ``more``: whether another is still to train here (locally) after it.
    """
    obs = observer or Observer()
    with records.lock(run_dir), StopRequest(obs.stopping, obs.leaving) as stop:
        records.claim(run_dir, kind)
        records.clean_leftovers(run_dir)
        if on_locked is not None:
            on_locked()
        loaded, damaged = records.load_run(run_dir)
        known = {r.config.name: r for r in loaded}
        for line in damaged:
            obs.warn(f"{line}; it is left out and trained again if this run includes it")
        asked = asked or {}
        other = [c for c in cfgs if c.name in known and not known[c.name].answers(c)
                 and c.name not in asked]
        replaced = [replacement(run_dir, known[c.name].config, c) for c in other]
        if replaced and not force:
            raise ConfigError(f"{replaced[0]}; add --force to replace "
                              f"{'it' if len(replaced) == 1 else f'all {len(replaced)}'}, "
                              f"or choose another --out")
        for c, line in zip(other, replaced):
            n = known[c.name].config.seeds
            obs.warn(f"{line}: keeping its {n} seeds and training {c.seeds - n} more (--force)"
                     if kinds.of(c).extends(known[c.name], c) else f"{line}: replacing it (--force)")
        todo = [c for c in cfgs if c.name not in known or not known[c.name].answers(c)]
        by_name = dict(zip((c.name for c in cfgs), datasets))
        budget.check_disk(run_dir, [kinds.of(c).disk_bytes(c, by_name[c.name], save_models)
                                    for c in todo], obs.warn)
        obs.begin(cfgs, todo, by_name)
        done: dict[str, Result] = {}
        failed: dict[str, str] = {}

        def finish(res: Result, more: bool = False) -> None:
            prior = known.get(res.config.name)
            if not res.cached and prior is not None and prior.grows_into(res.config):
                # grown from a result that was judged at its seeds: a look, by hand or
                # by settling, that the findings' level must count; seeds gathered by
                # looking stay judged by their design
                res.taken = tuple(sorted({*prior.taken, prior.config.seeds}))
                res.looks = res.looks or prior.looks
            if res.config.name in asked and not res.cached:
                res.asked_seeds = asked[res.config.name]
                res.looks = None if looks is None else tuple(looks)
            if not res.cached:
                if save_models and kind == "run":  # what a run's findings and report
                    measure.everything(res)            # read, made once (a sweep reads none)
                else:
                    measure.let_go(res)
                records.save_result(run_dir, res, models=save_models)
                if saved is not None:
                    saved(res, more)
            done[res.config.name] = res
            obs.finished(res)

        try:
            if ray is None:
                for cfg in todo if ahead else ():  # later ones compile while earlier train
                    kinds.of(cfg).compile_ahead(cfg, by_name[cfg.name], workers, chunk,
                                                known.get(cfg.name))
                trained: dict = {}  # training key → a result this invocation trained
                for i, cfg in enumerate(cfgs):
                    stop.check()
                    res = known.get(cfg.name)
                    fresh = res is None or not res.answers(cfg)
                    obs.start(cfg, by_name[cfg.name], cached=not fresh)
                    its = kinds.of(cfg)  # the experiment's kind (``kind``: run or sweep)
                    twin = trained.get(training_key(cfg)) if fresh else None
                    # only evaluation settings differ (a sweep over --start): the same
                    # models, evaluated again
                    again = its.evaluated_again(cfg, by_name[cfg.name], twin) \
                        if twin is not None and twin.params is not None else None
                    if again is not None:
                        res = again
                    elif fresh:
                        if its.checkpointed:
                            _other_checkpoints(run_dir, cfg, obs)
                        with obs.training(cfg, by_name[cfg.name]) as progress:
                            def on_progress(*done):
                                progress(*done)
                                stop.check()  # between chunks: no compiled code is running
                            # more seeds of a finished experiment: only the new ones train;
                            # a stream experiment goes on from its last finished epoch
                            res = run_experiment(cfg, dataset=by_name[cfg.name],
                                                 on_progress=on_progress, check=stop.check,
                                                 workers=workers, chunk=chunk,
                                                 prior=known.get(cfg.name),
                                                 checkpoint=records.checkpoint(run_dir, cfg)
                                                 if its.checkpointed else None)
                        trained[training_key(cfg)] = res
                    finish(res, any(c in todo for c in cfgs[i + 1:]))
            else:
                for cfg in cfgs:
                    if cfg not in todo:
                        obs.start(cfg, by_name[cfg.name], cached=True)
                        finish(known[cfg.name])
                if todo:
                    from . import cluster  # Ray is an optional extra, imported when asked
                    cluster.train(todo, by_name, ray, finish, failed, stop.check, chunk,
                                  priors=known)
            stop.check()
        except (Interrupted, KeyboardInterrupt) as e:
            cancel_ahead()
            ordered, everything = _finished(cfgs, done, known)
            if write_files is not None and everything:
                write_files(ordered, everything)
            signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
            raise Interrupted(signum, ordered) from None
        ordered, everything = _finished(cfgs, done, known)
        if write_files is not None and everything:
            write_files(ordered, everything)
    return Outcome(ordered, everything, failed)


def _other_checkpoints(run_dir: Path, cfg: Config, obs: Observer) -> None:
    """Say which unfinished trainings of ``cfg``'s experiment with other settings this
    training leaves alone (they are kept, never removed without a word)."""
    for p in records.other_checkpoints(run_dir, cfg):
        k = kinds.of(cfg).finished_epochs(p)
        obs.warn(f"{p} holds an unfinished training of {cfg.name} with other settings"
                 + (f" ({k} finished epoch(s))" if k else "") + "; it is kept, not used: "
                 "run those settings again to go on from it, or remove it")


def _finished(cfgs, done: dict, known: dict) -> tuple[list[Result], list[Result]]:
    """This invocation's finished experiments in the order asked, and every finished
    experiment of the directory (records.in_order)."""
    return ([done[c.name] for c in cfgs if c.name in done],
            records.in_order({**known, **done}.values()))


def prepare_all(cfgs: list[Config], what: str = "experiments") -> list:
    """Every experiment's data, validated; all impossible experiments are named in one
    ConfigError before anything trains."""
    from .experiments import prepare
    datasets, bad = [], []
    for cfg in cfgs:
        try:
            datasets.append(prepare(cfg))
        except (ConfigError, DataError) as e:
            bad.append(f"{cfg.name}: {e}")
    if len(bad) == 1:
        raise ConfigError(bad[0])
    if bad:
        raise ConfigError(f"{len(bad)} of {len(cfgs)} {what} are impossible — "
                          + "; ".join(bad))
    return datasets


@contextmanager
def run_directory(out: str | Path | None):
    """``out`` (created if missing, checked writable) or a new ``runs/<timestamp>``; a
    directory this invocation created is removed again if it fails before any experiment
    finished there."""
    if out is not None:
        run_dir = Path(out)
        created = not run_dir.exists()
        records.ensure_writable(run_dir)
    else:
        run_dir, created = records.new_run_dir(), True
    try:
        yield run_dir
    except Exception as e:  # not SystemExit: an interrupt's message names the directory
        if created and not isinstance(e, Interrupted) and \
                not any(run_dir.glob(f"*/{records.RECORD}")):
            import shutil
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def common_chunk(cfgs: list[Config]) -> int | None:
    """One chunk size (epochs per compiled call) that divides every experiment's epochs,
    so experiments whose shapes agree and whose epochs differ share one compiled program
    (about 1/20 of the smallest epochs, as for a single run)."""
    from math import gcd
    from .train import chunk_epochs
    g = 0
    for c in cfgs:
        g = gcd(g, c.epochs)
    return chunk_epochs(g) if g else None


