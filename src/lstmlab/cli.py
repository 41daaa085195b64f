"""The ``lstmlab`` command: a thin layer over the engine, records and reports (parse the
options, show what happens, turn errors into one line)."""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path

import click

from . import __version__
from .config import (LIST_OF, PRESETS, SETTINGS, SWEEPABLE, UNIT_THRESHOLD,
                     allowed, check_applies, configure, option, read, MAIN_RUN)
from .errors import (ConfigError, DataError, KerasError, ModelError, RecordError, error,
                     shown, warn)

# Only the light modules above load at start-up (`lstmlab list` and `--help` never load
# JAX, SciPy, matplotlib or pandas); each command imports what it uses.


_METAVAR = {"int": "N", "count": "N", "float": "X", "batch": "N|all", "str": "TEXT"}


def _setting_options(command: str):
    """The options of ``command`` ("run" or "sweep"), one per setting of the table
    (config.SETTINGS): in ``run`` a value of its kind (a flag pair for a yes/no setting);
    in ``sweep`` a comma list of values for every setting that can be swept."""
    def decorate(f):
        for name, st in reversed(SETTINGS.items()):
            if not st.option:
                continue
            where = st.where
            if command == "sweep" and st.sweep:
                values = ", ".join(st.choices) if st.choices else LIST_OF[st.kind]
                f = click.option(option(name), name, metavar="V1,V2,…",
                                 help=f"{st.help}{where} A comma list of {values}.")(f)
            elif st.kind == "bool":
                f = click.option(f"{option(name)}/--no-{option(name)[2:]}", name,
                                 default=None, help=st.help + where)(f)
            else:
                metavar = "|".join(st.choices) if st.choices else _METAVAR[st.kind]
                limits = "" if st.kind == "str" else f" Allowed: {allowed(st, False)}."
                f = click.option(option(name), name, metavar=metavar,
                                 help=f"{st.help}{where}{limits}")(f)
        return f
    return decorate


def _typed(changes: dict) -> dict:
    """Settings as typed on the command line, read into their kinds (ConfigError naming
    the value and what is allowed); flags are already booleans."""
    out = {}
    for name, value in changes.items():
        if name not in SETTINGS or not isinstance(value, str) or SETTINGS[name].kind == "str":
            out[name] = value
            continue
        st = SETTINGS[name]
        try:
            out[name] = read(name, value)
        except ValueError:
            raise ConfigError(f"{st.label} {shown(value)} is not allowed; allowed: "
                              f"{allowed(st, False)}") from None
    return out


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
    cfgs = [configure(PRESETS[name], changes) for name in names or MAIN_RUN]
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


def _compile_cache(off: bool = False) -> None:
    """Turn on JAX's persistent compilation cache (lstmlab.cache) unless ``off``."""
    if off:
        return
    from . import cache
    if cache.enable() is None:
        warn(f"cannot create the compilation cache {cache.directory()}; compiling without "
             f"it (set {cache.ENV} to move it)")


def _own_data(changes: dict, text_file) -> dict:
    """--text-file read into the sequence."""
    from . import data
    if text_file is not None:
        if "sequence" in changes:
            raise ConfigError("give --sequence or --text-file, not both")
        changes["sequence"] = data.read_text_file(text_file)
    return changes


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
              "each one compiled call, as many at once as there are cores (default: groups "
              "of at most 5 seeds on the CPU; one on an accelerator).")
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


def _typed_option(setting: str, value) -> str:
    """An option as the user typed it: --no-mask for mask False."""
    return f"--no-{option(setting)[2:]}" if value is False else option(setting)


def _load_run(run_dir: Path) -> list:
    """A run's finished experiments; damaged ones are named in a warning and left out."""
    from . import records
    results, damaged = records.load_run(run_dir, must_exist=True)
    for line in damaged:
        warn(f"{line}; left out")
    return results


@main.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the run's findings as JSON "
              "(what findings.json holds) and write nothing.")
def report_cmd(run_dir, as_json):
    """Rebuild report.md and report.html of a run or a sweep from its records, without
    training (a sweep's sweep.csv too; a run's explorer pages too)."""
    from . import console, findings, records
    run_dir = Path(run_dir)
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
    records.write_run_files(run_dir, results, settle_looks=looks, config=False)
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


def _is_run(p: Path) -> bool:
    """A run (or sweep) directory: experiments with records in it."""
    return any(p.glob("*/record.json"))


def _experiments(run_dir: Path) -> list[str]:
    return sorted(r.parent.name for r in run_dir.glob("*/record.json")
                  if not r.parent.name.startswith("."))


