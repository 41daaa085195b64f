"""One experiment, from settings to Result: the checks that need several settings at once
(``validate``; one setting alone is checked by ``config.problem``), its data
(``build_dataset``), the memory it needs (checked before anything is allocated), training
its replicas through ``train`` (``run``, also adding replicas to a prior result) and
evaluating them (probabilities, probes, generation, the order test, the state heatmap)
into a :class:`Result`. Run directories are the engine's (``engine.py``)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np

from . import data, evaluate, train
from .cells import LSTM, param_count
from .artifacts import MAX_STORED_SEQUENCE, Model, ModelError, ModelInfo
from .config import (APPLIES, MIN_FOLLOWING, PRESETS, Config, applies,
                     SETTINGS, default_start, problem)
from .errors import ConfigError, DataError

EXPLODED_LOSS = 1e4    # a mean cross-entropy above this (nats) means training diverged
MAX_STATE_STEPS = 200  # stateful: the h/c trajectory recorded for the heatmap


def validate(cfg: Config, n_samples: int | None = None) -> None:
    """Raise ConfigError naming the bad value and what is allowed."""
    def bad(what, value, allowed):
        raise ConfigError(f"{what} {value!r} is not allowed; allowed: {allowed}")

    for f in dataclasses.fields(Config):  # each setting alone: type, range, choices
        if (wrong := problem(f.name, getattr(cfg, f.name))) is not None:
            raise ConfigError(wrong)
    n_symbols = len(cfg.sequence)
    if n_symbols < 2 or len(set(cfg.sequence)) < 2:
        raise ConfigError(f"the sequence needs at least 2 different symbols, got {cfg.sequence!r}")
    if not 1 <= cfg.window < n_symbols:
        bad("window", cfg.window, f"1 to {n_symbols - 1} (the sequence has {n_symbols} symbols)")
    if cfg.stateful and cfg.shuffle:
        raise ConfigError("shuffle is not allowed with stateful: a stateful model needs the "
                          "samples in sequence order")
    if cfg.stateful and cfg.samples:
        raise ConfigError("stateful is not allowed with random subsequences: a stateful "
                          "model reads one continuous sequence")
    defaults = Config()
    for setting, _, where in APPLIES:
        if getattr(cfg, setting) != getattr(defaults, setting) and not applies(setting, cfg):
            raise ConfigError(f"{setting.replace('_', ' ')} {getattr(cfg, setting)!r} does "
                              f"not apply to this experiment; it applies to {where}")
    if n_samples is not None and cfg.batch_size is not None and \
            not 1 <= cfg.batch_size <= n_samples:
        bad("batch size", cfg.batch_size, f"1 to {n_samples} (the number of samples) or 'all'")
    if n_samples is not None and cfg.stateful:
        batches = n_samples // (cfg.batch_size or n_samples)
        if not 1 <= cfg.bptt <= batches:
            bad("bptt", cfg.bptt, f"1 to {batches} (the batches of an epoch)")


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
    """``cfg.probe`` random patterns from a generator separate from training's: random
    subsequences for subsequence data (not fresh ones: 1000 samples of A–Z hold every
    possible pattern), random training windows otherwise (the tutorial's)."""
    rng = np.random.RandomState(cfg.seed + 1_000_003)
    if cfg.samples:
        return data.random_subsequences(ds.vocab.encode(cfg.sequence), cfg.probe,
                                        cfg.window, rng)
    pick = rng.randint(len(ds.patterns), size=cfg.probe)
    return data.Patterns(ds.patterns.x[pick], ds.patterns.y[pick])


# A record keeps every pattern's probabilities up to this many patterns, else this many,
# evenly spaced, with each seed's accuracy and loss over all: a person reads a few
# thousand predictions, and a long text's full table is hundreds of megabytes per seed.
MAX_KEPT_PATTERNS = 2000


def kept_index(n: int) -> np.ndarray | None:
    """The patterns a record keeps of ``n``: None (all), or MAX_KEPT_PATTERNS evenly
    spaced indices from the first to the last."""
    if n <= MAX_KEPT_PATTERNS:
        return None
    return np.round(np.linspace(0, n - 1, MAX_KEPT_PATTERNS)).astype(np.int64)


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
    finite: np.ndarray | None = None       # (S,) parameters all finite; held instead of
                                           # params by a record saved without models
    asked_seeds: int | None = None         # settled: the seeds the run asked for (fewer)
    looks: tuple[int, ...] | None = None   # settled: the planned looks of the design that
                                           # grew it (its findings are judged by them)
    kept: np.ndarray | None = None         # (K,) the training patterns ``probs`` holds, when
                                           # a record kept only a sample of a long text's
    measured: np.ndarray | None = None     # (S, 2) accuracy, loss over all patterns (with kept)

    def answers(self, cfg: Config) -> bool:
        """Is this the result ``cfg`` asks for: the same settings, or settled to more seeds
        from the same request?"""
        return self.config == cfg or (self.asked_seeds == cfg.seeds
                                      and self.config.replace(seeds=cfg.seeds) == cfg)

    @property
    def patterns(self) -> data.Patterns:
        """The training patterns ``probs`` is of: all, or the sample a record kept."""
        p = self.dataset.patterns
        return p if self.kept is None else data.Patterns(p.x[self.kept], p.y[self.kept])

    def readable(self) -> tuple[np.ndarray | None, data.Patterns, np.ndarray]:
        """The predictions a record and a report keep: (kept indices or None for all, their
        patterns, their probabilities (S, K, V))."""
        kept = kept_index(len(self.dataset.patterns))
        if self.kept is not None or kept is None:
            return self.kept, self.patterns, self.probs
        p = self.dataset.patterns
        return kept, data.Patterns(p.x[kept], p.y[kept]), self.probs[:, kept]

    @property
    def accuracy(self) -> np.ndarray:
        """Per replica: accuracy on the training patterns with the final weights."""
        if self.measured is not None:
            return self.measured[:, 0]
        return np.mean(self.probs.argmax(-1) == self.dataset.patterns.y, axis=-1)

    @property
    def loss(self) -> np.ndarray:
        """Per replica: cross-entropy on the training patterns with the final weights."""
        if self.measured is not None:
            return self.measured[:, 1]
        y = self.dataset.patterns.y
        p = self.probs[:, np.arange(len(y)), y]
        return -np.mean(np.log(np.maximum(p, 1e-30)), axis=-1)

    @property
    def probe_accuracy(self) -> np.ndarray | None:
        """Per replica: accuracy on the probe patterns (None without a probe)."""
        if self.probe is None:
            return None
        return np.mean(self.probe_probs.argmax(-1) == self.probe.y, axis=-1)

    @cached_property  # the parameters never change after training
    def diverged(self) -> dict[int, int]:
        """Replicas whose training diverged → the first epoch (1-based) where it shows: a
        mean loss that is not finite or above EXPLODED_LOSS (the logits differ by thousands:
        the weights exploded), or non-finite parameters (then the last epoch)."""
        loss = self.history[:, :, 0]
        bad = ~(np.abs(loss) <= EXPLODED_LOSS)  # NaN compares False: bad
        bad[:, -1] |= ~self.params_finite()
        return {r: int(bad[r].argmax()) + 1 for r in range(len(loss)) if bad[r].any()}

    @cached_property
    def collapsed(self) -> dict[int, str]:
        """Replicas that did not diverge but collapsed to a constant, confidently wrong
        predictor (say after a learning rate far too large: every input gets the same
        answer, and the loss is more than twice a uniform guess's, ln V) → that answer. An
        untrained model that answers alike with a uniform guess's loss has not collapsed.
        Only where the targets are not all the same."""
        if len(np.unique(self.patterns.y)) < 2:
            return {}
        answers = self.probs.argmax(-1)                                 # (S, N)
        same = np.all(answers == answers[:, :1], axis=1) & \
            (self.loss > 2 * np.log(self.probs.shape[-1]))
        return {r: self.dataset.vocab.symbols[answers[r, 0]] for r in np.flatnonzero(same)
                if r not in self.diverged}

    def params_finite(self) -> np.ndarray:
        """Per replica: are all its parameters finite?"""
        if self.params is None:
            return self.finite
        ok = np.ones(len(self.history), bool)
        for leaf in jax.tree.leaves(self.params):
            ok &= np.all(np.isfinite(np.asarray(leaf).reshape(len(ok), -1)), axis=1)
        return ok

    def generation_ok(self, start: str) -> np.ndarray:
        """Per replica: did generation from ``start`` follow the training sequence?"""
        return np.array([evaluate.continues(self.config.sequence, g)
                         for g in self.generated[start]])

    def replica(self, r) -> int:
        """``r`` checked: an integer from 0 to seeds − 1 (numpy ones too), else ModelError."""
        r = plain(r)
        if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < self.config.seeds:
            raise ModelError(f"replica {r!r} is not allowed; allowed: an integer from 0 to "
                             f"{self.config.seeds - 1} ({self.config.seeds} seeds)")
        return r

    def replica_params(self, r: int):
        """The parameters of replica ``r`` (no leading replica axis)."""
        r = self.replica(r)
        if self.params is None:
            raise ModelError(f"{self.config.name} was saved without its models (a sweep "
                             f"keeps them only with --save-models)")
        return jax.tree.map(lambda a: np.asarray(a)[r], self.params)

    def model(self, r: int = 0):
        """Replica ``r`` as a :class:`lstmlab.artifacts.Model` (predict, generate, save)."""
        c, r = self.config, self.replica(r)
        info = ModelInfo(vocab=self.dataset.vocab.symbols, window=c.window,
                         framing=c.framing, encoding=c.encoding, mask=c.mask, units=c.units,
                         activation=c.activation, stateful=c.stateful,
                         variable_length=c.samples > 0, experiment=c.name, replica=r,
                         accuracy=float(self.accuracy[r]),
                         sequence=c.sequence if len(c.sequence) <= MAX_STORED_SEQUENCE else "")
        return Model(self.replica_params(r), info)

    def best(self):
        """The replica with the highest accuracy (then the lowest loss), as a Model."""
        return self.model(int(np.lexsort((self.loss, -self.accuracy))[0]))


def spec_of(cfg: Config, n_samples: int, vocab_size: int) -> train.TrainSpec:
    """The static training settings of ``cfg`` for data of this size: every field of
    TrainSpec that is a setting is that setting; the rest follow from the data."""
    same = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(train.TrainSpec)
            if f.name in SETTINGS}
    return train.TrainSpec(**{**same, "vocab_size": vocab_size,
                              "batch_size": cfg.batch_size or n_samples,
                              "reset_prob": float(cfg.reset_prob)})


