"""Sweeps as data: a grid of settings (each a list of values) over one preset, its points
as Configs with names of their own, and what the numbers say — the per-point table, the
tidy per-seed table and one sentence per swept setting. Shared by the terminal, the
report and the Python API (this module writes nothing)."""

from __future__ import annotations

import itertools
import math
import re
from typing import Callable, NamedTuple

import numpy as np

from . import stats
from .stats import share_interval
from .config import (LIST_OF, NOT_TRAINING, SETTINGS, SWEEPABLE, Config, read, sizes_text,
                     with_defaults)
from .errors import ConfigError, shown

THRESHOLD = 0.9  # the share of seeds at 100% a sentence asks for


def parse_values(setting: str, text: str) -> list:
    """A comma list of one setting's values, e.g. ``"1,2,4"`` → [1, 2, 4] (repeats
    dropped, order kept), or ConfigError naming the value and what is allowed."""
    kind, label = SETTINGS[setting].kind, SETTINGS[setting].label
    values = []
    # a start symbol may itself be a comma: "," alone means that symbol
    parts = [text] if setting == "start" and text == "," else text.split(",")
    for part in parts:
        part = part if setting == "start" else part.strip()
        try:
            values.append(read(setting, part))
        except ValueError:
            raise ConfigError(f"{label} {part!r} is not allowed; allowed: a comma list of "
                              f"{LIST_OF[kind]}") from None
    if not values or (setting != "start" and "" in values):
        raise ConfigError(f"{label} {shown(text)} is not allowed; allowed: a comma list of "
                          f"{LIST_OF[kind]}")
    distinct = list(dict.fromkeys(values))
    if len(values) > 1 and len(distinct) == 1:
        raise ConfigError(f"{label} {shown(text)} lists one value "
                          f"({value_text(distinct[0])}) {len(values)} times: give different "
                          f"values to sweep it, or one to fix it")
    return distinct


def value_text(value) -> str:
    """A setting's value as a point's name and the tables show it."""
    if value is None:
        return "all"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):  # one size per layer
        return sizes_text(value)
    return repr(value) if isinstance(value, float) else str(value)


def _safe(text: str) -> str:
    """A value as a directory-name part: letters, digits and ``.-+`` kept, anything else
    (a user's start symbol) as ``uXXXX``."""
    return re.sub(r"[^A-Za-z0-9.+-]", lambda m: f"u{ord(m.group()):04x}", text)


def point_name(preset: str, values: dict) -> str:
    """A grid point's experiment name, e.g. ``timestep-window,units=8``: two points of
    one preset never share a directory."""
    return ",".join([preset] + [f"{k}={_safe(value_text(v))}" for k, v in values.items()])


def points(base: Config, grid: dict[str, list]) -> list[Config]:
    """Every combination of the grid's values (the product, first setting slowest) as a
    Config of its own name."""
    unknown = [k for k in grid if k not in SWEEPABLE]
    if unknown:
        raise ConfigError(f"{unknown[0]} cannot be swept; allowed: {', '.join(SWEEPABLE)}")
    if not grid:  # the Python API's words (the CLI says it in its own before this)
        raise ConfigError("nothing to sweep: give at least one setting a list of values, "
                          "e.g. units=[4, 8, 16]")
    names = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in names)):
        values = dict(zip(names, combo))
        # a point is named for what it is: the preset's note may describe a setting the
        # point changes (variable-length's "1000 random subsequences" at samples=0)
        note = f"{base.name} with " + ", ".join(f"{k.replace('_', ' ')} {value_text(v)}"
                                                for k, v in values.items())
        out.append(base.replace(name=point_name(base.name, values), note=note,
                                **with_defaults(values)))
    return out


def swept(cfg: Config, grid: dict) -> dict:
    """The swept settings' values of one point."""
    return {k: getattr(cfg, k) for k in grid}


# -- what the numbers say ---------------------------------------------------------------


def numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None
               for v in values) and any(v is not None for v in values)


def at_100(res) -> np.ndarray:
    """Per replica: did it reach 100% (its kind's headline; None where it has no 100%)?"""
    return res.headline().full


def point_rows(results: list, grid: dict) -> tuple[list[str], list[list[str]]]:
    """The terminal's and the report's table: one row per point (the swept settings,
    then its kind's columns)."""
    header, rows = results[0].kind.point_columns(results) if results else ([], [])
    return ([k.replace("_", " ") for k in grid] + header,
            [[value_text(v) for v in swept(r.config, grid).values()] + row
             for r, row in zip(results, rows)])


