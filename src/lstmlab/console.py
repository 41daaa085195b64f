"""What the user sees in the terminal: the notebook's output, a progress bar, a summary."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

import numpy as np
from rich import box
from rich.console import Console
from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table
from rich.text import Text  # table cells as plain text: user symbols are never markup

from . import grid
from .data import best_achievable, quoted, show
from .stats import CI_METHOD, interval_text, loss_text, share_interval, summarize
from .config import Config
from .datasets import Dataset, TextData
from .results import SAMPLE_TEMPERATURE, Result, TextResult, is_text
from .errors import error, warn  # noqa: F401  (console.error/warn for the CLI)
from .evaluate import order_check
from .tables import divergence, kept_words, loss_footnote, summary_rows, text_rows

MAX_LINES = 30  # longer listings (1000 variable-length samples) are cut, with a count

# Piped output gets a width that fits the summary table, not rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)


def header(cfg: Config) -> None:
    out.rule(f"[bold]{cfg.name}[/bold]")
    out.print(cfg.describe() + (f"  ({cfg.note})" if cfg.note else ""), markup=False)


def _listing(lines: list[str]) -> None:
    for line in lines[:MAX_LINES]:
        out.print(line, markup=False)
    if len(lines) > MAX_LINES:
        out.print(f"… ({len(lines) - MAX_LINES} more)", markup=False)


def patterns(ds: Dataset) -> None:
    """The notebook's pattern pairs, ``AB -> C``."""
    p, vocab = ds.patterns, ds.vocab
    _listing([f"{show(vocab.decode(x))} -> {show(vocab.symbols[y])}"
              for x, y in zip(p.x, p.y)])


def live() -> bool:
    """Can stderr show a live display (a terminal, or a notebook's output)?"""
    return err.is_terminal or err.is_jupyter


class _Bar:
    """A progress view whose rich bar (``self.bar``, or None) lives as long as the context."""

    bar = None

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


class Steps(_Bar):
    """Work without a bar of its own (the report: explorer pages, unit studies, plots): a
    spinner on stderr naming the step under way, with the time so far, in a terminal or a
    notebook; nothing when quiet or piped. Called with each step's words."""

    def __init__(self, quiet: bool = False):
        if not quiet and live():
            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                TimeElapsedColumn(), console=err, transient=True)
            self.task = self.bar.add_task("")

    def __call__(self, what: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=what)
            self.bar.refresh()  # each step drawn, however short


def text(cfg: Config, ds: TextData) -> None:
    """What a stream experiment reads: the text's size and symbols, its streams."""
    b = ds.train.x.shape
    val = (f"; validation: the last {cfg.val_frac:.0%}, {ds.val.chars:,} symbols as "
           f"{ds.val.x.shape[0]} batches" if ds.val is not None else "; no validation")
    out.print(f"Text: {len(cfg.sequence):,} symbols, {len(ds.vocab)} distinct; training: "
              f"{ds.chars:,} symbols as {cfg.streams} contiguous streams, {b[0]} batches "
              f"of {cfg.seq_length} steps per epoch (batch k + 1's row i continues batch "
              f"k's row i){val}", markup=False)


class TrainingProgress(_Bar):
    """A progress bar over epochs with loss and accuracy (replica mean), shown only on a
    terminal (piped, it would leave blank lines); --verbose prints the notebook's epoch log
    instead."""

    def __init__(self, cfg: Config, quiet: bool, verbose: bool):
        self.cfg, self.verbose = cfg, verbose
        self.logged = 0
        self.bar = None
        if not quiet and not verbose and live():
            self.bar = Progress(TextColumn("training"), BarColumn(),
                                TextColumn("{task.completed}/{task.total} epochs"),
                                TextColumn("{task.fields[status]}"),
                                TimeElapsedColumn(), console=err, transient=True)
            self.task = self.bar.add_task("train", total=cfg.epochs, status="compiling…")

    def __call__(self, done: int, history: np.ndarray) -> None:
        mean = history.mean(axis=0)  # over replicas
        if self.bar is not None:
            self.bar.update(self.task, completed=done,
                            status=f"loss {mean[-1, 0]:.4f} acc {mean[-1, 1]:.4f}")
        if self.verbose:
            for e in range(self.logged, done):
                out.print(f"Epoch {e + 1}/{self.cfg.epochs}")
                out.print(f" - loss: {mean[e, 0]:.4f} - acc: {mean[e, 1]:.4f}")
            self.logged = done