def generation_starts(cfg: Config) -> list[str]:
    """Where generation starts: the sequence's beginning and ``cfg.start``'s first place in
    it (default: the symbol 40% into the sequence — K for A–Z), each as long as the
    model's input window (one symbol for variable-length models). A start is judged on the
    symbols that follow it, so at least ``config.MIN_FOLLOWING`` must follow."""
    seq, need = cfg.sequence, MIN_FOLLOWING
    w = 1 if cfg.samples else cfg.window
    if cfg.start and len(cfg.start) != 1:
        raise ConfigError(f"start {cfg.start!r} is not allowed; allowed: one symbol of the "
                          f"sequence")
    if len(seq) - w < need:
        raise ConfigError(f"the sequence has {len(seq)} symbols: too short to judge "
                          f"generation (a start of {w} symbol(s) needs {need} after it)")
    default = default_start(seq, cfg.window, cfg.samples)
    starts = []
    for s in (seq[0], cfg.start or default):
        pos = seq.find(s)
        if pos < 0:
            raise ConfigError(f"start {s!r} is not in the sequence; allowed: one of "
                              f"{data.quoted(dict.fromkeys(seq))}")
        if len(seq) - pos - w < need:
            raise ConfigError(f"start {s!r} leaves {max(0, len(seq) - pos - w)} symbol(s) "
                              f"after it to judge generation against; a start needs {need}: "
                              f"choose an earlier one")
        starts.append(seq[pos:pos + w])
    return list(dict.fromkeys(starts))


