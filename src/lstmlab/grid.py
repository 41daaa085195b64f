"""Sweeps as data: a grid of settings (each a list of values) over one preset, its points
as Configs with names of their own, and what the numbers say — the per-point table, the
tidy per-seed table and one sentence per swept setting. Shared by the terminal, the
report and the Python API (this module writes nothing)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re

import numpy as np

from .data import show
from . import evaluate
from .evaluate import describe, summarize, wilson_interval
from .config import Config, read_batch_size
from .errors import ConfigError
from .experiments import Result

# What can be swept, by setting: how one value is read from the command line. Every
# setting of `lstmlab run` that is a value (not the data, the seeds or the name).
_BOOL = {"true": True, "yes": True, "on": True, "1": True,
         "false": False, "no": False, "off": False, "0": False}


def _int(text: str) -> int:
    return int(text)


def _bool(text: str) -> bool:
    return _BOOL[text.lower()]


SWEEPABLE = {"units": _int, "epochs": _int, "window": _int, "framing": str, "encoding": str,
             "batch_size": read_batch_size, "lr": float, "optimizer": str, "activation": str,
             "shuffle": _bool, "mask": _bool, "start": str, "length": _int, "seed": _int,
             "samples": _int, "probe": _int, "bptt": _int, "random_start": _bool,
             "reset_prob": float}
ALLOWED_TEXT = {_int: "integers", read_batch_size: "integers or 'all'", float: "numbers",
                _bool: "true/false (yes/no, on/off)", str: "words"}

THRESHOLD = 0.9  # the share of seeds at 100% a sentence asks for


def parse_values(setting: str, text: str) -> list:
    """A comma list of one setting's values, e.g. ``"1,2,4"`` → [1, 2, 4] (repeats
    dropped, order kept), or ConfigError naming the value and what is allowed."""
    read = SWEEPABLE[setting]
    values = []
    # a start symbol may itself be a comma: "," alone means that symbol
    parts = [text] if setting == "start" and text == "," else text.split(",")
    for part in parts:
        part = part if setting == "start" else part.strip()
        try:
            values.append(read(part))
        except (ValueError, KeyError):
            raise ConfigError(f"{setting.replace('_', ' ')} {part!r} is not allowed; allowed: "
                              f"a comma list of {ALLOWED_TEXT[read]}") from None
    if not values or (setting != "start" and "" in values):
        raise ConfigError(f"{setting.replace('_', ' ')} {text!r} is not allowed; allowed: a "
                          f"comma list of {ALLOWED_TEXT[read]}")
    return list(dict.fromkeys(values))


def value_text(value) -> str:
    """A setting's value as a point's name and the tables show it."""
    if value is None:
        return "all"
    if isinstance(value, bool):
        return "yes" if value else "no"
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
    if not grid:
        raise ConfigError("nothing to sweep: give at least one setting a comma list of "
                          "values, e.g. --units 4,8,16")
    names = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in names)):
        values = dict(zip(names, combo))
        out.append(base.replace(name=point_name(base.name, values), **values))
    return out


def swept(cfg: Config, grid: dict) -> dict:
    """The swept settings' values of one point."""
    return {k: getattr(cfg, k) for k in grid}


# -- what the numbers say ---------------------------------------------------------------


def numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None
               for v in values) and any(v is not None for v in values)


def at_100(res: Result) -> np.ndarray:
    """Per replica: did it reach 100% on its training patterns?"""
    return evaluate.at_100(res.accuracy)


def point_rows(results: list[Result], grid: dict) -> tuple[list[str], list[list[str]]]:
    """The terminal's and the report's table: one row per point."""
    probe = any(r.probe is not None for r in results)
    gen = any(r.generated for r in results)
    header = [k.replace("_", " ") for k in grid] + [
        "accuracy % [95% CI]", "min–max %", "seeds at 100% [95% CI]"] + \
        (["probe % [95% CI]"] if probe else []) + \
        (["seeds continuing the sequence"] if gen else []) + ["train s"]
    rows = []
    for r in results:
        s = summarize(r.accuracy)  # with the share at 100% and its Wilson interval
        n = s["n"]
        k, (lo, hi) = round(s["share_100"] * n), s["share_100_ci95"]
        row = [value_text(v) for v in swept(r.config, grid).values()]
        row += [_mean_ci(s), f"{100 * s['min']:.1f}–{100 * s['max']:.1f}",
                f"{k}/{n} [{100 * lo:.0f}–{100 * hi:.0f}]"]
        if probe:
            row.append("" if r.probe is None else _mean_ci(summarize(r.probe_accuracy)))
        if gen:
            row.append(" · ".join(f"from {show(s)} {int(r.generation_ok(s).sum())}/{n}"
                                  for s in r.generated))
        rows.append(row + [f"{r.train_s:.2f}"])
    return header, rows


def _mean_ci(s: dict) -> str:
    ci = "" if s["n"] < 2 else f" [{100 * s['ci95'][0]:.1f}–{100 * s['ci95'][1]:.1f}]"
    return f"{100 * s['mean']:.1f}{ci}"


