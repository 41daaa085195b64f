"""The ``lstmlab`` command: a thin layer over the engine, records and reports (parse the
options, show what happens, turn errors into one line)."""

from __future__ import annotations

import os
import shlex
import signal
import sys
from pathlib import Path

import click

from . import __version__
from .cli_common import (_compile_cache, _load_run, _own_data, _setting_options, _typed,
                         _typed_option)
from .config import MAIN_RUN, PRESETS, SWEEPABLE, check_applies, configure, option
from .errors import (ConfigError, DataError, KerasError, ModelError, RecordError, error,
                     warn)

# Only the light modules above load at start-up (`lstmlab list` and `--help` never load
# JAX, SciPy, matplotlib or pandas); each command imports what it uses.


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lstmlab")
def main():
    """Learn next-symbol prediction with LSTMs, and see how LSTM state works."""


@main.command("list")
def list_cmd():
    """The named experiments, one line each."""
    for name, c in PRESETS.items():
        print(f"{name:18} {c.listing()} — {c.note}")


@main.command("run")
@click.argument("names", nargs=-1)
@click.option("--sequence", help="Learn this string's symbols instead of A–Z (each "
              "character one symbol; Unicode works).")
@click.option("--text-file", type=click.Path(dir_okay=False),
              help="Learn a UTF-8 text file's characters.")
@_setting_options("run")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default "
              "runs/<UTC timestamp>); an existing one is resumed: finished experiments "
              "with the same settings are not trained again.")
@click.option("--force", is_flag=True, help="With --out: replace finished experiments "
              "whose settings differ (without it, that is an error).")
@click.option("--settle/--no-settle", default=True, show_default=True,
              help="Train more seeds for the experiments of an inconclusive finding, in "
              "planned rounds, until it is conclusive or --max-seeds is reached (intervals "
              "Bonferroni-adjusted for the looks).")
@click.option("--max-seeds", type=int, default=200, show_default=True,
              help="The most seeds settling may train per experiment.")
@click.option("--no-cache", is_flag=True, help="Compile everything afresh, without the "
              "persistent compilation cache (LSTMLAB_CACHE_DIR, default the user cache "
              "directory).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--verbose", "-v", is_flag=True, help="Print the notebook's epoch log.")
def run_cmd(names, quiet, verbose, out, force, text_file, settle, max_seeds, no_cache,
            **overrides):
    """Run named experiments (all presets when none is named) as the notebook runs them,
    write a run directory with records, models and a report, and check the tutorial's
    claims. Any option overrides the preset's setting.
    """
    from . import console, engine, job
    job.check_max_seeds(max_seeds)
    if quiet and verbose:
        raise ConfigError("--quiet and --verbose exclude each other; choose one")
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise ConfigError(f"unknown experiment {unknown[0]!r}; allowed: {', '.join(PRESETS)}")
    changes = _typed({k: v for k, v in overrides.items() if v is not None})
    changes = _own_data(changes, text_file)
    check_applies([PRESETS[name] for name in names or MAIN_RUN], changes, _typed_option)
    cfgs = job.preset_configs(names, changes)
    datasets = engine.prepare_all(cfgs)  # every error before any training
    _compile_cache(no_cache)
    with engine.run_directory(out) as run_dir, _interrupts(run_dir, out, "experiment"):
        judged = job.judge_run(run_dir, cfgs, datasets, force=force, settle=settle,
                               max_seeds=max_seeds, observer=console.RunView(quiet, verbose),
                               settle_observer=console.SettleView(quiet, False))
    with _reporting(run_dir):
        console.summary(judged.results)
        from . import kinds
        if any(kinds.of(c).claims for c in cfgs):  # the claims rest on the tutorial's
            console.findings(judged.found, judged.design)
        with console.Steps(quiet) as step:
            paths, pages = job.write_pages(run_dir, judged, step)
    if "stateful" in pages:
        console.out.print(f"Explorer of the stateful model (type, reset, watch the gates): "
                          f"{run_dir / pages['stateful']}", markup=False)
    for c in cfgs:
        if c.name in pages and (words := kinds.of(c).explorer_words):
            console.out.print(f"Explorer of {c.name}'s {words}: {run_dir / pages[c.name]}",
                              markup=False)
    console.out.print(f"Run directory: {run_dir}  (report: {paths[1]})", markup=False)