GiB = 2**30
MEMORY_SHARE = 0.8  # of the available memory, the most a run's estimate may ask for


def available_memory() -> int:
    """Bytes this process can still allocate: MemAvailable on Linux, else physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_estimate(cfg: Config, n_samples: int, n_features: int, vocab_size: int) -> int:
    """A rough upper estimate of the bytes a run needs: per replica the parameters, Adam's
    two moments, the gradient and the compiled step's temporaries (≈ 8 copies of the
    parameters) and the LSTM activations of a batch; the encoded data; the probability
    tables of the evaluation (float32 throughout)."""
    u, v, f = cfg.units, vocab_size, n_features
    steps = 1 if cfg.framing == "features" else cfg.window
    params = param_count(LSTM, f, u, v)
    batch = cfg.batch_size or n_samples
    per_replica = 8 * params + 3 * batch * steps * 6 * u + 2 * n_samples * v
    return 4 * (cfg.seeds * per_replica + n_samples * steps * f + cfg.seeds * cfg.epochs * 2)


def check_memory(cfg: Config, n_samples: int, n_features: int, vocab_size: int) -> None:
    """ConfigError naming the estimate and the limit when the run cannot fit in memory."""
    need, have = memory_estimate(cfg, n_samples, n_features, vocab_size), available_memory()
    if need > MEMORY_SHARE * have:
        raise ConfigError(f"this run needs about {need / GiB:.1f} GiB of memory ({cfg.seeds} "
                          f"seeds × LSTM({cfg.units}), {n_samples} samples of {n_features} "
                          f"feature(s)); a run may use {MEMORY_SHARE:.0%} of the "
                          f"{have / GiB:.1f} GiB available ({MEMORY_SHARE * have / GiB:.1f} "
                          f"GiB): use fewer seeds, units or samples")


def prepare(cfg: Config) -> Dataset:
    """Validate every setting and build the data; cheap, so a CLI checks all experiments
    before it trains any."""
    validate(cfg)
    vocab_size = len(set(cfg.sequence))
    check_memory(cfg, cfg.samples or len(cfg.sequence) - cfg.window,
                 data.n_features(vocab_size, cfg.window, cfg.encoding, cfg.framing), vocab_size)
    try:
        ds = build_dataset(cfg)
    except DataError as e:
        raise ConfigError(str(e)) from None
    validate(cfg, len(ds.patterns))
    if cfg.generate:
        generation_starts(cfg)
    return ds


def plain(value):
    """A numpy scalar as the Python number it holds (np.int64(4) → 4); anything else as
    it is — so the Python API takes numpy numbers as the CLI takes typed ones."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def resolve(experiment: str | Config, **overrides) -> Config:
    """A preset name or a Config, with overrides applied (numpy numbers as Python ones)."""
    if not isinstance(experiment, (str, Config)):
        raise ConfigError(f"experiment {experiment!r} is not allowed; allowed: a preset name "
                          f"({', '.join(PRESETS)}) or an lstmlab.Config")
    overrides = {k: plain(v) for k, v in overrides.items()}
    if isinstance(experiment, str):
        if experiment not in PRESETS:
            raise ConfigError(f"unknown experiment {experiment!r}; allowed: "
                              f"{', '.join(PRESETS)}")
        experiment = PRESETS[experiment]
    try:
        return experiment.replace(**overrides)
    except TypeError as e:
        raise ConfigError(str(e)) from None