ALPHA = 0.05  # each sentence's family-wise error


def _slices(results: list, grid: dict, k: str) -> dict:
    """Results grouped by the other swept settings: (their values) → {value of k: result}."""
    out: dict = {}
    for r in results:
        key = tuple((o, getattr(r.config, o)) for o in grid if o != k)
        out.setdefault(key, {})[getattr(r.config, k)] = r
    return out


def sentences(results: list, grid: dict) -> list[str]:
    """One sentence per swept setting, computed from the numbers, each a test with a 5%
    family-wise error. A numeric setting: the values at which ≥ 90% of seeds reach 100%,
    tested from the largest value down by the share's exact lower bound and stopping at
    the first that fails (a fixed-sequence test: no adjustment within a slice of the
    grid, Bonferroni over slices). A setting of words: every pair of values compared seed
    by seed — replica r of every point has the same key, so the same initial weights —
    with an exact sign test per pair and Holm's procedure over the pairs
    (:func:`_best_value`). Points of a kind without a 100% (stream experiments) are
    compared so by their headline (the best validation loss), for every swept setting."""
    out = []
    full = bool(results) and all(r.headline().full is not None for r in results)
    metric = _metric(results[0].headline()) if results else HIGHEST_ACCURACY
    for k in grid:
        name = k.replace("_", " ")
        slices = _slices(results, grid, k)
        if not full:  # no 100%: the best headline value, every setting
            out.append(_best_value(name, slices, grid, metric))
        elif k in NOT_TRAINING:  # the points of its values share their models
            out.append(f"{name} does not change training: the points of its values share "
                       f"the same models, so accuracy cannot differ; compare what it changes "
                       f"(the seeds continuing the sequence, the probe) in the table")
        elif numeric(grid[k]) and k in results[0].headline().harder:
            out.append(_largest_full(name, slices, results[0].headline()))
        elif numeric(grid[k]):
            out.append(_smallest_full(name, slices, grid, results[0].headline()))
        else:
            out.append(_best_value(name, slices, grid, metric))
    return out


def _where(key: tuple) -> str:
    """A slice of the grid in words: "cell lstm, units 8"."""
    return ", ".join(f"{o.replace('_', ' ')} {value_text(v)}" for o, v in key)


def _smallest_full(name: str, slices: dict, grid: dict, h) -> str:
    level = 1 - 2 * ALPHA / len(slices)  # a two-sided interval's lower end: one-sided α/m
    share, words = h.full_share, h.full_words  # 0.9 and "reach 100%" for window points

    def bound(res) -> tuple[int, int, float]:
        """A point's seeds at 100%, its seeds, and the share's exact lower bound."""
        k, n = int(at_100(res).sum()), len(at_100(res))
        return k, n, share_interval(k, n, level)[0]
    found = []
    for key, by_value in slices.items():
        passed = None
        for v in sorted(by_value, key=_sort_key, reverse=True):
            if bound(by_value[v])[2] < share:
                break
            passed = v
        if passed is not None:
            found.append((passed, key, by_value[passed]))
    how = (f"exact lower bound ≥ {share:.2f} at each value, tested from the largest "
           f"value down and stopping at the first that fails"
           + (f", Bonferroni over {len(slices)} slices of the grid" if len(slices) > 1 else "")
           + f"; {1 - ALPHA:.0%} family-wise")
    if not found:
        n = min(len(at_100(r)) for s in slices.values() for r in s.values())
        # n/n has the exact lower bound ((1 − level)/2)^(1/n)
        need = math.ceil(math.log((1 - level) / 2) / math.log(share))
        if n < need:
            at = "at 100%" if words == "reach 100%" else f"that {words}"
            why = (f"with {n} seeds even {n}/{n} {at} has an exact lower bound of "
                   f"{share_interval(n, n, level)[0]:.2f}: it takes ≥ {need} seeds")
        else:
            tops = [(key, max(s, key=_sort_key)) for key, s in slices.items()]
            why = "at the largest value: " + "; ".join(
                f"{name} {value_text(v)}{' (' + _where(key) + ')' if key else ''}: "
                "{}/{}, lower bound {:.2f}".format(*bound(slices[key][v])) for key, v in tops)
        return (f"{name}: no value is shown to {words} in ≥ {share:.0%} of its seeds "
                f"({how}); {why}")
    v, key, r = min(found, key=lambda f: _sort_key(f[0]))
    k100, n, lower = bound(r)
    return (f"{name}: ≥ {share:.0%} of seeds {words} at every value from "
            f"{value_text(v)} up ({how}); at {value_text(v)}: {k100}/{n}, lower bound "
            f"{lower:.2f}" + (f"; with {_where(key)}" if key else ""))


