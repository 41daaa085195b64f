"""A check of a user's stateful Keras model and data (``lstmlab check``, ``lstmlab.check``):
the mistakes the tutorial exists for, said in plain words — shuffled batches, a sample
count the batch size does not divide, predicting with another batch size, rows of a batch
that do not continue the previous batch's rows — and a measurement of whether the state
carries anything: the loss on the user's data with the state carried from batch to batch
against the state reset before every batch, batch by batch.

Keras's own ``predict_on_batch`` and ``reset_state`` run the model (no re-implementation:
the check is of the user's model as Keras runs it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import stats
from .errors import DataError, KerasError
from .files import read_bytes
from .verdicts import MAJORITY, NOT_SUPPORTED, SUPPORTED, decide

MAX_DATA_BYTES = 2**30
CONSISTENT = 0.95  # a mapping from inputs to targets that holds for this share of pairs


@dataclass
class Check:
    """What ``check`` found: the problems (each a sentence), notes, and the measurement
    of the carried state: per batch the loss carried and reset, the batches where
    carrying was better, their exact interval and the verdict."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    carried: np.ndarray | None = None   # (batches,) loss with the state carried
    reset: np.ndarray | None = None     # (batches,) loss with the state reset each batch
    better: int = 0                     # batches where carrying had the lower loss
    untied: int = 0                     # batches that differ
    interval: tuple[float, float] = (float("nan"), float("nan"))
    verdict: str = ""
    loss: str = ""                      # its name

    def words(self) -> list[str]:
        """Every line ``lstmlab check`` prints."""
        out = [f"Problem: {p}" for p in self.problems] or ["No problem found in the setup."]
        out += [f"Note: {n}" for n in self.notes]
        if self.carried is not None:
            d = self.reset - self.carried
            out.append(
                f"State: over {len(d)} batches read in order, the {self.loss} with the state "
                f"carried is {self.carried.mean():.4g} and with it reset before every batch "
                f"{self.reset.mean():.4g} (mean difference {d.mean():+.4g}); carrying is "
                f"better in {self.better} of the {self.untied} batches that differ (exact 95% "
                f"CI {stats.interval_text(*self.interval, 0, '%')}): {self.verdict}")
        return out


def _stateful_layers(net) -> list:
    return [layer for layer in getattr(net, "layers", []) if getattr(layer, "stateful", False)]


def _batch_size(net) -> int | None:
    """The fixed batch size of a stateful model's input, or None."""
    shape = getattr(net, "input_shape", None) or getattr(net.inputs[0], "shape", None)
    return None if shape is None or shape[0] is None else int(shape[0])


def _classes(y: np.ndarray) -> np.ndarray | None:
    """Targets as class indices (one-hot rows or integers), or None for real values."""
    if y.ndim >= 2 and y.shape[-1] > 1 and np.all((y == 0) | (y == 1)) and \
            np.all(y.sum(-1) == 1):
        return y.argmax(-1).reshape(len(y), -1)[:, -1]
    if np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0):
        return y.reshape(len(y), -1)[:, -1].astype(int)
    return None


def _continues(x: np.ndarray, cls: np.ndarray, step: int) -> bool | None:
    """Is sample i + ``step``'s first input the symbol sample i's target names, for
    CONSISTENT of the samples (the stream continues there)? One-hot inputs: the same
    index; one number per step (the tutorial's index / vocabulary size): one scale for
    every symbol. None when the inputs are neither (it cannot be told)."""
    if step >= len(x) or len(np.unique(cls)) < 2:
        return False
    first, c = x[step:, 0, :], cls[:-step]
    if first.shape[1] > 1:
        if not np.all(((first == 0) | (first == 1)) & (first.sum(1, keepdims=True) == 1)):
            return None
        ok = first.argmax(1) == c
    else:
        code, pos = first[:, 0].astype(np.float64), c > 0
        if not pos.any():
            return False
        scale = np.median(code[pos] / c[pos])
        ok = np.abs(code - scale * c) <= 1e-4 * max(abs(scale), 1e-9) * max(c.max(), 1)
    return bool(np.mean(ok) >= CONSISTENT)