def compile_ahead(cfg: Config, ds: Dataset, workers: int | None = None,
                  chunk: int | None = None, prior: Result | None = None) -> None:
    """Start compiling ``cfg``'s training in the background (``train.compile_ahead``): a
    run of several experiments compiles the later ones while the earlier ones train.
    With a ``prior`` that :func:`run` extends, for the replicas it adds."""
    replicas = cfg.seeds - (prior.config.seeds if extends(prior, cfg) else 0)
    train.compile_ahead(spec_of(cfg, len(ds.patterns), len(ds.vocab)), replicas, ds.x,
                        ds.patterns.y, ds.mask,
                        None if ds.order is None else ds.order.reshape(-1), workers, chunk)


def run(experiment: str | Config = "timestep-window", *, on_progress=None,
        dataset: Dataset | None = None, workers: int | None = None,
        chunk: int | None = None, prior: Result | None = None, check=None,
        **overrides) -> Result:
    """Train and evaluate one experiment: a preset name or a :class:`Config`, with any
    setting overridden, e.g. ``lstmlab.run("timestep-window", seeds=5, epochs=200)``.

    ``cfg.seeds`` replicas are trained in one compiled program; the result holds their
    accuracy, history, predictions, probes and parameters (``.model(r)``, ``.best()``).
    ``workers`` and ``chunk`` are train.fit's (how replicas are split over CPU cores, and
    epochs per compiled call); neither changes the numbers. ``prior``: a result of the same
    settings with fewer seeds (and its models): only the replicas it lacks are trained,
    and the result has the numbers of training all of them at once (:func:`extends`).
    """
    cfg = resolve(experiment, **overrides)
    if prior is not None and not isinstance(prior, Result):
        raise ConfigError(f"prior {prior!r} is not allowed; allowed: an lstmlab.Result of "
                          f"the same settings with fewer seeds, or None")
    ds = dataset or prepare(cfg)
    if not extends(prior, cfg):
        return train_replicas(cfg, ds, 0, on_progress, workers, chunk, check)
    return merge(prior, _fit(cfg, ds, prior.config.seeds, on_progress, workers, chunk, check),
                 cfg)


