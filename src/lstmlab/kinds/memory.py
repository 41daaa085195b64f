"""The memory tasks as a kind (:mod:`lstmlab.kinds.base`): how long a recurrent cell can
remember — adding, copy and temporal order (:mod:`.memory_tasks`), trained on fresh
sequences (:mod:`.memory_train`), judged per seed by the test loss against the task's
baseline and by the updates until solved (censored where never), kept as a
:class:`MemoryResult`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import jax
import numpy as np

from .. import data, record_io
from ..config import Config
from ..errors import ConfigError
from ..programs import device
from ..record_io import check, shaped
from ..stats import describe, share_interval
from . import memory_view
from .base import ExperimentResult, Headline, KindBase
from .memory_tasks import TASKS, Task, solved
from . import memory_train, memory_units
from .memory_train import EPOCH_UPDATES, MemorySpec, fit, init


@dataclass
class MemoryResult(ExperimentResult):
    """What a memory task's training produced, per replica (leading axis): the last
    parameters and per epoch (R, epochs, 3) the mean training loss, the test loss and the
    test score (adding: MSE; copy: accuracy on the recalled symbols; temporal order:
    accuracy) on a fixed test set of fresh sequences."""

    config: Config
    dataset: SimpleNamespace             # vocab (the records' field) and the task
    params: dict | None
    history: np.ndarray                  # (R, epochs, 3)
    compile_s: float
    train_s: float
    cached: bool = False
    finite: np.ndarray | None = None     # (R,) when saved without its parameters
    asked_seeds: int | None = None
    looks: tuple[int, ...] | None = None
    taken: tuple[int, ...] = ()
    analyses: dict = field(default_factory=dict)

    @property
    def task(self) -> Task:
        return TASKS[self.config.task]

    @property
    def baseline(self) -> float:
        return self.task.baseline(self.config.lag)

    @property
    def solved_at(self) -> np.ndarray:
        """Per replica: the updates until its test score first met the task's rule (checked
        after every epoch of EPOCH_UPDATES), or NaN — censored at the updates trained — where
        it never did (a diverged replica never did)."""
        hit = np.asarray(solved(self.task, self.history[:, :, 2])) & self.sound[:, None]
        first = np.argmax(hit, axis=1)
        return np.where(hit.any(1), (first + 1) * EPOCH_UPDATES, np.nan)

    @property
    def solved(self) -> np.ndarray:
        return np.isfinite(self.solved_at)

    @property
    def updates(self) -> int:
        return self.config.epochs * EPOCH_UPDATES

    def final(self, col: int = 1) -> np.ndarray:
        """Per replica the last epoch's test loss (col 1) or score (col 2); NaN where the
        training diverged."""
        return np.where(self.sound, self.history[:, -1, col], np.nan)

    def solved_text(self) -> str:
        k, n = int(self.solved.sum()), len(self.solved)
        lo, hi = share_interval(k, n)
        return f"{k}/{n} [{lo:.2f}, {hi:.2f}]"

    def median_updates(self) -> float:
        """The median updates until solved, the censored seeds counted as later than any
        (NaN when half or more never solved: the median is not known)."""
        a = np.sort(np.where(self.solved, self.solved_at, np.inf))
        m = np.median(a) if len(a) else np.inf
        return float(m) if np.isfinite(m) else float("nan")

    def model(self, r: int = 0) -> "MemoryModel":
        """Replica ``r``'s model (it reads numbers or one-hot task symbols, not a
        vocabulary: not an artifacts.Model)."""
        return MemoryModel(self.replica_params(r), self.config, self.task)

    def headline(self) -> Headline:
        words = "MSE" if self.task.regression else "loss"
        return Headline(f"final test {words}", self.final(), False, self.solved,
                        lambda d: f"{d:+.4f}", lambda m: f"{m:.4f}",
                        full_words=f"solve {self.config.task}", full_share=0.5,
                        harder=("lag",))

    def per_seed(self, strings: bool = False) -> list[dict]:
        at = self.solved_at
        return [{"replica": r, "final_test_loss": float(self.history[r, -1, 1]),
                 "final_test_score": float(self.history[r, -1, 2]),
                 "solved": bool(self.solved[r]),
                 "updates_to_solve": None if np.isnan(at[r]) else int(at[r]),
                 "updates_trained": self.updates,
                 "final_train_loss": float(self.history[r, -1, 0]),
                 "diverged_at_epoch": self.diverged.get(r),
                 "compile_s": self.compile_s, "train_s": self.train_s}
                for r in range(self.config.seeds)]

    def summary(self) -> dict:
        k, n = int(self.solved.sum()), len(self.solved)
        return {"task": self.config.task, "lag": self.config.lag, "baseline": self.baseline,
                "solved_rule": self.task.solved_words(),
                "final_test_loss": describe(self.final()[self.sound]),
                "solved": {"k": k, "n": n, "ci95": list(share_interval(k, n))},
                "median_updates_to_solve": self.median_updates(),
                "updates_trained": self.updates}

    def sweep_numbers(self) -> dict:
        d = describe(self.final()[self.sound])
        return {"seeds": self.config.seeds, "final_test_loss_mean": d["mean"],
                "solved": int(self.solved.sum()),
                "median_updates_to_solve": self.median_updates(), "train_s": self.train_s}

    def write(self, exp_dir: Path, run_dir: Path, models: bool) -> None:
        leaves = {} if not models or self.params is None else {
            _array_name(path): np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_flatten_with_path(self.params)[0]}
        record_io.write_arrays(exp_dir, history=self.history, finite=self.params_finite(),
                               **leaves)
        record_io.write_record(exp_dir, record_io.record_base(run_dir, self, models))

    def run_files(self) -> dict[str, tuple[list[str], list]]:
        """Its rows of memory-history.csv: the learning curve of every replica."""
        c = self.config
        rows = [(c.name, c.task, c.lag, s, (e + 1) * EPOCH_UPDATES, f"{t:.6g}", f"{v:.6g}",
                 f"{a:.6g}", f"{self.baseline:.6g}")
                for s in range(c.seeds) for e, (t, v, a) in enumerate(self.history[s])]
        return {"memory-history.csv": (["experiment", "task", "lag", "replica", "updates",
                                        "train_loss", "test_loss", "test_score",
                                        "baseline"], rows)}


@dataclass
class MemoryModel:
    """One replica's trained model of a memory task: its outputs, and Keras."""

    params: dict
    config: Config
    task: Task

    def outputs(self, x) -> np.ndarray:
        """The Dense outputs for x (B, steps, inputs): copy's at every step (softmax
        logits), else the last step's (adding: the sum; temporal order: logits)."""
        return np.asarray(memory_train.outputs(spec_of(self.config), self.params,
                                               device(x, np.float32)))

    def keras(self):
        """The same model as a Keras Sequential: Input((steps, inputs)) → the cell's layer
        (× layers; return_sequences below the last, and on the last for copy) → Dense
        (linear for adding, softmax for the classes)."""
        from ..cells import CELLS
        from ..keras_io import _keras, recurrent_layers
        from ..model import keras_weights
        keras, c, t = _keras(), self.config, self.task
        net = keras.Sequential(
            [keras.Input((t.steps(c.lag), t.inputs))]
            + recurrent_layers(keras, CELLS[c.cell], c.sizes, last_sequences=t.every_step)
            + [keras.layers.Dense(t.outputs, activation=None if t.regression else "softmax")])
        net.set_weights(keras_weights(self.params))
        return net

    def save_keras(self, path):
        from ..keras_io import check_activation, save
        check_activation(self.config.activation)
        return save(self.keras(), path)