class TextProgress(_Bar):
    """A stream experiment's progress: a bar over the symbols of every epoch with the
    epoch, symbols per second, the training loss so far in the epoch and the last
    validation loss, time left. Piped or with --verbose, one line per finished epoch."""

    def __init__(self, cfg: Config, ds: TextData, quiet: bool, verbose: bool):
        self.cfg, self.per_batch = cfg, cfg.streams * cfg.seq_length * cfg.seeds
        self.lines = not quiet and (verbose or not live())
        self.bar = self.started = None
        self.last_epoch, self.t_epoch = None, time.perf_counter()
        if not quiet and not verbose and live():
            self.bar = Progress(TextColumn("{task.fields[epoch]}"), BarColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                                TimeElapsedColumn(), console=err, transient=True)
            self.task = self.bar.add_task("train", total=cfg.epochs * ds.chars * cfg.seeds,
                                          epoch="compiling…", status="")

    def __call__(self, p) -> None:
        now = time.perf_counter()
        if self.started is None:
            self.started = (now, p.epoch * p.batches + p.batch)
            if p.epoch and (self.bar is not None or self.lines):  # not --quiet
                out.print(f"Resuming after epoch {p.epoch} of {self.cfg.epochs}, kept by an "
                          f"interrupted run of the same settings", markup=False)
        done = p.epoch * p.batches + p.batch
        rate = (done - self.started[1]) * self.per_batch / max(now - self.started[0], 1e-9)
        val = "" if p.val is None else f" · val {np.mean(p.val):.3f}"
        if self.bar is not None:
            train = f" · train {p.losses.mean():.3f}" if p.losses.size else ""
            self.bar.update(self.task, completed=done * self.per_batch,
                            epoch=f"epoch {min(p.epoch + 1, self.cfg.epochs)}/"
                                  f"{self.cfg.epochs}",
                            status=f"{rate:,.0f} chars/s{train}{val} nats")
        if self.lines and p.batch == 0 and p.epoch > 0 and p.epoch != self.last_epoch:
            self.last_epoch = p.epoch
            out.print(f"epoch {p.epoch}/{self.cfg.epochs}: {now - self.t_epoch:.1f} s"
                      + (f", validation {np.mean(p.val):.4f} nats "
                         f"({np.mean(p.val) / np.log(2):.4f} bits) per symbol"
                         if p.val is not None else ""), markup=False)
            self.t_epoch = now


def text_results(res: TextResult) -> None:
    """The best validation loss, the speed and replica 0's sample."""
    c = res.config
    if res.cached:
        out.print("(cached: finished earlier in this run directory with the same settings; "
                  "not trained again)", markup=False)
    bv, sound = res.best_val, res.sound_best_val
    what = "validation" if c.val_frac else "training (no validation)"
    over = (f" (over the {len(sound)} seed(s) that did not diverge: mean {loss_text(sound)} "
            f"nats)" if c.seeds > 1 and len(sound) else "")
    if 0 in res.diverged:
        out.print(f"Replica 0's training diverged (its best {what} loss {bv[0]:.3g} nats): "
                  f"that model is no result{over}", markup=False)
    else:
        out.print(f"Best {what} loss: {bv[0]:.4f} nats = {bv[0] / np.log(2):.4f} bits per "
                  f"symbol at epoch {res.best_epoch[0] + 1} of {c.epochs}"
                  + (f" (replica 0){over}" if over else "")
                  + "; that model is kept (and the last one)", markup=False)
    out.print(f"Trained {res.dataset.chars:,} symbols × {c.epochs} epochs × {c.seeds} "
              f"seed(s): {res.chars_per_s:,.0f} symbols/s ({res.compile_s:.1f} s compiling, "
              f"{res.train_s:.1f} s training)", markup=False)
    if (diverged := divergence(res)) is not None:
        warn(diverged)
    out.print(("Sample of replica 0's diverged model" if 0 in res.diverged else
               "Sample of the best model of replica 0")
              + f" (temperature {SAMPLE_TEMPERATURE}, from {quoted(res.sample_prime)}):",
              markup=False)
    out.print(res.samples[0], markup=False)


def _predictions(px, py, probs, vocab) -> list[str]:
    lines = []
    for x, y, p in zip(px, py, probs):
        pred = int(np.argmax(p))
        mark = "" if pred == y else f"   ✗ expected {show(vocab.symbols[y])}"
        lines.append(f"[{', '.join(map(quoted, vocab.decode(x)))}] -> "
                     f"{show(vocab.symbols[pred])}"
                     f"{mark}")
    return lines


