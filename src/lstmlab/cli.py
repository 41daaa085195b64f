"""The ``lstmlab`` command: a thin layer over experiments and report."""

from __future__ import annotations

import sys

import click

from . import report
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


@main.command("run")
@click.argument("names", nargs=-1)
@click.option("--window", type=int, help="Symbols in the input window (max length for "
              "variable-length data).")
@click.option("--framing", help="timesteps: window as time steps (N, n, 1); features: "
              "window as one step of n features (N, 1, n).")
@click.option("--encoding", help="scaled: index / vocabulary size (the notebook's); "
              "onehot: one vector per symbol.")
@click.option("--units", type=int, help="LSTM units.")
@click.option("--epochs", type=int, help="Training epochs.")
@click.option("--batch-size", help="Samples per update, or 'all'.")
@click.option("--lr", type=float, help="Adam learning rate (default 0.001).")
@click.option("--activation", help="Recurrent activation: sigmoid (Keras 3) or "
              "hard_sigmoid (Keras 2, the seed notebook's).")
@click.option("--seed", type=int, help="Seed for initialization and shuffling (default 7).")
@click.option("--shuffle/--no-shuffle", default=None, help="Shuffle samples every epoch.")
@click.option("--no-mask", is_flag=True, help="Do not mask front padding (reproduces the "
              "tutorial's variable-length model exactly).")
@click.option("--order-test", is_flag=True, help="Compare the batch gradient with samples "
              "in order and shuffled (stateless experiments).")
@click.option("--start", help="Second start symbol for generation (default K).")
@click.option("--length", type=int, help="Symbols to generate (default 25).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--verbose", "-v", is_flag=True, help="Print the notebook's epoch log.")
def run_cmd(names, quiet, verbose, no_mask, order_test, batch_size, **overrides):
    """Run named experiments (all presets when none is named) as the notebook runs them.

    Any option overrides the preset's setting.
    """
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise ConfigError(f"unknown experiment {unknown[0]!r}; allowed: {', '.join(PRESETS)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if batch_size is not None:
        changes["batch_size"] = _batch_size(batch_size)
    if no_mask:
        changes["mask"] = False
    if order_test:
        changes["order_test"] = True
    cfgs = [PRESETS[name].replace(**changes) for name in names or PRESETS]
    datasets = [prepare(cfg) for cfg in cfgs]  # every error before any training
    done = []
    for cfg, ds in zip(cfgs, datasets):
        report.header(cfg)
        report.patterns(ds)
        with report.TrainingProgress(cfg, quiet, verbose) as progress:
            res = run_experiment(cfg, on_progress=progress, dataset=ds)
        report.results(res)
        done.append(res)
    report.summary(done)


def entry() -> None:
    """Console entry point: every user error is one line on stderr and exit code 2."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        report.error(e.format_message())
        sys.exit(2)
    except (ConfigError, DataError) as e:
        report.error(str(e))
        sys.exit(2)
    except (KeyboardInterrupt, click.exceptions.Abort):
        report.error("interrupted")
        sys.exit(130)