def _loss_fn(y: np.ndarray):
    cls = _classes(y)
    if cls is not None:
        return "cross-entropy (nats)", lambda p, k: float(-np.mean(np.log(np.clip(
            p.reshape(len(p), -1)[np.arange(len(p)), k], 1e-7, 1))))
    return "mean squared error", lambda p, t: float(np.mean((p.reshape(t.shape) - t) ** 2))


def _reset(layers) -> None:
    for layer in layers:
        (getattr(layer, "reset_state", None) or layer.reset_states)()


def check(net, x, y, batch_size: int | None = None, shuffle: bool = False,
          predict_batch_size: int | None = None) -> Check:
    """Check a Keras model ``net`` (or a .keras/.h5 path) trained or to be trained on x
    (N, steps, features) → y with ``batch_size`` (default: the model's own) and
    ``shuffle`` as the user passes them to ``fit``, and ``predict_batch_size`` as given
    to ``predict``; then measure whether its state carries anything on this data."""
    from .keras_io import _load
    if isinstance(net, (str, Path)):
        net = _load(Path(net))
    x, y = np.asarray(x, np.float32), np.asarray(y)
    if x.ndim != 3 or len(x) != len(y) or not len(x):
        raise DataError(f"x must be (samples, steps, features) and y one target per sample; "
                        f"got x {x.shape} and y {y.shape}")
    out = Check()
    layers = _stateful_layers(net)
    fixed = _batch_size(net)
    b = batch_size or fixed or 32
    if not layers:
        out.problems.append("the model is not stateful (no layer has stateful=True): "
                            "nothing carries from one batch to the next, so the rows of a "
                            "batch are independent samples and their order does not matter")
    if fixed is not None and b != fixed:
        out.problems.append(f"batch size {b} differs from the model's fixed batch size "
                            f"{fixed}: Keras refuses it, or (a rebuilt model) row j no longer "
                            f"meets the state it left in row j")
    if shuffle and layers:
        out.problems.append("shuffle=True: Keras reorders the samples every epoch, so row j "
                            "of a batch no longer continues row j of the batch before and the "
                            "carried state is another sequence's; pass shuffle=False")
    if len(x) % b:
        out.problems.append(f"{len(x)} samples are not a multiple of the batch size {b}: the "
                            f"last batch has {len(x) % b} rows, which a stateful model cannot "
                            f"take (Keras refuses it or drops it) — cut the data to "
                            f"{len(x) - len(x) % b} samples or choose a batch size that "
                            f"divides {len(x)}")
    if predict_batch_size is not None and predict_batch_size != b:
        out.problems.append(f"predicting with batch size {predict_batch_size} where the model "
                            f"trains with {b}: a stateful model's state belongs to its row j "
                            f"of {b} rows; build the prediction model with the same batch "
                            f"size (or batch size 1 and copy the weights), and reset it first")
    cls = _classes(y)
    if layers and cls is not None:
        along, rows = _continues(x, cls, 1), _continues(x, cls, b)
        if rows is None:
            out.notes.append("the inputs are neither one-hot nor one number per step: the "
                             "row layout is not checked")
        elif b > 1 and along and not rows:
            out.problems.append(f"the samples continue one another (sample i + 1 starts where "
                                f"sample i's target is), but with batch size {b} the state of "
                                f"row j is carried to row j of the next batch, sample i + {b}: "
                                f"lay the sequence out as {b} streams, stream j in row j of "
                                f"every batch")
        elif not rows:
            out.notes.append(f"sample i + {b}'s first input is not recognisably the target of "
                             f"sample i: if your rows are meant to continue each other "
                             f"batch to batch, they do not here")
    elif layers:
        out.notes.append("the targets are real values: the row layout is not checked")
    b = fixed or b  # the model runs with its own batch size from here on
    if layers and len(x) >= 2 * b and not _fit_carries(net, x[:2 * b], y[:2 * b], b):
        import keras
        out.problems.append(
            f"Keras's fit() does not carry the state on the {keras.backend.backend()} backend: "
            f"after fitting two batches in order a copy of this model's stateful layer holds "
            f"zeros, so fit trains it as a stateless model (only direct calls, model(x), "
            f"carry the state there); run this check on the backend you train with")
    if layers and len(x) >= 2 * b:
        n = len(x) - len(x) % b
        out.loss, runs = _losses(net, layers, x[:n], y[:n], b,
                                 lambda xb: net(xb, training=False))
        _judge(runs, out)
        if out.untied:  # the state matters: does Keras's predict carry it on this backend?
            _, via = _losses(net, layers, x[:n], y[:n], b, net.predict_on_batch)
            if np.allclose(via[True], via[False]) and not np.allclose(via[True], runs[True]):
                import keras
                out.problems.append(
                    f"Keras's predict() and predict_on_batch() do not carry the state on "
                    f"the {keras.backend.backend()} backend (their losses are the same carried "
                    f"and reset, {via[True].mean():.4g}, where calling the model carries it: "
                    f"{runs[True].mean():.4g}): call the model, model(x_batch), batch by batch")
    return out


