"""What a stream experiment (char-rnn's training) produced (:class:`TextResult`): the
best-validation and last parameters of each replica, the losses per epoch, samples; its
per-seed numbers, summary and record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import record_io
from ..artifacts import MAX_STORED_SEQUENCE, Model, ModelInfo
from ..config import Config
from ..results import diverged_at
from ..stats import describe
from .base import ExperimentResult, Headline

if TYPE_CHECKING:
    from .streams import TextData

SAMPLE_LENGTH = 500       # the sample a text experiment's record and report keep
SAMPLE_TEMPERATURE = 0.8  # (Karpathy's post shows samples at 0.5–1.0)


@dataclass
class TextResult(ExperimentResult):
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
    taken: tuple[int, ...] = ()          # as Result.taken
    trained_epochs: int | None = None    # by the invocation that finished it (a resumed
                                         # training: fewer than epochs); None: all
    analyses: dict = field(default_factory=dict)  # measure.of's, made once (name → dict)

    def answers(self, cfg: Config) -> bool:
        return self.config == cfg

    def trees(self) -> tuple:
        return (self.params, self.last)

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

    @property
    def sound_best_val(self) -> np.ndarray:
        """The best validation losses of the replicas whose training did not diverge."""
        return self.best_val[self.sound]

    def best_val_text(self, unit: float = 1.0, say_train: bool = False) -> str:
        """The tables' best validation loss (divided by ``unit``: ln 2 for bits) over the
        seeds that did not diverge, with how many did; "diverged" when every one did;
        ``say_train``: a model without validation says that its loss is training's."""
        from ..stats import loss_text
        v, k = self.sound_best_val / unit, len(self.diverged)
        if not len(v):
            return "diverged"
        return (loss_text(v) + (f" ({k} diverged)" if k else "")
                + (" train" if say_train and not self.config.val_frac else ""))

    def replica_params(self, r: int, last: bool = False):
        return super().replica_params(r, self.last if last else None)

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

    def untrained_model(self, r: int = 0):
        """Replica ``r``'s model before training (charrnn.init's weights for its key): the
        untrained control of a unit claim."""
        from .. import model as model_lib
        from ..train import replica_keys
        c, v = self.config, len(self.dataset.vocab)
        params = model_lib.init_params(replica_keys(c.seed, r + 1)[r], v, c.units, v, c.cell,
                                       c.layers)
        best = self.model(r)
        return Model(params, best.info)

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

    def ranking(self) -> np.ndarray:
        """Replicas best first: the lowest best validation loss."""
        return np.argsort(self.best_val, kind="stable")

    def headline(self) -> Headline:
        # a seed whose training diverged has no loss to compare (NaN)
        return Headline("best validation loss", np.where(self.sound, self.best_val, np.nan),
                        False, None, lambda d: f"{d:+.3f} nats", lambda m: f"{m:.3f} nats")

    def summary(self) -> dict:
        """Statistics over seeds of its losses (nats and bits per symbol; stats.describe)."""
        out = {"ci_method": "95% CI over seeds: Student t (losses have no bound)",
               "best_val_loss": describe(self.best_val),
               "best_val_bits": describe(self.best_val / math.log(2)),
               "final_train_loss": describe(self.history[:, -1, 0]),
               "best_epoch": [int(e) + 1 for e in self.best_epoch],
               "chars_per_s": self.chars_per_s}
        if self.diverged:
            out["diverged"] = {str(r): epoch for r, epoch in self.diverged.items()}
        return out

    def sweep_numbers(self) -> dict:
        d = describe(self.best_val)
        return {"seeds": d["n"], "best_val_mean": d["mean"], "best_val_ci_low": d["ci95"][0],
                "best_val_ci_high": d["ci95"][1], "best_val_min": d["min"],
                "best_val_max": d["max"], "chars_per_s": self.chars_per_s,
                "train_s": self.train_s}

    def write(self, exp_dir: Path, run_dir: Path, models: bool) -> None:
        """Its files: best and last models, history, best epochs, record."""
        if models:
            for r in range(self.config.seeds):
                self.model(r).save(exp_dir / str(r))
                self.model(r, last=True).save(exp_dir / "last" / str(r))
        record_io.write_arrays(exp_dir, history=self.history, best_epoch=self.best_epoch,
                               finite=self.params_finite())
        record_io.write_record(exp_dir, {
            **record_io.record_base(run_dir, self, models),
            "trained_epochs": self.trained_epochs, "samples": self.samples})

    def run_files(self) -> dict[str, tuple[list[str], list]]:
        """Its rows of text-history.csv: losses per epoch in nats and bits per symbol."""
        c, ln2 = self.config, math.log(2)
        rows = [(c.name, s, e + 1, f"{t:.6g}", f"{v:.6g}", f"{t / ln2:.6g}", f"{v / ln2:.6g}")
                for s in range(c.seeds) for e, (t, v) in enumerate(self.history[s])]
        return {"text-history.csv": (["experiment", "replica", "epoch", "train_nats",
                                      "val_nats", "train_bits", "val_bits"], rows)}


def loss_label(results: list[TextResult]) -> tuple[str, bool]:
    """What the text tables' loss column holds: "best val", "best train" (no validation:
    --val-frac 0), or "best" when the rows mix both — then each row without validation
    must say train (the second value)."""
    val = {r.config.val_frac > 0 for r in results}
    mixed = len(val) > 1
    return ("best" if mixed else "best val" if val == {True} else "best train"), mixed
