"""report.md and report.html of a run, from its results alone (fresh or from records).

Both documents are rendered from one list of blocks, so they hold the same content. The
HTML embeds its images (base64 PNG) and loads nothing: it opens from disk. Every piece of
text is escaped — sequences and symbols are user input.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache
import html
import io
import re
import warnings
from pathlib import Path
from urllib.parse import quote

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import findings as findings_mod, grid as grid_mod
from .data import PAD, VISIBLE, show
from .evaluate import order_check
from .stats import CI_METHOD, at_100, interval_text, summarize
from .cells import CELLS, layered
from .config import Config
from .results import SAMPLE_LENGTH, SAMPLE_TEMPERATURE, Result, TextResult, is_text
from .files import atomic_write
from .tables import (divergence, kept_words, sequence_text, summary_rows,
                     text_rows, loss_footnote)

MAX_TICKS = 60  # a heatmap over a long text labels every k-th step, so labels stay legible

# -- report blocks: what a report says, rendered as Markdown or HTML --------------------


@dataclass
class H:
    level: int
    text: str

    def md(self, plots_dir: str) -> list[str]:
        return ["#" * self.level + " " + _md(self.text), ""]

    def html(self) -> str:
        return f"<h{self.level}>{html.escape(self.text)}</h{self.level}>"


@dataclass
class P:
    text: str

    def md(self, plots_dir: str) -> list[str]:
        return [_md(self.text), ""]

    def html(self) -> str:
        return f"<p>{html.escape(self.text)}</p>"


@dataclass
class Pre:
    """Text shown as it is (a sample of a text model), escaped."""
    text: str

    def md(self, plots_dir: str) -> list[str]:
        fence = "~" * max(3, 1 + max((len(m) for m in re.findall(r"~+", self.text)),
                                     default=0))
        return [fence + "text", self.text, fence, ""]

    def html(self) -> str:
        return f"<pre style='white-space:pre-wrap'>{html.escape(self.text)}</pre>"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    def md(self, plots_dir: str) -> list[str]:
        return (["| " + " | ".join(_md_cell(h) for h in self.header) + " |",
                 "|" + "---|" * len(self.header)]
                + ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in self.rows]
                + [""])

    def html(self) -> str:
        e = html.escape
        return "\n".join(["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in self.header)
                          + "</tr>"] + ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row)
                                        + "</tr>" for row in self.rows] + ["</table>"])


@dataclass
class Img:
    file: str  # under plots/
    alt: str
    png: bytes

    def md(self, plots_dir: str) -> list[str]:
        return [f"![{_md(self.alt)}]({plots_dir}/{self.file})", ""]

    def html(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return f"<img alt='{html.escape(self.alt)}' src='data:image/png;base64,{data}'>"


@dataclass
class Link:
    href: str  # relative to the report
    text: str
    after: str  # the sentence after the link

    def md(self, plots_dir: str) -> list[str]:
        return [f"[{_md(self.text)}]({quote(self.href)}){_md(self.after)}", ""]

    def html(self) -> str:
        e = html.escape
        return f"<p><a href='{e(quote(self.href))}'>{e(self.text)}</a>{e(self.after)}</p>"


@dataclass
class Colored:
    """A text coloured symbol by symbol by a unit's activation in [−1, 1] (blue negative,
    red positive; Karpathy et al. 2015's figures); Markdown gets the text and a note."""
    label: str
    text: str
    values: np.ndarray

    def md(self, plots_dir: str) -> list[str]:
        return [f"{_md(self.label)}: the first {len(self.text)} symbols read, coloured by "
                f"it in the HTML page.", ""]

    def html(self) -> str:
        spans = []
        for ch, v in zip(self.text, np.clip(np.nan_to_num(self.values), -1, 1)):
            rgb = "214,39,40" if v > 0 else "31,119,180"
            spans.append(f"<span style='background:rgba({rgb},{abs(v):.2f})' "
                         f"title='{v:+.2f}'>{html.escape(ch)}</span>")
        return (f"<p>{html.escape(self.label)}:</p><pre style='white-space:pre-wrap;"
                f"line-height:1.5'>{''.join(spans)}</pre>")


# -- plots (matplotlib's object API with the Agg canvas: no global pyplot state) ----------


@lru_cache(maxsize=None)
def _glyphs(family: str) -> frozenset:
    """The characters the font matplotlib draws ``family`` with has glyphs for."""
    from matplotlib import font_manager, ft2font
    path = font_manager.findfont(font_manager.FontProperties(family=[family]))
    return frozenset(ft2font.FT2Font(path).get_charmap())


