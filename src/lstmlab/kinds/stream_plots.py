"""A stream experiment's figures: losses per epoch, the text's stream layout; a sweep's
validation curves."""

from __future__ import annotations

import warnings

import numpy as np

from .. import grid
from ..document import drawn, figure, layout_grid, png
from .stream_result import TextResult


def plot_text_curves(res: TextResult) -> bytes:
    """Training and validation loss per epoch in nats (bits on the right axis): the
    median over seeds with the min–max band; the best validation epoch marked."""
    fig = figure(figsize=(8, 3.4))
    ax = fig.add_subplot()
    epochs = np.arange(1, res.history.shape[1] + 1)
    for i, (label, marker) in enumerate((("training", ""), ("validation", "o"))):
        h = res.history[:, :, i]
        if not np.isfinite(h).any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi, mid = np.nanmin(h, 0), np.nanmax(h, 0), np.nanmedian(h, 0)
        if len(h) > 1:
            ax.fill_between(epochs, lo, hi, alpha=0.2, color=f"C{i}")
        ax.plot(epochs, mid, marker=marker, ms=3, lw=1.5, color=f"C{i}",
                label=f"{label}" + (" (median over seeds)" if len(h) > 1 else ""))
    best = res.best_epoch[0] + 1
    ax.axvline(best, color="grey", ls=":", lw=1,
               label=f"best validation (replica 0): epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats per symbol)")
    right = ax.secondary_yaxis("right", functions=(lambda n: n / np.log(2),
                                                   lambda b: b * np.log(2)))
    right.set_ylabel("bits per symbol")
    ax.set_title(f"{res.config.name}: cross-entropy per symbol")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return png(fig)


MAX_TEXT_STREAMS, MAX_TEXT_BATCHES, SNIPPET = 6, 8, 7  # the text layout's shown part


def plot_text_layout(res: TextResult) -> bytes:
    """char-rnn's stream layout at this text's scale: the training text cut into B
    contiguous streams (rows), each epoch reading S steps of every stream per batch
    (columns); row i of batch k + 1 continues row i of batch k (arrows: the state it
    carries, without gradient). The first streams and batches, with their first symbols."""
    c, b = res.config, res.dataset.train
    n, streams, steps = b.x.shape
    rows, cols = min(streams, MAX_TEXT_STREAMS), min(n, MAX_TEXT_BATCHES)
    vocab = res.dataset.vocab
    def label(k, i):  # where in the text the box starts, and its first symbols
        start = i * n * steps + k * steps
        snippet = "".join(vocab.decode(b.x[k, i, :SNIPPET]))
        return f"@{start:,}\n{drawn(snippet, 'monospace')}…"
    fig = figure(figsize=(1.45 * cols + 2.2, 0.62 * rows + 1.7))
    ax = layout_grid(fig, cols, rows, label, "stream", family="monospace")
    ax.set_xlabel(f"batch of {steps} steps (the state is reset before batch 1 of every "
                  f"epoch); first {cols} of {n} batches, {rows} of {streams} streams; "
                  f"@: the position in the text")
    ax.set_title(f"{c.name}: {streams} contiguous streams of {n * steps:,} symbols — row i "
                 f"of a batch continues row i of the one before")
    return png(fig)


def plot_sweep_text_curves(results: list[TextResult], setting: str, values: list) -> bytes:
    """Validation loss over epochs per value of the setting: the median over the seeds of
    every point with that value (text points)."""
    import matplotlib
    fig = figure(figsize=(7, 3.4))
    ax = fig.add_subplot()
    colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(values)))
    for v, colour in zip(values, colours):
        hist = [r.history[:, :, 1] for r in results if getattr(r.config, setting) == v]
        longest = max(h.shape[1] for h in hist)
        h = np.concatenate([np.pad(x, ((0, 0), (0, longest - x.shape[1])),
                                   constant_values=np.nan) for x in hist])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mid = np.nanmedian(h, axis=0)
        ax.plot(np.arange(1, longest + 1), mid, "o-", ms=3, color=colour, lw=1.3,
                label=f"{setting.replace('_', ' ')} {grid.value_text(v)}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss (nats per symbol)")
    ax.set_title(f"validation loss by {setting.replace('_', ' ')} (median over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    return png(fig)
