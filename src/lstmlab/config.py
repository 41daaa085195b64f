"""Experiments as rows of configuration: every setting of one experiment, declared once
(``Config``'s fields, each with its :class:`Setting`), the named presets, and what derives
from the settings — which apply where, which change training, the checks of a value, how
one is read from the command line, the README's table. Light (no JAX): the CLI lists
presets and builds its options from here without loading the numerical stack."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from .data import ALPHABET, ENCODINGS, FRAMINGS, MAX_WINDOW
from .errors import ConfigError
from .setting import (LIST_OF, Setting, allowed,  # noqa: F401  (config's, and re-exported)
                      layer_sizes, read_value, sizes_problem, sizes_text, stack_text,
                      table, value_problem)
from .setting import setting as _s

# The names the numerical modules implement (model, train, artifacts import them from here).
ACTIVATIONS = ("sigmoid", "hard_sigmoid")  # Keras 3's sigmoid; Keras 2's hard sigmoid
# The recurrent cells (lstmlab.cells.CELLS, a test keeps the two equal) → their Keras layer
CELL_LAYERS = {"lstm": "LSTM", "gru": "GRU", "gru-reset-before": "GRU", "rnn": "SimpleRNN"}
OPTIMIZERS = ("adam", "adam-optax", "rmsprop")
MAX_UNITS = 8192        # these bounds keep a typo from asking for terabytes; far above any
MAX_GENERATE = 100_000  # sensible run
UNIT_THRESHOLD = 0.9  # |r| at which a unit is said to track a track (lstmlab units, the unit claims)
MAX_SEED = 2**31 - 1
MAX_LAYERS = 16
AUTO_ONEHOT_VOCAB = 26  # own data with more symbols than A–Z gets one-hot unless told


_STATEFUL = (lambda c: c.stateful and not c.streams, "stateful window experiments")
_WINDOWS = (lambda c: c.kind_name == "windows",
            "window experiments (not char-rnn's streams or the memory tasks)")
_STREAMS = (lambda c: c.streams > 0, "stream experiments (char-rnn's training, --streams > 0)")
_MEMORY = (lambda c: c.kind_name == "memory", "the memory tasks (adding, copy, temporal-order)")
_BATCHED = (lambda c: c.kind_name in ("windows", "memory"),
            "window experiments and the memory tasks")
_CLIPPED = (lambda c: c.streams > 0 or c.kind_name == "memory",
            "stream experiments and the memory tasks")
MEMORY_TASKS = ("adding", "copy", "temporal-order")  # lstmlab.kinds.memory_tasks.TASKS
SPLITS = ("contiguous", "char-rnn")  # lstmlab.kinds.stream_layout's split, split_batches
_GENERATES = (lambda c: c.generate, "experiments that generate (stateful)")


@dataclass(frozen=True)
class Config:
    """Every setting of one experiment. A preset is a row of overrides of these defaults."""

    name: str = _s("custom", "The experiment's name.", option=False, sweep=False)
    sequence: str = _s(ALPHABET, "The sequence learned (each character one symbol).",
                       option=False, sweep=False)
    samples: int = _s(0, "Random subsequences of 1 … window symbols, padded at the front "
                      "(0: every window of the sequence).", low=0, high=10_000_000,
                      applies=_WINDOWS)
    window: int = _s(3, "Symbols in the input window (the longest for subsequence data).",
                     low=1, high=MAX_WINDOW, applies=_WINDOWS)
    framing: str = _s("timesteps", "timesteps: the window as time steps (N, n, 1); "
                      "features: as one step of n features (N, 1, n).", choices=FRAMINGS,
                      applies=_WINDOWS)
    encoding: str = _s("scaled", "scaled: index / vocabulary size, one number per symbol "
                       "(the notebook's; with a large vocabulary neighbouring codes blur); "
                       f"onehot: one vector per symbol (default for your own data with more "
                       f"than {AUTO_ONEHOT_VOCAB} symbols; streams read one-hot codes).",
                       choices=ENCODINGS, applies=_WINDOWS)
    cell: str = _s("lstm", "The recurrent cell: lstm (Keras's LSTM), gru (Keras 3's GRU), "
                   "gru-reset-before (Keras's GRU with reset_after=False, Keras 2's "
                   "default) or rnn (Keras's SimpleRNN).", choices=tuple(CELL_LAYERS))
    units: int | tuple[int, ...] = _s(32, "Units of each recurrent layer, or one size per "
                                      "layer (a tapering stack of two: 64,32 in a run, "
                                      "64-32 as a sweep's point).",
                                      low=1, high=MAX_UNITS)
    layers: int = _s(1, "Recurrent layers stacked, each but the last passing its whole "
                     "sequence to the next (Keras's return_sequences=True), then Dense.",
                     low=1, high=MAX_LAYERS)
    epochs: int = _s(500, "Training epochs (a memory task's epoch: 100 updates, each on a "
                     "fresh batch).", low=1, high=1_000_000)
    batch_size: int | None = _s(1, "Samples per update, or 'all' (None in Python); a last "
                                "partial batch is used as Keras uses it (a memory task: "
                                "fresh sequences per update).", low=1, applies=_BATCHED)
    shuffle: bool = _s(True, "Shuffle the samples every epoch.", applies=_WINDOWS)
    stateful: bool = _s(False, "Carry the state across batches (Keras's stateful=True).",
                        option=False, sweep=False)
    bptt: int = _s(1, "Stateful: truncated backpropagation through time over this many "
                   "consecutive batches, one update per window (1: Keras's, no gradient "
                   "through the carried state).", low=1, high=100_000, applies=_STATEFUL,
                   label="bptt")
    random_start: bool = _s(False, "Stateful: each epoch starts at a random batch after a "
                            "reset.", applies=_STATEFUL)
    reset_prob: float = _s(0.0, "Stateful: also reset the state before each batch with "
                           "this probability (0 to below 1).", low=0, high=1,
                           applies=_STATEFUL, label="reset probability")
    streams: int = _s(0, "char-rnn's training on a long text: the text cut into this many "
                      "contiguous streams read side by side, a prediction and a loss at "
                      "every step, the state carried from batch to batch without gradient "
                      "and reset each epoch (0: the tutorial's windows).", low=0,
                      high=100_000)
    seq_length: int = _s(50, "Streams: steps of every stream per batch and update (the "
                         "reach of the truncated gradient).", low=1, high=100_000,
                         applies=_STREAMS, label="sequence length")
    val_frac: float = _s(0.05, "Streams: the text's last fraction, read as streams of its "
                         "own for validation (0: none).", low=0, high=1, applies=_STREAMS,
                         label="validation fraction")
    split: str = _s("contiguous", "Streams: where validation is cut: contiguous (the text's "
                    "last --val-frac, read as streams of its own: a held-out passage) or "
                    "char-rnn (its loader's: the last --val-frac of the batches, the end of "
                    "every stream, spread over the text).", choices=SPLITS,
                    applies=_STREAMS)
    grad_clip: float = _s(5.0, "Streams and memory tasks: every gradient entry clipped to ± "
                          "this before the update (char-rnn's; 0: none).", low=0,
                          applies=_CLIPPED, label="gradient clip")
    decay_rate: float = _s(0.95, "Streams, RMSprop: the decay of its average of squared "
                           "gradients.", low=0, high=1, applies=_STREAMS)
    lr_decay: float = _s(0.97, "Streams: the learning rate is multiplied by this at the end "
                         "of every epoch from --lr-decay-after on (1: constant).", low=0,
                         applies=_STREAMS, label="learning rate decay")
    lr_decay_after: int = _s(10, "Streams: epochs at the first learning rate.", low=0,
                             high=1_000_000, applies=_STREAMS,
                             label="learning rate decay after")
    dropout: float = _s(0.0, "Streams: dropout in training on the outputs of every layer "
                        "passed on (to the next layer and to Dense), as char-rnn's.", low=0,
                        high=1, applies=_STREAMS)
    task: str = _s("adding", "Memory tasks: adding, copy or temporal-order (their presets "
                   "set it; see docs/memory.md).", choices=MEMORY_TASKS, option=False,
                   sweep=False, applies=_MEMORY)
    lag: int = _s(100, "Memory tasks: the time lag T: adding's and temporal order's "
                  "sequence length, copy's blanks between the symbols and their recall.",
                  low=4, high=100_000, applies=_MEMORY, label="time lag")
    mask: bool = _s(True, "Mask the front padding of subsequence data (--no-mask "
                    "reproduces the tutorial's variable-length model).",
                    applies=(lambda c: c.samples > 0,
                             "variable-length data (only it is padded)"))
    lr: float = _s(1e-3, "Learning rate (Keras's Adam: β1 0.9, β2 0.999, ε 1e-7).", low=0,
                   label="learning rate")
    optimizer: str = _s("adam", "adam: Keras 3's Adam (training matches Keras step for "
                        "step); adam-optax: optax's textbook Adam; rmsprop: char-rnn's "
                        "(streams only; ε outside the root).", choices=OPTIMIZERS)
    activation: str = _s("sigmoid", "Recurrent activation: sigmoid (Keras 3) or "
                         "hard_sigmoid (Keras 2, the seed notebook's).", choices=ACTIVATIONS)
    seed: int = _s(7, "Seed for initialization and shuffling.", low=0, high=MAX_SEED)
    seeds: int = _s(10, "Replicas trained together in one compiled program, differing in "
                    "initialization and shuffling, derived from --seed (1 is the notebook's "
                    "single run).", low=1, high=10_000, sweep=False)
    probe: int = _s(0, "Random patterns to test on, from a separate generator.", low=0,
                    high=10_000_000, trains=False, applies=_WINDOWS)
    order_test: bool = _s(False, "Compare the batch gradient with the samples in order and "
                          "shuffled (a check of the code).", trains=False, sweep=False,
                          applies=(lambda c: not c.stateful, "stateless experiments (a "
                                   "stateful model's samples depend on each other by design)"))
    generate: bool = _s(False, "Generate from two starts after training.", trains=False,
                        option=False, sweep=False)
    start: str = _s("", "The second generation start (default: the symbol 40% into the "
                    "sequence, K for A–Z; at least 3 symbols must follow it).", trains=False,
                    applies=_GENERATES)
    length: int = _s(25, "Symbols to generate.", low=1, high=MAX_GENERATE, trains=False,
                     applies=_GENERATES)
    kind: str = _s("", "The kind of experiment: windows (the tutorial's), streams (char-rnn's) "
                   "or one a module registers (lstmlab.kinds.register); empty: streams when "
                   "--streams > 0, else windows.", option=False, sweep=False)
    note: str = field(default="", compare=False, metadata={"setting": Setting(
        "Words about the experiment, not a setting (not compared).", option=False,
        sweep=False, trains=False)})

    def __post_init__(self):
        # one size per layer is kept as a tuple (hashable; JSON gives a list back), as
        # given: a sweep's point 32-32 stays that point, apart from 32 at one layer; how
        # many layers it names is with_defaults' (a mismatch is datasets.validate's error)
        if isinstance(self.units, list):
            object.__setattr__(self, "units", tuple(self.units))

    @property
    def sizes(self) -> tuple[int, ...]:
        """Each recurrent layer's units, bottom first."""
        return layer_sizes(self.units, self.layers)

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def listing(self) -> str:
        """The line of ``lstmlab list`` (before the note)."""
        if self.kind_name != "windows":
            return self.describe()
        batch = "all" if self.batch_size is None else self.batch_size
        return (f"window {self.window}, {self.framing}, {self.stack_text()}, "
                f"{self.epochs} epochs, batch {batch}"
                f"{', stateful' if self.stateful else ''}")

    @property
    def kind_name(self) -> str:
        """The kind of experiment these settings are (``lstmlab.kinds.of`` gives it)."""
        return self.kind or ("streams" if self.streams else "windows")

    def describe(self, leave_out=()) -> str:
        """The settings in one readable line (terminal header and report); ``leave_out``:
        settings not to describe (a sweep's swept ones: they are not fixed)."""
        return " · ".join(text for names, text in self._described()
                          if text and not set(names) & set(leave_out))

    def stack_text(self, layers: str = "") -> str:
        return stack_text(CELL_LAYERS.get(self.cell, self.cell), self.units, self.layers,
                          layers)

    def _described(self) -> list[tuple[tuple[str, ...], str]]:
        """Each part of :meth:`describe`: (the settings it shows, its words)."""
        cell = (("cell", "units", "layers"), self.stack_text(" layers"))
        seeds = (("seeds",), f"{self.seeds} seeds" if self.seeds > 1 else "")
        if self.kind_name == "memory":
            return [(("task", "lag"), f"{self.task}, T = {self.lag}"), cell,
                    (("epochs", "batch_size"), f"{self.epochs} × 100 updates of "
                     f"{self.batch_size} fresh sequences"),
                    (("optimizer", "lr"), f"{self.optimizer} lr {self.lr:g}"),
                    (("grad_clip",), f"gradients clipped at ±{self.grad_clip:g}"
                     if self.grad_clip else ""),
                    (("activation",), self.activation), (("seed",), f"seed {self.seed}"), seeds]
        if self.streams:
            return [
                (("streams", "seq_length"),
                 f"{self.streams} streams × {self.seq_length} steps per batch"), cell,
                (("epochs",), f"{self.epochs} epochs"),
                (("optimizer", "lr", "decay_rate"), f"{self.optimizer} lr {self.lr:g}"
                 + (f" decay {self.decay_rate:g}" if self.optimizer == "rmsprop" else "")),
                (("grad_clip",), f"gradients clipped at ±{self.grad_clip:g}"),
                (("lr_decay", "lr_decay_after"),
                 f"lr × {self.lr_decay:g} per epoch after epoch {self.lr_decay_after}"
                 if self.lr_decay != 1 else ""),
                (("val_frac", "split"),
                 (f"validation {self.val_frac:.0%}" + (" (char-rnn's split)" if self.split
                                                       == "char-rnn" else ""))
                 if self.val_frac else "no validation"),
                (("dropout",), f"dropout {self.dropout:g}" if self.dropout else ""),
                (("activation",), self.activation), (("seed",), f"seed {self.seed}"), seeds]
        start = ""
        if self.generate:
            first = self.start or default_start(self.sequence, self.window, self.samples)
            start = f"generate {self.length} from {self.sequence[:1]!r} and {first!r}"
        return [
            (("window",), f"window {self.window}"), (("framing",), self.framing),
            (("encoding",), self.encoding), cell, (("epochs",), f"{self.epochs} epochs"),
            (("batch_size",),
             f"batch {'all' if self.batch_size is None else self.batch_size}"),
            (("lr", "optimizer"), f"lr {self.lr:g}" + ("" if self.optimizer == "adam" else
                                                        f" ({self.optimizer})")),
            (("activation",), self.activation),
            (("shuffle",), "shuffled" if self.shuffle else "in order"),
            (("seed",), f"seed {self.seed}"), seeds,
            (("stateful",), "stateful" if self.stateful else ""),
            (("bptt",), f"truncated BPTT over {self.bptt} batches" if self.bptt > 1 else ""),
            (("random_start",), "random start each epoch" if self.random_start else ""),
            (("reset_prob",), f"reset with probability {self.reset_prob:g} before each batch"
             if self.reset_prob else ""),
            (("samples", "mask"), f"{self.samples} random subsequences"
             + ("" if self.mask else ", padding not masked") if self.samples else ""),
            (("probe",), f"probe of {self.probe}" if self.probe else ""),
            (("generate", "length", "start"), start),
            (("order_test",), "order test" if self.order_test else "")]