def _largest_full(name: str, slices: dict, h) -> str:
    """A numeric setting whose larger values are harder (``Headline.harder``: a memory
    task's lag): per slice of the grid, the largest value up to which most seeds are full
    (``h.full_words``): the share's exact lower bound above ``h.full_share`` at every
    value, tested from the smallest up and stopping at the first that fails (a
    fixed-sequence test), Bonferroni over the slices; 5% family-wise."""
    level = 1 - 2 * ALPHA / len(slices)
    parts = []
    for key, by_value in slices.items():
        where = _where(key)
        passed, stop = None, None
        for v in sorted(by_value, key=_sort_key):
            full = at_100(by_value[v])
            k, n = int(full.sum()), len(full)
            lo, hi = share_interval(k, n, level)
            if lo <= h.full_share:
                stop = (v, k, n, lo, hi)
                break
            passed = (v, k, n, lo, hi)
        words = (f"up to {value_text(passed[0])} ({passed[1]}/{passed[2]} at "
                 f"{value_text(passed[0])}, interval [{passed[3]:.2f}, {passed[4]:.2f}])"
                 if passed else "at no value")
        if stop:
            words += (f", not shown at {value_text(stop[0])} ({stop[1]}/{stop[2]}, interval "
                      f"[{stop[3]:.2f}, {stop[4]:.2f}])")
        parts.append((f"{where}: " if where else "") + words)
    share = "most" if h.full_share == 0.5 else f"more than {h.full_share:.0%} of"
    return (f"{name}: the largest value at which {share} seeds {h.full_words} — "
            + "; ".join(parts) + f" (exact {level:.1%} intervals, the lower end above "
            f"{h.full_share:.2f} at every value from the smallest up, stopping at the first "
            f"that fails" + (f"; Bonferroni over {len(slices)} slices of the grid"
                             if len(slices) > 1 else "") + f"; {1 - ALPHA:.0%} family-wise)")


class Metric(NamedTuple):
    """What _best_value compares: per-seed values of a result, which end is better, the
    words, and a difference as printed."""
    values: Callable
    sign: int            # +1: higher is better; −1: lower
    words: str
    diff: Callable       # a difference → text
    mean: Callable       # a mean → text
    name: str = "accuracy"  # what the values are


def _metric(h) -> Metric:
    """The Metric of a kind's headline (``ExperimentResult.headline``)."""
    return Metric(lambda r: r.headline().values, 1 if h.higher_is_better else -1,
                  f"the {'highest' if h.higher_is_better else 'lowest'} mean {h.name}",
                  h.diff, h.mean, h.name)


HIGHEST_ACCURACY = Metric(lambda r: r.accuracy, 1, "the highest mean accuracy",
                          lambda d: f"{100 * d:+.1f} points", lambda m: f"{100 * m:.1f}%")


