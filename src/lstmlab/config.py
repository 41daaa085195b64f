"""Experiments as rows of configuration: every setting of one experiment (``Config``), the
named presets, and which settings apply where. Light (no JAX): the CLI lists presets and
parses options from here without loading the numerical stack."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .data import ALPHABET


@dataclass(frozen=True)
class Config:
    """Every setting of one experiment. A preset is a row of overrides of these defaults."""

    name: str = "custom"
    sequence: str = ALPHABET
    samples: int = 0            # 0: every window of the sequence; >0: that many random
                                # subsequences of 1 … window symbols, padded at the front
    window: int = 3
    framing: str = "timesteps"
    encoding: str = "scaled"
    units: int = 32
    epochs: int = 500
    batch_size: int | None = 1  # None: all samples in one batch
    shuffle: bool = True
    stateful: bool = False
    bptt: int = 1               # stateful: batches per update, the gradient flowing through
                                # the carried state across them (1: Keras's, none flows)
    random_start: bool = False  # stateful: each epoch starts at a random batch
    reset_prob: float = 0.0     # stateful: reset before each batch with this probability
    mask: bool = True           # mask front padding (subsequence data only)
    lr: float = 1e-3
    optimizer: str = "adam"     # Keras 3's Adam; "adam-optax": optax's textbook Adam
    activation: str = "sigmoid"
    seed: int = 7
    seeds: int = 10             # replicas trained together (initialization, shuffling)
    probe: int = 0              # random patterns to test on, from a separate generator
    order_test: bool = False
    generate: bool = False
    start: str = ""             # the second generation start ("": the symbol 40% into the
                                # sequence, which for A–Z is the tutorial's K)
    length: int = 25
    note: str = field(default="", compare=False)  # words, not a setting: not compared

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """The settings in one readable line (terminal header and report)."""
        parts = [f"window {self.window}", self.framing, self.encoding,
                 f"LSTM({self.units})", f"{self.epochs} epochs",
                 f"batch {'all' if self.batch_size is None else self.batch_size}",
                 f"lr {self.lr:g}" + ("" if self.optimizer == "adam" else
                                      f" ({self.optimizer})"), self.activation,
                 "shuffled" if self.shuffle else "in order", f"seed {self.seed}"]
        if self.seeds > 1:
            parts.append(f"{self.seeds} seeds")
        if self.stateful:
            parts.append("stateful")
        if self.bptt > 1:
            parts.append(f"truncated BPTT over {self.bptt} batches")
        if self.random_start:
            parts.append("random start each epoch")
        if self.reset_prob:
            parts.append(f"reset with probability {self.reset_prob:g} before each batch")
        if self.samples:
            parts.append(f"{self.samples} random subsequences"
                         + ("" if self.mask else ", padding not masked"))
        if self.probe:
            parts.append(f"probe of {self.probe}")
        if self.generate:
            parts.append(f"generate {self.length} from {self.sequence[:1]!r} and "
                         f"{self.start or default_start(self.sequence, self.window, self.samples)!r}")
        if self.order_test:
            parts.append("order test")
        return " · ".join(parts)


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
    Config("variable-length", samples=1000, window=5,
           note="1000 random subsequences of 1-5 letters, padded at the front; for A–Z they "
           "hold all 114 possible patterns, which the finding scores"),
]}


# Settings that only mean something for some experiments: (setting, the experiments it
# applies to, as a rule on the Config, and what that is in words). Setting one where it
# does not apply is an error, not silently ignored.
APPLIES = [
    ("start", lambda c: c.generate, "experiments that generate (stateful)"),
    ("length", lambda c: c.generate, "experiments that generate (stateful)"),
    ("mask", lambda c: c.samples > 0, "variable-length data (only it is padded)"),
    ("order_test", lambda c: not c.stateful, "stateless experiments (a stateful model's "
     "samples depend on each other by design)"),
    ("bptt", lambda c: c.stateful, "stateful experiments"),
    ("random_start", lambda c: c.stateful, "stateful experiments"),
    ("reset_prob", lambda c: c.stateful, "stateful experiments"),
]


def applies(setting: str, cfg: Config) -> bool:
    """Does ``setting`` mean something for ``cfg``'s experiment (APPLIES)?"""
    return all(rule(cfg) for name, rule, _ in APPLIES if name == setting)


# Settings that change what is measured of trained models, never the training: points of a
# sweep that differ only in these share their models, and a findings caveat skips them.
NOT_TRAINING = ("order_test", "probe", "generate", "start", "length")


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


AUTO_ONEHOT_VOCAB = 26  # own data with more symbols than A–Z gets one-hot unless told


def with_defaults(changes: dict) -> dict:
    """The user's changes of a preset, with the defaults that follow from them: one-hot
    encoding for a sequence of more than AUTO_ONEHOT_VOCAB symbols unless an encoding is
    given (the scaled codes of neighbouring symbols of a large vocabulary blur)."""
    if "sequence" in changes and "encoding" not in changes and \
            len(set(changes["sequence"])) > AUTO_ONEHOT_VOCAB:
        return {**changes, "encoding": "onehot"}
    return changes


def read_batch_size(text: str) -> int | None:
    """A batch size as typed: an integer, or 'all' (None: every sample in one batch)."""
    return None if text == "all" else int(text)
