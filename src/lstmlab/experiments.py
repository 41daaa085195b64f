"""Named experiments as rows of configuration, and the one engine that runs any of them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from . import data, evaluate, model, train
from .artifacts import MAX_GENERATE, Model, ModelInfo
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
    seeds: int = 10             # replicas trained together (initialization, shuffling)
    probe: int = 0              # random patterns to test on, from a separate generator
    order_test: bool = False
    generate: bool = False
    start: str = ""             # the second generation start ("": the symbol 40% into the
                                # sequence, which for A–Z is the tutorial's K)
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


# Upper bounds that keep a typo from asking for terabytes; far above any sensible run.
LIMITS = {"epochs": 1_000_000, "units": 8192, "seeds": 10_000, "length": MAX_GENERATE}


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
    for name, most in LIMITS.items():
        if not 1 <= getattr(cfg, name) <= most:
            bad(name, getattr(cfg, name), f"an integer from 1 to {most}")
    if not 0 <= cfg.seed < 2**31:
        bad("seed", cfg.seed, f"an integer from 0 to {2**31 - 1}")
    if not cfg.lr > 0:
        bad("learning rate", cfg.lr, "a number > 0")
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
    """An experiment's data: vocabulary, patterns, and their framed, encoded arrays."""

    vocab: data.Vocab
    patterns: data.Patterns
    x: np.ndarray          # encoded (N, steps, features)
    mask: np.ndarray | None
    order: np.ndarray | None   # stateful stream layout (n_batches, b)


def build_dataset(cfg: Config, patterns: data.Patterns | None = None,
                  vocab: data.Vocab | None = None) -> Dataset:
    """The data ``cfg`` describes (or frame and encode the given patterns)."""
    vocab = vocab or data.Vocab.from_sequence(cfg.sequence)
    if patterns is None:
        seq = vocab.encode(cfg.sequence)
        if cfg.samples:
            # numpy's legacy RandomState(seed): with seed 7 this is the tutorial's draw
            patterns = data.random_subsequences(seq, cfg.samples, cfg.window,
                                                np.random.RandomState(cfg.seed))
        else:
            patterns = data.windows(seq, cfg.window)
    x, mask = data.model_inputs(patterns.x, len(vocab), cfg.encoding, cfg.framing, cfg.mask)
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
    order_diff: tuple[float, float] | None = None  # (largest difference, gradient scale)
    states: np.ndarray | None = None       # (2, T, units): h, c of replica 0 reading the
                                           # sequence after a reset (stateful only)
    cached: bool = False

    @property
    def accuracy(self) -> np.ndarray:
        """Per replica: accuracy on the training patterns with the final weights."""
        return np.mean(self.probs.argmax(-1) == self.dataset.patterns.y, axis=-1)

    @property
    def loss(self) -> np.ndarray:
        """Per replica: cross-entropy on the training patterns with the final weights."""
        y = self.dataset.patterns.y
        p = self.probs[:, np.arange(len(y)), y]
        return -np.mean(np.log(np.maximum(p, 1e-30)), axis=-1)

    @property
    def probe_accuracy(self) -> np.ndarray | None:
        """Per replica: accuracy on the probe patterns (None without a probe)."""
        if self.probe is None:
            return None
        return np.mean(self.probe_probs.argmax(-1) == self.probe.y, axis=-1)

    def generation_ok(self, start: str) -> np.ndarray:
        """Per replica: did generation from ``start`` follow the training sequence?"""
        return np.array([evaluate.continues(self.config.sequence, g)
                         for g in self.generated[start]])

    def replica_params(self, r: int):
        """The parameters of replica ``r`` (no leading replica axis)."""
        return jax.tree.map(lambda a: a[r], self.params)

    def model(self, r: int = 0):
        """Replica ``r`` as a :class:`lstmlab.artifacts.Model` (predict, generate, save)."""
        c = self.config
        info = ModelInfo(vocab=self.dataset.vocab.symbols, window=c.window,
                         framing=c.framing, encoding=c.encoding, mask=c.mask, units=c.units,
                         activation=c.activation, stateful=c.stateful,
                         variable_length=c.samples > 0, experiment=c.name, replica=r,
                         accuracy=float(self.accuracy[r]))
        return Model(self.replica_params(r), info)

    def best(self):
        """The replica with the highest accuracy (then the lowest loss), as a Model."""
        return self.model(int(np.lexsort((self.loss, -self.accuracy))[0]))