def drawn(text, family: str = "sans-serif") -> str:
    """``text`` as a plot shows it: :func:`data.show`'s visible symbols where the font has
    their glyph, else escaped (the carriage return's ␍ as \\r, any other symbol the font
    lacks as \\uXXXX), so that a plot never draws an empty box or warns."""
    glyphs, plain = _glyphs(family), {v: k for k, v in VISIBLE.items()}
    return "".join(ch if ord(ch) in glyphs else ascii(plain.get(ch, ch))[1:-1]
                   for ch in show(text))


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def plot_curves(res: Result) -> bytes:
    """Loss and accuracy over epochs: the median over seeds and the min–max band."""
    fig = Figure(figsize=(9, 3.2))
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
    return _png(fig)


def plot_accuracy_distribution(res: Result) -> bytes:
    """Histogram of the final accuracy of every seed."""
    fig = Figure(figsize=(5, 2.6))
    ax = fig.add_subplot()
    acc = 100 * res.accuracy
    ax.hist(acc, bins=np.linspace(min(acc.min(), 90) - 1, 101, 24), edgecolor="black")
    ax.set_xlabel("final accuracy on the training patterns (%)")
    ax.set_ylabel("seeds")
    ax.set_title(f"{res.config.name}: {len(acc)} seeds")
    return _png(fig)


def plot_states(res: Result) -> bytes:
    """PNG of :func:`states_figure`."""
    return _png(states_figure(res))


def states_figure(res: Result) -> Figure:
    """h and c of replica 0 while it reads the sequence after a reset (stateful); the
    x axis names the last symbol of each input, every k-th one on a long sequence."""
    fig = Figure(figsize=(10, 2.5 * len(res.states)))
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
        s = res.states[i].T  # units × steps
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
    fig = Figure(figsize=(min(1.1 * shown + 2, 20), 0.55 * rows + 1.6))
    ax = _layout_grid(fig, shown, rows, label, "row")
    ax.set_xlabel("batch (in training order; the state is reset before batch 1)"
                  + (f"; first {shown} of {n_batches}" if shown < n_batches else ""))
    ax.set_title(f"{res.config.name}: stream layout — row i of a batch continues row i of "
                 f"the previous batch (arrows: the state it carries)")
    return _png(fig)


def _layout_grid(fig: Figure, cols: int, rows: int, label, row_name: str, **text):
    """The stream layouts' picture: a box per (batch k, row i) with ``label(k, i)``, an
    arrow from each box to the same row of the next batch; returns the axes."""
    ax = fig.add_subplot()
    for k in range(cols):
        for i in range(rows):
            ax.text(k, i, label(k, i), ha="center", va="center", fontsize=7,
                    bbox=dict(boxstyle="round", fc=f"C{i % 10}", alpha=0.25), **text)
            if k + 1 < cols:
                ax.annotate("", (k + 0.62, i), (k + 0.38, i),
                            arrowprops=dict(arrowstyle="->", lw=0.8))
    ax.set_xlim(-0.6, cols - 0.4)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xticks(range(cols), [str(k + 1) for k in range(cols)])
    ax.set_yticks(range(rows), [f"{row_name} {i + 1}" for i in range(rows)])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def plot_text_curves(res: TextResult) -> bytes:
    """Training and validation loss per epoch in nats (bits on the right axis): the
    median over seeds with the min–max band; the best validation epoch marked."""
    fig = Figure(figsize=(8, 3.4))
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
    return _png(fig)


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
    fig = Figure(figsize=(1.45 * cols + 2.2, 0.62 * rows + 1.7))
    ax = _layout_grid(fig, cols, rows, label, "stream", family="monospace")
    ax.set_xlabel(f"batch of {steps} steps (the state is reset before batch 1 of every "
                  f"epoch); first {cols} of {n} batches, {rows} of {streams} streams; "
                  f"@: the position in the text")
    ax.set_title(f"{c.name}: {streams} contiguous streams of {n * steps:,} symbols — row i "
                 f"of a batch continues row i of the one before")
    return _png(fig)


