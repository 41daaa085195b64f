"""Text content shared by the two outputs (terminal and report), so that neither output
module imports the other: the summary table and the short form of a long sequence."""

from __future__ import annotations

import math

from . import data
from .stats import interval_text, summarize, with_interval
from .results import EXPLODED_LOSS, Result, TextResult, loss_label

SHOW_SEQUENCE = 80  # a longer sequence is shown by its start, length and sha256


def sequence_text(seq: str) -> str:
    """A sequence as a person reads it: invisible symbols visible, a long one shortened
    to its first symbols with its length and sha256 (the run directory keeps it whole)."""
    if len(seq) <= SHOW_SEQUENCE:
        return data.show(seq)
    return (f"{data.show(seq[:SHOW_SEQUENCE - 20])}… ({len(seq):,} symbols, sha256 "
            f"{data.sha256(seq)[:16]}…)")


def divergence(res: Result) -> str | None:
    """One sentence naming the seeds whose training diverged (and from which epoch) or
    collapsed to one answer for every input, or None."""
    parts = []
    if res.diverged:
        parts.append(f"training diverged (a loss that is not finite or above "
                     f"{EXPLODED_LOSS:g}) for "
                     + ", ".join(f"seed {r} from epoch {e}" for r, e in res.diverged.items()))
    if res.collapsed:
        parts.append("training collapsed to one answer for every input for "
                     + ", ".join(f"seed {r} (always {data.quoted(s)})"
                                 for r, s in res.collapsed.items()))
    if not parts:
        return None
    return "; ".join(parts) + f" of {res.config.name}; try a smaller learning rate (--lr)"


def summary_rows(results: list[Result], compact: bool = False
                 ) -> tuple[list[str], list[list[str]]]:
    """The summary table (header, rows). ``compact`` (the terminal's, which must fit 80
    columns) folds the settings into one column, and marks an experiment not trained by
    this invocation with ``*``."""
    rows = []
    for r in results:
        c, s = r.config, summarize(r.accuracy)
        batch = "all" if c.batch_size is None else str(c.batch_size)
        full = f"{round(s['share_100'] * s['n'])}/{s['n']}"
        if compact:
            # every cell breaks only at spaces into words of ≤ 11 characters, so the table
            # wraps to 80 columns without cutting a number
            settings = (f"{c.framing} w{c.window} u{c.units} e{c.epochs} "
                        f"b{batch if c.batch_size else '(all)'}"
                        f"{' stateful' if c.stateful else ''}")
            rows.append([c.name + ("*" if r.cached else ""), settings, str(c.seeds),
                         with_interval(s, 2), interval_text(s["min"], s["max"]), full,
                         f"{r.compile_s:.2f} + {r.train_s:.2f}"])
        else:
            rows.append([c.name, c.framing, str(c.window), str(c.units), str(c.epochs), batch,
                         str(c.seeds), with_interval(s, 2, "%"),
                         interval_text(s["min"], s["max"]) + "%", full,
                         f"{r.compile_s:.2f}", f"{r.train_s:.2f}"])
    if compact:
        header = ["experiment", "settings", "seeds", "accuracy % [95% CI]", "min–max %",
                  "at 100%", "compile + train s"]
    else:
        header = ["experiment", "framing", "window", "units", "epochs", "batch", "seeds",
                  "accuracy: mean [95% CI]", "min–max", "at 100%", "compile s", "train s"]
    return header, rows


def kept_words(kept: int, total: int) -> str:
    """The sentence that says a record kept only a sample of a long text's predictions."""
    return (f"The record keeps the predictions of {kept:,} of the {total:,} training "
            f"patterns, evenly spaced (more would be stored, not read); accuracy and loss "
            f"are over all {total:,}.")


def loss_footnote(results: list[TextResult]) -> str:
    """The sentence under a text table: what its losses are measured on."""
    on = {"best val": "the validation streams",
          "best train": "the training streams (no validation: --val-frac 0)",
          "best": "the validation streams, or the training streams where a row says train "
                  "(--val-frac 0)"}[loss_label(results)[0]]
    return (f"Losses are mean cross-entropy per symbol on {on} (nats; bits = nats / ln 2); "
            f"95% CI over seeds: Student t, over the seeds whose training did not diverge.")


def text_rows(results: list[TextResult]) -> tuple[list[str], list[list[str]]]:
    """The stream experiments' table (header, rows): the best validation loss in nats and
    bits per symbol (mean over seeds with its t interval), the best epoch, the speed."""
    label, mixed = loss_label(results)
    rows = []
    for r in results:
        c = r.config
        rows.append([c.name + ("*" if r.cached else ""),
                     f"{c.streams}×{c.seq_length} u{c.units}×{c.layers} e{c.epochs}",
                     str(c.seeds), r.best_val_text(say_train=mixed),
                     r.best_val_text(math.log(2)),
                     ", ".join(str(int(e) + 1) for e in r.best_epoch[:5])
                     + ("…" if c.seeds > 5 else ""),
                     f"{r.chars_per_s:,.0f}", f"{r.compile_s:.1f} + {r.train_s:.1f}"])
    return (["experiment", "streams×steps, units×layers, epochs", "seeds",
             f"{label} nats [95% CI]", "bits", "best epoch", "chars/s",
             "compile + train s"], rows)
