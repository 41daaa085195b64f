"""A sweep: one preset over a grid of settings, many seeds per point, run by the engine
into one directory that holds ``sweep.json`` (the grid and every setting), one record per
point (the format ``lstmlab run`` writes), ``sweep.csv`` (tidy: a row per point and seed)
and the report. ``lstmlab.sweep(...)`` and ``lstmlab sweep`` both end here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from . import engine, grid as grid_mod, record_io, records, report

from .config import SWEEPABLE, Config, configure, with_defaults
from .errors import ConfigError, RecordError
from .experiments import resolve
from .results import plain
from .kinds import ExperimentResult as Result
from .files import atomic_write, dumps, read_bytes

SWEEP_JSON, SWEEP_CSV = "sweep.json", "sweep.csv"


@dataclass
class Sweep:
    """A finished (or interrupted) sweep: its directory, grid and per-point results.
    ``table`` is one row per point, ``data`` one row per (point, seed) — pandas
    DataFrames; ``sentences`` what the numbers say per swept setting."""

    dir: Path
    base: Config
    grid: dict
    results: list[Result]
    failed: dict = field(default_factory=dict)   # point → why its Ray task failed twice
    damaged: list = field(default_factory=list)  # records that could not be read (load)

    @property
    def paths(self) -> dict[str, Path]:
        return {name: self.dir / f for name, f in (
            ("sweep_json", SWEEP_JSON), ("csv", SWEEP_CSV), ("report_md", "report.md"),
            ("report_html", "report.html"))}

    @cached_property
    def table(self):
        import pandas as pd
        rows = [{**grid_mod.swept(r.config, self.grid), "point": r.config.name,
                 **r.sweep_numbers()} for r in self.results]
        return pd.DataFrame(rows)

    @cached_property
    def data(self):
        import pandas as pd
        header, rows = tidy(self.dir, self.results)
        return pd.DataFrame(rows, columns=header)

    @property
    def sentences(self) -> list[str]:
        return grid_mod.sentences(self.results, self.grid) if self.results else []


def tidy(run_dir: Path, results: list[Result]):
    """sweep.csv's header and rows (a long sequence by its stored file)."""
    def cell(seq):
        ref = record_io.short_sequence(seq)
        return ref if isinstance(ref, str) else ref["file"]
    return grid_mod.tidy_rows(results, cell)


def write_files(run_dir: Path, base: Config, grid: dict, results: list[Result]) -> None:
    """sweep.csv and the report: written once, after the points (or at an interrupt)."""
    import pandas as pd
    header, rows = tidy(run_dir, results)
    atomic_write(run_dir / SWEEP_CSV, pd.DataFrame(rows, columns=header)
                 .to_csv(index=False, lineterminator="\n"))
    report.write_sweep(run_dir, base, grid, results, grid_mod.sentences(results, grid))


def prepare(base: Config, grid: dict) -> tuple[list[Config], list]:
    """The grid's points and their data; every impossible point is named in one line
    before anything trains."""
    cfgs = grid_mod.points(base, grid)
    return cfgs, engine.prepare_all(cfgs, what="grid points")


def run(base: Config, grid: dict, run_dir: Path, *, force: bool = False,
        ray: str | None = None, workers: int | None = None, save_models: bool = False,
        observer: engine.Observer | None = None, prepared=None) -> Sweep:
    """Run (or resume) the sweep of ``base`` over ``grid`` in ``run_dir``. Raises
    engine.Interrupted on Ctrl-C, after writing the files of the finished points."""
    cfgs, datasets = prepared or prepare(base, grid)

    def files(results, everything):  # this grid's points only
        write_files(run_dir, base, grid, results)

    def describe():  # under the run's lock: the grid of the run that holds it
        info = {"preset": base.name, "grid": grid,
                "settings": records.config_json(run_dir, base),
                "points": [c.name for c in cfgs]}
        old, new = _described(run_dir), json.loads(dumps(info))
        # the same sweep with more values of its settings resumes; any other needs --force
        grows = old is not None and all(old[k] == new[k] for k in ("preset", "settings")) \
            and set(old["grid"] or {}) == set(new["grid"]) \
            and set(old["points"] or []) <= set(new["points"])
        if old is not None and not grows and not force:
            diff = [f"preset {old['preset']} → {new['preset']}"] * (old["preset"] != new["preset"])
            diff += engine.settings_diff(old["settings"] or {}, new["settings"])
            if set(old["grid"] or {}) != set(new["grid"]):
                diff.append(f"swept {', '.join(old['grid'] or {}) or 'nothing'} → "
                            f"{', '.join(new['grid'])}")
            raise ConfigError(f"{run_dir} holds another sweep ("
                              + ("; ".join(diff) or "other points")
                              + "); add --force to make it this one, or choose another --out")
        atomic_write(run_dir / SWEEP_JSON, dumps({**info, **records.environment()}))

    outcome = engine.execute(run_dir, cfgs, datasets, force=force, observer=observer,
                             save_models=save_models, workers=workers,
                             chunk=engine.common_chunk(cfgs), ray=ray, write_files=files,
                             on_locked=describe, kind="sweep")
    return Sweep(run_dir, base, grid, outcome.results, outcome.failed)