def text_blocks(r: TextResult, explorers: dict | None) -> list:
    """A stream experiment's section: settings, curves, layout, sample."""
    c = r.config
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
                   plot_text_curves(r)))
    out.append(Table(["epoch", "training nats", "validation nats", "validation bits"],
                     [[str(e + 1), f"{r.history[0, e, 0]:.4f}", f"{r.history[0, e, 1]:.4f}",
                       f"{r.history[0, e, 1] / np.log(2):.4f}"]
                      for e in range(c.epochs)][:60]))
    out.append(P("The text as char-rnn reads it: cut into contiguous streams read side by "
                 "side, every step predicting the next symbol; the state carries from one "
                 "batch to the next without gradient (truncated backpropagation through "
                 "time) and is reset at every epoch's start."))
    out.append(Img(f"{c.name}-text-layout.png", "the text's stream layout",
                   plot_text_layout(r)))
    out.append(P(f"Sample of replica 0's best model ({SAMPLE_LENGTH} symbols at temperature "
                 f"{SAMPLE_TEMPERATURE}, from {show(r.sample_prime)}; `lstmlab generate` "
                 f"draws more):"))
    out.append(Pre(r.samples[0]))
    return out


def plot_saturation(study) -> bytes:
    """Karpathy et al. 2015, Fig. 3: per gate unit, the share of steps left-saturated (x,
    < 0.1) against right-saturated (y, > 0.9); a panel per layer, a colour per gate."""
    sat = study.saturation
    layers = sorted(set(sat["layer"])) or [1]
    fig = Figure(figsize=(3.4 * len(layers), 3.2))
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(1, len(layers), k + 1)
        for gate, g in sat[sat["layer"] == layer].groupby("gate", sort=False):
            ax.scatter(g["left"], g["right"], s=10, alpha=0.7, label=gate)
        ax.plot([0, 1], [1, 0], color="#bbb", lw=0.8)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="fraction < 0.1",
               ylabel="fraction > 0.9", title=f"layer {layer}")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return _png(fig)


def units_blocks(study) -> list:
    """What the units of one experiment learned: the strongest unit per track across
    seeds, the saturation scatter, the text coloured by the strongest units, the reach."""
    text = study.text
    out = [H(3, f"{study.experiment}: what the units learned"),
           P(f"Each unit's every quantity (layer by layer) against each track, over "
             f"{len(text):,} symbols read ({sequence_text(text[:60])}"
             f"{'…' if len(text) > 60 else ''}); Pearson's r, the strongest unit of all "
             f"seeds, and in how many seeds some unit reaches |r| ≥ {study.threshold:g} "
             f"(θ). lstmlab units RUN_DIR --experiment {study.experiment} writes every "
             f"correlation to units.csv."),
           Table(study.HEADER, study.rows())]
    if len(study.saturation):
        out.append(Img(f"{study.experiment}-saturation.png",
                       f"{study.experiment}: gate saturation", plot_saturation(study)))
    for track, label, values in study.shown:
        out.append(Colored(f"{label} (strongest on {track})", text[:len(values)], values))
    if study.reach is not None:
        out.append(P(f"Connectivity (|∂ log p / ∂ input|, over the first "
                     f"{min(len(text), 300)} symbols): 90% of it lies within the last "
                     f"{study.reach + 1} symbol(s) read."))
    return out


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
    fig = Figure(figsize=(5, 2.6))
    ax = fig.add_subplot()
    ax.bar(ls, 100 * acc)
    for n, a, c in zip(ls, acc, counts):
        ax.text(n, 100 * a + 1, f"n={c}", ha="center", fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_xlabel("input length (symbols)")
    ax.set_ylabel("probe accuracy (%)")
    ax.set_title("probe accuracy by input length (mean over seeds)")
    return _png(fig)


# -- sweep plots ----------------------------------------------------------------------


def _axis(ax, values: list, which: str = "x"):
    """Positions of a setting's values on an axis: the numbers themselves (log-scaled
    where they span ≥ 10×), or evenly spaced labels for words and batch size 'all'."""
    if grid_mod.numeric(values) and None not in values:
        if grid_mod.log_scale(values):
            getattr(ax, f"set_{which}scale")("log")
        getattr(ax, f"set_{which}ticks")(values, [grid_mod.value_text(v) for v in values])
        return list(values)
    getattr(ax, f"set_{which}ticks")(range(len(values)),
                                     [grid_mod.value_text(v) for v in values])
    return list(range(len(values)))


def _pooled(results: list[Result], select: dict) -> np.ndarray:
    """The final accuracy of every seed of the points with these settings."""
    acc = [r.accuracy for r in results
           if all(getattr(r.config, k) == v for k, v in select.items())]
    return np.concatenate(acc) if acc else np.array([])


def plot_sweep_1d(results: list[Result], setting: str, values: list) -> bytes:
    """Mean accuracy against the setting with its 95% CI band, and the share of seeds
    at 100% with its exact interval on a second axis."""
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    xs = _axis(ax, values)
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
    return _png(fig)


def plot_sweep_heatmaps(results: list[Result], a: str, va: list, b: str, vb: list) -> bytes:
    """Mean accuracy and share of seeds at 100% for every pair of values of two settings
    (pooled over any other swept setting), the values written in the cells."""
    fig = Figure(figsize=(11, 0.5 * len(va) + 2.6))
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
        ax.set_xticks(range(len(vb)), [grid_mod.value_text(v) for v in vb])
        ax.set_yticks(range(len(va)), [grid_mod.value_text(v) for v in va])
        ax.set_xlabel(b.replace("_", " "))
        ax.set_ylabel(a.replace("_", " "))
        ax.set_title(title)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return _png(fig)


def plot_sweep_curves(results: list[Result], setting: str, values: list) -> bytes:
    return _png(sweep_curves_figure(results, setting, values))


def sweep_curves_figure(results: list[Result], setting: str, values: list) -> Figure:
    """Training accuracy over epochs per value of the setting: the median over the seeds
    of every point with that value and the interquartile band; the legend beside the axes
    (curves of a sweep fill every corner)."""
    import matplotlib
    fig = Figure(figsize=(7, 3.4))
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
                label=f"{setting.replace('_', ' ')} {grid_mod.value_text(v)}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training accuracy (%)")
    ax.set_title(f"learning curves by {setting.replace('_', ' ')} (median, 25–75% band)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(values) > 12 else 1, loc="upper left",
              bbox_to_anchor=(1.01, 1), borderaxespad=0)
    return fig