def _model(path: str, experiment: str | None, replica: int):
    """A model directory, or a run directory with --experiment and --replica."""
    from .artifacts import load
    p = Path(path)
    if experiment is not None:
        if not (p / experiment).is_dir() and _is_run(p):
            raise ModelError(f"{path} has no experiment {experiment!r}; it has: "
                             f"{', '.join(_experiments(p))}")
        p = p / experiment / str(replica)
        if not p.exists():
            from .records import has_models
            saved = has_models(p.parent)
            if saved is False:
                raise ModelError(f"{experiment} was saved without its models (a sweep keeps "
                                 f"them only with --save-models)")
            # with replica 0 there, another replica is one the run lacks: load() names it
            if saved and not (p.parent / "0").exists():
                raise ModelError(f"{p}: the model directory is missing, though the record "
                                 f"says the models were saved: this run directory is "
                                 f"damaged (lstmlab run {experiment} --out DIR trains it "
                                 f"again)")
    elif (p / "record.json").exists():
        p = p / str(replica)
    elif not (p / "model.json").exists() and _is_run(p):
        raise ModelError(f"{path} is a run directory; choose a model with --experiment NAME "
                         f"(and --replica I)")
    return load(p)


model_options = [
    click.argument("model"),
    click.option("--experiment", help="With a run directory: the experiment's model."),
    click.option("--replica", type=int, default=0, show_default=True,
                 help="With a run directory: which seed's model."),
]


def with_model_options(f):
    for add in reversed(model_options):
        f = add(f)
    return f


@main.command("predict")
@with_model_options
@click.argument("inputs", nargs=-1, required=True)
@click.option("--top", type=int, default=3, show_default=True, help="Probabilities shown.")
def predict_cmd(model, experiment, replica, inputs, top):
    """Predict the next symbol after each INPUT, with the top-k probabilities; say when
    the model never saw such an input in training."""
    from . import data
    if top < 1:
        raise ConfigError(f"top {top} is not allowed; allowed: an integer ≥ 1")
    _compile_cache()
    m = _model(model, experiment, replica)
    answers = [(text, m.predict_proba(text)) for text in inputs]  # all errors first
    for text, proba in answers:
        best = ", ".join(f"{data.quoted(s)} {p:.3f}" for s, p in list(proba.items())[:top])
        click.echo(f"{data.show(text)} -> {data.show(next(iter(proba)))}   ({best})")
        note = m.unseen(text)
        if note:
            click.echo(f"  note: {note}")


@main.command("generate")
@with_model_options
@click.option("--start", help="Symbols to start from (a stateful model reads them from a "
              "reset: its state is warmed up on them).")
@click.option("--prime", help="The same as --start (char-rnn's name for it); give one.")
@click.option("--length", type=int, default=25, show_default=True,
              help="Symbols to generate.")
@click.option("--temperature", type=float, default=0.0, show_default=True,
              help="0: the most likely symbol each time (greedy); above 0: each drawn from "
              "p^(1/T), renormalised (1: the model's probabilities; below 1: more "
              "conservative).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the draws (with --temperature above 0).")
@click.option("--raw/--visible", default=None, help="Print the symbols as they are (spaces, "
              "line ends), or with invisible ones made visible (default: as they are for a "
              "text model, trained as char-rnn; visible for the others).")
def generate_cmd(model, experiment, replica, start, prime, length, temperature, seed, raw):
    """Generate symbols: a stateful model carries its state, a window model slides its
    window; greedy, or drawn with a temperature."""
    from . import data
    if start is not None and prime is not None:
        raise ConfigError("give --start or --prime (the same option), not both")
    if start is None and prime is None:
        raise ConfigError("give the symbols to start from: --start TEXT (or --prime TEXT)")
    start = prime if start is None else start
    _compile_cache()
    m = _model(model, experiment, replica)
    text = m.generate(start, length, temperature, seed)
    if raw or raw is None and m.info.reads_text:
        sys.stdout.write(text + "\n")
    else:
        click.echo(data.show(text))


@main.command("explore")
@click.argument("model")
@click.option("--experiment", help="With a run directory: the experiment's model.")
@click.option("--replica", type=int, default=0, show_default=True,
              help="With a run directory: which seed's model.")
@click.option("--compare", metavar="E2[/R2]|DIR", help="A second model beside the first, "
              "reading the same keystrokes: an experiment of the same run (replica R2, "
              "default 0) or a model directory. Try stateful against one-char: the same "
              "input, one model with memory and one without.")
@click.option("--text", help="What is typed when the page opens (default: how the training "
              "sequence begins).")
