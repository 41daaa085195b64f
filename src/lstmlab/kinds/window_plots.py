"""A window experiment's figures: its curves, accuracy over seeds, state heatmap, stream
layout, probe accuracy by length; a sweep's accuracy against a setting, pairs of settings,
learning curves."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from .. import grid
from ..cells import CELLS, layered
from ..document import MAX_TICKS, drawn, figure, layout_grid, png
from ..grid import axis
from ..data import PAD
from ..stats import at_100, summarize
from .window_result import Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_curves(res: Result) -> bytes:
    """Loss and accuracy over epochs: the median over seeds and the min–max band."""
    fig = figure(figsize=(9, 3.2))
    epochs = np.arange(1, res.history.shape[1] + 1)
    for i, label in enumerate(("loss (cross-entropy)", "accuracy")):
        ax = fig.add_subplot(1, 2, i + 1)
        h = res.history[:, :, i]
        with warnings.catch_warnings():  # epochs where every seed diverged plot as gaps
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi, mid = np.nanmin(h, 0), np.nanmax(h, 0), np.nanmedian(h, 0)
        ax.fill_between(epochs, lo, hi, alpha=0.25, label="min–max over seeds")
        ax.plot(epochs, mid, lw=1.5, label="median")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"training {label}")
        ax.set_title(f"{res.config.name}: training {label.split()[0]}")
        ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return png(fig)


def plot_accuracy_distribution(res: Result) -> bytes:
    """Histogram of the final accuracy of every seed."""
    fig = figure(figsize=(5, 2.6))
    ax = fig.add_subplot()
    acc = 100 * res.accuracy
    ax.hist(acc, bins=np.linspace(min(acc.min(), 90) - 1, 101, 24), edgecolor="black")
    ax.set_xlabel("final accuracy on the training patterns (%)")
    ax.set_ylabel("seeds")
    ax.set_title(f"{res.config.name}: {len(acc)} seeds")
    return png(fig)


def plot_states(res: Result) -> bytes:
    """PNG of :func:`states_figure`."""
    return png(states_figure(res))


def states_figure(res: Result) -> Figure:
    """h and c of replica 0 while it reads the sequence after a reset (stateful); the
    x axis names the last symbol of each input, every k-th one on a long sequence."""
    fig = figure(figsize=(10, 2.5 * len(res.states)))
    n = res.states.shape[1]
    w = res.config.window
    labels = [drawn(ch) for ch in res.config.sequence[w - 1:w - 1 + n]]
    ticks = range(0, n, -(-n // MAX_TICKS))
    names = {"h": "hidden state h", "c": "cell state c"}
    rows = len(res.states)  # the stack's state arrays (the LSTM's h and c; h2, c2, …)
    cell, layers = CELLS[res.config.cell], res.config.layers
    for i, key in enumerate(layered(cell.state, layers)):
        name = names.get(cell.state[i % len(cell.state)], f"state {key}")
        name = f"layer {i // len(cell.state) + 1}'s {name} ({key})" if layers > 1 else name
        ax = fig.add_subplot(rows, 1, i + 1)
        s = res.states[i][:, :res.config.sizes[i // len(cell.state)]].T  # its units × steps
        lim = float(np.max(np.abs(s[np.isfinite(s)]), initial=0.0)) or 1.0
        im = ax.imshow(s, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       interpolation="nearest")
        ax.set_xticks(list(ticks), [labels[t] for t in ticks], fontsize=7)
        ax.set_ylabel("unit")
        ax.set_xlabel("symbol read" + (f" (first {n} of {len(res.config.sequence)})"
                                       if n < len(res.config.sequence) - w + 1 else ""))
        ax.set_title(f"{res.config.name}: {name} after reading each symbol (replica 0)")
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


MAX_LAYOUT_BATCHES = 20  # the stream layout shows the first batches of a long sequence


def plot_stream_layout(res: Result) -> bytes:
    """Keras's stateful stream layout: which sample goes to which row of which batch, and
    that row i of every batch carries its state to row i of the next (arrows) — not to
    the next sample of the same batch, the usual mistake."""
    order = res.dataset.order                              # (batches, rows) sample indices
    n_batches, rows = order.shape
    shown = min(n_batches, MAX_LAYOUT_BATCHES)
    vocab, p = res.dataset.vocab, res.dataset.patterns

    def label(k, i):
        s = order[k, i]
        return (f"#{s}\n{drawn(''.join(vocab.decode(p.x[s])))}→"
                f"{drawn(vocab.symbols[p.y[s]])}")
    fig = figure(figsize=(min(1.1 * shown + 2, 20), 0.55 * rows + 1.6))
    ax = layout_grid(fig, shown, rows, label, "row")
    ax.set_xlabel("batch (in training order; the state is reset before batch 1)"
                  + (f"; first {shown} of {n_batches}" if shown < n_batches else ""))
    ax.set_title(f"{res.config.name}: stream layout — row i of a batch continues row i of "
                 f"the previous batch (arrows: the state it carries)")
    return png(fig)


def probe_by_length(res: Result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input lengths, probe accuracy per length (mean over seeds), patterns per length."""
    lengths = (res.probe.x != PAD).sum(1)
    correct = res.probe_probs.argmax(-1) == res.probe.y  # seeds × probes
    ls = np.unique(lengths)
    return ls, np.array([correct[:, lengths == n].mean() for n in ls]), \
        np.array([(lengths == n).sum() for n in ls])


