"""A window experiment's views: in the terminal (the notebook's patterns and output, the
progress bar over epochs), its row of the summary table, its report section, a sweep's
columns and plots."""

from __future__ import annotations

from functools import partial

import numpy as np
from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

from ..config import sizes_text
from ..data import best_achievable, quoted, show
from ..document import H, Img, Link, P, Table
from ..evaluate import order_check
from ..stats import CI_METHOD, interval_text, share_interval, summarize, with_interval
from ..tables import divergence, kept_words, sequence_text
from .. import terminal
from ..terminal import Bar as LiveBar, listing, live, out, warn
from ..cells import CELLS, layered
from . import window_plots as plots


def show_start(cfg, ds) -> None:
    """The notebook's pattern pairs, ``AB -> C``."""
    p, vocab = ds.patterns, ds.vocab
    listing([f"{show(vocab.decode(x))} -> {show(vocab.symbols[y])}"
             for x, y in zip(p.x, p.y)])


class Progress(LiveBar):
    """A progress bar over epochs with loss and accuracy (replica mean), shown only on a
    terminal (piped, it would leave blank lines); --verbose prints the notebook's epoch log
    instead."""

    def __init__(self, cfg, ds, quiet: bool, verbose: bool):
        self.cfg, self.verbose = cfg, verbose
        self.logged = 0
        self.bar = None
        if not quiet and not verbose and live():
            self.bar = Bar(TextColumn("training"), BarColumn(),
                           TextColumn("{task.completed}/{task.total} epochs"),
                           TextColumn("{task.fields[status]}"),
                           TimeElapsedColumn(), console=terminal.err, transient=True)
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


def show_finished(res) -> None:
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
    listing(_predictions(p.x, p.y, probs[0], vocab))
    if kept is not None:
        out.print(kept_words(len(p), len(res.dataset.patterns)), markup=False)
    if wrong:
        out.print(f"{wrong} of {len(p)} {'kept ' * (kept is not None)}patterns "
                  f"predicted wrongly", markup=False)
    if res.probe is not None:
        out.print(f"Probe: {len(res.probe)} random patterns from a separate generator",
                  markup=False)
        listing(_predictions(res.probe.x, res.probe.y, res.probe_probs[0], vocab))
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


def table(results: list, terminal: bool = False) -> tuple[str, list, list, list[str]]:
    """The summary table: (title, header, rows, the sentences under it). ``terminal``
    (which must fit 80 columns) folds the settings into one column, and marks an
    experiment not trained by this invocation with ``*``."""
    rows = []
    for r in results:
        c, s = r.config, summarize(r.accuracy)
        batch = "all" if c.batch_size is None else str(c.batch_size)
        full = f"{round(s['share_100'] * s['n'])}/{s['n']}"
        if terminal:
            # every cell breaks only at spaces into words of ≤ 11 characters, so the table
            # wraps to 80 columns without cutting a number
            settings = (f"{c.framing} w{c.window} u{sizes_text(c.units)} e{c.epochs} "
                        f"b{batch if c.batch_size else '(all)'}"
                        f"{' stateful' if c.stateful else ''}")
            rows.append([c.name + ("*" if r.cached else ""), settings, str(c.seeds),
                         with_interval(s, 2), interval_text(s["min"], s["max"]), full,
                         f"{r.compile_s:.2f} + {r.train_s:.2f}"])
        else:
            rows.append([c.name, c.framing, str(c.window), sizes_text(c.units, ','), str(c.epochs), batch,
                         str(c.seeds), with_interval(s, 2, "%"),
                         interval_text(s["min"], s["max"]) + "%", full,
                         f"{r.compile_s:.2f}", f"{r.train_s:.2f}"])
    if terminal:
        header = ["experiment", "settings", "seeds", "accuracy % [95% CI]", "min–max %",
                  "at 100%", "compile + train s"]
        notes = ["settings: framing, w window, u units, e epochs, b batch size."
                 + (" * cached: finished earlier in this run directory with the same "
                    "settings." if any(r.cached for r in results) else "")]
        if any(r.config.seeds > 1 for r in results):
            notes.append(CI_METHOD + ".")
    else:
        header = ["experiment", "framing", "window", "units", "epochs", "batch", "seeds",
                  "accuracy: mean [95% CI]", "min–max", "at 100%", "compile s", "train s"]
        notes = [f"{CI_METHOD}."]
    return "Summary", header, rows, notes


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def sections(r, ctx: dict) -> list:
    """Its report section (``ctx``: ``explorers``, experiment name → its explorer page)."""
    c, vocab = r.config, r.dataset.vocab
    explorers = ctx.get("explorers") or {}
    out: list = [H(2, c.name), P((f"{c.note}. " if c.note else "")
                                 + f"Sequence: {sequence_text(c.sequence)}. Settings: "
                                   f"{c.describe()}.")]
    if (diverged := divergence(r)) is not None:
        out.append(P(diverged[0].upper() + diverged[1:] + "."))
    cell = CELLS[c.cell]
    if c.name in explorers:
        *rest, last = cell.trace._fields
        watched = f"{', '.join(rest)} and {last}" if rest else last
        out.append(Link(explorers[c.name], "Explore the gates of replica 0",
                        f" — type symbols and watch {watched} (opens offline)."))
    out.append(Img(f"{c.name}-curves.png", f"{c.name}: loss and accuracy",
                   partial(plots.plot_curves, r)))
    if c.seeds > 1:  # one seed's histogram is one bar: the table says it
        out.append(Img(f"{c.name}-accuracy.png", f"{c.name}: final accuracy over seeds",
                       partial(plots.plot_accuracy_distribution, r)))
    if r.probe is not None:
        s = summarize(r.probe_accuracy)
        ci = "" if s["n"] < 2 else f", 95% CI {interval_text(*s['ci95'], 2, '%')}"
        out.append(P(f"Probe ({len(r.probe)} random patterns from a separate generator): "
                     f"mean accuracy {_pct(s['mean'])}{ci} over {s['n']} seed(s)."))
        if c.samples:
            ls, acc, counts = plots.probe_by_length(r)
            out.append(Table(["input length", "probe patterns", "accuracy"],
                             [[str(n), str(k), _pct(a)] for n, a, k in zip(ls, acc, counts)]))
            out.append(Img(f"{c.name}-probe-by-length.png", "probe accuracy by input length",
                           partial(plots.plot_probe_by_length, r)))
    if r.states is not None:
        out.append(Img(f"{c.name}-states.png",
                       f"state heatmap ({', '.join(layered(cell.state, c.layers))})",
                       partial(plots.plot_states, r)))
    if c.stateful and r.dataset.order is not None and r.dataset.order.shape[1] > 1:
        out.append(P("Keras's stateful rule: sample i of batch k + 1 continues sample i of "
                     "batch k, so the sequence is cut into as many contiguous streams as the "
                     "batch has rows, and each row carries its own state."))
        out.append(Img(f"{c.name}-stream-layout.png", "stream layout of the batches",
                       partial(plots.plot_stream_layout, r)))
    for start, strings in r.generated.items():
        ok = r.generation_ok(start)
        out.append(P(f"Generated from {show(start)} (replica 0): {show(strings[0])} — "
                     f"{int(ok.sum())}/{len(ok)} seeds continue the sequence."))
    if r.order_diff is not None:
        out.append(P(f"Within-batch order test (a check of the code): the float64 batch "
                     f"gradient with the samples in order and shuffled differs by at most "
                     f"{r.order_diff[0]:.2e} (largest gradient entry {r.order_diff[1]:.2e}). "
                     + order_check(*r.order_diff)))
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
                 + (f"; first {len(shown)} shown" if len(rows) > len(shown) else "") + "):"))
    out.append(Table(["input", "target", "prediction", "probability", ""], shown))
    return out