@click.option("--out", type=click.Path(dir_okay=False), help="The HTML file to write "
              "(default: explore-E[-R][-vs-E2].html in the run directory, explore.html in a "
              "model directory).")
@click.option("--force", is_flag=True, help="Replace an existing file (without it, only the "
              "default page, without --text, is written again).")
@click.option("--match-text", type=click.Path(dir_okay=False), help="A UTF-8 file whose "
              "text the page's Match searches (default: the training sequence; a text "
              "model of a run: its validation text; at most 20,000 symbols).")
def explore_cmd(model, experiment, replica, compare, text, out, force, match_text):
    """Write an explorer of a trained model: one self-contained HTML page (no network)
    where you type symbols, reset the state, generate, and watch the input, forget and
    output gates, the cell state and the prediction at every step. Open it in a browser.

    \b
    lstmlab explore runs/mine --experiment stateful --compare one-char
    lstmlab explore runs/mine/timestep-window/0
    """
    from . import explorer
    base = Path(model)
    run = experiment is not None or _is_run(base)
    if run and experiment is None:
        have = _experiments(base)
        if len(have) != 1:
            raise ModelError(f"{model} is a run directory with {len(have)} experiments; "
                             f"choose one with --experiment NAME ({', '.join(have)})")
        experiment = have[0]
    first = _model(model, experiment, replica)
    other, other_name, other_rows = None, None, ()
    if compare:
        other, other_name, other_dir = _compared(base if run else None, compare)
        other_rows = _training_rows(other_dir) if other_dir else ()
    explorer.check_pair(first, other)
    given = out is not None
    if out is None:
        out = base / explorer.file_name(experiment, replica, other_name) if run else \
            base / "explore.html"
    elif not Path(out).parent.is_dir():
        raise ConfigError(f"--out {out}: the directory {Path(out).parent} does not exist")
    if text:
        first.vocab.encode(text)  # an unknown symbol is named before anything else
    # the default page is lstmlab's own and is written again; a page typed with --text, or
    # a file the user named, replaces nothing without --force
    if (given or text is not None) and Path(out).exists() and not force:
        raise ConfigError(f"{out} exists; add --force to replace it, or choose another --out")
    settings = _training_rows(base / experiment) if run else ()
    if match_text is not None:
        from .data import read_text_file
        match_text = read_text_file(match_text)
    elif run:  # as the run's own page: the text its kind studies (char-rnn's validation)
        from .records import load_result
        r = load_result(base / experiment)
        studied = r.kind.analysed_text(r.config)
        match_text = None if studied == first.info.sequence else studied
    path = explorer.write(out, first, other, text=text, settings=settings,
                          compare_settings=other_rows, match_text=match_text)
    click.echo(f"Wrote {path}")


def _compared(run_dir: Path | None, spec: str):
    """--compare: E2[/R2] of the run, or a model directory → (Model, its name in the file
    name, its experiment directory or None)."""
    p = Path(spec)
    if (p / "model.json").is_file() or run_dir is None:
        m = _model(spec, None, 0)
        return m, (m.info.experiment or p.name), None
    name, _, rep = spec.partition("/")
    if rep and not rep.isdigit():
        raise ConfigError(f"--compare {shown(spec)}: expected EXPERIMENT or EXPERIMENT/REPLICA "
                          f"(e.g. one-char/2) or a model directory")
    r = int(rep or 0)
    return _model(str(run_dir), name, r), name + (f"-{r}" if r else ""), run_dir / name


def _training_rows(exp_dir: Path) -> list:
    """The header rows of how an experiment of a run was trained (none if unreadable)."""
    from . import explorer, records
    config = records.record_config(exp_dir)
    try:
        return explorer.training_rows(config) if config else []
    except (KeyError, TypeError, ValueError):
        return []  # a record of another shape: the header shows the model's settings only


@main.command("units")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--experiment", "names", multiple=True, help="Only this experiment (again for "
              "more); default: every experiment with models.")
@click.option("--text", help="Read this text instead of the default (a window or stateful "
              "experiment's training sequence; a text model's validation text).")
@click.option("--text-file", type=click.Path(dir_okay=False), help="Read this UTF-8 file's "
              "text instead.")
@click.option("--track", "track_files", multiple=True, metavar="NAME=FILE",
              help="A track of your own: one number per symbol of the text read, one per "
              "line or a CSV column NAME (again for more).")
@click.option("--threshold", type=float, default=UNIT_THRESHOLD, show_default=True,
              help="|r| at which a seed counts as having a unit that tracks a track.")
