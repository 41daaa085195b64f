"""The tutorial's window experiments as a kind (:mod:`lstmlab.kinds.base`): patterns of a
sequence (every window, or random subsequences), framed and encoded; replicas trained in
one compiled program (``train``), evaluated — probabilities, probes, generation, the order
test, the state heatmap — and kept as a :class:`~.window_result.Result`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from .. import data, evaluate, record_io, train
from ..artifacts import Model
from ..budget import (MAX_KEPT_PATTERNS, MAX_STATE_STEPS, check_memory, disk_estimate,
                      kept_index)
from ..cells import CELLS
from ..config import SETTINGS, Config
from ..datasets import (Dataset, build_dataset, generation_starts, probe_patterns,
                        validate as validate_settings)
from ..errors import ConfigError, DataError, shown
from ..programs import device
from ..record_io import check, shaped
from . import window_view
from .base import KindBase
from .window_result import Result


class Windows(KindBase, view=window_view):
    """The kind of the tutorial's experiments (``streams`` 0)."""

    name = "windows"
    words = "window experiments"
    claims = True          # the tutorial's findings are judged on these
    checkpointed = False   # a window training is short: no checkpoint
    measures = ("counting_share", "all_pattern_accuracy", "counter_unit", "position_unit",
                "units")
    result = Result
    explorer_words = ""   # the run names only the stateful model's page (cli)

    def validate(self, cfg: Config, n_samples: int | None = None) -> None:
        validate_settings(cfg, n_samples)
        n = len(cfg.sequence)
        if not 1 <= cfg.window < n:
            raise ConfigError(f"window {shown(cfg.window)} is not allowed; allowed: 1 to "
                              f"{n - 1} (the sequence has {n} symbols)")
        if cfg.optimizer == "rmsprop":
            raise ConfigError(f"optimizer {shown(cfg.optimizer)} is not allowed; allowed: "
                              f"adam or adam-optax for window experiments (rmsprop is "
                              f"char-rnn's, for --streams > 0)")
        if cfg.stateful and cfg.shuffle:
            raise ConfigError("shuffle is not allowed with stateful: a stateful model needs "
                              "the samples in sequence order")

    def prepare(self, cfg: Config) -> Dataset:
        """Validate every setting and build the data; cheap, so a CLI checks all
        experiments before it trains any."""
        self.validate(cfg)
        vocab_size = len(set(cfg.sequence))
        check_memory(cfg, cfg.samples or len(cfg.sequence) - cfg.window,
                     data.n_features(vocab_size, cfg.window, cfg.encoding, cfg.framing),
                     vocab_size)
        try:
            ds = build_dataset(cfg)
        except DataError as e:
            raise ConfigError(str(e)) from None
        self.validate(cfg, len(ds.patterns))
        if cfg.generate:
            generation_starts(cfg)
        return ds

    def disk_bytes(self, cfg: Config, ds: Dataset, models: bool) -> int:
        return disk_estimate(cfg, ds, models)


    def train(self, cfg: Config, ds: Dataset, *, prior=None, first: int = 0,
              on_progress=None, check=None, checkpoint=None, workers=None,
              chunk=None) -> Result:
        if first:  # a Ray task's part of the replicas
            return train_replicas(cfg, ds, first, on_progress, workers, chunk, check)
        if not self.extends(prior, cfg):
            return train_replicas(cfg, ds, 0, on_progress, workers, chunk, check)
        return merge(prior, _fit(cfg, ds, prior.config.seeds, on_progress, workers, chunk,
                                 check), cfg)

    def compile_ahead(self, cfg: Config, ds: Dataset, workers=None, chunk=None,
                      prior=None) -> None:
        """Start compiling ``cfg``'s training in the background (``train.compile_ahead``):
        a run of several experiments compiles the later ones while the earlier ones train.
        With a ``prior`` that :meth:`train` extends, for the replicas it adds."""
        replicas = cfg.seeds - (prior.config.seeds if self.extends(prior, cfg) else 0)
        train.compile_ahead(spec_of(cfg, len(ds.patterns), len(ds.vocab)), replicas, ds.x,
                            ds.patterns.y, ds.mask,
                            None if ds.order is None else ds.order.reshape(-1), workers,
                            chunk)

    def extends(self, prior, cfg: Config) -> bool:
        return extends(prior, cfg)

    def merge(self, prior, more, cfg: Config) -> Result:
        return merge(prior, more, cfg)

    def evaluated_again(self, cfg: Config, ds: Dataset, twin: Result) -> Result:
        return evaluated_again(cfg, ds, twin)

    def updates(self, cfg: Config, ds: Dataset) -> int:
        """Seed·updates: seeds × epochs × batches per epoch."""
        n = len(ds.patterns)
        return cfg.seeds * cfg.epochs * -(-n // (cfg.batch_size or n))

    def initial_weights(self, res: Result):
        """Each replica's weights before training, stacked (the unit claims' untrained
        control): those its training started from when it trained in this process, else
        (a record read from disk: ``lstmlab report``, a settling round's prior) drawn
        again by the training's own initialisation program — the same numbers."""
        if res.initial is not None:
            return res.initial
        c, ds = res.config, res.dataset
        return train.initial_weights(spec_of(c, len(ds.patterns), len(ds.vocab)),
                                     train.replica_keys(c.seed, c.seeds), ds.x.shape[-1])

    def load(self, exp_dir: Path, record: dict, cfg: Config) -> Result:
        return load(exp_dir, record, cfg)




KIND = Windows()  # (kinds.register makes it Result.kind)


def spec_of(cfg: Config, n_samples: int, vocab_size: int) -> train.TrainSpec:
    """The static training settings of ``cfg`` for data of this size: every field of
    TrainSpec that is a setting is that setting; the rest follow from the data."""
    same = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(train.TrainSpec)
            if f.name in SETTINGS}
    return train.TrainSpec(**{**same, "vocab_size": vocab_size,
                              "batch_size": cfg.batch_size or n_samples,
                              "reset_prob": float(cfg.reset_prob)})