def model_lines(run_dir, r) -> list[str]:
    """Its models, one line each, with their accuracy."""
    if r.params is None:
        return [f"{run_dir / r.config.name}  {r.config.name}  models not saved (a sweep keeps "
                f"them only with --save-models); mean accuracy "
                f"{100 * r.accuracy.mean():.2f}%"]
    return [f"{run_dir / r.config.name / str(i)}  {r.config.name}  replica {i}  accuracy "
            f"{100 * acc:.2f}%" for i, acc in enumerate(r.accuracy)]


def brief(r) -> str:
    """A sweep's verbose line of one point."""
    s = summarize(r.accuracy)
    k = round(s["share_100"] * s["n"])
    return (f"{r.config.name}: accuracy {100 * s['mean']:.2f}%, {k}/{s['n']} seeds at 100%"
            + (" (finished earlier)" if r.cached else f", {r.train_s:.2f} s"))


def point_columns(results: list) -> tuple[list[str], list[list[str]]]:
    """A sweep table's columns of its points (after the swept settings)."""
    probe = any(r.probe is not None for r in results)
    gen = any(r.generated for r in results)
    header = ["accuracy % [95% CI]", "min–max %", "seeds at 100% [95% CI]"] + \
        (["probe % [95% CI]"] if probe else []) + \
        (["seeds continuing the sequence"] if gen else []) + ["train s"]
    rows = []
    for r in results:
        s = summarize(r.accuracy)  # with the share at 100% and its exact interval
        n = s["n"]
        k, (lo, hi) = round(s["share_100"] * n), s["share_100_ci95"]
        row = [with_interval(s), interval_text(s["min"], s["max"]),
               f"{k}/{n} [{interval_text(lo, hi, 0)}]"]
        if probe:
            row.append("" if r.probe is None else with_interval(summarize(r.probe_accuracy)))
        if gen:
            row.append(" · ".join(f"from {show(s)} {int(r.generation_ok(s).sum())}/{n}"
                                  for s in r.generated))
        rows.append(row + [f"{r.train_s:.2f}"])
    return header, rows


SWEEP_NOTE = CI_METHOD + "."


def sweep_sections(results: list, ordered: dict) -> list:
    """A sweep report's figures (``ordered``: setting → its values with a finished
    point)."""
    keys = list(ordered)
    out: list = [P(SWEEP_NOTE)]
    if len(keys) == 1:
        out.append(Img("sweep-accuracy.png", f"accuracy against {keys[0]}",
                       plots.plot_sweep_1d(results, keys[0], ordered[keys[0]])))
    else:
        out.append(H(2, "Pairs of settings"))
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                out.append(Img(f"sweep-{a}-{b}.png", f"{a} against {b}",
                               plots.plot_sweep_heatmaps(results, a, ordered[a], b,
                                                         ordered[b])))
    out.append(H(2, "Learning curves"))
    for k in keys:
        out.append(Img(f"sweep-curves-{k}.png", f"learning curves by {k}",
                       plots.plot_sweep_curves(results, k, ordered[k])))
    return out