# The memory tasks' training (docs/memory.md): 3,000 updates of 32 fresh sequences, clipped
_MEMORY_TRAINING = dict(kind="memory", units=32, epochs=30, batch_size=32, lr=1e-2,
                        grad_clip=1.0)

PRESETS: dict[str, Config] = {c.name: c for c in [
    Config("two-char", window=2, note="the notebook's first cell exactly (seq_length = 2)"),
    Config("one-char", window=1, note="what that cell's heading describes; the tutorial reports 84%"),
    Config("feature-window", window=3, framing="features", note="the notebook reports 86.96%"),
    Config("timestep-window", window=3, note="the notebook reports 100%"),
    Config("batch-state", window=1, units=16, epochs=5000, batch_size=None, shuffle=False,
           probe=20, order_test=True,
           note="all 25 samples in one batch, in sequence order: does the LSTM use context "
           "within a batch?"),
    Config("batch-state-shuffled", window=1, units=16, epochs=5000, batch_size=None,
           shuffle=True, note="batch-state with its one batch shuffled every epoch: the "
           "other arm of the batch-context finding (replica r starts from the same weights "
           "as batch-state's)"),
    Config("stateful", window=1, units=50, epochs=300, shuffle=False, stateful=True,
           generate=True, note="state carried across batches, reset every epoch"),
    Config("stateful-bptt", window=1, units=50, epochs=300, shuffle=False, stateful=True,
           generate=True, bptt=5, note="the tutorial's stateful settings, trained with "
           "truncated BPTT over 5 batches (the gradient flows through the carried state)"),
    Config("stateful-any-start", window=1, units=50, epochs=300, shuffle=False,
           stateful=True, generate=True, encoding="onehot", random_start=True, seed=2027,
           note="each epoch starts at a random letter after a reset, with one-hot codes: a "
           "sweep over seed 7's replicas (encoding × bptt × reset prob × epochs, 2026-11-29) "
           "chose both (scaled codes with random starts 0/5 from K, one-hot without them "
           "1/5); base seed 2027 confirms it on seeds that did not choose it"),
    Config("char-rnn", stateful=True, streams=50, units=128, layers=2,
           epochs=50, lr=2e-3, optimizer="rmsprop", seeds=1,
           note="Karpathy's char-rnn on a long text (--text-file): its defaults from "
           "train.lua; not in the default run (minutes)"),
    Config("adding", task="adding", **_MEMORY_TRAINING, note="Hochreiter & Schmidhuber's "
           "adding problem: remember two marked numbers and add them; docs/memory.md"),
    Config("adding-rnn", task="adding", cell="rnn", **_MEMORY_TRAINING, note="the adding "
           "problem with a SimpleRNN, trained as adding is: does a cell without gates "
           "remember across the lag?"),
    Config("copy", task="copy", **_MEMORY_TRAINING, note="Arjovsky et al.'s copy memory: "
           "recall 10 symbols after T blanks; docs/memory.md"),
    Config("temporal-order", task="temporal-order", **{**_MEMORY_TRAINING, "lr": 1e-3},
           note="Hochreiter & Schmidhuber's temporal order: X or Y, twice, far apart among "
           "distractors: in which order? docs/memory.md"),
    Config("variable-length", samples=1000, window=5,
           note="1000 random subsequences of 1-5 letters, padded at the front; for A–Z they "
           "hold all 114 possible patterns, which the finding scores"),
]}