def sentences(results: list[Result], grid: dict) -> list[str]:
    """One sentence per swept setting, computed from the numbers. A numeric setting: its
    smallest value at which ≥ 90% of a point's seeds reach 100% (judged by the share;
    the Wilson lower bound says how sure that is); a setting of words: the value with the
    highest mean accuracy over the seeds of every point that has it."""
    out = []
    for k in grid:
        name = k.replace("_", " ")
        values = grid[k]
        if numeric(values):
            good = [(getattr(r.config, k), r) for r in results if at_100(r).mean() >= THRESHOLD]
            if not good:
                best = max(results, key=lambda r: (at_100(r).mean(), r.accuracy.mean()))
                out.append(f"{name}: no point reaches 100% in ≥ {THRESHOLD:.0%} of its seeds "
                           f"(closest: {_where(best, grid)}, {int(at_100(best).sum())}/"
                           f"{best.config.seeds} at 100%, mean accuracy "
                           f"{100 * best.accuracy.mean():.1f}%)")
                continue
            order = {v: i for i, v in enumerate(sorted(values, key=_sort_key))}
            v, r = min(good, key=lambda g: order[g[0]])
            k100, n = int(at_100(r).sum()), len(r.accuracy)
            others = {o: getattr(r.config, o) for o in grid if o != k}
            out.append(f"the smallest {name} at which ≥ {THRESHOLD:.0%} of seeds reach 100%: "
                       f"{value_text(v)} ({k100}/{n}, 95% Wilson lower bound "
                       f"{wilson_interval(k100, n)[0]:.2f}"
                       + (f"; with {_values(others)}" if others else "") + ")")
        else:
            pooled = {v: np.concatenate([r.accuracy for r in results
                                         if getattr(r.config, k) == v]) for v in values}
            pooled = {v: a for v, a in pooled.items() if len(a)}
            stats = {v: describe(a) for v, a in pooled.items()}
            ranked = sorted(stats, key=lambda v: -stats[v]["mean"])
            best, rest = ranked[0], ranked[1:]
            over = " over every point" if len(grid) > 1 else ""
            others = "; ".join(f"{value_text(v)} {_ci_text(stats[v])}" for v in rest)
            if rest and not _separated(stats[best], stats[rest[0]]):
                out.append(f"{name}: no value has a clearly higher mean accuracy{over} "
                           f"(the 95% CIs of the best two overlap): {value_text(best)} "
                           f"{_ci_text(stats[best])}; {others}")
            else:
                out.append(f"{name}: {value_text(best)} has the highest mean accuracy{over}, "
                           f"{_ci_text(stats[best])}"
                           + (f" (against {others})" if others else ""))
    return out


def _separated(a: dict, b: dict) -> bool:
    """Do the 95% CIs of two means not overlap (a above b)? One seed has no CI: then a
    higher mean is all there is."""
    if a["n"] < 2 or b["n"] < 2:
        return a["mean"] > b["mean"]
    return a["ci95"][0] > b["ci95"][1]


def _ci_text(s: dict) -> str:
    if s["n"] < 2:
        return f"{100 * s['mean']:.1f}%"
    return f"{100 * s['mean']:.1f}% [{100 * s['ci95'][0]:.1f}–{100 * s['ci95'][1]:.1f}]"


def _values(values: dict) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {value_text(v)}" for k, v in values.items())


def _where(res: Result, grid: dict) -> str:
    return _values(swept(res.config, grid))


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


SETTINGS = [f.name for f in dataclasses.fields(Config) if f.name not in ("name", "note")]


def tidy_rows(results: list[Result], sequence_cell) -> tuple[list[str], list[list]]:
    """sweep.csv: one row per (point, seed), every setting a column, then the metrics.
    ``sequence_cell(seq)`` gives the sequence column (a long one by reference)."""
    starts = list(dict.fromkeys(s for r in results for s in r.generated))
    probe = any(r.probe is not None for r in results)
    header = ["point", "preset"] + SETTINGS + ["replica", "accuracy", "at_100", "loss",
                                               "final_epoch_loss", "diverged_at_epoch"]
    header += ["probe_accuracy"] if probe else []
    header += [f"generation_from_{s}" for s in starts] + ["compile_s", "train_s"]
    rows = []
    for r in results:
        c = r.config
        settings = [sequence_cell(c.sequence) if k == "sequence" else
                    ("" if getattr(c, k) is None else getattr(c, k)) for k in SETTINGS]
        ok100, diverged = at_100(r), r.diverged
        gen = {s: r.generation_ok(s) for s in r.generated}
        for i in range(c.seeds):
            row = [c.name, c.name.split(",")[0]] + settings + [
                i, float(r.accuracy[i]), bool(ok100[i]), float(r.loss[i]),
                float(r.history[i, -1, 0]), diverged.get(i, "")]
            if probe:
                row.append("" if r.probe is None else float(r.probe_accuracy[i]))
            row += [bool(gen[s][i]) if s in gen else "" for s in starts]
            rows.append(row + [r.compile_s, r.train_s])
    return header, rows