def _fit_carries(net, x, y, b) -> bool:
    """Does Keras's fit carry a stateful layer's state here? A copy of the model (the
    user's is untouched) is fitted on two batches in order at learning rate 0, and its
    first stateful layer's state read."""
    import keras
    copy = keras.models.clone_model(net)
    copy.set_weights(net.get_weights())
    cls = _classes(y)
    loss = "mse" if cls is None else ("categorical_crossentropy" if y.ndim >= 2
                                      and y.shape[-1] > 1 else
                                      "sparse_categorical_crossentropy")
    try:
        copy.compile(loss=loss, optimizer=keras.optimizers.SGD(learning_rate=0.0))
        copy.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0)
    except Exception:  # a model fit cannot take as it is: nothing to say about fit
        return True
    layer = _stateful_layers(copy)[0]
    return any(np.any(np.asarray(v) != 0) for v in getattr(layer, "states", []) or [1])


def _losses(net, layers, x, y, b, run) -> tuple[str, dict[bool, np.ndarray]]:
    """The loss's name and per batch, read in order with ``run``, the loss with the state
    carried (True) and with it reset before every batch (False)."""
    name, loss = _loss_fn(y)
    target = _classes(y) if name.startswith("cross") else y.astype(np.float32)
    runs = {}
    for carry in (True, False):
        _reset(layers)
        per = []
        for k in range(0, len(x), b):
            if not carry:
                _reset(layers)
            per.append(loss(np.asarray(run(x[k:k + b])), target[k:k + b]))
        runs[carry] = np.array(per)
    _reset(layers)
    return name, runs


def _judge(runs: dict, out: Check) -> None:
    """The verdict: carrying the state lowers the loss in most batches that differ (an
    exact sign test: batches are not independent draws, so the interval speaks of these
    batches read in this order)."""
    d = runs[False] - runs[True]
    better, untied = int(np.sum(d > 1e-7)), int(np.sum(np.abs(d) > 1e-7))
    lo, hi = stats.share_interval(better, untied) if untied else (0.0, 1.0)
    verdict = decide(lo, hi, MAJORITY)
    out.carried, out.reset, out.better, out.untied = runs[True], runs[False], better, untied
    out.interval = (lo, hi)
    out.verdict = {SUPPORTED: "the state carries something: carrying it lowers the loss "
                              "in most batches",
                   NOT_SUPPORTED: "carrying the state makes most batches worse: the "
                                  "state misleads the model on this data",
                   }.get(verdict, "not shown: carrying the state does not lower the loss in "
                         "most batches" + ("" if untied else " (no batch differs: the state "
                                           "carries nothing)"))


def load_data(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` from a .npz file (no pickles)."""
    import io
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file (a .npz with arrays x and y)")
    try:
        with np.load(io.BytesIO(read_bytes(path, MAX_DATA_BYTES, "data file")),
                     allow_pickle=False) as z:
            missing = {"x", "y"} - set(z.files)
            if missing:
                raise DataError(f"{path}: the .npz lacks {', '.join(sorted(missing))}; it "
                                f"needs arrays x (samples, steps, features) and y")
            return z["x"], z["y"]
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path}: not a .npz file numpy can read ({e.__class__.__name__})") \
            from None


__all__ = ["Check", "check", "load_data", "KerasError"]
