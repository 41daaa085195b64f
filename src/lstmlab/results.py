"""What one experiment produced (:class:`Result`): per replica its parameters, history,
probabilities, probes and generated strings, and what follows from them — accuracy, loss,
divergence, collapse, models."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import jax
import numpy as np

from . import data, evaluate
from .data import plain  # noqa: F401  (results.plain: the Python API's numbers)
from .artifacts import MAX_STORED_SEQUENCE, Model, ModelError, ModelInfo
from .budget import kept_index
from .config import SETTINGS, Config
from .datasets import Dataset, TextData

EXPLODED_LOSS = 1e4    # a mean cross-entropy above this (nats) means training diverged


def diverged_at(losses: np.ndarray, finite: np.ndarray) -> dict[int, int]:
    """The one divergence rule of every kind of experiment: replicas whose mean loss
    (``losses`` (R, epochs, k): every column a loss in nats) is not finite or above
    EXPLODED_LOSS (the logits differ by thousands: the weights exploded), or whose
    parameters are not all finite (``finite`` (R,); then the last epoch) → the first epoch
    (1-based) where it shows."""
    bad = ~(np.abs(losses) <= EXPLODED_LOSS).all(-1)  # NaN compares False: bad
    bad[:, -1] |= ~finite
    return {r: int(bad[r].argmax()) + 1 for r in range(len(bad)) if bad[r].any()}


def no_sound_replica(name: str) -> ModelError:
    return ModelError(f"every seed's training of {name} diverged: there is no model to "
                      f"keep; try a smaller learning rate (--lr)")


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
    states: np.ndarray | None = None       # (state arrays, T, units): the cell's state
                                           # (the LSTM's h, c) of replica 0 reading the
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
    analyses: dict = field(default_factory=dict)  # measure.of's, made once (name → dict)

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
        return diverged_at(self.history[:, :, :1], self.params_finite())

    @property
    def sound(self) -> np.ndarray:
        """Per replica: its training did not diverge (a diverged one is never the best)."""
        return np.array([r not in self.diverged for r in range(len(self.history))])

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
        # every field of ModelInfo that is a setting is that setting; the rest follow
        same = {f.name: getattr(c, f.name) for f in dataclasses.fields(ModelInfo)
                if f.name in SETTINGS}
        info = ModelInfo(**{**same, "vocab": self.dataset.vocab.symbols,
                            "variable_length": c.samples > 0, "experiment": c.name,
                            "replica": r, "accuracy": float(self.accuracy[r]),
                            "sequence": c.sequence if len(c.sequence) <= MAX_STORED_SEQUENCE
                            else ""})
        return Model(self.replica_params(r), info)

    def per_seed(self, strings: bool = False) -> list[dict]:
        """One row per replica of every per-seed number: the one definition behind
        results.json, sweep.csv and the sweep tables (``strings``: also the generated
        strings, which results.json keeps and a CSV does not)."""
        from .stats import at_100
        full, diverged = at_100(self.accuracy), self.diverged
        gen = {s: self.generation_ok(s) for s in self.generated}
        rows = []
        for r in range(self.config.seeds):
            row = {"replica": r, "accuracy": float(self.accuracy[r]),
                   "at_100": bool(full[r]), "loss": float(self.loss[r]),
                   "final_train_loss": float(self.history[r, -1, 0]),
                   "diverged_at_epoch": diverged.get(r)}
            if self.probe is not None:
                row["probe_accuracy"] = float(self.probe_accuracy[r])
            for s, ok in gen.items():
                row[f"generation_from_{s}"] = bool(ok[r])
            if strings and self.generated:
                row["generated"] = {s: g[r] for s, g in self.generated.items()}
            rows.append({**row, "compile_s": self.compile_s, "train_s": self.train_s})
        return rows

    def best(self):
        """The replica with the highest accuracy (then the lowest loss) among those whose
        training did not diverge, as a Model."""
        if not self.sound.any():
            raise no_sound_replica(self.config.name)
        order = np.lexsort((self.loss, -self.accuracy))
        return self.model(int(order[self.sound[order]][0]))


SAMPLE_LENGTH = 500       # the sample a text experiment's record and report keep
SAMPLE_TEMPERATURE = 0.8  # (Karpathy's post shows samples at 0.5–1.0)


@dataclass
class TextResult:
    """What a stream experiment (char-rnn's training) produced, per replica (leading
    axis): the best-validation parameters (the models kept) and the last ones, the
    per-epoch training and validation losses, the best epoch and a sample of each best
    model. A text model is a stateful model reading one one-hot symbol per step, so
    every model question (predict, generate, trace, explore, Keras) works on it."""

    config: Config
    dataset: TextData
    params: dict | None                  # best validation (no validation: the last)
    last: dict | None
    history: np.ndarray                  # (R, epochs, 2): training, validation nats
    best_epoch: np.ndarray               # (R,) 0-based
    compile_s: float
    train_s: float
    samples: list[str] = field(default_factory=list)  # per replica, from sample_prime
    cached: bool = False
    finite: np.ndarray | None = None     # (R,) when saved without models
    asked_seeds: int | None = None       # (never settled: no claim rests on a text)
    looks: tuple[int, ...] | None = None
    trained_epochs: int | None = None    # by the invocation that finished it (a resumed
                                         # training: fewer than epochs); None: all
    analyses: dict = field(default_factory=dict)  # measure.of's, made once (name → dict)

    def answers(self, cfg: Config) -> bool:
        return self.config == cfg

    @property
    def sample_prime(self) -> str:
        """What every sample starts from: the text's first symbol."""
        return self.config.sequence[0]

    @property
    def best_val(self) -> np.ndarray:
        """Per replica: the lowest validation loss (nats per symbol; the last training
        loss without validation)."""
        col = 1 if self.config.val_frac else 0
        return self.history[np.arange(len(self.history)), self.best_epoch, col]

    @property
    def chars_per_s(self) -> float:
        """Symbols predicted per second of training, summed over replicas."""
        epochs = self.config.epochs if self.trained_epochs is None else self.trained_epochs
        return self.dataset.chars * epochs * self.config.seeds / max(self.train_s, 1e-9)

    @cached_property
    def diverged(self) -> dict[int, int]:
        """Replicas whose training diverged (:func:`diverged_at` on the training loss and,
        with validation, the validation loss) → the first epoch (1-based) where it shows."""
        return diverged_at(self.history[:, :, :2 if self.config.val_frac else 1],
                           self.params_finite())

    sound = Result.sound

    @property
    def sound_best_val(self) -> np.ndarray:
        """The best validation losses of the replicas whose training did not diverge."""
        return self.best_val[self.sound]

    def best_val_text(self, unit: float = 1.0, say_train: bool = False) -> str:
        """The tables' best validation loss (divided by ``unit``: ln 2 for bits) over the
        seeds that did not diverge, with how many did; "diverged" when every one did;
        ``say_train``: a model without validation says that its loss is training's."""
        from .stats import loss_text
        v, k = self.sound_best_val / unit, len(self.diverged)
        if not len(v):
            return "diverged"
        return (loss_text(v) + (f" ({k} diverged)" if k else "")
                + (" train" if say_train and not self.config.val_frac else ""))

    collapsed: dict = field(default_factory=dict, init=False)  # a window-model notion

    def params_finite(self) -> np.ndarray:
        if self.params is None:
            return self.finite
        ok = np.ones(len(self.history), bool)
        for leaf in jax.tree.leaves((self.params, self.last)):
            ok &= np.all(np.isfinite(np.asarray(leaf).reshape(len(ok), -1)), axis=1)
        return ok

    replica = Result.replica

    def replica_params(self, r: int, last: bool = False):
        r = self.replica(r)
        if self.params is None:
            raise ModelError(f"{self.config.name} was saved without its models (a sweep "
                             f"keeps them only with --save-models)")
        return jax.tree.map(lambda a: np.asarray(a)[r], self.last if last else self.params)

    def model(self, r: int = 0, last: bool = False):
        """Replica ``r``'s best-validation model (``last``: the one after the last epoch)
        as a :class:`lstmlab.artifacts.Model`."""
        c, r = self.config, self.replica(r)
        info = ModelInfo(vocab=self.dataset.vocab.symbols, window=1, framing="timesteps",
                         encoding="onehot", mask=True, units=c.units,
                         activation=c.activation, stateful=True, variable_length=False,
                         experiment=c.name, replica=r, cell=c.cell, layers=c.layers,
                         streams=c.streams, val_loss=bool(c.val_frac),
                         loss=float(self.history[r, -1, 1 if c.val_frac else 0] if last
                                    else self.best_val[r]),
                         sequence=c.sequence if len(c.sequence) <= MAX_STORED_SEQUENCE
                         else "")
        return Model(self.replica_params(r, last), info)

    def per_seed(self, strings: bool = False) -> list[dict]:
        """One row per replica of every per-seed number (see Result.per_seed; ``strings``:
        also each replica's sample)."""
        return [{"replica": r, "best_val_loss": float(self.best_val[r]),
                 "best_epoch": int(self.best_epoch[r]) + 1,
                 "final_train_loss": float(self.history[r, -1, 0]),
                 "final_val_loss": float(self.history[r, -1, 1]),
                 "diverged_at_epoch": self.diverged.get(r),
                 **({"sample": self.samples[r]} if strings else {}),
                 "compile_s": self.compile_s, "train_s": self.train_s}
                for r in range(self.config.seeds)]

    def best(self):
        """The replica with the lowest validation loss among those whose training did not
        diverge, as a Model."""
        if not self.sound.any():
            raise no_sound_replica(self.config.name)
        return self.model(int(np.argmin(np.where(self.sound, self.best_val, np.inf))))


def loss_label(results: list[TextResult]) -> tuple[str, bool]:
    """What the text tables' loss column holds: "best val", "best train" (no validation:
    --val-frac 0), or "best" when the rows mix both — then each row without validation
    must say train (the second value)."""
    val = {r.config.val_frac > 0 for r in results}
    mixed = len(val) > 1
    return ("best" if mixed else "best val" if val == {True} else "best train"), mixed


def is_text(res) -> bool:
    """Is ``res`` a stream experiment's (a TextResult)?"""
    return isinstance(res, TextResult)
