"""One experiment, from settings to :class:`Result`: its data checked and built
(``prepare``; ``datasets``), the memory it needs checked before anything is allocated
(``budget``), its replicas trained through ``train`` (``run``, also adding replicas to a
prior result) and evaluated — probabilities, probes, generation, the order test, the state
heatmap. Run directories are the engine's (``engine.py``)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from . import charrnn, data, evaluate, train
from .budget import MAX_STATE_STEPS, check_memory, check_text_memory
from .config import PRESETS, SETTINGS, Config
from .datasets import (Dataset, TextData, build_dataset, build_text,
                       generation_starts, probe_patterns, validate)
from .errors import ConfigError, DataError
from .results import SAMPLE_LENGTH, SAMPLE_TEMPERATURE, Result, TextResult, plain


def spec_of(cfg: Config, n_samples: int, vocab_size: int) -> train.TrainSpec:
    """The static training settings of ``cfg`` for data of this size: every field of
    TrainSpec that is a setting is that setting; the rest follow from the data."""
    same = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(train.TrainSpec)
            if f.name in SETTINGS}
    return train.TrainSpec(**{**same, "vocab_size": vocab_size,
                              "batch_size": cfg.batch_size or n_samples,
                              "reset_prob": float(cfg.reset_prob)})


def text_spec_of(cfg: Config, vocab_size: int) -> charrnn.TextSpec:
    """A stream experiment's training settings: every field of TextSpec is the setting of
    its name, but the vocabulary's size."""
    return charrnn.TextSpec(vocab_size=vocab_size, **{
        f.name: getattr(cfg, f.name) for f in dataclasses.fields(charrnn.TextSpec)
        if f.name != "vocab_size"})


def prepare(cfg: Config) -> Dataset | TextData:
    """Validate every setting and build the data; cheap, so a CLI checks all experiments
    before it trains any."""
    validate(cfg)
    if cfg.streams:
        ds = build_text(cfg)
        check_text_memory(cfg, len(ds.vocab))
        return ds
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
    if cfg.streams:
        return  # compiled when it starts (the first chunk's shape is known only then)
    replicas = cfg.seeds - (prior.config.seeds if extends(prior, cfg) else 0)
    train.compile_ahead(spec_of(cfg, len(ds.patterns), len(ds.vocab)), replicas, ds.x,
                        ds.patterns.y, ds.mask,
                        None if ds.order is None else ds.order.reshape(-1), workers, chunk)


def run(experiment: str | Config = "timestep-window", *, on_progress=None,
        dataset: Dataset | None = None, workers: int | None = None,
        chunk: int | None = None, prior: Result | None = None, check=None,
        checkpoint=None, **overrides) -> Result | TextResult:
    """Train and evaluate one experiment: a preset name or a :class:`Config`, with any
    setting overridden, e.g. ``lstmlab.run("timestep-window", seeds=5, epochs=200)``.

    ``cfg.seeds`` replicas are trained in one compiled program; the result holds their
    accuracy, history, predictions, probes and parameters (``.model(r)``, ``.best()``).
    ``workers`` and ``chunk`` are train.fit's (how replicas are split over CPU cores, and
    epochs per compiled call); neither changes the numbers. ``prior``: a result of the same
    settings with fewer seeds (and its models): only the replicas it lacks are trained,
    and the result has the numbers of training all of them at once (:func:`extends`).
    A stream experiment (``streams`` > 0, the ``char-rnn`` preset) trains as char-rnn
    does (:func:`run_text`); ``checkpoint``: its file of the last finished epoch.
    """
    cfg = resolve(experiment, **overrides)
    if prior is not None and not isinstance(prior, Result):
        raise ConfigError(f"prior {prior!r} is not allowed; allowed: an lstmlab.Result of "
                          f"the same settings with fewer seeds, or None")
    ds = dataset or prepare(cfg)
    if cfg.streams:
        return run_text(cfg, ds, on_progress, check, checkpoint)
    if not extends(prior, cfg):
        return train_replicas(cfg, ds, 0, on_progress, workers, chunk, check)
    return merge(prior, _fit(cfg, ds, prior.config.seeds, on_progress, workers, chunk, check),
                 cfg)


def run_text(cfg: Config, ds: TextData, on_progress=None, check=None,
             checkpoint=None) -> TextResult:
    """Train a stream experiment's replicas (charrnn.fit, one compiled program) and draw
    a sample of SAMPLE_LENGTH symbols at SAMPLE_TEMPERATURE from each best model."""
    spec = text_spec_of(cfg, len(ds.vocab))
    out = charrnn.fit(spec, train.replica_keys(cfg.seed, cfg.seeds), ds.train, ds.val,
                      on_progress, checkpoint, check)
    res = TextResult(cfg, ds, out["best"], out["params"], out["history"], out["best_epoch"],
                     out["compile_s"], out["train_s"], trained_epochs=out["trained_epochs"])
    res.samples = [res.model(r).generate(res.sample_prime, SAMPLE_LENGTH,
                                         SAMPLE_TEMPERATURE, cfg.seed)
                   for r in range(cfg.seeds)]
    return res


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
    return (prior is not None and prior.params is not None and not cfg.streams
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