def units_cmd(run_dir, names, text, text_file, track_files, threshold):
    """What the units of a run's models learned: every unit's correlation with tracks of
    the text (steps since the reset, position in the line, quotes, …) over every seed;
    prints the strongest per track, writes units.csv and units.html into RUN_DIR."""
    from . import console, measure, records, report, units
    from .data import read_text_file
    run_dir = Path(run_dir)
    if not 0 < threshold <= 1:
        raise ConfigError(f"threshold {threshold!r} is not allowed; allowed: a number above "
                          f"0 and at most 1")
    if text is not None and text_file is not None:
        raise ConfigError("give --text or --text-file, not both")
    if text_file is not None:
        text = read_text_file(text_file)
    if text is not None and not text:
        raise DataError("the text is empty; give at least one symbol")
    results = [r for r in _load_run(run_dir) if r.params is not None]
    known = [r.config.name for r in results]
    for n in names:
        if n not in known:
            raise ModelError(f"{run_dir} has no experiment {n!r} with models; it has: "
                             f"{', '.join(known) or 'none'}")
    chosen = [r for r in results if not names or r.config.name in names]
    if not chosen:
        raise ModelError(f"{run_dir} holds no models (a sweep keeps them only with "
                         f"--save-models)")
    tracks = {}
    for spec in track_files:
        name, eq, path = spec.partition("=")
        if not eq or not name or not path:
            raise ConfigError(f"--track {shown(spec)} is not allowed; allowed: NAME=FILE")
        tracks[name] = units.read_track(read_text_file(path), name)
    studies = []
    for r in chosen:
        if text is None and (note := r.kind.analysed_note(r.config)):
            console.out.print(f"{r.config.name} {note}", markup=False)
        s = measure.study(r, text, tracks or None, threshold)
        if s is None:
            warn(f"{r.config.name}: every seed's training diverged; no unit to study")
            continue
        console.units(s)
        studies.append(s)
    if not studies:
        raise ModelError(f"{run_dir}: every chosen experiment's training diverged; there is "
                         f"no unit to study")
    records.ensure_writable(run_dir)
    csv_path = records.write_units(run_dir, studies)
    paths = report.write_units(run_dir, studies, f"lstmlab units: {run_dir.name}")
    console.out.print(f"Wrote {csv_path} and {paths[1]}", markup=False)


@main.command("models")
@click.argument("run_dir", type=click.Path(file_okay=False))
def models_cmd(run_dir):
    """List the models a run holds, with their accuracy."""
    from . import console
    console.models(Path(run_dir), _load_run(Path(run_dir)))


@main.command("import-keras")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--sequence", help="The sequence the model was trained on (its symbols, in "
              "order of first appearance, are the vocabulary); default A–Z.")
@click.option("--text-file", type=click.Path(dir_okay=False),
              help="Or the text file it was trained on (a text model's vocabulary).")
@click.option("--framing", help="timesteps or features, where the input shape allows both.")
@click.option("--window", type=int, help="The window, where the input has no fixed steps.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The lstmlab model directory to write (new or empty).")
@click.option("--force", is_flag=True, help="Replace the model an existing model directory "
              "holds.")
def import_keras_cmd(file, sequence, text_file, framing, window, out, force):
    """Read a Keras model ([Masking →] LSTM, GRU or SimpleRNN layers → Dense(softmax), .keras
    or .h5) into an lstmlab model directory, for predict, generate and reports."""
    from .artifacts import META_FILE, Model
    o = Path(out)
    if o.is_dir() and any(o.iterdir()):
        if not (o / META_FILE).is_file():
            raise ConfigError(f"{out} is not empty and is not an lstmlab model directory: "
                              f"choose a new or empty directory for --out")
        if not force:
            raise ConfigError(f"{out} holds a model; add --force to replace it, or choose "
                              f"another --out")
    sequence = _own_data({} if sequence is None else {"sequence": sequence},
                         text_file).get("sequence")
    m = Model.from_keras(file, sequence=sequence, framing=framing, window=window)
    m.save(out)
    click.echo(f"Wrote {out}: {m!r}")


@main.command("export-keras")
@with_model_options
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The Keras file to write (.keras, or legacy .h5).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def export_keras_cmd(model, experiment, replica, out, force):
    """Write an lstmlab model as a Keras model file with the same weights."""
    if Path(out).exists() and not force:
        raise ConfigError(f"{out} exists; add --force to replace it, or choose another --out")
    path = _model(model, experiment, replica).save_keras(out)
    click.echo(f"Wrote {path}")


def _out_of_memory(e: Exception) -> bool:
    """An accelerator or host allocation failure (XLA reports RESOURCE_EXHAUSTED)."""
    return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in str(e) or \
        "Out of memory" in str(e)


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
