"""A stream experiment's views: in the terminal (what it reads, the progress over every
epoch's symbols, its best loss and sample), its row of the text models' table, its
report section, a sweep's columns and validation curves."""

from __future__ import annotations

from functools import partial

import math
import time

import numpy as np
from rich.progress import (BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from ..config import sizes_text
from ..data import quoted, show
from ..document import H, Img, Link, P, Pre, Table
from ..stats import loss_text
from ..tables import divergence, sequence_text
from .. import terminal
from ..terminal import Bar as LiveBar, live, out, warn
from . import stream_plots as plots
from .stream_result import SAMPLE_LENGTH, SAMPLE_TEMPERATURE, loss_label


def show_start(cfg, ds) -> None:
    """What a stream experiment reads: the text's size and symbols, its streams."""
    b = ds.train.x.shape
    where = (f"the last {cfg.val_frac:.0%} of every stream (char-rnn's split)"
             if cfg.split == "char-rnn" else f"the last {cfg.val_frac:.0%}")
    val = (f"; validation: {where}, {ds.val.chars:,} symbols as "
           f"{ds.val.x.shape[0]} batches" if ds.val is not None else "; no validation")
    out.print(f"Text: {len(cfg.sequence):,} symbols, {len(ds.vocab)} distinct; training: "
              f"{ds.chars:,} symbols as {cfg.streams} contiguous streams, {b[0]} batches "
              f"of {cfg.seq_length} steps per epoch (batch k + 1's row i continues batch "
              f"k's row i){val}", markup=False)


class Progress(LiveBar):
    """A stream experiment's progress: a bar over the symbols of every epoch with the
    epoch, symbols per second, the training loss so far in the epoch and the last
    validation loss, time left. Piped or with --verbose, one line per finished epoch."""

    def __init__(self, cfg, ds, quiet: bool, verbose: bool):
        self.cfg, self.per_batch = cfg, cfg.streams * cfg.seq_length * cfg.seeds
        self.lines = not quiet and (verbose or not live())
        self.bar = self.started = None
        self.last_epoch, self.t_epoch = None, time.perf_counter()
        if not quiet and not verbose and live():
            self.bar = Bar(TextColumn("{task.fields[epoch]}"), BarColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                                TimeElapsedColumn(), console=terminal.err, transient=True)
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


def show_finished(res) -> None:
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


def sections(r, ctx: dict) -> list:
    """A stream experiment's section: settings, curves, layout, sample."""
    c, explorers = r.config, ctx.get("explorers")
    out: list = [H(2, c.name),
                 P((f"{c.note}. " if c.note else "")
                   + f"Text: {sequence_text(c.sequence)}. Settings: {c.describe()}.")]
    if (diverged := divergence(r)) is not None:
        out.append(P(diverged[0].upper() + diverged[1:] + "."))
    if c.name in (explorers or {}):
        out.append(Link(explorers[c.name], "Explore the best model of replica 0",
                        " — type text and watch every unit of every layer (opens "
                        "offline)."))
    n = len(r.sound_best_val)
    what = "validation" if c.val_frac else "training (no validation)"
    out.append(P(f"Best {what} loss {r.best_val_text()} nats = "
                 f"{r.best_val_text(np.log(2))} bits per symbol (mean over the {n} seed(s) "
                 f"that did not diverge" + (", 95% t interval" if n > 1 else "")
                 + f"), replica 0 at epoch {r.best_epoch[0] + 1} of {c.epochs}: "
                 + ("its training diverged, that model is no result. " if 0 in r.diverged
                    else "that model is kept (and the last). ") +
                 f"{r.dataset.chars:,} symbols per epoch; {r.chars_per_s:,.0f} symbols/s "
                 f"summed over seeds ({r.compile_s:.1f} s compiling, {r.train_s:.1f} s "
                 f"training)."))
    out.append(Img(f"{c.name}-text-curves.png", f"{c.name}: training and validation loss",
                   partial(plots.plot_text_curves, r)))
    out.append(Table(["epoch", "training nats", "validation nats", "validation bits"],
                     [[str(e + 1), f"{r.history[0, e, 0]:.4f}", f"{r.history[0, e, 1]:.4f}",
                       f"{r.history[0, e, 1] / np.log(2):.4f}"]
                      for e in range(c.epochs)][:60]))
    out.append(P("The text as char-rnn reads it: cut into contiguous streams read side by "
                 "side, every step predicting the next symbol; the state carries from one "
                 "batch to the next without gradient (truncated backpropagation through "
                 "time) and is reset at every epoch's start."))
    out.append(Img(f"{c.name}-text-layout.png", "the text's stream layout",
                   partial(plots.plot_text_layout, r)))
    out.append(P(f"Sample of replica 0's best model ({SAMPLE_LENGTH} symbols at temperature "
                 f"{SAMPLE_TEMPERATURE}, from {show(r.sample_prime)}; `lstmlab generate` "
                 f"draws more):"))
    out.append(Pre(r.samples[0]))
    return out


def loss_footnote(results: list) -> str:
    """The sentence under a text table: what its losses are measured on."""
    label = loss_label(results)[0]
    on = {"best val": "the validation streams",
          "best train": "the training streams (no validation: --val-frac 0)",
          "best": "the validation streams, or the training streams where a row says train "
                  "(--val-frac 0)"}[label]
    chosen = ("" if label == "best train" else " A best validation loss is that of the "
              "epoch chosen on the same validation streams: optimistic, as char-rnn's is "
              "(there is no third set).")
    return (f"Losses are mean cross-entropy per symbol on {on} (nats; bits = nats / ln 2); "
            f"95% CI over seeds: Student t, over the seeds whose training did not diverge."
            + chosen)


def table(results: list, terminal: bool = False) -> tuple[str, list, list, list[str]]:
    """The stream experiments' table (title, header, rows, the sentence under it): the
    best validation loss in nats and bits per symbol (mean over seeds with its t
    interval), the best epoch, the speed."""
    label, mixed = loss_label(results)
    rows = []
    for r in results:
        c = r.config
        rows.append([c.name + ("*" if r.cached else ""),
                     f"{c.streams}×{c.seq_length} u"
                     + (sizes_text(c.units) if isinstance(c.units, tuple) else
                        f"{c.units}×{c.layers}") + f" e{c.epochs}",
                     str(c.seeds), r.best_val_text(say_train=mixed),
                     r.best_val_text(math.log(2)),
                     ", ".join(str(int(e) + 1) for e in r.best_epoch[:5])
                     + ("…" if c.seeds > 5 else ""),
                     f"{r.chars_per_s:,.0f}", f"{r.compile_s:.1f} + {r.train_s:.1f}"])
    return ("Text models", ["experiment", "streams×steps, units×layers, epochs", "seeds",
                            f"{label} nats [95% CI]", "bits", "best epoch", "chars/s",
                            "compile + train s"], rows, [loss_footnote(results)])


def model_lines(run_dir, r) -> list[str]:
    """Its best models, one line each, with their validation loss and the last ones."""
    if r.params is None:
        return [f"{run_dir / r.config.name}  {r.config.name}  models not saved (a sweep keeps "
                f"them only with --save-models)"]
    return [f"{run_dir / r.config.name / str(i)}  {r.config.name}  replica {i}  best "
            f"validation loss {v:.4f} nats (epoch {r.best_epoch[i] + 1}; the last epoch's: "
            f"{run_dir / r.config.name / 'last' / str(i)})" for i, v in enumerate(r.best_val)]


def brief(r) -> str:
    """A sweep's verbose line of one point."""
    return (f"{r.config.name}: best validation {r.best_val_text()} nats"
            + (" (finished earlier)" if r.cached else f", {r.train_s:.1f} s"))


def point_columns(results: list) -> tuple[list[str], list[list[str]]]:
    """A sweep table's columns of its points (after the swept settings)."""
    label, mixed = loss_label(results)
    return ([f"{label} nats [95% CI]", "bits", "chars/s", "train s"],
            [[r.best_val_text(say_train=mixed), r.best_val_text(math.log(2)),
              f"{r.chars_per_s:,.0f}", f"{r.train_s:.1f}"] for r in results])


SWEEP_NOTE = ("Best validation loss per symbol (its epoch chosen on the same validation "
              "streams): mean over seeds, 95% Student t interval.")


def sweep_sections(results: list, ordered: dict) -> list:
    """A sweep report's validation curves (``ordered``: setting → its values with a
    finished point)."""
    out: list = [P("Best validation loss per symbol (its epoch chosen on the same "
                   "validation streams), mean over seeds with its 95% Student t interval."),
                 H(2, "Validation curves")]
    for k, values in ordered.items():
        out.append(Img(f"sweep-curves-{k}.png", f"validation curves by {k}",
                       plots.plot_sweep_text_curves(results, k, values)))
    return out
