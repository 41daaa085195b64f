"""What the user sees in the terminal: each experiment as its kind shows it (``kinds``), the
summary tables, the findings, a sweep's progress and table, the units; on ``terminal``."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich import box
from rich.console import Console
from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table
from rich.text import Text  # table cells as plain text: user symbols are never markup

from . import kinds
from .config import Config
from .errors import error, warn  # noqa: F401  (console.error/warn for the CLI)
from .tables import divergence
from . import terminal
from .terminal import Bar, header, live, out  # noqa: F401  (console.out for the CLI)

class Steps(Bar):
    """Work without a bar of its own (the report: explorer pages, unit studies, plots): a
    spinner on stderr naming the step under way, with the time so far, in a terminal or a
    notebook; nothing when quiet or piped. Called with each step's words."""

    def __init__(self, quiet: bool = False):
        if not quiet and live():
            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                TimeElapsedColumn(), console=terminal.err, transient=True)
            self.task = self.bar.add_task("")

    def __call__(self, what: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=what)
            self.bar.refresh()  # each step drawn, however short


def fitted(title: str, header: list[str], rows: list[list[str]], width: int) -> Table:
    """A table of an experiment column, a settings column and columns of numbers that fits
    ``width`` without cutting a number: as it is where it fits; else every number column
    gets the width of its longest word (a cell breaks only at spaces, a header between its
    words) and the experiment and its settings share one column in what is left (the name
    on its first line, the settings wrapped below), where only a name longer than that
    column can break."""
    gap = 2
    cols = list(zip(header, *rows))
    natural = [max(len(cell) for cell in col) for col in cols]
    t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              padding=(0, gap // 2), collapse_padding=True)
    if sum(natural) + gap * (len(header) - 1) <= width:
        for i, col in enumerate(header):
            t.add_column(col, justify="left" if i < 2 else "right", no_wrap=True)
        for row in rows:
            t.add_row(*map(Text, row))
        return t
    numbers = [max(len(w) for cell in col for w in cell.split()) for col in cols[2:]]
    first = max(width - sum(numbers) - gap * len(numbers), 8)
    t.add_column(f"{header[0]} · {header[1]}", justify="left", overflow="fold", width=first)
    for col, w in zip(header[2:], numbers):
        t.add_column(col, justify="right", overflow="fold", width=w)
    for row in rows:
        t.add_row(Text(f"{row[0]}\n{row[1]}"), *map(Text, row[2:]))
    return t


def summary(results_: list, console: Console | None = None) -> None:
    """Each kind's summary table, fitted to the terminal (:func:`fitted`): no number is
    ever cut."""
    console = console or out
    for kind, rs in kinds.grouped(results_):
        title, head, rows, notes = kind.table(rs, terminal=True)
        console.print(fitted(title, head, rows, console.width))
        for line in notes:
            console.print(line, markup=False)


def findings(found: list, design: str = "") -> None:
    """The findings table, with the seeds each verdict used, and how they were settled."""
    from .findings import GUARANTEE, level_words
    t = Table(title=f"Findings: the tutorial's claims, checked ({level_words(found)})")
    for col in ("claim", "measurement", "seeds", "verdict"):
        t.add_column(col)
    for f in found:
        t.add_row(Text(f.claim), Text(f.measurement), Text(str(f.seeds or "")),
                  Text(f.verdict))
    out.print(t)
    out.print(GUARANTEE + (f" {design}" if design else ""), markup=False)



def models(run_dir, results_: list) -> None:
    """The models of a run, one line each (each kind's words: accuracy, best loss)."""
    for r in results_:
        for line in r.kind.model_lines(run_dir, r):
            out.print(line, markup=False)


class RunView:
    """What ``lstmlab run`` shows as the engine goes (an engine.Observer): the notebook's
    output per experiment, a progress bar while it trains."""

    def __init__(self, quiet: bool, verbose: bool):
        self.quiet, self.verbose = quiet, verbose

    def warn(self, line: str) -> None:
        warn(line)

    def begin(self, cfgs, todo, datasets) -> None:
        pass

    def start(self, cfg: Config, ds, cached: bool) -> None:
        header(cfg)
        if not cached:
            kinds.of(cfg).show_start(cfg, ds)

    def training(self, cfg: Config, ds):
        return kinds.of(cfg).progress(cfg, ds, self.quiet, self.verbose)

    def finished(self, res) -> None:
        res.kind.show_finished(res)

    def stopping(self) -> None:
        warn("stopping after the current training step… (again to leave at once)")

    def leaving(self) -> None:
        error("interrupted again; leaving now (finished experiments are kept)")


class Brief(RunView):
    """``lstmlab.reproduce``'s display in a notebook or a terminal: each experiment's
    heading and its progress bar, without the notebook's listings."""

    def __init__(self):
        super().__init__(False, False)

    def start(self, cfg: Config, ds, cached: bool) -> None:
        header(cfg)

    def finished(self, res) -> None:
        pass


LARGE_SWEEP = 100_000_000  # seed·updates from which a sweep's time is estimated aloud


def _duration(seconds: float) -> str:
    """A duration in words a person reads at a glance: 40 s, 12 min, 3.5 h, 2.1 days."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}" if unit in ("days", "h") else \
                f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def updates(cfg: Config, ds) -> int:
    """Seed·updates of one experiment: seeds × epochs × batches per epoch."""
    return kinds.of(cfg).updates(cfg, ds)


class SweepView(RunView):
    """What ``lstmlab sweep`` shows: one progress bar over the grid (points done / total,
    seed·updates per second, time left); --verbose prints a line per point instead."""

    def __init__(self, quiet: bool, verbose: bool):
        super().__init__(quiet, verbose)
        self.bar = None
        self.done = self.total = self.finished_points = 0
        self.seen: dict[str, int] = {}  # seed·updates counted so far, by point in training

    def begin(self, cfgs, todo, datasets) -> None:
        self.datasets = datasets
        self.points, self.total = len(todo), sum(updates(c, datasets[c.name]) for c in todo)
        earlier = len(cfgs) - len(todo)
        out.print(f"Sweep of {len(cfgs)} point(s): {len(todo)} to train"
                  + (f", {earlier} finished earlier in this directory" if earlier else "")
                  + (f", {self.total:,} seed·updates" if todo else ""), markup=False)
        self.estimate = self.total >= LARGE_SWEEP and len(todo) > 1
        if self.estimate:
            out.print("A large sweep: its time is estimated from the rate of its first "
                      "point; Ctrl-C stops it within seconds and keeps the finished points.",
                      markup=False)
        self.t0 = time.perf_counter()
        if todo and not self.quiet and not self.verbose and terminal.err.is_terminal:
            self.bar = Progress(TextColumn("points {task.fields[points]}"), BarColumn(),
                                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                TimeElapsedColumn(), console=terminal.err, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("sweep", total=self.total,
                                          points=f"0/{self.points}", rate="compiling…")

    def _advance(self, n: int, point_done: bool = False) -> None:
        self.done += n
        if self.bar is None:
            return
        self.finished_points += point_done
        rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(self.task, completed=self.done,
                        points=f"{self.finished_points}/{self.points}",
                        rate=f"{rate:,.0f} seed·updates/s")

    def start(self, cfg: Config, ds, cached: bool) -> None:
        pass

    @contextmanager
    def training(self, cfg: Config, ds):
        per_epoch = updates(cfg, ds) // cfg.epochs
        self.seen[cfg.name] = 0

        epochs = kinds.of(cfg).epochs_done

        def progress(*done):
            epochs_done = epochs(*done)
            step = int(epochs_done * per_epoch) - self.seen[cfg.name]
            self.seen[cfg.name] += step
            self._advance(step)
        yield progress

    def finished(self, res) -> None:
        if not res.cached:  # a Ray point advances here in one step, a local one did as it ran
            name = res.config.name
            self._advance(updates(res.config, self.datasets[name]) - self.seen.pop(name, 0),
                          point_done=True)
            if self.estimate:  # once, from the first point (its compilation included)
                self.estimate = False
                rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
                left = (self.total - self.done) / rate
                out.print(f"Measured {rate:,.0f} seed·updates/s on the first point: the other "
                          f"{self.total - self.done:,} take about {_duration(left)}.",
                          markup=False)
        if not res.cached and (diverged := divergence(res)) is not None:
            warn(diverged)
        if self.verbose:
            out.print(res.kind.brief(res), markup=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def sweep_results(table: tuple[list[str], list[list[str]]], sentences: list[str],
                  failed: dict[str, str], note: str = "") -> None:
    """The sweep's table (one row per point), what the numbers say, failed points."""
    head, rows = table
    t = Table(title="Sweep", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, col in enumerate(head):
        t.add_column(col, justify="right" if i >= len(head) - 4 else "left")
    for row in rows:
        t.add_row(*map(Text, row))
    out.print(t)
    if note:  # the kind's words on what the numbers are
        out.print(note, markup=False)
    for line in sentences:
        out.print("• " + line, markup=False)
    for name, why in failed.items():
        error(f"point {name} failed twice and was not trained: {why}")


class SettleView(RunView):
    """Settling rounds: one line per experiment trained with more seeds, and its bar."""

    def start(self, cfg: Config, ds, cached: bool) -> None:
        out.print(f"settling: {cfg.name} with {cfg.seeds} seeds", markup=False)

    def finished(self, res) -> None:
        pass


def units(study) -> None:
    """What the units of one experiment learned: the strongest unit per track."""
    text = study.text
    t = Table(title=f"{study.experiment}: what the units learned ({len(text):,} symbols "
                    f"read; θ = {study.threshold:g})")
    for col in study.HEADER:
        t.add_column(col)
    rows = study.rows()
    for row in rows:
        t.add_row(*map(Text, row))
    out.print(t)
    if not rows:
        out.print(f"No track varies over the {len(text):,} symbols read, so no unit can "
                  f"track one: read a longer or more varied text (--text, --text-file) or "
                  f"give a track of your own (--track NAME=FILE)", markup=False)
    if study.reach is not None:
        out.print(f"Connectivity: 90% of |∂ log p / ∂ input| lies within the last "
                  f"{study.reach + 1} symbol(s) read.", markup=False)