def evaluated_again(cfg: Config, ds: Dataset, twin: Result) -> Result:
    """``cfg``'s result from the models of ``twin``, trained with the same training
    settings (``config.training_key``): only the evaluation — probes, generation from
    ``cfg``'s starts, the order test — is done again; no compile or training seconds."""
    return _evaluated(cfg, ds, twin.params, twin.history, 0.0, 0.0, initial=twin.initial)


def extends(prior: Result | None, cfg: Config) -> bool:
    """Can ``cfg`` be had, bit for bit, by adding replicas to ``prior``: the same settings
    but more seeds, with the models kept? Replica r's key depends only on the seed and r
    (train.replica_keys); trained one sample per update on the CPU, its parameters and
    history do not depend on how many replicas train beside it either (the tests check
    this), so the earlier replicas need no training again. With batches of several samples
    XLA sums a batch in an order that depends on the number of replicas (the last bits
    differ), so those train again, as on an accelerator."""
    return (prior is not None and prior.params is not None and prior.grows_into(cfg)
            and cfg.batch_size == 1 and jax.default_backend() == "cpu")


def train_replicas(cfg: Config, ds: Dataset, first: int = 0, on_progress=None,
                   workers: int | None = None, chunk: int | None = None,
                   check=None) -> Result:
    """Replicas ``first`` … ``cfg.seeds - 1`` of ``cfg``, trained and evaluated: a Result
    of that many seeds (all of them when ``first`` is 0; a Ray task's part, see
    :func:`merge`)."""
    fit = _fit(cfg, ds, first, on_progress, workers, chunk, check)
    return _evaluated(cfg.replace(seeds=cfg.seeds - first), ds, fit.params, fit.history,
                      fit.compile_s, fit.train_s, initial=fit.initial)


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
                     prior.train_s + more.train_s, generated, prior.states,
                     None if prior.initial is None or more.initial is None else
                     _cat(prior.initial, more.initial))
    return res  # (the engine carries the prior's design and looks: engine.execute)


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
               generated: dict | None = None, states=None, initial=None) -> Result:
    """The Result of trained replicas: probabilities, probe, order test over all of them;
    generation for the replicas ``generated`` lacks; replica 0's state heatmap unless
    ``states`` is given; ``initial``: their weights before training, if known."""
    act = cfg.activation
    x, mask = device(ds.x), None if ds.mask is None else device(ds.mask)
    if cfg.stateful:
        probs, _ = jax.vmap(lambda p: evaluate.stateful_probabilities(
            p, x, device(ds.order), mask, act))(params)
    else:
        probs = jax.vmap(lambda p: evaluate.probabilities(p, x, mask, act))(params)
    res = Result(cfg, ds, params, history, np.asarray(probs), compile_s, train_s,
                 initial=initial)

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
        res.order_diff = evaluate.order_test(params, x, device(ds.patterns.y), mask,
                                             act, seed=cfg.seed, replicas=True)
    if cfg.stateful:
        # the first MAX_STATE_STEPS inputs are enough to see the state move (a heatmap of a
        # 10,000-symbol text is unreadable and its array large)
        idx = ds.vocab.encode(cfg.sequence[:MAX_STATE_STEPS + cfg.window - 1])
        res.states = states if states is not None else _padded(evaluate.state_trajectory(
            res.replica_params(0), res.model(0).stateful_windows(idx), act))
    return res