def _accuracy_line(label: str, acc: np.ndarray) -> str:
    line = f"{label}: {100 * acc[0]:.2f}%"
    if len(acc) > 1:
        s = summarize(acc)
        line += (f"  (replica 0; over {s['n']} seeds: mean {100 * s['mean']:.2f}%, "
                 f"sd {100 * s['sd']:.2f}, min {100 * s['min']:.2f}%, max "
                 f"{100 * s['max']:.2f}%, 95% CI {interval_text(*s['ci95'], 2, '%')} "
                 f"(betting interval), "
                 f"{round(s['share_100'] * s['n'])}/{s['n']} at 100%)")
    return line


def results(res: Result) -> None:
    """Accuracy, predictions (wrong ones marked), probes, generation, order test."""
    cfg, vocab = res.config, res.dataset.vocab
    kept, p, probs = res.readable()
    if res.cached:
        out.print("(cached: finished earlier in this run directory with the same settings; "
                  "not trained again)", markup=False)
    out.print(_accuracy_line("Model Accuracy", res.accuracy), markup=False)
    if (diverged := divergence(res)) is not None:
        warn(diverged)
    best = best_achievable(res.dataset.patterns)
    if best < 1.0:
        out.print(f"Best achievable accuracy on these patterns: {100 * best:.2f}% (the same "
                  f"input is followed by different symbols in the data)", markup=False)
    wrong = int(np.sum(probs[0].argmax(-1) != p.y))
    _listing(_predictions(p.x, p.y, probs[0], vocab))
    if kept is not None:
        out.print(kept_words(len(p), len(res.dataset.patterns)), markup=False)
    if wrong:
        out.print(f"{wrong} of {len(p)} {'kept ' * (kept is not None)}patterns "
                  f"predicted wrongly", markup=False)
    if res.probe is not None:
        out.print(f"Probe: {len(res.probe)} random patterns from a separate generator",
                  markup=False)
        _listing(_predictions(res.probe.x, res.probe.y, res.probe_probs[0], vocab))
        out.print(_accuracy_line("Probe Accuracy", res.probe_accuracy), markup=False)
    for start, strings in res.generated.items():
        ok = res.generation_ok(start)
        how = "reset, then feed back the argmax" if cfg.stateful else "slide the window"
        share = ""
        if len(ok) > 1:
            lo, hi = share_interval(int(ok.sum()), len(ok))
            share = (f"  ({int(ok.sum())}/{len(ok)} seeds continue the sequence, 95% CI "
                     f"{interval_text(lo, hi, 0, '%')} (exact))")
        out.print(f"Generated from {quoted(start)} ({how}, {cfg.length} times): "
                  f"{show(strings[0])}" + share, markup=False)
    if res.order_diff is not None:
        diff, scale = res.order_diff
        out.print(f"Within-batch order test (a check of the code): largest |gradient "
                  f"difference| between the samples in order and shuffled = {diff:.2e} "
                  f"(largest gradient entry {scale:.2e})", markup=False)
        out.print("  " + order_check(diff, scale), markup=False)


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


def summary(results_: list[Result], console: Console | None = None) -> None:
    """The summary tables (text models', window models'), each fitted to the terminal
    (:func:`fitted`): no number is ever cut."""
    console = console or out
    texts = [r for r in results_ if is_text(r)]
    results_ = [r for r in results_ if not is_text(r)]
    if texts:
        console.print(fitted("Text models", *text_rows(texts), console.width))
        console.print(loss_footnote(texts), markup=False)
    if not results_:
        return
    console.print(fitted("Summary", *summary_rows(results_, compact=True), console.width))
    console.print("settings: framing, w window, u units, e epochs, b batch size."
                  + (" * cached: finished earlier in this run directory with the same "
                     "settings." if any(r.cached for r in results_) else ""), markup=False)
    if any(r.config.seeds > 1 for r in results_):
        console.print(CI_METHOD + ".", markup=False)


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