# The presets `lstmlab run` trains when none is named: the tutorial's (a stream experiment
# trains for minutes on a text the user gives; the memory tasks are run by name).
MAIN_RUN = tuple(name for name, c in PRESETS.items() if c.kind_name == "windows")


# -- what derives from the settings ----------------------------------------------------

SETTINGS: dict[str, Setting] = table(Config)

# Settings that only mean something for some experiments: (setting, rule on the Config,
# where in words). Setting one where it does not apply is an error, not silently ignored.
APPLIES = [(k, *st.applies) for k, st in SETTINGS.items() if st.applies]

# Settings that change what is measured of trained models, never the training: points of a
# sweep that differ only in these share their models, and a findings caveat skips them.
NOT_TRAINING = tuple(k for k, st in SETTINGS.items()
                     if not st.trains and st.name not in ("name", "note"))
SWEEPABLE = tuple(k for k, st in SETTINGS.items() if st.sweep)


def applies(setting: str, cfg: Config) -> bool:
    """Does ``setting`` mean something for ``cfg``'s experiment (APPLIES)?"""
    return all(rule(cfg) for name, rule, _ in APPLIES if name == setting)


def configure(preset: Config, changes: dict) -> Config:
    """``preset`` with the user's changes; a setting that does not apply to this preset
    (APPLIES) is left out here, and is an error only when it applies to none of the
    experiments asked for (:func:`check_applies`); the defaults that follow from the
    changes (:func:`derived`) are added."""
    return preset.replace(**{k: v for k, v in changes.items() if applies(k, preset)},
                          **derived(preset, changes))


