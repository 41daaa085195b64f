"""The ``lstmlab`` commands about trained models: predict, generate, explore, units,
models, import-keras, export-keras (registered on the group in ``cli``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli_common import _compile_cache, _load_run, _own_data
from .config import UNIT_THRESHOLD
from .errors import ConfigError, DataError, ModelError, shown, warn

def _is_run(p: Path) -> bool:
    """A run (or sweep) directory: experiments with records in it."""
    return any(p.glob("*/record.json"))


def _experiments(run_dir: Path) -> list[str]:
    return sorted(r.parent.name for r in run_dir.glob("*/record.json")
                  if not r.parent.name.startswith("."))


def _kind_of(exp_dir: Path):
    """The kind of a run's experiment, or None when its record cannot be read (the
    loader names what is wrong)."""
    from . import kinds, record_io
    try:
        return kinds.of(record_io.record_config(exp_dir, record_io.read_record(exp_dir)))
    except Exception:
        return None


def _symbol_model(exp_dir: Path) -> None:
    """ModelError when an experiment's models are not symbol models (its kind's
    ``explores``): predict, generate, explore and units read symbols."""
    kind = _kind_of(exp_dir)
    if kind is not None and not kind.explores:
        raise ModelError(f"{exp_dir.name} is one of the {kind.words}: its models read the "
                         f"task's numbers and symbols, not a text, so predict, generate "
                         f"and explore do not apply to it (export-keras does; lstmlab "
                         f"units and its report show what its units hold)")


def _model(path: str, experiment: str | None, replica: int):
    """A model directory, or a run directory with --experiment and --replica."""
    from .artifacts import load
    p = Path(path)
    if experiment is not None:
        if not (p / experiment).is_dir() and _is_run(p):
            raise ModelError(f"{path} has no experiment {experiment!r}; it has: "
                             f"{', '.join(_experiments(p))}")
        _symbol_model(p / experiment)
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


@click.command("predict")
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


@click.command("generate")
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


@click.command("explore")
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


@click.command("units")
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
    loaded = _load_run(run_dir)
    results = [r for r in loaded if r.params is not None and r.kind.explores]
    # a kind whose models read no symbols (the memory tasks) kept its units' study when it
    # was trained: shown as kept (--text, --track and --threshold do not apply to it)
    kept = {r.config.name: lines for r in loaded if not r.kind.explores
            and (lines := r.kind.units_lines(r))}
    known = [r.config.name for r in results] + list(kept)
    for n in names:
        if n not in known:
            raise ModelError(f"{run_dir} has no experiment {n!r} with models to study; it "
                             f"has: {', '.join(known) or 'none'}")
    studied = [n for n in kept if not names or n in names]  # (``shown`` is errors')
    for n in studied:
        for line in kept[n]:
            console.out.print(line, markup=False)
    chosen = [r for r in results if not names or r.config.name in names]
    if not chosen and studied:
        return
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


@click.command("models")
@click.argument("run_dir", type=click.Path(file_okay=False))
def models_cmd(run_dir):
    """List the models a run holds, with their accuracy."""
    from . import console
    console.models(Path(run_dir), _load_run(Path(run_dir)))


@click.command("import-keras")
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


@click.command("export-keras")
@with_model_options
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The Keras file to write (.keras, or legacy .h5).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def export_keras_cmd(model, experiment, replica, out, force):
    """Write an lstmlab model as a Keras model file with the same weights."""
    if Path(out).exists() and not force:
        raise ConfigError(f"{out} exists; add --force to replace it, or choose another --out")
    kind = None if experiment is None else _kind_of(Path(model) / experiment)
    if kind is not None and not kind.explores:  # its result's model(r) saves itself
        from .records import load_result
        path = load_result(Path(model) / experiment).model(replica).save_keras(out)
    else:
        path = _model(model, experiment, replica).save_keras(out)
    click.echo(f"Wrote {path}")


@click.command("check")
@click.argument("model")
@click.argument("data")
@click.option("--batch-size", type=int, default=None,
              help="The batch size you train with (default: the model's fixed one).")
@click.option("--shuffle/--no-shuffle", default=False, show_default=True,
              help="Whether you fit with shuffle=True.")
@click.option("--predict-batch-size", type=int, default=None,
              help="The batch size you predict with.")
def check_cmd(model, data, batch_size, shuffle, predict_batch_size):
    """Check a stateful Keras model (.keras or .h5) and its data (DATA: a .npz holding x
    (samples, steps, features) and y, in the order you feed them): what will go wrong,
    and whether its state carries anything. Exit status 1 when a problem is found."""
    from .keras_check import check, load_data
    for name, v in (("batch size", batch_size), ("predict batch size", predict_batch_size)):
        if v is not None and v < 1:
            raise ConfigError(f"{name} {v} is not allowed; allowed: an integer ≥ 1")
    x, y = load_data(Path(data))
    found = check(model, x, y, batch_size, shuffle, predict_batch_size)
    for line in found.words():
        click.echo(line)
    sys.exit(1 if found.problems else 0)
