"""Named experiments as rows of configuration, and the one engine that runs any of them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from . import data, evaluate, model, train
from .data import DataError


class ConfigError(ValueError):
    """An impossible setting; the CLI prints it as one line and exits 2."""


@dataclass(frozen=True)
class Config:
    """Every setting of one experiment. A preset is a row of overrides of these defaults."""

    name: str = "custom"
    sequence: str = data.ALPHABET
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
    mask: bool = True           # mask front padding (subsequence data only)
    lr: float = 1e-3
    activation: str = "sigmoid"
    seed: int = 7
    seeds: int = 1
    probe: int = 0              # random patterns to test on, from a separate generator
    order_test: bool = False
    generate: bool = False
    start: str = "K"            # the second generation start (the first is the first symbol)
    length: int = 25
    note: str = ""

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, Config] = {c.name: c for c in [
    Config("two-char", window=2, note="the notebook's first cell exactly (seq_length = 2)"),
    Config("one-char", window=1, note="what that cell's heading describes; the tutorial reports 84%"),
    Config("feature-window", window=3, framing="features", note="the notebook reports 86.96%"),
    Config("timestep-window", window=3, note="the notebook reports 100%"),
    Config("batch-state", window=1, units=16, epochs=5000, batch_size=None, shuffle=False,
           probe=20, order_test=True,
           note="all 25 samples in one batch: does the LSTM use context within a batch?"),
    Config("stateful", window=1, units=50, epochs=300, shuffle=False, stateful=True,
           generate=True, note="state carried across batches, reset every epoch"),
    Config("variable-length", samples=1000, window=5, probe=20,
           note="1000 random subsequences of 1-5 letters, padded at the front"),
]}


def validate(cfg: Config, n_samples: int | None = None) -> None:
    """Raise ConfigError naming the bad value and what is allowed."""
    def bad(what, value, allowed):
        raise ConfigError(f"{what} {value!r} is not allowed; allowed: {allowed}")

    if cfg.framing not in data.FRAMINGS:
        bad("framing", cfg.framing, ", ".join(data.FRAMINGS))
    if cfg.encoding not in data.ENCODINGS:
        bad("encoding", cfg.encoding, ", ".join(data.ENCODINGS))
    if cfg.activation not in model.ACTIVATIONS:
        bad("activation", cfg.activation, ", ".join(model.ACTIVATIONS))
    for name in ("epochs", "units", "seeds"):
        if getattr(cfg, name) < 1:
            bad(name, getattr(cfg, name), "an integer ≥ 1")
    if not cfg.lr > 0:
        bad("learning rate", cfg.lr, "a number > 0")
    if cfg.length < 1:
        bad("length", cfg.length, "an integer ≥ 1")
    if cfg.probe < 0 or cfg.samples < 0:
        bad("probe/samples", min(cfg.probe, cfg.samples), "an integer ≥ 0")
    n_symbols = len(cfg.sequence)
    if n_symbols < 2 or len(set(cfg.sequence)) < 2:
        raise ConfigError(f"the sequence needs at least 2 different symbols, got {cfg.sequence!r}")
    if not 1 <= cfg.window < n_symbols:
        bad("window", cfg.window, f"1 to {n_symbols - 1} (the sequence has {n_symbols} symbols)")
    if cfg.stateful and cfg.shuffle:
        raise ConfigError("shuffle is not allowed with stateful: a stateful model needs the "
                          "samples in sequence order")
    if n_samples is not None and cfg.batch_size is not None and \
            not 1 <= cfg.batch_size <= n_samples:
        bad("batch size", cfg.batch_size, f"1 to {n_samples} (the number of samples) or 'all'")


@dataclass
class Dataset:
    vocab: data.Vocab
    patterns: data.Patterns
    x: np.ndarray          # encoded (N, steps, features)
    mask: np.ndarray | None
    order: np.ndarray | None   # stateful stream layout (n_batches, b)


def build_dataset(cfg: Config, patterns: data.Patterns | None = None,
                  vocab: data.Vocab | None = None) -> Dataset:
    vocab = vocab or data.Vocab.from_sequence(cfg.sequence)
    if patterns is None:
        seq = vocab.encode(cfg.sequence)
        if cfg.samples:
            # numpy's legacy RandomState(seed): with seed 7 this is the tutorial's draw
            patterns = data.random_subsequences(seq, cfg.samples, cfg.window,
                                                np.random.RandomState(cfg.seed))
        else:
            patterns = data.windows(seq, cfg.window)
    x = data.encode(patterns.x, len(vocab), cfg.encoding, cfg.framing)
    mask = data.step_mask(patterns.x, cfg.framing) if cfg.mask else None
    order = None
    if cfg.stateful:
        order = data.stream_layout(len(patterns), cfg.batch_size or len(patterns))
    return Dataset(vocab, patterns, x, mask, order)


def probe_patterns(cfg: Config, ds: Dataset) -> data.Patterns:
    """``cfg.probe`` random patterns from a generator separate from training's: fresh random
    subsequences for subsequence data, random training windows otherwise (the tutorial's)."""
    rng = np.random.RandomState(cfg.seed + 1_000_003)
    if cfg.samples:
        return data.random_subsequences(ds.vocab.encode(cfg.sequence), cfg.probe,
                                        cfg.window, rng)
    pick = rng.randint(len(ds.patterns), size=cfg.probe)
    return data.Patterns(ds.patterns.x[pick], ds.patterns.y[pick])


@dataclass
class Result:
    """What one experiment produced, per replica (leading axis of every array)."""

    config: Config
    dataset: Dataset
    params: dict
    history: np.ndarray                    # (S, epochs, 2) loss, accuracy
    probs: np.ndarray                      # (S, N, V) on the training patterns
    compile_s: float
    train_s: float
    probe: data.Patterns | None = None
    probe_probs: np.ndarray | None = None  # (S, P, V)
    generated: dict[str, list[str]] = field(default_factory=dict)  # start → per replica
    order_diff: float | None = None

    @property
    def accuracy(self) -> np.ndarray:
        return np.mean(self.probs.argmax(-1) == self.dataset.patterns.y, axis=-1)

    @property
    def probe_accuracy(self) -> np.ndarray | None:
        if self.probe is None:
            return None
        return np.mean(self.probe_probs.argmax(-1) == self.probe.y, axis=-1)

    def replica_params(self, r: int):
        return jax.tree.map(lambda a: a[r], self.params)


def spec_of(cfg: Config, n_samples: int, vocab_size: int) -> train.TrainSpec:
    return train.TrainSpec(units=cfg.units, vocab_size=vocab_size, epochs=cfg.epochs,
                           batch_size=cfg.batch_size or n_samples, lr=cfg.lr,
                           shuffle=cfg.shuffle, stateful=cfg.stateful,
                           activation=cfg.activation)


def prepare(cfg: Config) -> Dataset:
    """Validate every setting and build the data; cheap, so a CLI checks all experiments
    before it trains any."""
    validate(cfg)
    try:
        ds = build_dataset(cfg)
        if cfg.generate:
            ds.vocab.encode(cfg.start)
    except DataError as e:
        raise ConfigError(str(e)) from None
    validate(cfg, len(ds.patterns))
    return ds


def run(cfg: Config, on_progress=None, dataset: Dataset | None = None) -> Result:
    """Build the data (unless given, from :func:`prepare`), train ``cfg.seeds`` replicas
    in one program, evaluate and probe."""
    ds = dataset or prepare(cfg)
    spec = spec_of(cfg, len(ds.patterns), len(ds.vocab))
    keys = train.replica_keys(cfg.seed, cfg.seeds)
    fit = train.fit(spec, keys, ds.x, ds.patterns.y, ds.mask,
                    None if ds.order is None else ds.order.reshape(-1), on_progress)

    act = cfg.activation
    x, mask = jnp.asarray(ds.x), None if ds.mask is None else jnp.asarray(ds.mask)
    if cfg.stateful:
        probs, _ = jax.vmap(lambda p: evaluate.stateful_probabilities(
            p, x, jnp.asarray(ds.order), mask, act))(fit.params)
    else:
        probs = jax.vmap(lambda p: evaluate.probabilities(p, x, mask, act))(fit.params)
    res = Result(cfg, ds, fit.params, fit.history, np.asarray(probs), fit.compile_s,
                 fit.train_s)

    if cfg.probe:
        res.probe = probe_patterns(cfg, ds)
        px = jnp.asarray(data.encode(res.probe.x, len(ds.vocab), cfg.encoding, cfg.framing))
        pm = jnp.asarray(data.step_mask(res.probe.x, cfg.framing)) if cfg.mask else None
        res.probe_probs = np.asarray(jax.vmap(
            lambda p: evaluate.probabilities(p, px, pm, act))(fit.params))
    if cfg.generate:
        res.generated = generations(cfg, ds, res)
    if cfg.order_test and not cfg.stateful:
        res.order_diff = max(
            evaluate.order_test(res.replica_params(r), x, jnp.asarray(ds.patterns.y), mask,
                                act, seed=cfg.seed)
            for r in range(cfg.seeds))
    return res


def generations(cfg: Config, ds: Dataset, res: Result) -> dict[str, list[str]]:
    """Greedy generation from the first symbol and from ``cfg.start``, per replica."""
    vocab = ds.vocab
    starts = list(dict.fromkeys([cfg.sequence[0], cfg.start]))
    window = 1 if cfg.stateful else cfg.window

    def encode_one(indices):
        idx = data.pad_front([np.asarray(indices)], window)
        return jnp.asarray(data.encode(idx, len(vocab), cfg.encoding, cfg.framing))

    out = {}
    for s in starts:
        out[s] = ["".join(vocab.decode(evaluate.generate(
            res.replica_params(r), vocab.index[s], cfg.length, encode_one, cfg.activation,
            cfg.stateful, window))) for r in range(cfg.seeds)]
    return out