def _array_name(path) -> str:
    """A parameter's name in arrays.npz: "param/lstm/kernel" (its path in the pytree)."""
    return "param/" + "/".join(str(k.key) for k in path)


def spec_of(cfg: Config) -> MemorySpec:
    """The training settings: every field of MemorySpec is the setting of its name."""
    return MemorySpec(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(MemorySpec)})


class Memory(KindBase, view=memory_view):
    """The kind of the memory tasks (``kind="memory"``: the adding, copy and
    temporal-order presets)."""

    name = "memory"
    words = "memory tasks"
    result = MemoryResult
    explores = False  # a model of numbers and task symbols (MemoryModel), not of a vocabulary
    claims = True     # adding-lstm and adding-rnn (findings.CLAIMS) rest on its presets
    pictures_ahead = False  # its units picture runs seed 0's model

    def validate(self, cfg: Config, n_samples: int | None = None) -> None:
        super().validate(cfg)  # each setting alone, and where each applies
        if cfg.batch_size is None:
            raise ConfigError("batch size 'all' is not allowed for a memory task (its "
                              "sequences are drawn fresh: there is no 'all'); allowed: an "
                              "integer from 1")
        steps = TASKS[cfg.task].steps(cfg.lag)
        work = cfg.seeds * cfg.batch_size * steps * sum(cfg.sizes)
        if work > 2**31:
            raise ConfigError(f"a batch of {cfg.seeds} seeds × {cfg.batch_size} sequences × "
                              f"{steps} steps × {cfg.stack_text(' layers')} is "
                              f"too large for memory; use fewer seeds, a smaller batch, "
                              f"fewer units or a shorter --lag")

    def prepare(self, cfg: Config) -> SimpleNamespace:
        self.validate(cfg)
        return SimpleNamespace(vocab=data.Vocab.from_sequence(cfg.sequence),
                               task=TASKS[cfg.task])

    def disk_bytes(self, cfg: Config, ds, models: bool) -> int:
        from ..cells import CELLS, param_count
        t = TASKS[cfg.task]
        params = param_count(CELLS[cfg.cell], t.inputs, cfg.units, t.outputs, cfg.layers)
        return (cfg.seeds * params * 4 if models else 0) + cfg.seeds * cfg.epochs * 24 + 2**20

    def train(self, cfg: Config, ds, *, prior=None, first: int = 0, on_progress=None,
              check=None, checkpoint=None, workers=None, chunk=None) -> MemoryResult:
        from ..train import replica_keys
        spec, keys = spec_of(cfg), replica_keys(cfg.seed, cfg.seeds)
        out = fit(spec, keys, cfg.seed, on_progress, check, workers)
        initial = jax.vmap(lambda k: init(spec, k)[0])(keys)  # the untrained control
        return MemoryResult(cfg, ds, out["params"], out["history"], out["compile_s"],
                            out["train_s"], analyses={
                                "memory_units": memory_units.study(spec, out["params"],
                                                                   initial, cfg.seed)})

    def units_lines(self, res) -> list[str]:
        return memory_view.units_lines(res)

    def updates(self, cfg: Config, ds) -> int:
        return cfg.seeds * cfg.epochs * EPOCH_UPDATES

    def load(self, exp_dir: Path, record: dict, cfg: Config) -> MemoryResult:
        self.validate(cfg)
        arrays = record_io.read_arrays(exp_dir)
        history = shaped(arrays, "history", (cfg.seeds, cfg.epochs, 3), "f")
        finite = shaped(arrays, "finite", (cfg.seeds,), "b")
        params = None
        if record_io.models_flag(record):
            from ..train import replica_keys
            like = jax.eval_shape(lambda k: jax.vmap(lambda x: init(spec_of(cfg), x)[0])(k),
                                  replica_keys(cfg.seed, cfg.seeds))
            paths, tree = jax.tree_util.tree_flatten_with_path(like)
            params = jax.tree_util.tree_unflatten(tree, [
                shaped(arrays, _array_name(path), leaf.shape, "f") for path, leaf in paths])
        check(isinstance(record.get("seeds"), list), "seeds must be a list")
        return MemoryResult(cfg, self.prepare(cfg), params, history, record["compile_s"],
                            record["train_s"], cached=True,
                            finite=None if params is not None else finite,
                            analyses=record_io.analyses(record),
                            taken=record_io.looks_taken(record))


KIND = Memory()