def plot_probe_by_length(res: Result) -> bytes:
    """Bar chart of :func:`probe_by_length`."""
    ls, acc, counts = probe_by_length(res)
    fig = figure(figsize=(5, 2.6))
    ax = fig.add_subplot()
    ax.bar(ls, 100 * acc)
    for n, a, c in zip(ls, acc, counts):
        ax.text(n, 100 * a + 1, f"n={c}", ha="center", fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_xlabel("input length (symbols)")
    ax.set_ylabel("probe accuracy (%)")
    ax.set_title("probe accuracy by input length (mean over seeds)")
    return png(fig)


# -- sweep plots ----------------------------------------------------------------------


def _pooled(results: list[Result], select: dict) -> np.ndarray:
    """The final accuracy of every seed of the points with these settings."""
    acc = [r.accuracy for r in results
           if all(getattr(r.config, k) == v for k, v in select.items())]
    return np.concatenate(acc) if acc else np.array([])


def plot_sweep_1d(results: list[Result], setting: str, values: list) -> bytes:
    """Mean accuracy against the setting with its 95% CI band, and the share of seeds
    at 100% with its exact interval on a second axis."""
    fig = figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    xs = axis(ax, values)
    stats = [summarize(_pooled(results, {setting: v})) for v in values]  # per value
    mean = np.array([100 * s["mean"] for s in stats])
    ax.fill_between(xs, [100 * s["ci95"][0] for s in stats],
                    [100 * s["ci95"][1] for s in stats], alpha=0.25, label="95% CI")
    ax.plot(xs, mean, "o-", label="mean accuracy")
    ax.set_xlabel(setting.replace("_", " "))
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    # summarize already holds each value's share at 100% and its exact interval
    share = [100 * s["share_100"] for s in stats]
    lo = [max(0.0, sh - 100 * s["share_100_ci95"][0]) for sh, s in zip(share, stats)]
    hi = [max(0.0, 100 * s["share_100_ci95"][1] - sh) for sh, s in zip(share, stats)]
    ax2.errorbar(xs, share, yerr=[lo, hi], fmt="s--", color="tab:orange", capsize=3,
                 label="seeds at 100% (exact 95%)")
    ax2.set_ylabel("seeds at 100% (%)", color="tab:orange")
    ax2.set_ylim(-3, 103)
    fig.legend(loc="lower right", fontsize=8, bbox_to_anchor=(0.88, 0.15))
    ax.set_title(f"accuracy against {setting.replace('_', ' ')}")
    return png(fig)


def plot_sweep_heatmaps(results: list[Result], a: str, va: list, b: str, vb: list) -> bytes:
    """Mean accuracy and share of seeds at 100% for every pair of values of two settings
    (pooled over any other swept setting), the values written in the cells."""
    fig = figure(figsize=(11, 0.5 * len(va) + 2.6))
    for i, (title, stat) in enumerate((
            ("mean accuracy (%)", lambda acc: 100 * acc.mean()),
            ("seeds at 100% (%)", lambda acc: 100 * np.mean(at_100(acc))))):
        ax = fig.add_subplot(1, 2, i + 1)
        cells = np.full((len(va), len(vb)), np.nan)
        for r, x in enumerate(va):
            for c, y in enumerate(vb):
                acc = _pooled(results, {a: x, b: y})
                if len(acc):
                    cells[r, c] = stat(acc)
        im = ax.imshow(cells, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for (r, c), v in np.ndenumerate(cells):
            if np.isfinite(v):
                ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if v < 60 else "black")
        ax.set_xticks(range(len(vb)), [grid.value_text(v) for v in vb])
        ax.set_yticks(range(len(va)), [grid.value_text(v) for v in va])
        ax.set_xlabel(b.replace("_", " "))
        ax.set_ylabel(a.replace("_", " "))
        ax.set_title(title)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return png(fig)


def plot_sweep_curves(results: list[Result], setting: str, values: list) -> bytes:
    return png(sweep_curves_figure(results, setting, values))


def sweep_curves_figure(results: list[Result], setting: str, values: list) -> Figure:
    """Training accuracy over epochs per value of the setting: the median over the seeds
    of every point with that value and the interquartile band; the legend beside the axes
    (curves of a sweep fill every corner)."""
    import matplotlib
    fig = figure(figsize=(7, 3.4))
    ax = fig.add_subplot()
    colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(values)))
    for v, colour in zip(values, colours):
        hist = [r.history[:, :, 1] for r in results if getattr(r.config, setting) == v]
        if not hist:
            continue
        longest = max(h.shape[1] for h in hist)
        h = np.concatenate([np.pad(x, ((0, 0), (0, longest - x.shape[1])),
                                   constant_values=np.nan) for x in hist])
        epochs = np.arange(1, longest + 1)
        with warnings.catch_warnings():  # epochs where every seed diverged plot as gaps
            warnings.simplefilter("ignore", RuntimeWarning)
            q25, mid, q75 = np.nanpercentile(100 * h, [25, 50, 75], axis=0)
        ax.fill_between(epochs, q25, q75, color=colour, alpha=0.2)
        ax.plot(epochs, mid, color=colour, lw=1.3,
                label=f"{setting.replace('_', ' ')} {grid.value_text(v)}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training accuracy (%)")
    ax.set_title(f"learning curves by {setting.replace('_', ' ')} (median, 25–75% band)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(values) > 12 else 1, loc="upper left",
              bbox_to_anchor=(1.01, 1), borderaxespad=0)
    return fig