class _Stopped:
    """While active, SIGTERM raises engine.Interrupted where no training loop is listening
    (between settling rounds, while the report is drawn), as Ctrl-C raises
    KeyboardInterrupt; the engine's StopRequest takes both over while it trains. On
    either, ``said(signum)`` prints what was kept and the process exits 128 + the signal's
    number; every other exception goes on (``failed`` may handle it first)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def __enter__(self):
        from .engine import Interrupted

        def handler(signum, frame):
            raise Interrupted(signum)
        self._old = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, kind, e, tb):
        from .engine import Interrupted
        signal.signal(signal.SIGTERM, self._old)
        if kind is not None and issubclass(kind, OSError):
            self.failed(e)
        if kind is None or not issubclass(kind, (Interrupted, KeyboardInterrupt)):
            return False
        signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
        self.said(signum, e)
        sys.exit(128 + signum)

    def kept(self) -> int:
        """Finished experiments the directory holds."""
        return sum(1 for _ in self.run_dir.glob("*/record.json"))

    def failed(self, e: OSError) -> None:
        """An OSError (a full disk): left to the entry point's one line by default."""

    def said(self, signum: int, e) -> None:
        raise NotImplementedError


class _interrupts(_Stopped):
    """Ctrl-C or SIGTERM during a run: what finished is kept; say so, name the command
    that resumes. A full disk likewise, with exit code 2."""

    def __init__(self, run_dir: Path, out, what: str):
        super().__init__(run_dir)
        self.out, self.what = out, what

    def _again(self) -> str:
        return shlex.join(["lstmlab", *sys.argv[1:]]
                          + ([] if self.out else ["--out", str(self.run_dir)]))

    def failed(self, e: OSError) -> None:
        error(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}; {self.kept()} "
              f"finished {self.what}(s) kept in {self.run_dir}; when it is fixed, resume "
              f"with: {self._again()}")
        sys.exit(2)

    def said(self, signum: int, e) -> None:
        from .engine import Interrupted
        # outside a training loop (between settling rounds) nothing counted them: the
        # directory holds what is kept
        n = (len(e.finished) if isinstance(e, Interrupted) else 0) or self.kept()
        error(f"interrupted ({signal.Signals(signum).name}); {n} finished "
              f"{self.what}(s){self._epochs()} kept in {self.run_dir}; resume with: "
              f"{self._again()}")

    def _epochs(self) -> str:
        """", and char-rnn's last finished epoch (3 of its 50)" for every stream
        experiment whose training a checkpoint holds."""
        from . import kinds, records
        parts = []
        for p in sorted((self.run_dir / records.CHECKPOINTS).glob("*.npz")):
            if (k := kinds.finished_epochs(p)) is not None:
                parts.append(f"{p.name.rsplit('.', 2)[0]}'s "
                             + ("epoch 1" if k == 1 else f"epochs 1–{k}") if k else "")
        parts = [p for p in parts if p]
        return f" and {', '.join(parts)}" if parts else ""


class _reporting(_Stopped):
    """Ctrl-C or SIGTERM while the findings and the report are written: every experiment
    is already saved; say so and name the command that writes the report."""

    def said(self, signum: int, e) -> None:
        error(f"interrupted ({signal.Signals(signum).name}) while writing the report; every "
              f"experiment is kept in {self.run_dir}; write the report with: "
              f"{shlex.join(['lstmlab', 'report', str(self.run_dir)])}")


@main.command("sweep")
@click.argument("preset")
@click.option("--sequence", help="Learn this string's symbols instead of A–Z.")
@click.option("--text-file", type=click.Path(dir_okay=False),
              help="Learn a UTF-8 text file's characters.")
@_setting_options("sweep")
@click.option("--out", type=click.Path(file_okay=False), help="Sweep directory (default "
              "runs/<UTC timestamp>); an existing one is resumed: finished points are not "
              "trained again, a changed grid trains only its new points.")