def plot_sweep_text_curves(results: list[TextResult], setting: str, values: list) -> bytes:
    """Validation loss over epochs per value of the setting: the median over the seeds of
    every point with that value (text points)."""
    import matplotlib
    fig = Figure(figsize=(7, 3.4))
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
                label=f"{setting.replace('_', ' ')} {grid_mod.value_text(v)}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss (nats per symbol)")
    ax.set_title(f"validation loss by {setting.replace('_', ' ')} (median over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    return _png(fig)


def sweep_blocks(title: str, base: Config, grid: dict, results: list[Result],
                 sentences: list[str]) -> list:
    """A sweep's report as blocks (see ``blocks``)."""
    out: list = [H(1, title)]
    out.append(P(f"Preset {base.name}" + (f" (as the preset stands: {base.note})"
                                              if base.note else "")
                + f". Sequence: {sequence_text(base.sequence)}. Fixed settings: "
                + base.describe(leave_out=grid) + ". Swept: " + "; ".join(
                    f"{k.replace('_', ' ')} {', '.join(map(grid_mod.value_text, v))}"
                    for k, v in grid.items())
                + f". {len(results)} point(s) finished."))
    if not results:
        return out
    out.append(H(2, "What the numbers say"))
    out.append(Table(["setting", "finding"],
                [[k.replace("_", " "), s] for k, s in zip(grid, sentences)]))
    for r in results:  # the one divergence rule, said per point (its seeds are left out of
        if (diverged := divergence(r)) is not None:  # a text point's loss comparison)
            out.append(P(diverged[0].upper() + diverged[1:] + "."))
    out.append(H(2, "Points"))
    out.append(Table(*grid_mod.point_rows(results, grid)))
    keys = list(grid)
    if all(is_text(r) for r in results):
        out.append(P("Best validation loss per symbol, mean over seeds with its 95% "
                     "Student t interval."))
        out.append(H(2, "Validation curves"))
        for k in keys:
            values = [v for v in grid_mod.sorted_values(grid[k])
                      if any(getattr(r.config, k) == v for r in results)]
            out.append(Img(f"sweep-curves-{k}.png", f"validation curves by {k}",
                           plot_sweep_text_curves(results, k, values)))
        return out
    out.append(P(f"{CI_METHOD}."))
    # the values that have a finished point (an interrupted sweep has not all)
    ordered = {k: [v for v in grid_mod.sorted_values(grid[k])
                   if any(getattr(r.config, k) == v for r in results)] for k in keys}
    if len(keys) == 1:
        out.append(Img("sweep-accuracy.png", f"accuracy against {keys[0]}",
                    plot_sweep_1d(results, keys[0], ordered[keys[0]])))
    else:
        out.append(H(2, "Pairs of settings"))
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                out.append(Img(f"sweep-{a}-{b}.png", f"{a} against {b}",
                            plot_sweep_heatmaps(results, a, ordered[a], b, ordered[b])))
    out.append(H(2, "Learning curves"))
    for k in keys:
        out.append(Img(f"sweep-curves-{k}.png", f"learning curves by {k}",
                    plot_sweep_curves(results, k, ordered[k])))
    return out


# -- content --------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def blocks(results: list[Result], title: str, plots_dir: str = "plots",
           found: list | None = None, design: str = "",
           explorers: dict | None = None, studies: dict | None = None) -> list:
    """The report as blocks: H(level, text), P(text), Table(header, rows),
    Img(file name, alt, png bytes), Link(relative href, text, sentence after),
    Colored(label, text, values); ``explorers``: experiment name → its explorer page's
    file name beside the report; ``studies``: experiment name → units.Study."""
    studies = studies or {}
    out: list = [H(1, title)]
    texts = [r for r in results if is_text(r)]
    results = [r for r in results if not is_text(r)]
    if texts:
        out.append(H(2, "Text models"))
        out.append(Table(*text_rows(texts)))
        out.append(P(loss_footnote(texts)))
        for r in texts:
            out += text_blocks(r, explorers)
            if r.config.name in studies:
                out += units_blocks(studies[r.config.name])
    if not results:
        return out
    found = found if found is not None else findings_mod.from_results(results)
    out.append(H(2, f"Findings: the tutorial's claims, checked "
                        f"({findings_mod.level_words(found)})"))
    out.append(Table(["claim", "measurement", "seeds", "verdict"],
                [[f.claim, f.measurement, str(f.seeds or ""), f.verdict] for f in found]))
    out.append(P(f"Verdicts are computed by the claims in lstmlab/findings.py "
                f"(machine-readable: findings.json). {findings_mod.GUARANTEE}"
                + (f" {design}" if design else "")))
    for f in found:
        if f.table is not None:
            out.append(P(f"Per target, the share of seeds that predict it right "
                        f"({f.id}):"))
            out.append(Table(*f.table))
    out.append(H(2, "Summary"))
    out.append(P(f"{CI_METHOD}."))
    out.append(Table(*summary_rows(results)))
    for r in results:
        c, vocab = r.config, r.dataset.vocab
        out.append(H(2, c.name))
        out.append(P((f"{c.note}. " if c.note else "")
                    + f"Sequence: {sequence_text(c.sequence)}. Settings: {c.describe()}."))
        if (diverged := divergence(r)) is not None:
            out.append(P(diverged[0].upper() + diverged[1:] + "."))
        cell = CELLS[c.cell]
        if c.name in (explorers or {}):
            *rest, last = cell.trace._fields
            watched = f"{', '.join(rest)} and {last}" if rest else last
            out.append(Link(explorers[c.name], "Explore the gates of replica 0",
                            f" — type symbols and watch {watched} (opens offline)."))
        out.append(Img(f"{c.name}-curves.png", f"{c.name}: loss and accuracy",
                    plot_curves(r)))
        out.append(Img(f"{c.name}-accuracy.png", f"{c.name}: final accuracy over seeds",
                    plot_accuracy_distribution(r)))
        if r.probe is not None:
            s = summarize(r.probe_accuracy)
            ci = "" if s["n"] < 2 else f", 95% CI {interval_text(*s['ci95'], 2, '%')}"
            out.append(P(f"Probe ({len(r.probe)} random patterns from a separate "
                        f"generator): mean accuracy {_pct(s['mean'])}{ci} over {s['n']} "
                        f"seed(s)."))
            if c.samples:
                ls, acc, counts = probe_by_length(r)
                out.append(Table(["input length", "probe patterns", "accuracy"],
                            [[str(n), str(k), _pct(a)] for n, a, k in zip(ls, acc, counts)]))
                out.append(Img(f"{c.name}-probe-by-length.png",
                            "probe accuracy by input length", plot_probe_by_length(r)))
        if r.states is not None:
            out.append(Img(f"{c.name}-states.png",
                           f"state heatmap ({', '.join(layered(cell.state, c.layers))})",
                           plot_states(r)))
        if c.stateful and r.dataset.order is not None and r.dataset.order.shape[1] > 1:
            out.append(P("Keras's stateful rule: sample i of batch k + 1 continues sample "
                        "i of batch k, so the sequence is cut into as many contiguous "
                        "streams as the batch has rows, and each row carries its own state."))
            out.append(Img(f"{c.name}-stream-layout.png", "stream layout of the batches",
                        plot_stream_layout(r)))
        for start, strings in r.generated.items():
            ok = r.generation_ok(start)
            out.append(P(f"Generated from {show(start)} (replica 0): {show(strings[0])} — "
                        f"{int(ok.sum())}/{len(ok)} seeds continue the sequence."))
        if r.order_diff is not None:
            out.append(P(f"Within-batch order test (a check of the code): the float64 "
                        f"batch gradient with the samples in order and shuffled differs by "
                        f"at most {r.order_diff[0]:.2e} (largest gradient entry "
                        f"{r.order_diff[1]:.2e}). " + order_check(*r.order_diff)))
        rows = []
        kept, pats, probs = r.readable()
        if kept is not None:
            out.append(P(kept_words(len(kept), len(r.dataset.patterns))))
        for x, y, p in zip(pats.x, pats.y, probs[0]):
            k = int(p.argmax())
            rows.append([show(vocab.decode(x)), show(vocab.symbols[y]), show(vocab.symbols[k]),
                         f"{p[k]:.3f}", "" if k == y else "✗ wrong"])
        shown = rows[:60]
        out.append(P(f"Predictions of replica 0 on the training patterns "
                    f"({sum(row[4] != '' for row in rows)} wrong of {len(rows)}"
                    + (f"; first {len(shown)} shown" if len(rows) > len(shown) else "")
                    + "):"))
        out.append(Table(["input", "target", "prediction", "probability", ""], shown))
        if c.name in studies:
            out += units_blocks(studies[c.name])
    return out


