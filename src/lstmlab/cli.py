"""The ``lstmlab`` command: a thin layer over experiments, records and reports."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from . import console, data, findings, records, report
from .artifacts import Model, ModelError, load
from .data import DataError
from .experiments import PRESETS, ConfigError, prepare, run as run_experiment


def _batch_size(value: str) -> int | None:
    if value == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"batch size {value!r} is not allowed; allowed: an integer ≥ 1 "
                          f"or 'all'") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Learn next-symbol prediction with LSTMs, and see how LSTM state works."""


@main.command("list")
def list_cmd():
    """The named experiments, one line each."""
    for name, c in PRESETS.items():
        batch = "all" if c.batch_size is None else c.batch_size
        print(f"{name:16} window {c.window}, {c.framing}, LSTM({c.units}), {c.epochs} epochs, "
              f"batch {batch}{', stateful' if c.stateful else ''} — {c.note}")


AUTO_ONEHOT_VOCAB = 26  # own data with more symbols than A–Z gets one-hot unless told


@main.command("run")
@click.argument("names", nargs=-1)
@click.option("--sequence", help="Learn this string's symbols instead of A–Z (each "
              "character one symbol; Unicode works).")
@click.option("--text-file", type=click.Path(dir_okay=False),
              help="Learn a UTF-8 text file's characters.")
@click.option("--window", type=int, help="Symbols in the input window (max length for "
              "variable-length data).")
@click.option("--framing", help="timesteps: window as time steps (N, n, 1); features: "
              "window as one step of n features (N, 1, n).")
@click.option("--encoding", help="scaled: index / vocabulary size, one number per symbol "
              "(the notebook's) — with a large vocabulary neighbouring codes become nearly "
              "equal and symbols blur together; onehot: one vector per symbol (default for "
              f"your own data with more than {AUTO_ONEHOT_VOCAB} symbols).")
@click.option("--units", type=int, help="LSTM units.")
@click.option("--epochs", type=int, help="Training epochs.")
@click.option("--batch-size", help="Samples per update, or 'all'.")
@click.option("--lr", type=float, help="Adam learning rate (default 0.001).")
@click.option("--activation", help="Recurrent activation: sigmoid (Keras 3) or "
              "hard_sigmoid (Keras 2, the seed notebook's).")
@click.option("--seed", type=int, help="Seed for initialization and shuffling (default 7).")
@click.option("--seeds", type=int, help="Replicas trained together, differing in "
              "initialization and shuffling (default 10; 1 is the notebook's single run).")
@click.option("--shuffle/--no-shuffle", default=None, help="Shuffle samples every epoch.")
@click.option("--no-mask", is_flag=True, help="Do not mask front padding (reproduces the "
              "tutorial's variable-length model exactly).")
@click.option("--order-test", is_flag=True, help="Compare the batch gradient with samples "
              "in order and shuffled (stateless experiments).")
@click.option("--start", help="Second start symbol for generation (default K for A–Z).")
@click.option("--length", type=int, help="Symbols to generate (default 25).")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default "
              "runs/<UTC timestamp>); an existing one is resumed: finished experiments "
              "with the same settings are not trained again.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--verbose", "-v", is_flag=True, help="Print the notebook's epoch log.")