def _best_value(name: str, slices: dict, grid: dict,
                metric: Metric = HIGHEST_ACCURACY) -> str:
    """The value better than every other in most seeds, or none: every pair of values is
    compared seed by seed (paired by replica: the same initial weights) with an exact
    two-sided sign test — ties left out, valid for any distribution of the values — and
    Holm's procedure over the pairs keeps the family-wise error at ALPHA. (A paired t-test
    on accuracies, as before, assumed near-normal mean differences and named a false best
    in up to half of simulated sweeps whose values had equal means and different shapes;
    no test valid for any distribution of accuracies can find a mean difference of a few
    points with ten seeds, so the sentence is about the share of seeds, which it can.)"""
    from scipy.stats import binomtest  # lazily: scipy.stats takes a second to import
    values = list(dict.fromkeys(v for s in slices.values() for v in s))
    of = metric.values
    pooled = {v: np.concatenate([of(s[v]) for s in slices.values() if v in s])
              for v in values}
    # a seed whose training diverged has no value (NaN): its pairs are left out, and a
    # value none of whose seeds trained ranks last
    mean = {v: np.nanmean(pooled[v]) if np.isfinite(pooled[v]).any()
            else np.inf * -metric.sign for v in values}
    ranked = sorted(values, key=lambda v: -metric.sign * mean[v])
    pairs = list(itertools.combinations(ranked, 2))
    tests = []
    for a, b in pairs:  # paired by (slice, replica)
        d = [(of(s[a])[:n], of(s[b])[:n]) for s in slices.values()
             if a in s and b in s for n in [min(len(of(s[a])), len(of(s[b])))]]
        x, y = np.concatenate([p[0] for p in d]), np.concatenate([p[1] for p in d])
        x, y = x[np.isfinite(x) & np.isfinite(y)], y[np.isfinite(x) & np.isfinite(y)]
        wins = int(np.sum(metric.sign * (x - y) > 0))
        n = wins + int(np.sum(metric.sign * (x - y) < 0))  # ties left out
        p = binomtest(wins, n).pvalue if n else float("nan")
        tests.append((a, b, float(np.mean(x - y)) if len(x) else float("nan"), wins, n,
                      float(p), len(x)))
    adjusted = stats.holm_adjusted([t[5] for t in tests])
    shown = adjusted <= ALPHA
    tests = [(*t[:5], float(q), t[6]) for t, q in zip(tests, adjusted)]  # print what decides
    best = ranked[0]
    over = " over every point" if len(grid) > 1 else ""
    better = "higher" if metric.sign > 0 else "lower"

    def pair(a, b, d, wins, n, p, pairs):
        return (f"{value_text(a)} {better} than {value_text(b)} in {wins} of {n} seeds"
                + (f" ({pairs - n} tied)" if pairs > n else "")
                + (f" (Holm-adjusted p = {p:.2g})" if n else "")
                + f", mean difference {metric.diff(d)}")
    words = "; ".join(pair(*t[:2], t[2], t[3], t[4], t[5], t[6]) for t in tests if t[0] == best)
    how = ("exact sign tests paired by replica, Holm over every pair of values, 5% "
           "family-wise")
    if len(ranked) > 1 and all(ok and t[3] > t[4] - t[3]
                               for t, ok in zip(tests, shown) if t[0] == best):
        return (f"{name}: {value_text(best)} has a {better} {metric.name} than every other "
                f"value in most seeds{over} ({how}; its mean {metric.mean(mean[best])}): "
                f"{words}")
    return (f"{name}: no value is shown to have a {better} {metric.name} than every other "
            f"in most seeds{over} ({how}): "
            + (words or f"{value_text(best)} {metric.mean(mean[best])}"))


def _sort_key(v):
    return math.inf if v is None else v  # batch size "all" is the largest


def sorted_values(values: list) -> list:
    """A setting's values in their natural order (numbers ascending, words as given)."""
    return sorted(values, key=_sort_key) if numeric(values) else list(values)


def log_scale(values: list) -> bool:
    """Plot on a log axis: positive numbers spanning at least 10×."""
    nums = [v for v in values if v is not None]
    return numeric(values) and min(nums) > 0 and max(nums) / min(nums) >= 10


# -- the tidy table ---------------------------------------------------------------------


COLUMNS = [k for k in SETTINGS if k not in ("name", "note")]  # sweep.csv's settings


def tidy_rows(results: list, sequence_cell) -> tuple[list[str], list[list]]:
    """sweep.csv: one row per (point, seed), every setting a column, then every per-seed
    number (``per_seed()``, the one definition); a number a point does not have (no
    probe, another generation start) is empty. ``sequence_cell(seq)`` gives the sequence
    column (a long one by reference)."""
    rows = [(r, row) for r in results for row in r.per_seed()]
    metrics = list(dict.fromkeys(k for _, row in rows for k in row
                                 if k not in ("compile_s", "train_s")))
    header = ["point", "preset"] + COLUMNS + metrics + ["compile_s", "train_s"]
    out = []
    for r, row in rows:
        c = r.config
        settings = [sequence_cell(c.sequence) if k == "sequence" else
                    ("" if getattr(c, k) is None else getattr(c, k)) for k in COLUMNS]
        out.append([c.name, c.name.split(",")[0]] + settings
                   + ["" if row.get(k) is None else row[k]
                      for k in metrics + ["compile_s", "train_s"]])
    return header, out


def axis(ax, values: list, which: str = "x"):
    """Positions of a setting's values on an axis: the numbers themselves (log-scaled
    where they span ≥ 10×), or evenly spaced labels for words and batch size 'all'."""
    if numeric(values) and None not in values:
        if log_scale(values):
            getattr(ax, f"set_{which}scale")("log")
        getattr(ax, f"set_{which}ticks")(values, [value_text(v) for v in values])
        return list(values)
    getattr(ax, f"set_{which}ticks")(range(len(values)),
                                     [value_text(v) for v in values])
    return list(range(len(values)))
