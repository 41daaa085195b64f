"""The main job — what ``lstmlab run`` does — as one library call: train the presets (or
those named) in a run directory through the engine, settle the inconclusive findings with
more seeds in planned rounds, judge the tutorial's claims, and write the records, the
report and the explorer pages. ``lstmlab.reproduce()`` in a notebook; the CLI calls the
same two phases (:func:`judge_run`, :func:`write_pages`) and only parses and prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import (drawing, engine, explorer, findings, measure, records, report,
               settle as settle_mod)
from .config import MAIN_RUN, PRESETS, Config, check_applies, configure
from .errors import ConfigError
from .kinds import ExperimentResult as Result
from .results import plain

MAX_SEEDS = 200  # settling's default cap per experiment


@dataclass
class Reproduction:
    """What the main job produced: the run directory; this invocation's experiments (with
    every seed settling gave them) and every finished one of the directory; the findings,
    the settling design in words ("" without settling), the report's paths and the
    explorer pages (experiment → file name)."""

    run_dir: Path
    results: list[Result]
    everything: list[Result]
    findings: list
    design: str = ""
    paths: tuple = ()
    pages: dict = field(default_factory=dict)

    @property
    def verdicts(self) -> dict[str, str]:
        """Claim id → verdict."""
        return {f.id: f.verdict for f in self.findings}


def configs(names=None, **settings) -> list[Config]:
    """The presets ``names`` (all when None) with ``settings`` applied where they apply;
    ConfigError for an unknown name or a setting that applies to none of them."""
    asked = names
    if names is None:
        names = list(MAIN_RUN)
    elif isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"names {names!r} is not allowed; allowed: None (every preset), a "
                          f"preset name or a list of them ({', '.join(PRESETS)})")
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise ConfigError(f"unknown experiment {unknown[0]!r}; allowed: {', '.join(PRESETS)}")
    changes = {k: plain(v) for k, v in settings.items()}
    bad = [k for k in changes if k not in Config.__dataclass_fields__ or k in ("name", "note")]
    if bad:
        raise ConfigError(f"unknown setting {bad[0]!r}; allowed: the fields of lstmlab.Config")
    check_applies([PRESETS[n] for n in names], changes)
    return preset_configs(None if asked is None else names, changes)


def preset_configs(names, changes: dict) -> list[Config]:
    """The presets ``names`` (None or empty: the main job's) with ``changes`` (checked)
    applied. The main job judges the claims on a base seed that did not shape them
    (findings.CONFIRMATION_SEED) unless a seed is given; a preset named alone keeps its
    own (the tutorial's experiment as it is)."""
    confirm = not names and "seed" not in changes
    return [configure(PRESETS[n], changes | (
        {"seed": findings.CONFIRMATION_SEED}
        if confirm and PRESETS[n].seed in findings.SHAPED_SEEDS else {}))
        for n in names or MAIN_RUN]


def check_max_seeds(max_seeds) -> None:
    if not (isinstance(plain(max_seeds), int) and not isinstance(max_seeds, bool)
            and 1 <= max_seeds <= 10_000):
        raise ConfigError(f"max seeds {max_seeds!r} is not allowed; allowed: an integer from "
                          f"1 to 10000")


@dataclass
class Judged:
    """The first phase's outcome: this invocation's results, every finished experiment
    (settled ones with all their seeds), the findings and the design in words; the
    report's pictures being drawn meanwhile (``drawing.Ahead``; write_pages waits)."""

    results: list[Result]
    everything: list[Result]
    found: list
    design: str
    ahead: drawing.Ahead | None = None


def judge_run(run_dir: Path, cfgs: list[Config], datasets: list, *, force: bool = False,
              settle: bool = True, max_seeds: int = MAX_SEEDS,
              observer: engine.Observer | None = None,
              settle_observer: engine.Observer | None = None) -> Judged:
    """Train ``cfgs`` in ``run_dir`` (resuming what finished there), settle the
    inconclusive findings (unless ``settle`` is False) and judge the claims; the run's
    files and findings.json are written, and the report's pictures of each experiment
    saved are drawn meanwhile in the background. Interrupts raise engine.Interrupted."""
    ahead = drawing.Ahead(run_dir)
    try:
        return _judge(run_dir, cfgs, datasets, force, settle, max_seeds,
                      observer or engine.Observer(), settle_observer, ahead)
    except BaseException:
        ahead.stop()
        raise


def _judge(run_dir, cfgs, datasets, force, settle, max_seeds, obs, settle_observer,
           ahead) -> Judged:

    def files(results, everything):
        records.write_run_files(run_dir, everything, cfgs)
    outcome = engine.execute(run_dir, cfgs, datasets, force=force, observer=obs,
                             write_files=files, saved=ahead.saved)
    everything, design = outcome.everything, ""
    if settle:
        looks = settle_mod.plan(min(c.seeds for c in cfgs), max_seeds)
        if len(looks) == 1 and looks[0] >= settle_mod.FEWEST:
            obs.warn(f"max seeds {max_seeds} is not above the {looks[0]} seeds asked for: no "
                     f"finding will be settled")
        # the seeds each experiment of the directory was asked for (one run earlier in it
        # may hold an experiment a finding here rests on)
        asked = {r.config.name: r.asked_seeds or r.config.seeds for r in everything}

        def more_seeds(bigger):  # one settling round, through the same engine
            return engine.execute(run_dir, bigger, engine.prepare_all(bigger),
                                  observer=settle_observer, asked=asked, looks=looks,
                                  saved=ahead.saved).results
        settled, found = settle_mod.settle(everything, looks, more_seeds)
        everything = records.in_order(settled)
        judged = settle_mod.strictest(everything, looks)
    else:
        # seeds gathered by looking are judged at their design's level, settling or not
        judged = settle_mod.strictest(everything)
        found = findings.from_results(everything, settle_mod.level(judged))
    if judged:
        # with the design (a plan; looks taken by hand are kept by the records)
        records.write_run_files(run_dir, everything, cfgs,
                                None if isinstance(judged, settle_mod.Taken) else judged)
        design = settle_mod.design(judged)
    records.write_findings(run_dir, found, design)
    latest = {r.config.name: r for r in everything}  # settled: with all their seeds
    return Judged([latest.get(r.config.name, r) for r in outcome.results], everything,
                  found, design, ahead)


def write_pages(run_dir: Path, judged: Judged, step=None) -> tuple[tuple, dict]:
    """The explorer pages and the report of a judged run: (report paths, pages);
    ``step(words)`` is told each step (a progress display: this takes seconds)."""
    step = step or (lambda what: None)
    if judged.ahead is not None:
        try:  # the pictures drawn ahead, and their keys, are in the directory from here on
            judged.ahead.finish()
        finally:
            judged.ahead.stop()
    step("writing the explorer pages")
    pages = explorer.for_run(run_dir, judged.everything)
    for name in records.left_out(run_dir, judged.everything):
        (run_dir / explorer.file_name(name)).unlink(missing_ok=True)  # no stale page
    studies = measure.studies(judged.everything, step)
    step("drawing the report")
    paths = report.write(run_dir, judged.everything, judged.found, judged.design, pages,
                         studies)
    return paths, pages


def reproduce(names=None, *, out: str | Path | None = None, force: bool = False,
              settle: bool = True, max_seeds: int = MAX_SEEDS,
              observer: engine.Observer | None = None, quiet: bool = False,
              **settings) -> Reproduction:
    """Do what ``lstmlab run`` does: train the presets ``names`` (all when None) with any
    setting overridden (``seeds=20``, ``epochs=50``; where it applies), in ``out`` (a new
    ``runs/<timestamp>`` when None; an existing run directory is resumed), settle, judge
    the tutorial's claims, write the records, report and explorer pages. What it does is
    shown as it goes (progress bars, a spinner while the report is written, in a terminal
    or a notebook) unless ``quiet``; an ``observer`` replaces the training's display.

    >>> job = lstmlab.reproduce(["one-char", "feature-window"], seeds=5, epochs=50,
    ...                         settle=False)                            # doctest: +SKIP
    >>> job.verdicts                                                      # doctest: +SKIP
    """
    check_max_seeds(max_seeds)
    cfgs = configs(names, **settings)
    datasets = engine.prepare_all(cfgs)  # every error before any training
    from . import console  # the display: terminal or notebook
    if observer is None and not quiet:
        observer = console.Brief()
    with engine.run_directory(out) as run_dir:
        judged = judge_run(run_dir, cfgs, datasets, force=force, settle=settle,
                           max_seeds=max_seeds, observer=observer, settle_observer=None)
        with console.Steps(quiet) as step:
            paths, pages = write_pages(run_dir, judged, step)
    return Reproduction(run_dir, judged.results, judged.everything, judged.found,
                        judged.design, paths, pages)
