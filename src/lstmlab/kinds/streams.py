"""char-rnn's stream experiments as a kind (:mod:`lstmlab.kinds.base`): a long text cut
into B contiguous streams of S-step batches (``streams``), trained as char-rnn trains
(``charrnn``: a loss at every step, the state carried without gradient, RMSprop on clipped
gradients, validation, checkpoints after every epoch), kept as a
:class:`~.stream_result.TextResult` with a sample of each best model."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import data, record_io, train
from . import charrnn
from ..artifacts import Model
from ..budget import GiB, MEMORY_SHARE, available_memory
from ..cells import CELLS, param_count
from ..config import Config
from ..datasets import validate as validate_settings
from ..errors import ConfigError, DataError, shown
from ..record_io import check, shaped
from .stream_layout import Batches, batch_split, layout, split, split_batches
from . import stream_view
from .base import KindBase
from .stream_result import SAMPLE_LENGTH, SAMPLE_TEMPERATURE, TextResult


@dataclass
class TextData:
    """A stream experiment's data: the vocabulary, the training text's streams and the
    validation text's (None with no validation), as indices (stream_layout.layout)."""

    vocab: data.Vocab
    train: Batches
    val: Batches | None

    @property
    def chars(self) -> int:
        """Symbols predicted in one epoch of training."""
        return self.train.chars


def build_text(cfg: Config) -> TextData:
    """``cfg.sequence`` as char-rnn's streams: the vocabulary, the text split into training
    and validation (``val_frac``), each cut into ``streams`` streams of ``seq_length``
    steps per batch. A ConfigError names the sizes when a part is too short."""
    vocab = data.Vocab.from_sequence(cfg.sequence)
    idx = vocab.encode(cfg.sequence, vocab.compact_dtype())
    hint = (" (char-rnn learns a long text: give --text-file FILE)"
            if cfg.sequence == data.ALPHABET else "")
    try:
        if cfg.split == "char-rnn":
            train_b, val = split_batches(idx, cfg.streams, cfg.seq_length, cfg.val_frac)
        else:
            train_idx, val_idx = split(idx, cfg.val_frac)
            train_b = layout(train_idx, cfg.streams, cfg.seq_length, "training text")
            val = layout(val_idx, cfg.streams, cfg.seq_length,
                         f"validation text ({cfg.val_frac:g} of the text)") \
                if cfg.val_frac else None
    except DataError as e:
        raise ConfigError(f"{e}{hint}") from None
    return TextData(vocab, train_b, val)


def memory_estimate(cfg: Config, vocab_size: int) -> int:
    """A rough upper estimate: the text (as Python holds it) and its indices five times
    over in the smallest integer type (all, training and validation as streams, inputs
    and targets, on the device); per replica the parameters with RMSprop's state, gradient
    and temporaries (8 copies) and a batch's activations for the backward pass (the gates
    and states of every layer, the one-hot inputs and the logits) — never the whole text
    one-hot."""
    index_bytes = 1 if vocab_size <= 256 else 2 if vocab_size <= 65536 else 4
    params = param_count(CELLS[cfg.cell], vocab_size, cfg.units, vocab_size, cfg.layers)
    batch = cfg.streams * cfg.seq_length
    per_replica = 4 * (8 * params + 3 * batch * (6 * sum(cfg.sizes) + 3 * vocab_size))
    return sys.getsizeof(cfg.sequence) + 5 * index_bytes * len(cfg.sequence) \
        + cfg.seeds * per_replica


def text_spec_of(cfg: Config, vocab_size: int) -> charrnn.TextSpec:
    """The training settings: every field of TextSpec is the setting of its name, but the
    vocabulary's size."""
    return charrnn.TextSpec(vocab_size=vocab_size, **{
        f.name: getattr(cfg, f.name) for f in dataclasses.fields(charrnn.TextSpec)
        if f.name != "vocab_size"})


