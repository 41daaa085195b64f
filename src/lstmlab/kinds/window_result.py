"""What a window experiment produced (:class:`Result`): per replica its parameters,
history, probabilities, probes and generated strings, and what follows from them —
accuracy, loss, divergence, collapse, models; its per-seed numbers, summary and record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import data, evaluate, record_io
from ..artifacts import MAX_STORED_SEQUENCE, Model, ModelInfo
from ..budget import kept_index
from ..config import SETTINGS, Config
from ..datasets import Dataset
from ..files import csv_text
from ..results import diverged_at
from ..stats import CI_METHOD, at_100, describe, share_interval, summarize
from .base import ExperimentResult, Headline


@dataclass
class Result(ExperimentResult):
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
    states: np.ndarray | None = None       # (state arrays, T, units; NaN beyond a narrower layer's)
                                           # (the LSTM's h, c) of replica 0 reading the
                                           # sequence after a reset (stateful only)
    cached: bool = False
    finite: np.ndarray | None = None       # (S,) parameters all finite; held instead of
                                           # params by a record saved without models
    asked_seeds: int | None = None         # settled: the seeds the run asked for (fewer)
    looks: tuple[int, ...] | None = None   # settled: the planned looks of the design that
                                           # grew it (its findings are judged by them)
    taken: tuple[int, ...] = ()            # the seed counts of the results it grew from,
                                           # each judged then (looks taken by hand, too)
    kept: np.ndarray | None = None         # (K,) the training patterns ``probs`` holds, when
                                           # a record kept only a sample of a long text's
    measured: np.ndarray | None = None     # (S, 2) accuracy, loss over all patterns (with kept)
    analyses: dict = field(default_factory=dict)  # measure.of's, made once (name → dict)
    initial: dict | None = None            # params before training, when trained in this
                                           # process (the unit claims' untrained control;
                                           # not kept: measured before the record is saved)

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

    def generation_ok(self, start: str) -> np.ndarray:
        """Per replica: did generation from ``start`` follow the training sequence?"""
        return np.array([evaluate.continues(self.config.sequence, g)
                         for g in self.generated[start]])

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

    def ranking(self) -> np.ndarray:
        """Replicas best first: the highest accuracy, then the lowest loss."""
        return np.lexsort((self.loss, -self.accuracy))

    def headline(self) -> Headline:
        return Headline("accuracy", self.accuracy, True, at_100(self.accuracy),
                        lambda d: f"{100 * d:+.1f} points", lambda m: f"{100 * m:.1f}%")

    def summary(self) -> dict:
        """Statistics over seeds of every metric: accuracies with stats.summarize (bounded,
        share at 100%), the loss with stats.describe."""
        out = {"ci_method": CI_METHOD, "accuracy": summarize(self.accuracy),
               "loss": describe(self.loss)}
        if self.probe is not None:
            out["probe_accuracy"] = summarize(self.probe_accuracy)
        for start in self.generated:
            ok = self.generation_ok(start)
            out.setdefault("generation", {})[start] = {
                "share": float(ok.mean()),
                "ci95": list(share_interval(int(ok.sum()), len(ok)))}
        if self.order_diff is not None:
            out["order_test"] = {"max_abs_difference": self.order_diff[0],
                                 "gradient_scale": self.order_diff[1]}
        if self.diverged:
            out["diverged"] = {str(r): epoch for r, epoch in self.diverged.items()}
        if self.collapsed:
            out["collapsed"] = {str(r): answer for r, answer in self.collapsed.items()}
        return out

    def sweep_numbers(self) -> dict:
        """A sweep point's numbers (sweep.json's table)."""
        s = summarize(self.accuracy)  # with the share at 100% and its exact interval
        n = s["n"]
        k, (lo, hi) = round(s["share_100"] * n), s["share_100_ci95"]
        row = {"seeds": n, "accuracy_mean": s["mean"], "accuracy_ci_low": s["ci95"][0],
               "accuracy_ci_high": s["ci95"][1], "accuracy_min": s["min"],
               "accuracy_max": s["max"], "seeds_at_100": k, "share_at_100": k / n,
               "share_at_100_ci_low": lo, "share_at_100_ci_high": hi,
               "train_s": self.train_s}
        if self.probe is not None:
            p = summarize(self.probe_accuracy)
            row.update(probe_mean=p["mean"], probe_ci_low=p["ci95"][0],
                       probe_ci_high=p["ci95"][1])
        return row

    def write(self, exp_dir: Path, run_dir: Path, models: bool) -> None:
        """Its files: models, arrays (patterns, probabilities, histories, probes, states),
        record."""
        if models:
            for r in range(self.config.seeds):
                self.model(r).save(exp_dir / str(r))
        kept, pats, probs = self.readable()
        arrays = {"x": pats.x, "y": pats.y, "probs": probs, "history": self.history,
                  "finite": self.params_finite()}
        if kept is not None:
            arrays.update(kept=kept, measured=np.stack([self.accuracy, self.loss], 1))
        if self.probe is not None:
            arrays.update(probe_x=self.probe.x, probe_y=self.probe.y,
                          probe_probs=self.probe_probs)
        if self.states is not None:
            arrays["states"] = self.states
        record_io.write_arrays(exp_dir, **arrays)
        record_io.write_record(exp_dir, {
            **record_io.record_base(run_dir, self, models), "asked_seeds": self.asked_seeds,
            "settle_looks": None if self.looks is None else list(self.looks),
            "generated": self.generated, "order_diff": self.order_diff})

    def run_files(self) -> dict[str, tuple[list[str], list]]:
        """Its rows of the run-wide CSVs: history.csv and predictions.csv."""
        c, vocab = self.config, self.dataset.vocab
        # as CSV text, a seed's rows in one formatting of Python floats (the strings
        # csv.writer writes of the rows, ~3x faster: the main job has 134,000)
        name = csv_text([[c.name]])[:-1].replace("%", "%%")  # quoted where it must be
        hist = "".join((f"{name},{s},%d,%.6g,%.6g\n" * len(h)) % tuple(
            v for e, (loss, acc) in enumerate(h, 1) for v in (e, loss, acc))
            for s, h in enumerate(self.history.tolist()))
        sets = [("train", *self.readable()[1:])]
        if self.probe is not None:
            sets.append(("probe", self.probe, self.probe_probs))
        preds = []
        for name, pats, probs in sets:
            for s in range(c.seeds):
                k = probs[s].argmax(-1)
                for i in range(len(pats)):
                    preds.append((c.name, s, name, "".join(vocab.decode(pats.x[i])),
                                  vocab.symbols[pats.y[i]], vocab.symbols[k[i]],
                                  f"{probs[s, i, k[i]]:.6g}"))
        return {"history.csv": (["experiment", "replica", "epoch", "loss", "accuracy"], hist),
                "predictions.csv": (["experiment", "replica", "set", "input", "target",
                                     "prediction", "probability"], preds)}