def run_cmd(names, quiet, verbose, no_mask, order_test, batch_size, out, text_file,
            **overrides):
    """Run named experiments (all presets when none is named) as the notebook runs them,
    write a run directory with records, models and a report, and check the tutorial's
    claims. Any option overrides the preset's setting.
    """
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise ConfigError(f"unknown experiment {unknown[0]!r}; allowed: {', '.join(PRESETS)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if text_file is not None:
        if "sequence" in changes:
            raise ConfigError("give --sequence or --text-file, not both")
        changes["sequence"] = data.read_text_file(text_file)
    if "sequence" in changes and "encoding" not in changes and \
            len(set(changes["sequence"])) > AUTO_ONEHOT_VOCAB:
        changes["encoding"] = "onehot"
    if batch_size is not None:
        changes["batch_size"] = _batch_size(batch_size)
    if no_mask:
        changes["mask"] = False
    if order_test:
        changes["order_test"] = True
    cfgs = [PRESETS[name].replace(**changes) for name in names or PRESETS]
    datasets = [prepare(cfg) for cfg in cfgs]  # every error before any training
    run_dir = Path(out) if out else records.new_run_dir()
    records.ensure_writable(run_dir)

    # the run directory's finished experiments, loaded once; updated as experiments finish
    known = {r.config.name: r for r in records.load_run(run_dir)}
    done = []
    try:
        for cfg, ds in zip(cfgs, datasets):
            console.header(cfg)
            res = known.get(cfg.name)
            if res is None or res.config != cfg:
                console.patterns(ds)
                with console.TrainingProgress(cfg, quiet, verbose) as progress:
                    res = run_experiment(cfg, on_progress=progress, dataset=ds)
                records.save_result(run_dir, res)
                known[cfg.name] = res
            console.results(res)
            done.append(res)
            records.write_run_files(run_dir, records.in_order(known.values()), cfgs)
    except KeyboardInterrupt:
        again = ["lstmlab", *sys.argv[1:]] + ([] if out else ["--out", str(run_dir)])
        console.error(f"interrupted; {len(done)} finished experiment(s) kept in {run_dir}; "
                      f"resume with: {shlex.join(again)}")
        sys.exit(130)
    console.summary(done)
    everything = records.in_order(known.values())
    console.findings(findings.from_results(everything))
    paths = report.write(run_dir, everything)
    console.out.print(f"Run directory: {run_dir}  (report: {paths[1]})", markup=False)


@main.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
def report_cmd(run_dir):
    """Rebuild report.md and report.html of a run from its records, without training."""
    run_dir = Path(run_dir)
    results = records.load_run(run_dir, must_exist=True)
    records.ensure_writable(run_dir)
    paths = report.write(run_dir, results)
    console.findings(findings.from_results(results))
    console.out.print(f"Wrote {paths[0]} and {paths[1]}", markup=False)


def _model(path: str, experiment: str | None, replica: int) -> Model:
    """A model directory, or a run directory with --experiment and --replica."""
    p = Path(path)
    if experiment is not None:
        p = p / experiment / str(replica)
    elif (p / "record.json").exists():
        p = p / str(replica)
    elif not (p / "model.json").exists() and any(p.glob("*/record.json")):
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
    for option in reversed(model_options):
        f = option(f)
    return f


@main.command("predict")
@with_model_options
@click.argument("inputs", nargs=-1, required=True)
@click.option("--top", type=int, default=3, show_default=True, help="Probabilities shown.")
def predict_cmd(model, experiment, replica, inputs, top):
    """Predict the next symbol after each INPUT, with the top-k probabilities."""
    if top < 1:
        raise ConfigError(f"top {top} is not allowed; allowed: an integer ≥ 1")
    m = _model(model, experiment, replica)
    answers = [(text, m.predict_proba(text)) for text in inputs]  # all errors first
    for text, proba in answers:
        best = ", ".join(f"{s!r} {p:.3f}" for s, p in list(proba.items())[:top])
        console.out.print(f"{text} -> {next(iter(proba))}   ({best})", markup=False)


@main.command("generate")
@with_model_options
@click.option("--start", required=True, help="Symbols to start from.")
@click.option("--length", type=int, default=25, show_default=True,
              help="Symbols to generate.")
def generate_cmd(model, experiment, replica, start, length):
    """Generate symbols greedily: a stateful model carries its state, a window model
    slides its window."""
    console.out.print(_model(model, experiment, replica).generate(start, length),
                      markup=False)


@main.command("models")
@click.argument("run_dir", type=click.Path(file_okay=False))
def models_cmd(run_dir):
    """List the models a run holds, with their accuracy."""
    results = records.load_run(Path(run_dir), must_exist=True)
    console.models(Path(run_dir), results)


def entry() -> None:
    """Console entry point: every user error is one line on stderr and exit code 2."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        console.error(e.format_message())
        sys.exit(2)
    except (ConfigError, DataError, ModelError, records.RecordError) as e:
        console.error(str(e))
        sys.exit(2)
    except OSError as e:  # a full disk, a permission: what failed, not a traceback
        console.error(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
        sys.exit(2)
    except (KeyboardInterrupt, click.exceptions.Abort):
        console.error("interrupted")
        sys.exit(130)