def _padded(arrays) -> np.ndarray:
    """The stack's state arrays (T, U_k) each as one array (arrays, T, max U): a narrower
    layer's columns beyond its units are NaN (a tapering stack)."""
    width = max(a.shape[-1] for a in arrays)
    return np.stack([np.pad(np.asarray(a, np.float32), ((0, 0), (0, width - a.shape[-1])),
                            constant_values=np.nan) for a in arrays])


def load(exp_dir: Path, record: dict, cfg: Config) -> Result:
    """A window experiment's Result from its record and arrays, every field checked
    against the configuration (ValueError naming what is wrong)."""
    KIND.validate(cfg)
    vocab = data.Vocab(tuple(record["vocab"]))
    gen = record["generated"]
    starts = generation_starts(cfg) if cfg.generate else []
    check(isinstance(gen, dict) and list(gen) == starts and all(
        isinstance(v, list) and len(v) == cfg.seeds and all(isinstance(g, str) for g in v)
        for v in gen.values()),
        f"generated must map the starts {starts} to one string per seed")
    order = record["order_diff"]
    wants_order = cfg.order_test and not cfg.stateful
    check(order is None and not wants_order or (
        wants_order and isinstance(order, list) and len(order) == 2
        and all(record_io.number(o) for o in order)),
        "order_diff must be two numbers with the order test, null without")
    arrays = record_io.read_arrays(exp_dir)
    ds = build_dataset(cfg)
    n, v, s = len(ds.patterns), len(vocab), cfg.seeds
    kept, measured = kept_index(n), None
    if kept is not None:
        check(np.array_equal(shaped(arrays, "kept", kept.shape, "i"), kept),
              f"the array 'kept' is not the {MAX_KEPT_PATTERNS} patterns a record keeps")
        measured = shaped(arrays, "measured", (s, 2), "f")
    pats = ds.patterns if kept is None else data.Patterns(ds.patterns.x[kept],
                                                          ds.patterns.y[kept])
    for name, want in (("x", pats.x), ("y", pats.y)):
        got = shaped(arrays, name, want.shape, "i")
        check(np.array_equal(got, want), f"the array {name!r} is not the configuration's "
              f"data")
    probs = shaped(arrays, "probs", (s, len(pats), v), "f")
    history = shaped(arrays, "history", (s, cfg.epochs, 2), "f")
    probe = probe_probs = None
    if cfg.probe:
        probe = data.Patterns(shaped(arrays, "probe_x", (cfg.probe, ds.patterns.x.shape[1]),
                                     "i"), shaped(arrays, "probe_y", (cfg.probe,), "i"))
        probe_probs = shaped(arrays, "probe_probs", (s, cfg.probe, v), "f")
    states = None
    if cfg.stateful:
        steps = min(MAX_STATE_STEPS, len(cfg.sequence) - cfg.window + 1)
        states = shaped(arrays, "states", (len(CELLS[cfg.cell].state) * cfg.layers, steps,
                                           max(cfg.sizes)), "f")
    has_models = record_io.models_flag(record)
    finite = None if has_models else shaped(arrays, "finite", (s,), "b")
    asked = record.get("asked_seeds")  # settled to more seeds than the run asked for
    check(asked is None or isinstance(asked, int) and not isinstance(asked, bool)
          and 1 <= asked < s, "asked_seeds must be null or fewer than the seeds")
    looks = record.get("settle_looks")
    check(looks is None or record_io.looks_ok(looks),
          "settle_looks must be null or a list of seed counts")
    models = [Model.load(exp_dir / str(r), check_finite=False)
              for r in range(s if has_models else 0)]
    record_io.matching(models, cfg, vocab, window=cfg.window)
    return Result(cfg, ds, record_io.stacked(models), history, probs, record["compile_s"],
                  record["train_s"], probe=probe, probe_probs=probe_probs, generated=gen,
                  order_diff=None if order is None else tuple(order), states=states,
                  cached=True, finite=finite, asked_seeds=asked,
                  looks=None if looks is None else tuple(looks), kept=kept,
                  measured=measured, analyses=record_io.analyses(record),
                  taken=record_io.looks_taken(record))