def derived(preset: Config, changes: dict) -> dict:
    """The settings that follow from ``changes`` of ``preset`` (:func:`with_defaults`)
    and apply to it — what the command line and the Python API both add."""
    return {k: v for k, v in with_defaults(changes).items()
            if k not in changes and applies(k, preset)}


def kind_changed(name: str, streams: int, typed: str) -> str | None:
    """The error for a streams value that would turn preset ``name`` into the other kind
    of experiment (a window preset into char-rnn's streams, or back), naming what the user
    typed and what to run instead; None when the kind stays (or ``name`` is no preset)."""
    if name in PRESETS and PRESETS[name].kind and isinstance(streams, int) and streams > 0:
        return (f"{typed} does not apply to {name} (a {PRESETS[name].kind_name} experiment); "
                f"it applies to stream experiments (char-rnn's training)")
    if name not in PRESETS or not isinstance(streams, int) or (streams > 0) == \
            (PRESETS[name].streams > 0):
        return None
    if streams > 0:
        return (f"{typed} would make {name} a stream experiment, but {name} is a window "
                f"experiment (--streams applies to char-rnn's training on a text); run: "
                f"lstmlab run char-rnn --text-file FILE --streams {streams}")
    windows = ", ".join(n for n, p in PRESETS.items() if p.kind_name == "windows")
    return (f"{typed} would make {name} a window experiment, but {name} is a stream "
            f"experiment (char-rnn's training: --streams 1 or more); for windows run a "
            f"window preset: {windows}")