def sweep(experiment: str | Config = "timestep-window", *, out=None, force: bool = False,
          ray: str | bool | None = None, workers: int | None = None,
          save_models: bool = False, observer: engine.Observer | None = None,
          **settings) -> Sweep:
    """Sweep a preset: a list (or tuple) value is swept, any other value is fixed, e.g.
    ``lstmlab.sweep("timestep-window", units=[1, 2, 4, 8], seeds=50)``. Every point trains
    its seeds as one compiled program, exactly as ``lstmlab.run`` does. ``ray``: True (or
    "") for a local Ray cluster, or an address. Returns a :class:`Sweep` (``.table``, ``.data``,
    ``.sentences``, ``.paths``)."""
    if not (ray is None or isinstance(ray, (str, bool))):
        raise ConfigError(f"ray {ray!r} is not allowed; allowed: True or \"\" (a local "
                          f"cluster), an address such as \"HOST:PORT\", or None")
    ray = "" if ray is True else None if ray is False else ray
    # any collection of values is swept (a list, a tuple, a numpy array, a set in sorted
    # order); a string or a single number is fixed. numpy numbers become Python ones.
    swept = lambda v: isinstance(v, (list, tuple, set, frozenset, range)) or \
        isinstance(v, np.ndarray) and v.ndim == 1  # noqa: E731
    grid = {k: _distinct(plain(x) for x in (grid_mod.sorted_values(sorted(v, key=repr))
                                            if isinstance(v, (set, frozenset)) else v))
            for k, v in settings.items() if swept(v)}
    for k, v in grid.items():
        if k not in SWEEPABLE:
            raise ConfigError(f"{k} cannot be swept; allowed: {', '.join(SWEEPABLE)}")
        if not v:
            raise ConfigError(f"{k}: an empty list of values")
    fixed = {k: plain(v) for k, v in settings.items() if k not in grid}
    base = resolve(experiment, **fixed)
    # the defaults that follow from the user's data, where they apply (configure)
    base = configure(base, {k: v for k, v in with_defaults(fixed).items() if k not in fixed})
    prepared = prepare(base, grid)  # every impossible point named before a directory
    with engine.run_directory(out) as run_dir:
        return run(base, grid, run_dir, force=force, ray=ray, workers=workers,
                   save_models=save_models, observer=observer, prepared=prepared)


def _described(run_dir: Path) -> dict | None:
    """The grid sweep.json describes (preset, grid, settings, points), or None."""
    try:
        info = json.loads(read_bytes(run_dir / SWEEP_JSON, 16 * 2**20, "sweep.json"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    return {k: info.get(k) for k in ("preset", "grid", "settings", "points")}


def _distinct(values) -> list:
    """The values in order, repeats dropped (by ==: a wrong value may be unhashable, and is
    then refused by the settings' validation, not here)."""
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def load(run_dir: Path) -> Sweep:
    """A sweep directory's grid and finished points, from sweep.json and the records
    (``lstmlab report`` on a sweep). Damaged points are left out."""
    try:
        info = json.loads(read_bytes(run_dir / SWEEP_JSON, 16 * 2**20, "sweep.json"))
        settings = dict(info["settings"])
        settings["sequence"] = records.read_sequence(run_dir, settings["sequence"])
        base = Config(**settings)
        grid = {k: list(v) for k, v in info["grid"].items()}
        names = [c.name for c in grid_mod.points(base, grid)]
    except (OSError, KeyError, TypeError, ValueError, ConfigError) as e:
        raise RecordError(f"{run_dir / SWEEP_JSON}: unusable ({e})") from None
    results, damaged = records.load_run(run_dir, must_exist=True)
    by_name = {r.config.name: r for r in results}
    return Sweep(run_dir, base, grid, [by_name[n] for n in names if n in by_name],
                 damaged=damaged)