def models(run_dir, results_: list[Result]) -> None:
    """The models of a run, one line each, with their accuracy."""
    for r in results_:
        if is_text(r) and r.params is not None:
            for i, v in enumerate(r.best_val):
                out.print(f"{run_dir / r.config.name / str(i)}  {r.config.name}  replica {i}  "
                          f"best validation loss {v:.4f} nats (epoch {r.best_epoch[i] + 1}; "
                          f"the last epoch's: {run_dir / r.config.name / 'last' / str(i)})",
                          markup=False)
            continue
        if r.params is None:
            out.print(f"{run_dir / r.config.name}  {r.config.name}  models not saved (a sweep "
                      f"keeps them only with --save-models)" + ("" if is_text(r) else
                                                          f"; mean accuracy "
                                                          f"{100 * r.accuracy.mean():.2f}%"),
                      markup=False)
            continue
        for i, acc in enumerate(r.accuracy):
            out.print(f"{run_dir / r.config.name / str(i)}  {r.config.name}  replica {i}  "
                      f"accuracy {100 * acc:.2f}%", markup=False)


class RunView:
    """What ``lstmlab run`` shows as the engine goes (an engine.Observer): the notebook's
    output per experiment, a progress bar while it trains."""

    def __init__(self, quiet: bool, verbose: bool):
        self.quiet, self.verbose = quiet, verbose

    def warn(self, line: str) -> None:
        warn(line)

    def begin(self, cfgs, todo, datasets) -> None:
        pass

    def start(self, cfg: Config, ds: Dataset | TextData, cached: bool) -> None:
        header(cfg)
        if cached:
            return
        if cfg.streams:
            text(cfg, ds)
        else:
            patterns(ds)

    def training(self, cfg: Config, ds: Dataset | TextData):
        if cfg.streams:
            return TextProgress(cfg, ds, self.quiet, self.verbose)
        return TrainingProgress(cfg, self.quiet, self.verbose)

    def finished(self, res: Result | TextResult) -> None:
        if is_text(res):
            text_results(res)
        else:
            results(res)

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


def updates(cfg: Config, ds: Dataset) -> int:
    """Seed·updates of one experiment: seeds × epochs × batches per epoch."""
    if cfg.streams:
        return cfg.seeds * cfg.epochs * ds.train.x.shape[0]
    n = len(ds.patterns)
    return cfg.seeds * cfg.epochs * -(-n // (cfg.batch_size or n))


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
        if todo and not self.quiet and not self.verbose and err.is_terminal:
            self.bar = Progress(TextColumn("points {task.fields[points]}"), BarColumn(),
                                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                TimeElapsedColumn(), console=err, transient=True)
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

    def start(self, cfg: Config, ds: Dataset, cached: bool) -> None:
        pass

    @contextmanager
    def training(self, cfg: Config, ds: Dataset):
        per_epoch = updates(cfg, ds) // cfg.epochs
        self.seen[cfg.name] = 0

        def progress(epochs_done, history=None):
            if cfg.streams:  # charrnn.Progress: batches within the epoch
                epochs_done = epochs_done.epoch + epochs_done.batch / epochs_done.batches
            step = int(epochs_done * per_epoch) - self.seen[cfg.name]
            self.seen[cfg.name] += step
            self._advance(step)
        yield progress

    def finished(self, res: Result) -> None:
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
        if self.verbose and is_text(res):
            out.print(f"{res.config.name}: best validation {res.best_val_text()} nats"
                      + (" (finished earlier)" if res.cached else f", {res.train_s:.1f} s"),
                      markup=False)
        elif self.verbose:
            s = summarize(res.accuracy)
            k = int(grid.at_100(res).sum())
            out.print(f"{res.config.name}: accuracy {100 * s['mean']:.2f}%, {k}/{s['n']} "
                      f"seeds at 100%" + (" (finished earlier)" if res.cached else
                                           f", {res.train_s:.2f} s"), markup=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def sweep_results(table: tuple[list[str], list[list[str]]], sentences: list[str],
                  failed: dict[str, str], text: bool = False) -> None:
    """The sweep's table (one row per point), what the numbers say, failed points."""
    head, rows = table
    t = Table(title="Sweep", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, col in enumerate(head):
        t.add_column(col, justify="right" if i >= len(head) - 4 else "left")
    for row in rows:
        t.add_row(*map(Text, row))
    out.print(t)
    out.print("Best validation loss per symbol: mean over seeds, 95% Student t interval."
              if text else CI_METHOD + ".", markup=False)
    for line in sentences:
        out.print("• " + line, markup=False)
    for name, why in failed.items():
        error(f"point {name} failed twice and was not trained: {why}")


class SettleView(RunView):
    """Settling rounds: one line per experiment trained with more seeds, and its bar."""

    def start(self, cfg: Config, ds: Dataset, cached: bool) -> None:
        out.print(f"settling: {cfg.name} with {cfg.seeds} seeds", markup=False)

    def finished(self, res: Result) -> None:
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