def wrong_kind(cfg: Config) -> str | None:
    """:func:`kind_changed` for a whole Config (its streams setting as given)."""
    return kind_changed(cfg.name, cfg.streams, f"streams={cfg.streams}")


def check_applies(presets: list[Config], changes: dict,
                  name_of: Callable = lambda setting, value: setting) -> None:
    """ConfigError for a change that applies to none of ``presets``, or that would change
    a preset's kind (:func:`kind_changed`); ``name_of(setting, value)``: how the user gave
    it (the CLI's option as typed)."""
    if "streams" in changes:
        given = changes["streams"]  # one value, or a sweep's list of them
        for p in presets:
            for v in given if isinstance(given, (list, tuple)) else [given]:
                if (wrong := kind_changed(p.name, v, f"{name_of('streams', v)} {v}")):
                    raise ConfigError(wrong)
    for setting, _, where in APPLIES:
        if setting in changes and not any(applies(setting, p) for p in presets):
            names = ", ".join(p.name for p in presets)
            raise ConfigError(f"{name_of(setting, changes[setting])} does not apply to "
                              f"{names}; it applies to {where}")


def problem(name: str, value) -> str | None:
    """What is wrong with ``value`` for the setting ``name`` alone (its type, range and
    choices), as the end of a message: "framing 'diagonal' is not allowed; allowed: …" —
    or None. Settings that depend on each other are checked in datasets.validate."""
    return value_problem(SETTINGS[name], value)