def evaluated_again(cfg: Config, ds: Dataset, twin: Result) -> Result:
    """``cfg``'s result from the models of ``twin``, trained with the same training
    settings (``config.training_key``): only the evaluation — probes, generation from
    ``cfg``'s starts, the order test — is done again; no compile or training seconds."""
    return _evaluated(cfg, ds, twin.params, twin.history, 0.0, 0.0)


def extends(prior: Result | None, cfg: Config) -> bool:
    """Can ``cfg`` be had, bit for bit, by adding replicas to ``prior``: the same settings
    but more seeds, with the models kept? Replica r's key depends only on the seed and r
    (train.replica_keys); trained one sample per update on the CPU, its parameters and
    history do not depend on how many replicas train beside it either (the tests check
    this), so the earlier replicas need no training again. With batches of several samples
    XLA sums a batch in an order that depends on the number of replicas (the last bits
    differ), so those train again, as on an accelerator."""
    return (prior is not None and prior.params is not None
            and prior.config.seeds < cfg.seeds
            and prior.config.replace(seeds=cfg.seeds) == cfg
            and cfg.batch_size == 1 and jax.default_backend() == "cpu")


def train_replicas(cfg: Config, ds: Dataset, first: int = 0, on_progress=None,
                   workers: int | None = None, chunk: int | None = None,
                   check=None) -> Result:
    """Replicas ``first`` … ``cfg.seeds - 1`` of ``cfg``, trained and evaluated: a Result
    of that many seeds (all of them when ``first`` is 0; a Ray task's part, see
    :func:`merge`)."""
    fit = _fit(cfg, ds, first, on_progress, workers, chunk, check)
    return _evaluated(cfg.replace(seeds=cfg.seeds - first), ds, fit.params, fit.history,
                      fit.compile_s, fit.train_s)


