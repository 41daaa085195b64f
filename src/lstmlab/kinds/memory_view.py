"""A memory task's views: in the terminal (the task and its baseline, the progress over
updates, how many seeds solved it), its row of the memory tasks' table, its report section
(the learning curves against the baseline, a per-seed table), a sweep's columns and its
plot of seeds solved by time lag."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

from .. import grid, terminal
from ..document import H, Img, P, Table, figure, png
from ..stats import loss_text
from ..tables import divergence
from ..terminal import Bar as LiveBar, live, out, warn
from .memory_train import EPOCH_UPDATES, TEST_SEQUENCES
from .memory_units import STUDIED


def _what(res_or_cfg) -> str:
    from .memory_tasks import TASKS
    c = getattr(res_or_cfg, "config", res_or_cfg)
    t = TASKS[c.task]
    base = t.baseline(c.lag)
    return (f"{c.task} at T = {c.lag} ({t.steps(c.lag)} steps; inputs: {t.symbols}); "
            f"baseline {'MSE' if t.regression else 'loss'} {base:.4g} (what remembers "
            f"nothing scores); solved: {t.solved_words()} on {TEST_SEQUENCES} fresh test "
            f"sequences")


def show_start(cfg, ds) -> None:
    out.print(f"Task: {_what(cfg)}", markup=False)


class Progress(LiveBar):
    """A bar over the updates of every seed with the last test loss; piped or with
    --verbose, one line every tenth of the training."""

    def __init__(self, cfg, ds, quiet: bool, verbose: bool):
        self.cfg, self.t0 = cfg, time.perf_counter()
        self.lines = not quiet and (verbose or not live())
        if not quiet and not verbose and live():
            self.bar = Bar(TextColumn("{task.fields[what]}"), BarColumn(),
                           TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                           console=terminal.err, transient=True)
            self.task = self.bar.add_task("train", total=cfg.epochs, what=cfg.name,
                                          status="compiling…")

    def __call__(self, done, history) -> None:
        test = float(np.nanmean(history[:, -1, 1]))
        status = f"{done * EPOCH_UPDATES:,} updates · test {test:.4f}"
        if self.bar is not None:
            self.bar.update(self.task, completed=done, status=status)
        if self.lines and (done == self.cfg.epochs or done % max(1, self.cfg.epochs // 10)
                           == 0):
            out.print(f"{self.cfg.name}: {status} (mean over seeds), "
                      f"{time.perf_counter() - self.t0:.1f} s", markup=False)


def show_finished(res) -> None:
    if res.cached:
        out.print("(cached: finished earlier in this run directory with the same settings; "
                  "not trained again)", markup=False)
    out.print(brief(res), markup=False)
    if (diverged := divergence(res)) is not None:
        warn(diverged)


def _updates(res) -> str:
    m = res.median_updates()
    return f"{m:,.0f}" if math.isfinite(m) else f"> {res.updates:,}"


def brief(res) -> str:
    k = int(res.solved.sum())
    return (f"{res.config.name}: solved by {k} of {res.config.seeds} seed(s) within "
            f"{res.updates:,} updates (median updates until solved {_updates(res)}); final "
            f"test {res.headline().name.split()[-1]} {loss_text(res.final()[res.sound], '.3g')} "
            f"against a baseline of {res.baseline:.4g}"
            + ("" if res.cached else f"; {res.train_s:.1f} s"))


def _row(res) -> list[str]:
    return [f"{res.baseline:.4g}", loss_text(res.final()[res.sound], ".3g"), res.solved_text(),
            _updates(res), f"{res.train_s:.1f}"]


COLUMNS = ["baseline", "final test loss [95% CI]", "solved [95% CI]",
           "updates to solve (median)", "train s"]


def table(results: list, terminal: bool = False):
    return ("memory tasks", ["experiment", "seeds", "task", "T", "cell"] + COLUMNS,
            [[r.config.name + ("*" if r.cached and terminal else ""), str(r.config.seeds),
              r.config.task, str(r.config.lag), r.config.cell] + _row(r) for r in results],
            ["Final test loss: MSE for adding, cross-entropy in nats per step for copy and "
             f"temporal order, on the same {TEST_SEQUENCES} fresh sequences for every seed "
             "(mean, 95% t "
             "interval); solved: seeds meeting the task's rule, exact 95% interval; the "
             "median counts a seed that never solved as slower than every other."])


def plot_curves(res) -> bytes:
    """Test loss against updates: every seed, the baseline line, the solved threshold."""
    from .memory_tasks import ADDING_SOLVED
    fig = figure(figsize=(8, 3.4))
    ax = fig.add_subplot()
    x = np.arange(1, res.history.shape[1] + 1) * EPOCH_UPDATES
    for r in range(len(res.history)):
        ax.plot(x, res.history[r, :, 1], lw=1, alpha=0.7, color="C0",
                label="test loss, one line per seed" if r == 0 else None)
    ax.axhline(res.baseline, color="C3", ls="--", lw=1.2,
               label=f"baseline {res.baseline:.4g} (remembers nothing)")
    if res.task.regression:
        ax.axhline(ADDING_SOLVED, color="grey", ls=":", lw=1, label=f"solved: < {ADDING_SOLVED}")
    ax.set_yscale("log")
    ax.set_xlabel("updates (fresh batches)")
    ax.set_ylabel("test MSE" if res.task.regression else "test loss (nats per step)")
    ax.set_title(f"{res.config.name}: {res.config.task} at T = {res.config.lag}, "
                 f"{res.config.stack_text()}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return png(fig)


def sections(res, ctx: dict) -> list:
    c = res.config
    blocks = [H(2, c.name), P((f"{c.note}. " if c.note else "") + f"Task: {_what(res)}. "
                              f"Settings: {c.describe()}."), P(brief(res) + ".")]
    if (diverged := divergence(res)) is not None:
        blocks.append(P(f"Warning: {diverged}."))
    blocks.append(Img(f"{c.name}-memory-curves.png", f"{c.name}: test loss per update",
                      lambda: plot_curves(res)))
    score = "test MSE" if res.task.regression else "test accuracy"
    blocks.append(Table(["seed", "final test loss", f"final {score}", "updates to solve"],
                        [[str(r["replica"]), f"{r['final_test_loss']:.4g}",
                          f"{r['final_test_score']:.4g}",
                          f"{r['updates_to_solve']:,}" if r["updates_to_solve"] is not None
                          else f"never (> {res.updates:,}: censored)"]
                         for r in res.per_seed()]))
    if (held := res.analyses.get("memory_units")):
        blocks += [H(3, "What the units hold"), P(
            f"Every unit's correlation with each track of the task over {STUDIED} fresh "
            f"sequences (every step; every traced quantity: h, c and the gates): the "
            f"strongest |r| per seed, trained and — the control — the same seed's weights "
            f"before training."), Table(
            ["track", "trained: strongest |r| (median over seeds, min–max)",
             "untrained (median)", "seeds stronger than untrained", "seed 0's unit"],
            [[name, _spread(d["trained"]), f"{np.median(d['untrained']):.2f}",
              f"{sum(a > b for a, b in zip(d['trained'], d['untrained']))}/"
              f"{len(d['trained'])}", d["unit"]] for name, d in held.items()])]
        if res.params is not None:
            blocks.append(Img(f"{c.name}-memory-units.png", f"{c.name}: units at work",
                              lambda: plot_at_work(res)))
    return blocks


def plot_at_work(res) -> bytes:
    """Seed 0's strongest unit for each track over one study sequence, beside the track
    (each scaled to its range on the sequence; the unit's sign turned to match), the
    steps that matter marked."""
    from .memory import spec_of
    from .memory_units import at_work, events
    x, drawn = at_work(spec_of(res.config), res.replica_params(0), res.config.seed,
                       res.analyses["memory_units"])
    fig = figure(figsize=(8, 1.5 + 1.3 * len(drawn)))
    axes = fig.subplots(len(drawn), 1, sharex=True, squeeze=False)[:, 0]
    scaled = lambda v: (v - v.min()) / (v.max() - v.min()) if v.max() > v.min() else v * 0  # noqa: E731
    for ax, (name, (track, unit)) in zip(axes, drawn.items()):
        u = scaled(unit)
        if np.corrcoef(track, unit)[0, 1] < 0 if np.std(track) and np.std(unit) else False:
            u = 1 - u
        ax.plot(scaled(track), color="C1", lw=2, label=name)
        ax.plot(u, color="C0", lw=1.2, label=f"unit {res.analyses['memory_units'][name]['unit']}")
        for t in events(res.config.task, x):
            ax.axvline(t, color="grey", ls=":", lw=1)
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("step (dotted: the steps that matter)")
    axes[0].set_title(f"{res.config.name}, seed 0: its strongest unit per track on one "
                      f"fresh sequence")
    return png(fig)


def units_lines(res) -> list[str]:
    """``lstmlab units`` of a memory task: its kept study, one line per track."""
    held = res.analyses.get("memory_units")
    if not held:
        return []
    return [f"{res.config.name}: what the units hold (strongest |r| per seed over {STUDIED} "
            f"fresh sequences, median (min–max); the same seeds untrained)"] + [
        f"  {name}: {_spread(d['trained'])}; untrained {np.median(d['untrained']):.2f}; "
        f"stronger than untrained in {sum(a > b for a, b in zip(d['trained'], d['untrained']))}"
        f"/{len(d['trained'])} seeds; seed 0's unit {d['unit']}" for name, d in held.items()]


def _spread(v) -> str:
    v = np.asarray(v)
    return f"{np.median(v):.2f} ({v.min():.2f}–{v.max():.2f})"


def model_lines(run_dir, res) -> list[str]:
    return [f"{run_dir / res.config.name}  {res.config.name}  {brief(res)}"]


def point_columns(results: list):
    return COLUMNS, [_row(r) for r in results]


SWEEP_NOTE = ("Final test loss on the same fresh sequences (mean, 95% t interval); solved: "
              "seeds meeting the task's rule with an exact 95% interval.")


def plot_solved(results: list, setting: str, swept: list) -> bytes:
    """Seeds solved (share) by the value of ``setting``, one line per value of the other
    ``swept`` settings."""
    fig = figure(figsize=(7, 3.4))
    ax = fig.add_subplot()
    lines: dict = {}
    for r in results:
        rest = ", ".join(f"{k.replace('_', ' ')} {grid.value_text(getattr(r.config, k))}"
                         for k in swept if k != setting)
        lines.setdefault(rest, []).append((getattr(r.config, setting), r.solved.mean()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (label, pts) in enumerate(sorted(lines.items())):
            pts.sort(key=lambda p: grid._sort_key(p[0]))
            ax.plot([grid.value_text(p[0]) for p in pts], [p[1] for p in pts], "o-",
                    color=f"C{i}", label=label or "solved")
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(setting.replace("_", " "))
    ax.set_ylabel("share of seeds that solved")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return png(fig)


def sweep_sections(results: list, ordered: dict) -> list:
    return [H(2, "Seeds solved"), P(SWEEP_NOTE)] + [
        Img(f"sweep-solved-{k}.png", f"seeds solved by {k}",
            lambda k=k: plot_solved(results, k, list(ordered)))
        for k in ordered]