def read(name: str, text: str):
    """One value of the setting ``name`` as typed on the command line (ValueError if it
    is not of the setting's kind; the range is checked by :func:`problem`)."""
    return read_value(SETTINGS[name], text)


def option(name: str) -> str:
    """The command-line option of the setting ``name``."""
    return "--" + name.replace("_", "-")


def options_table() -> str:
    """The README's table of settings (a test keeps the README and this equal)."""
    rows = ["| option | default | values | what |", "|---|---|---|---|"]
    d = Config()
    for k, st in SETTINGS.items():
        if not st.option:
            continue
        default = getattr(d, k)
        shown = ("all" if default is None and st.kind == "batch" else
                 str(default).lower() if isinstance(default, bool) else
                 f"{default:g}" if isinstance(default, float) else str(default) or '""')
        sweep = "" if st.sweep else " Not swept."
        flag = f"`{option(k)}` / `--no-{option(k)[2:]}`" if st.kind == "bool" \
            else f"`{option(k)}`"
        rows.append(f"| {flag} | {shown} | {allowed(st, python=False)} | "
                    f"{st.help}{st.where}{sweep} |")
    return "\n".join(rows)


def training_key(cfg: Config) -> Config:
    """``cfg`` with every setting that does not change training at its default (and no
    name or note): two configurations with the same key train the same models."""
    d = Config()
    return cfg.replace(name="", note="", **{k: getattr(d, k) for k in NOT_TRAINING})


MIN_FOLLOWING = 3  # a generation start is judged on at least this many following symbols


def default_start(sequence: str, window: int, samples: int = 0) -> str:
    """The second generation start when none is given: the symbol 40% into the sequence
    (K for A–Z), early enough that MIN_FOLLOWING symbols follow a start of the model's
    window (one symbol for variable-length models)."""
    w = 1 if samples else window
    return sequence[max(0, min(int(0.4 * len(sequence)), len(sequence) - w - MIN_FOLLOWING))]


def with_defaults(changes: dict) -> dict:
    """The user's changes of a preset, with the defaults that follow from them: one-hot
    encoding for a sequence of more than AUTO_ONEHOT_VOCAB symbols unless an encoding is
    given (the scaled codes of neighbouring symbols of a large vocabulary blur); as many
    layers as the units name one size for."""
    if isinstance(changes.get("sequence"), str) and "encoding" not in changes and \
            len(set(changes["sequence"])) > AUTO_ONEHOT_VOCAB:
        changes = {**changes, "encoding": "onehot"}
    sizes = changes.get("units")
    if isinstance(sizes, (tuple, list)) and "layers" not in changes and len(sizes) > 1:
        changes = {**changes, "layers": len(sizes)}  # one size per layer says how many
    return changes