class Streams(KindBase, view=stream_view):
    """The kind of char-rnn's training on a long text (``streams`` > 0)."""

    name = "streams"
    words = "stream experiments (char-rnn's training)"
    claims = False         # the tutorial's findings rest on window experiments
    checkpointed = True    # every finished epoch is kept, and resumed from
    measures = ("line_unit_paired", "units")
    result = TextResult
    explorer_words = "best model (type text, watch every unit)"

    def validate(self, cfg: Config, n_samples: int | None = None) -> None:
        validate_settings(cfg, n_samples)
        if cfg.optimizer != "rmsprop":
            raise ConfigError(f"optimizer {shown(cfg.optimizer)} is not allowed; allowed: "
                              f"rmsprop for stream experiments (char-rnn's)")

    def prepare(self, cfg: Config) -> TextData:
        self.validate(cfg)
        ds = build_text(cfg)
        need, have = memory_estimate(cfg, len(ds.vocab)), available_memory()
        if need > MEMORY_SHARE * have:
            raise ConfigError(f"this run needs about {need / GiB:.1f} GiB of memory "
                              f"({cfg.seeds} seeds, {cfg.streams} streams × {cfg.seq_length} "
                              f"steps, {len(cfg.sequence):,} symbols); a run may use "
                              f"{MEMORY_SHARE:.0%} of the {have / GiB:.1f} GiB available: "
                              f"use fewer seeds, units, layers, streams or a shorter "
                              f"sequence length")
        return ds

    def disk_bytes(self, cfg: Config, ds: TextData, models: bool) -> int:
        """Best and last models, the history, the sample, the text's copy."""
        params = param_count(CELLS[cfg.cell], len(ds.vocab), cfg.units, len(ds.vocab),
                             cfg.layers)
        return (2 * cfg.seeds * (params * 4 + 4096) if models else 0) + \
            cfg.seeds * cfg.epochs * 60 + 4 * len(cfg.sequence) + 2**20

    def analysed_text(self, cfg: Config) -> str:
        """Its validation part (held out, as Karpathy et al. 2015 read theirs; with
        char-rnn's split, the first stream's validation steps), or the whole text without
        one."""
        if not cfg.val_frac:
            return cfg.sequence
        if cfg.split == "char-rnn":  # its first stream's validation steps (contiguous):
            n, train = batch_split(len(cfg.sequence), cfg.streams, cfg.seq_length,
                                   cfg.val_frac)  # stream 0 is the text's first n · S
            return cfg.sequence[train * cfg.seq_length:n * cfg.seq_length]
        cut = len(cfg.sequence) - int(round(len(cfg.sequence) * cfg.val_frac))
        return cfg.sequence[cut:]

    def analysed_note(self, cfg: Config) -> str:
        """What ``lstmlab units`` says when it reads the training text instead."""
        return "" if cfg.val_frac else ("has no validation text (--val-frac 0): its units "
                                        "read its training text")

    def train(self, cfg: Config, ds: TextData, *, prior=None, first: int = 0,
              on_progress=None, check=None, checkpoint=None, workers=None,
              chunk=None) -> TextResult:
        """Train its replicas (charrnn.fit: one compiled program, ``workers`` groups of
        seeds or one per core; ``checkpoint``: the file of the last finished epoch) and
        draw a sample of SAMPLE_LENGTH symbols at SAMPLE_TEMPERATURE from each best
        model."""
        spec = text_spec_of(cfg, len(ds.vocab))
        out = charrnn.fit(spec, train.replica_keys(cfg.seed, cfg.seeds), ds.train, ds.val,
                          on_progress, checkpoint, check, workers)
        res = TextResult(cfg, ds, out["best"], out["params"], out["history"],
                         out["best_epoch"], out["compile_s"], out["train_s"],
                         trained_epochs=out["trained_epochs"])
        res.samples = [res.model(r).generate(res.sample_prime, SAMPLE_LENGTH,
                                             SAMPLE_TEMPERATURE, cfg.seed)
                       for r in range(cfg.seeds)]
        return res

    def updates(self, cfg: Config, ds: TextData) -> int:
        return cfg.seeds * cfg.epochs * ds.train.x.shape[0]

    def epochs_done(self, p) -> float:
        """charrnn.Progress: batches within the epoch."""
        return p.epoch + p.batch / p.batches

    def finished_epochs(self, path: Path) -> int | None:
        return charrnn.finished_epochs(path)

    def load(self, exp_dir: Path, record: dict, cfg: Config) -> TextResult:
        return load(exp_dir, record, cfg)


KIND = Streams()  # (kinds.register makes it TextResult.kind)


def load(exp_dir: Path, record: dict, cfg: Config) -> TextResult:
    """A stream experiment's TextResult from its record and arrays (checked; ValueError
    naming what is wrong)."""
    KIND.validate(cfg)
    vocab = data.Vocab(tuple(record["vocab"]))
    arrays = record_io.read_arrays(exp_dir)
    s = cfg.seeds
    history = shaped(arrays, "history", (s, cfg.epochs, 2), "f")
    best_epoch = shaped(arrays, "best_epoch", (s,), "i")
    check(bool(np.all((0 <= best_epoch) & (best_epoch < cfg.epochs))),
          "best_epoch must name epochs of the training")
    samples = record["samples"]
    check(isinstance(samples, list) and len(samples) == s
          and all(isinstance(t, str) for t in samples), "samples must be one string per seed")
    has_models = record["models"]
    check(isinstance(has_models, bool), "models must be true or false")
    finite = None if has_models else shaped(arrays, "finite", (s,), "b")
    kept = [[Model.load(exp_dir / where / str(r), check_finite=False) for r in range(s)]
            for where in (".", "last")] if has_models else [[], []]
    record_io.matching(kept[0] + kept[1], cfg, vocab, stateful=True, window=1)
    trained = record.get("trained_epochs")
    check(trained is None or isinstance(trained, int) and not isinstance(trained, bool)
          and 0 <= trained <= cfg.epochs, "trained_epochs must be null or 0 to the epochs")
    return TextResult(cfg, build_text(cfg), *map(record_io.stacked, kept), history,
                      best_epoch, record["compile_s"], record["train_s"], samples,
                      cached=True, finite=finite, trained_epochs=trained,
                      analyses=record_io.analyses(record),
                      taken=record_io.looks_taken(record))