def merge(prior: Result, more, cfg: Config) -> Result:
    """``prior``'s replicas followed by ``more``'s — a Result of the added replicas (a Ray
    task's) or train.fit's FitResult of them — as the result of ``cfg`` (whose seeds are
    both together), evaluated again as a whole: a batched evaluation adds up in an order
    that depends on the number of replicas, so the probabilities are those of training all
    at once. Generation runs replica by replica, so the strings already made are kept.
    Training seconds add up; the state heatmap is replica 0's."""
    made = getattr(more, "generated", {})
    generated = {s: g + made.get(s, []) for s, g in prior.generated.items()}
    res = _evaluated(cfg, prior.dataset, _cat(prior.params, more.params),
                     _cat(prior.history, more.history), prior.compile_s + more.compile_s,
                     prior.train_s + more.train_s, generated, prior.states)
    res.looks = prior.looks  # seeds gathered by looking stay judged by their design
    return res


def _cat(a, b):
    """Replicas of a then of b: arrays or pytrees of arrays with a leading replica axis."""
    return jax.tree.map(lambda u, v: np.concatenate([np.asarray(u), np.asarray(v)]), a, b)


def _fit(cfg: Config, ds: Dataset, first: int, on_progress, workers, chunk,
         check=None) -> train.FitResult:
    """Train replicas ``first`` … ``cfg.seeds - 1``."""
    spec = spec_of(cfg, len(ds.patterns), len(ds.vocab))
    return train.fit(spec, train.replica_keys(cfg.seed, cfg.seeds)[first:], ds.x,
                     ds.patterns.y, ds.mask, None if ds.order is None else
                     ds.order.reshape(-1), on_progress, workers=workers, chunk=chunk,
                     check=check)


def _evaluated(cfg: Config, ds: Dataset, params, history, compile_s: float, train_s: float,
               generated: dict | None = None, states=None) -> Result:
    """The Result of trained replicas: probabilities, probe, order test over all of them;
    generation for the replicas ``generated`` lacks; replica 0's state heatmap unless
    ``states`` is given."""
    act = cfg.activation
    x, mask = jnp.asarray(ds.x), None if ds.mask is None else jnp.asarray(ds.mask)
    if cfg.stateful:
        probs, _ = jax.vmap(lambda p: evaluate.stateful_probabilities(
            p, x, jnp.asarray(ds.order), mask, act))(params)
    else:
        probs = jax.vmap(lambda p: evaluate.probabilities(p, x, mask, act))(params)
    res = Result(cfg, ds, params, history, np.asarray(probs), compile_s, train_s)

    if cfg.probe:
        res.probe = probe_patterns(cfg, ds)
        px, pm = data.model_inputs(res.probe.x, len(ds.vocab), cfg.encoding, cfg.framing,
                                   cfg.mask)
        res.probe_probs = np.asarray(jax.vmap(
            lambda p: evaluate.probabilities(p, px, pm, act))(params))
    if cfg.generate:
        # generation runs replica by replica: earlier replicas' strings stay valid
        done = generated or {}
        res.generated = {s: (g := done.get(s, [])) + [res.model(r).generate(s, cfg.length)
                                                       for r in range(len(g), cfg.seeds)]
                         for s in generation_starts(cfg)}
    if cfg.order_test and not cfg.stateful:
        res.order_diff = evaluate.order_test(params, x, jnp.asarray(ds.patterns.y), mask,
                                             act, seed=cfg.seed, replicas=True)
    if cfg.stateful:
        # the first MAX_STATE_STEPS inputs are enough to see the state move (a heatmap of a
        # 10,000-symbol text is unreadable and its array large)
        idx = ds.vocab.encode(cfg.sequence[:MAX_STATE_STEPS + cfg.window - 1])
        res.states = states if states is not None else np.stack(evaluate.state_trajectory(
            res.replica_params(0), res.model(0).stateful_windows(idx), act))
    return res