# -- rendering ------------------------------------------------------------------------


# Markdown would read these as markup anywhere in a line (emphasis, code, links, images,
# headings, tables, raw HTML, entities); backslash-escaped they print as themselves. (List
# markers only count at a line's start, which is always lstmlab's own text.)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~&])")


def _md(text: str) -> str:
    """User text as literal Markdown: markup characters escaped, line breaks as spaces."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def _md_cell(text: str) -> str:
    return _md(text) or " "


def render_md(blocks_: list, plots_dir: str = "plots") -> str:
    """Markdown of the blocks; images are referenced as files in ``plots_dir``."""
    return "\n".join(line for b in blocks_ for line in b.md(plots_dir))


CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
       "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
       "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}"
       "th{background:#f3f3f3}img{max-width:100%}")


def render_html(blocks_: list) -> str:
    """A self-contained HTML page of the blocks, every text escaped, images embedded."""
    return "\n".join(["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
                      f"<title>{html.escape(blocks_[0].text)}</title><style>{CSS}</style>"
                      "</head><body>"] + [b.html() for b in blocks_] + ["</body></html>"])


def write(run_dir: Path, results: list[Result], found: list | None = None,
          design: str = "", explorers: dict | None = None,
          studies: dict | None = None) -> list[Path]:
    """Write report.md (with plots/*.png) and report.html into ``run_dir``; ``found``: the
    findings as judged (settled), ``design`` the sentence that names how, ``explorers``
    the explorer pages beside it to link (experiment name → file name), ``studies`` what
    the units learned (experiment name → units.Study)."""
    return _write(run_dir, blocks(results, f"lstmlab report: {run_dir.name}", found=found,
                                  design=design, explorers=explorers, studies=studies))


def write_units(out_dir: Path, studies: list, title: str) -> list[Path]:
    """units.md (with plots/*.png) and units.html in ``out_dir``: what the units learned."""
    bl = [H(1, title)] + [b for s in studies for b in units_blocks(s)]
    return _write(out_dir, bl, "units")


def write_sweep(run_dir: Path, base: Config, grid: dict, results: list[Result],
                sentences: list[str]) -> list[Path]:
    """The sweep's report.md (with plots/*.png) and report.html in ``run_dir``."""
    return _write(run_dir, sweep_blocks(f"lstmlab sweep: {run_dir.name}", base, grid,
                                        results, sentences))


def _write(run_dir: Path, bl: list, stem: str = "report") -> list[Path]:
    for b in bl:
        if isinstance(b, Img):
            atomic_write(run_dir / "plots" / b.file, b.png)
    atomic_write(run_dir / f"{stem}.md", render_md(bl))
    atomic_write(run_dir / f"{stem}.html", render_html(bl))
    return [run_dir / f"{stem}.md", run_dir / f"{stem}.html"]