def spec_of(cfg: Config, n_samples: int, vocab_size: int) -> train.TrainSpec:
    """The static training settings of ``cfg`` for data of this size."""
    return train.TrainSpec(units=cfg.units, vocab_size=vocab_size, epochs=cfg.epochs,
                           batch_size=cfg.batch_size or n_samples, lr=cfg.lr,
                           shuffle=cfg.shuffle, stateful=cfg.stateful,
                           activation=cfg.activation)


def generation_starts(cfg: Config) -> list[str]:
    """Where generation starts: the sequence's beginning and ``cfg.start``'s first place in
    it, each as long as the model's input window (one symbol for stateful and
    variable-length models)."""
    w = 1 if cfg.stateful or cfg.samples else cfg.window
    starts = []
    for s in (cfg.sequence[0], cfg.start or cfg.sequence[int(0.4 * len(cfg.sequence))]):
        pos = cfg.sequence.find(s)
        if pos < 0:
            raise ConfigError(f"start {s!r} is not in the sequence; allowed: one of "
                              f"{''.join(dict.fromkeys(cfg.sequence))!r}")
        if pos + w > len(cfg.sequence):
            raise ConfigError(f"start {s!r} leaves fewer than {w} symbols (the window) "
                              f"before the end of the sequence; choose an earlier start")
        starts.append(cfg.sequence[pos:pos + w])
    return list(dict.fromkeys(starts))


def prepare(cfg: Config) -> Dataset:
    """Validate every setting and build the data; cheap, so a CLI checks all experiments
    before it trains any."""
    validate(cfg)
    try:
        ds = build_dataset(cfg)
    except DataError as e:
        raise ConfigError(str(e)) from None
    validate(cfg, len(ds.patterns))
    if cfg.generate:
        generation_starts(cfg)
    return ds


def resolve(experiment: str | Config, **overrides) -> Config:
    """A preset name or a Config, with overrides applied."""
    if isinstance(experiment, str):
        if experiment not in PRESETS:
            raise ConfigError(f"unknown experiment {experiment!r}; allowed: "
                              f"{', '.join(PRESETS)}")
        experiment = PRESETS[experiment]
    try:
        return experiment.replace(**overrides)
    except TypeError as e:
        raise ConfigError(str(e)) from None


def run(experiment: str | Config = "timestep-window", *, on_progress=None,
        dataset: Dataset | None = None, **overrides) -> Result:
    """Train and evaluate one experiment: a preset name or a :class:`Config`, with any
    setting overridden, e.g. ``lstmlab.run("timestep-window", seeds=5, epochs=200)``.

    ``cfg.seeds`` replicas are trained in one compiled program; the result holds their
    accuracy, history, predictions, probes and parameters (``.model(r)``, ``.best()``).
    """
    cfg = resolve(experiment, **overrides)
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
        px, pm = data.model_inputs(res.probe.x, len(ds.vocab), cfg.encoding, cfg.framing,
                                   cfg.mask)
        res.probe_probs = np.asarray(jax.vmap(
            lambda p: evaluate.probabilities(p, px, pm, act))(fit.params))
    if cfg.generate:
        res.generated = {s: [res.model(r).generate(s, cfg.length) for r in range(cfg.seeds)]
                         for s in generation_starts(cfg)}
    if cfg.order_test and not cfg.stateful:
        tests = [evaluate.order_test(res.replica_params(r), x, jnp.asarray(ds.patterns.y),
                                     mask, act, seed=cfg.seed) for r in range(cfg.seeds)]
        res.order_diff = (max(t[0] for t in tests), max(t[1] for t in tests))
    if cfg.stateful:
        steps = res.model(0).encode_steps(ds.vocab.encode(cfg.sequence))
        res.states = np.stack(evaluate.state_trajectory(res.replica_params(0), steps, act))
    return res