@click.option("--force", is_flag=True, help="With --out: replace finished points whose "
              "other settings differ.")
@click.option("--save-models", is_flag=True, help="Save every seed's model of every point "
              "(for predict, generate, models); without it only records are kept.")
@click.option("--ray", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
              help="Train the points as Ray tasks: alone, on a new local Ray cluster; with "
              "an address (auto, HOST:PORT, ray://HOST:PORT), on that cluster. Needs the "
              "extra: pip install \"lstmlab[ray]\".")
@click.option("--workers", type=int, help="Groups the seeds of a point are split into, "
              "each one compiled call, as many at once as there are cores (default on the "
              "CPU: groups of at most 5 seeds, a text or memory task's one per core; one on "
              "an accelerator).")
@click.option("--no-cache", is_flag=True, help="Compile everything afresh, without the "
              "persistent compilation cache.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--verbose", "-v", is_flag=True, help="A line per point as it finishes.")
def sweep_cmd(preset, sequence, text_file, out, force, save_models, ray, workers, no_cache,
              quiet, verbose, **lists):
    """Train PRESET at every point of a grid of settings, many seeds per point, and say
    what the numbers show: e.g. ``lstmlab sweep timestep-window --units 1,2,4,8 --seeds
    50``. Options with one value are fixed; the grid is the product of the lists."""
    from . import console, engine
    from . import grid as grid_mod, sweeps as sweep_mod
    if quiet and verbose:
        raise ConfigError("--quiet and --verbose exclude each other; choose one")
    if preset not in PRESETS:
        raise ConfigError(f"unknown experiment {preset!r}; allowed: {', '.join(PRESETS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers {workers} is not allowed; allowed: an integer ≥ 1")
    if ray is not None:
        from .cluster import require
        require()
    grid, fixed = {}, {}
    for setting, text in lists.items():
        if text is None:
            continue
        if setting not in SWEEPABLE:  # a single value (seeds per point, the order test)
            fixed.update(_typed({setting: text}))
            continue
        values = grid_mod.parse_values(setting, text)
        if len(values) > 1:
            grid[setting] = values
        else:
            fixed[setting] = values[0]
    if sequence is not None:
        fixed["sequence"] = sequence
    fixed = _own_data(fixed, text_file)
    check_applies([PRESETS[preset]], {**fixed, **grid}, lambda k, v: option(k))
    base = configure(PRESETS[preset], fixed)
    if not grid:
        raise ConfigError("nothing to sweep: give at least one setting a comma list of "
                          "values, e.g. --units 4,8,16")
    prepared = sweep_mod.prepare(base, grid)  # every impossible point, before training
    _compile_cache(no_cache)
    view = console.SweepView(quiet, verbose)
    try:
        with engine.run_directory(out) as run_dir, _interrupts(run_dir, out, "point"):
            result = sweep_mod.run(base, grid, run_dir, force=force, ray=ray,
                                   workers=workers, save_models=save_models, observer=view,
                                   prepared=prepared)
    finally:
        view.close()
    from . import kinds
    console.sweep_results(grid_mod.point_rows(result.results, grid), result.sentences,
                          result.failed, note=kinds.of(base).sweep_note)
    paths = result.paths
    console.out.print(f"Sweep directory: {run_dir}  (report: {paths['report_html']}; "
                      f"table: {paths['csv']})", markup=False)
    if result.failed:
        sys.exit(1)


@main.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the run's findings as JSON "
              "(what findings.json holds) and write nothing.")
