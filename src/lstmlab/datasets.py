"""The settings checked together, as every kind checks them (one setting alone is checked
by ``config.problem``; a kind adds its own checks); a window experiment's data: the
vocabulary and patterns it learns, framed and encoded, its probe patterns and where
generation starts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from . import data
from .config import (APPLIES, MIN_FOLLOWING, Config, applies, default_start,
                     problem, sizes_problem, wrong_kind)
from .errors import ConfigError, shown

def validate(cfg: Config, n_samples: int | None = None) -> None:
    """Raise ConfigError naming the bad value and what is allowed: the checks of every
    kind of experiment (a kind's ``validate`` adds its own, and calls this first)."""
    def bad(what, value, allowed):
        raise ConfigError(f"{what} {shown(value)} is not allowed; allowed: {allowed}")

    for f in dataclasses.fields(Config):  # each setting alone: type, range, choices
        if (wrong := problem(f.name, getattr(cfg, f.name))) is not None:
            raise ConfigError(wrong)
    if (wrong := wrong_kind(cfg)):
        raise ConfigError(wrong)
    if (wrong := sizes_problem(cfg.units, cfg.layers)):
        raise ConfigError(wrong)
    if len(cfg.sequence) < 2 or len(set(cfg.sequence)) < 2:
        raise ConfigError(f"the sequence needs at least 2 different symbols, got "
                          f"{shown(cfg.sequence)}")
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


def generation_starts(cfg: Config) -> list[str]:
    """Where generation starts: the sequence's beginning and ``cfg.start``'s first place in
    it (default: the symbol 40% into the sequence — K for A–Z), each as long as the
    model's input window (one symbol for variable-length models). A start is judged on the
    symbols that follow it, so at least ``config.MIN_FOLLOWING`` must follow."""
    seq, need = cfg.sequence, MIN_FOLLOWING
    w = 1 if cfg.samples else cfg.window
    if cfg.start and len(cfg.start) != 1:
        raise ConfigError(f"start {shown(cfg.start)} is not allowed; allowed: one symbol of "
                          f"the sequence")
    if len(seq) - w < need:
        raise ConfigError(f"the sequence has {len(seq)} symbols: too short to judge "
                          f"generation (a start of {w} symbol(s) needs {need} after it)")
    default = default_start(seq, cfg.window, cfg.samples)
    starts = []
    for s in (seq[0], cfg.start or default):
        pos = seq.find(s)
        if pos < 0:
            raise ConfigError(f"start {shown(s)} is not in the sequence; allowed: one of "
                              f"{data.quoted(dict.fromkeys(seq))}")
        if len(seq) - pos - w < need:
            raise ConfigError(f"start {shown(s)} leaves {max(0, len(seq) - pos - w)} symbol(s) "
                              f"after it to judge generation against; a start needs {need}: "
                              f"choose an earlier one")
        starts.append(seq[pos:pos + w])
    return list(dict.fromkeys(starts))