def report_cmd(run_dir, as_json):
    """Rebuild report.md and report.html of a run or a sweep from its records, without
    training (a sweep's sweep.csv too; a run's explorer pages too)."""
    from . import console, findings, records
    run_dir = Path(run_dir)
    if not as_json:  # a measurement or page made again compiles what the run compiled
        _compile_cache()
    from .sweeps import SWEEP_JSON
    if (run_dir / SWEEP_JSON).is_file():
        if as_json:
            raise ConfigError(f"{run_dir} is a sweep: --json prints a run's findings, and a "
                              f"sweep has none (its numbers are in sweep.csv)")
        from . import grid, sweeps
        records.ensure_writable(run_dir)
        s = sweeps.load(run_dir)
        for line in s.damaged:
            warn(f"{line}; left out")
        sweeps.write_files(run_dir, s.base, s.grid, s.results)
        from . import kinds
        console.sweep_results(grid.point_rows(s.results, s.grid), s.sentences, {},
                              note=kinds.of(s.base).sweep_note)
        console.out.print(f"Wrote {s.paths['report_md']}, {s.paths['report_html']} and "
                          f"{s.paths['csv']}", markup=False)
        return
    results = _load_run(run_dir)
    from . import settle
    # judged as the run judged them: by the strictest design it or its records hold
    looks = settle.strictest(results, records.settle_looks(run_dir))
    with console.Steps() as step:  # the unit claims read every seed's model: seconds
        step("judging the claims")
        found = findings.from_results(results, settle.level(looks))
    design = settle.design(looks) if looks else ""
    if as_json:
        from .files import dumps
        click.echo(dumps(records.findings_json(found, design)))
        return  # read only: --json opens nothing for writing
    records.ensure_writable(run_dir)
    records.write_findings(run_dir, found, design)
    # results.json and the CSVs too: a run killed before its end never wrote them
    records.write_run_files(run_dir, results, config=False,
                            settle_looks=None if isinstance(looks, settle.Taken) else looks)
    from . import job
    with console.Steps() as step:  # the same pages as `lstmlab run` writes
        paths, pages = job.write_pages(run_dir, job.Judged(results, results, found, design),
                                       step)
    for r in results:  # what an older record lacked was measured now: kept from now on
        if r.params is not None:
            records.keep_analyses(run_dir, r)
    if any(r.kind.claims for r in results):  # the claims rest on the tutorial's windows
        console.findings(found, design)
    else:
        console.summary(results)
    console.out.print(f"Wrote {paths[0]} and {paths[1]}"
                      + (f" and {len(pages)} explorer page(s)" if pages else ""), markup=False)


def _out_of_memory(e: Exception) -> bool:
    """An accelerator or host allocation failure (XLA reports RESOURCE_EXHAUSTED)."""
    return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in str(e) or \
        "Out of memory" in str(e)


from . import cli_models  # noqa: E402  (its commands, on this group)

for _command in (cli_models.predict_cmd, cli_models.generate_cmd, cli_models.explore_cmd, cli_models.units_cmd, cli_models.models_cmd, cli_models.import_keras_cmd, cli_models.export_keras_cmd, cli_models.check_cmd):
    main.add_command(_command)


def entry() -> None:
    """Console entry point: every user error is one line on stderr and exit code 2."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        error(e.format_message())
        sys.exit(2)
    except (ConfigError, DataError, ModelError, KerasError, RecordError) as e:
        error(str(e))
        sys.exit(2)
    except OSError as e:  # a full disk, a permission: what failed, not a traceback
        error(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
        sys.exit(2)
    except (KeyboardInterrupt, click.exceptions.Abort):
        error("interrupted")
        sys.exit(130)
    except Exception as e:
        if not _out_of_memory(e):
            raise
        error("out of memory: this run does not fit; use fewer seeds, units or "
                      "samples (" + str(e).strip().splitlines()[0][:160] + ")")
        sys.exit(2)


def process() -> None:
    """The ``lstmlab`` command as a process: :func:`entry`, then, once JAX has run, leave
    without the interpreter's teardown — freeing XLA's compiled programs and threads took
    0.4 s after every command (docs/speed.md), longer than some commands' own work. Every
    file is written and closed by then; the compilations started ahead are waited for (JAX
    writes its cache files in place); with Ray loaded the teardown is Ray's, so it runs."""
    try:
        entry()
        code = 0
    except SystemExit as e:
        code = e.code
    if "jax" not in sys.modules or "ray" in sys.modules:
        sys.exit(code)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what sys.exit("words") prints
        code = 1
    from .programs import wait_ahead
    wait_ahead()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
