"""Models as files, and a trained model as an object to ask questions.

A saved model is a directory: ``model.safetensors`` (the parameters; safetensors never
executes code on load) and ``model.json`` (everything needed to use it, and the sha256 of
the parameters file). Every file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from . import data, evaluate
from .cells import CELLS, layered
from .config import MAX_GENERATE, MAX_SEED
from .files import FileError, atomic_write, dumps, read_bytes
from .errors import DataError, ModelError, shown
from .programs import device
from .model_info import MAX_STORED_SEQUENCE, ModelInfo, Trace  # noqa: F401  (artifacts's)

FORMAT_VERSION = 1
PARAMS_FILE, META_FILE = "model.safetensors", "model.json"
MAX_META_BYTES = 16 * 2**20
REPR_HTML_MAX_BYTES = 16 * 2**20
MAX_TEMPERATURE = 100.0  # generation's; above it every draw is near uniform




class Model:
    """One trained LSTM with its vocabulary and framing: predict, generate, save.

    >>> model = lstmlab.load("runs/2026-11-29T10-00-00Z/timestep-window/0")
    >>> model.predict("ABC")
    'D'
    """

    def __init__(self, params, info: ModelInfo):
        self.params = jax.tree.map(device, params)
        self.info = info
        self.vocab = data.Vocab(tuple(info.vocab))

    def __repr__(self) -> str:
        i = self.info
        return (f"Model({i.experiment or 'custom'}, window {i.window}, {i.framing}, "
                f"{i.encoding}, {i.stack_text()}"
                f"{', stateful' if i.stateful else ''})")

    # -- inputs ---------------------------------------------------------------------------
    def _indices(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise DataError(f"the input {shown(text)} is not allowed; allowed: a string of the "
                            f"model's symbols")
        if not text:
            raise DataError("the input is empty; give at least one symbol")
        return self.vocab.encode(text)

    def _window_input(self, idx: np.ndarray):
        """The last ``window`` symbols, framed and encoded as in training: (1, T, F), mask."""
        i = self.info
        if not i.variable_length and len(idx) < i.window:
            example = "".join(self.vocab.symbols[:i.window])
            raise DataError(f"the input has {len(idx)} symbol(s); this model reads a "
                            f"window of {i.window}: give at least {i.window} (e.g. "
                            f"{example!r})")
        x, mask = data.model_inputs(data.pad_front([idx], i.window), len(self.vocab),
                                    i.encoding, i.framing, i.mask)
        return device(x), None if mask is None else device(mask)

    def stateful_windows(self, idx: np.ndarray):
        """What a stateful model reads from a reset: every window of ``idx`` in order, one
        per batch, framed and encoded as in training: (n, T, F)."""
        i = self.info
        if len(idx) < i.window:
            self._window_input(idx)  # the one-line error that names the window
        win = np.lib.stride_tricks.sliding_window_view(idx, i.window)  # (n, window)
        return device(data.encode(win, len(self.vocab), i.encoding, i.framing))

    def unseen(self, text: str) -> str | None:
        """Why the model never saw ``text`` as it reads it in training, or None when it did
        (or when the training sequence is not stored with the model)."""
        i, seq = self.info, self.info.sequence
        if not seq:
            return None
        if i.reads_text:  # streams start all over the text: any text of its symbols is read
            return None
        if i.stateful:
            if not seq.startswith(text):
                return (f"after a reset this model was always trained reading "
                        f"{data.quoted(seq[:len(text)])}…; {data.quoted(text)} is not how "
                        f"the sequence begins, so the state it reaches was never trained")
            return None
        window = text[-i.window:]
        if window not in seq[:-1]:  # a training input is followed by its target
            return (f"the window {data.quoted(window)} is never followed by a symbol in "
                    f"the training sequence: the prediction is a guess")
        return None

    # -- questions ------------------------------------------------------------------------
    def predict_proba(self, text: str) -> dict[str, float]:
        """Probability of each symbol following ``text``, most likely first. A stateful
        model reads ``text`` one symbol at a time from a reset state; a window model reads
        its last window (a variable-length model: up to its window, padded)."""
        p = np.asarray(self._probs(self._indices(text)), np.float64)
        order = np.argsort(-p, kind="stable")
        return {self.vocab.symbols[k]: float(p[k]) for k in order}

    def predict(self, text: str) -> str:
        """The most likely next symbol after ``text``."""
        return next(iter(self.predict_proba(text)))

    def _probs(self, idx: np.ndarray):
        if self.info.stateful:
            state = evaluate.read_states(self.params, self.stateful_windows(idx),
                                         self.info.activation)
            return evaluate.next_probs(self.params, state)
        x, mask = self._window_input(idx)
        return evaluate.probabilities(self.params, x, mask, self.info.activation)[0]

    def _reading(self, text: str):
        """How the model reads ``text`` in :meth:`trace`: the windows (N, W) of indices,
        the position of each one's last symbol (N,), symbols since the reset (N,), and the
        framed, encoded input (N, S, F) with its mask."""
        i, idx = self.info, self._indices(text)
        w = i.window
        if i.variable_length and not i.stateful:
            windows = data.pad_front([idx[:t + 1] for t in range(len(idx))], w)  # (N, W)
            positions = np.arange(len(idx))
            since = np.minimum(positions + 1, w)
        else:
            if len(idx) < w:
                self._window_input(idx)  # the one-line error that names the window
            windows = np.lib.stride_tricks.sliding_window_view(idx, w).astype(np.int32)
            positions = np.arange(w - 1, len(idx))
            since = positions + 1 if i.stateful else np.full(len(positions), w)
        x, mask = data.model_inputs(windows, len(self.vocab), i.encoding, i.framing, i.mask)
        return windows, positions, since, x, mask

    def trace(self, text: str) -> Trace:
        """The gates, states and next-symbol probabilities at every step while the model
        reads ``text`` as it reads it in training: a window model reads the window ending
        at each symbol from a zero state (from the ``window``-th symbol on; a
        variable-length model from the first, padded); a stateful model carries its state
        over the whole text from a reset. See :class:`Trace` for the shapes."""
        i = self.info
        windows, positions, since, x, mask = self._reading(text)
        probs, gates = evaluate.trace(self.params, device(x),
                                      None if mask is None else device(mask),
                                      carry=i.stateful, activation=i.activation)
        steps = x.shape[1]
        real = np.ones((len(positions), steps), bool) if mask is None else mask
        arrays = {k: np.array(gates[k], np.float32)  # jit returns a dict's keys sorted
                  for k in layered(CELLS[i.cell].trace._fields, i.layers)}
        # a masked step computes nothing that is used
        for k in layered(CELLS[i.cell].masked, i.layers):
            arrays[k][~real] = np.nan
        return Trace(text=text, vocab=self.vocab.symbols, positions=positions,
                     windows=windows, mask=real, probs=np.asarray(probs, np.float32),
                     since_reset=since, quantities=arrays)

    # -- what the units learned (lstmlab.units) ------------------------------------------
    def _analysed(self, text: str | None) -> str:
        if text is not None:
            return text
        if not self.info.sequence:
            raise DataError("this model does not keep its training text (longer than "
                            f"{MAX_STORED_SEQUENCE} symbols); give a text to read")
        return self.info.sequence

    def units(self, text: str | None = None, tracks: dict | None = None):
        """Pearson's r of every unit's every quantity (the LSTM's i, f, g, o, tanh(c), h;
        layer by layer) with every track (``units.TRACKS``, and ``tracks``: name → one
        number per symbol of ``text``) while the model reads ``text`` as in
        :meth:`trace` (default: its training sequence). A DataFrame of track, layer,
        quantity, unit, r; ``lstmlab.units.best(frame)`` keeps the strongest per track."""
        from . import units
        trace = self.trace(self._analysed(text))
        acts = units.activations(trace, CELLS[self.info.cell], self.info.layers)
        return units.correlations(acts, units.tracks_at(trace, tracks))

    def saturation(self, text: str | None = None):
        """Per gate unit, the share of steps it is below 0.1 and above 0.9 while reading
        ``text`` (default: the training sequence): a DataFrame of layer, gate, unit, left,
        right (Karpathy et al. 2015, Fig. 3). A SimpleRNN has no gate: no rows."""
        from . import units
        return units.saturation(self.trace(self._analysed(text)), CELLS[self.info.cell],
                                self.info.layers)

    def ablate(self, units) -> "Model":
        """This model with ``units`` silenced: a unit of layer 1 by its number, or
        (layer, unit) pairs, or rows of :meth:`units`' DataFrame. Each unit's h (and c)
        is held at 0 as far as every other unit and the prediction see (its outgoing
        weights are zeroed: the result is an ordinary model)."""
        from . import units as u
        return Model(u.ablate(self.params, units), self.info)

    def ablation(self, units, text: str | None = None, tracks: dict | None = None):
        """What silencing ``units`` (see :meth:`ablate`) changes while reading ``text``:
        loss and accuracy of the next symbol before and after, overall and where each
        track is high. A DataFrame."""
        from . import units as u
        text = self._analysed(text)
        a, b = self.trace(text), self.ablate(units).trace(text)
        targets = self._targets(text, a.positions)
        return u.effect(a.probs, b.probs, targets, u.tracks_at(a, tracks))

    def _targets(self, text: str, positions: np.ndarray) -> np.ndarray:
        """The symbol that follows each prediction's last one in ``text`` (-1: none)."""
        idx = self.vocab.encode(text)
        nxt = positions + 1
        return np.where(nxt < len(idx), idx[np.minimum(nxt, len(idx) - 1)], -1)

    def connectivity(self, text: str | None = None) -> np.ndarray:
        """How strongly each prediction depends on each symbol read before it: (N, L), row
        n the prediction after ``text[trace.positions[n]]``, column s the s-th symbol,
        |∂ log p(next symbol) / ∂ input_s| (the symbol that follows in ``text``; the most
        likely one after the last). At most ``units.MAX_CONNECTIVITY`` symbols."""
        from . import units
        i, text = self.info, self._analysed(text)
        if len(text) > units.MAX_CONNECTIVITY:
            raise DataError(f"the text has {len(text)} symbols; connectivity reads at most "
                            f"{units.MAX_CONNECTIVITY} (it is N × N): give a shorter one")
        windows, positions, _, x, mask = self._reading(text)
        targets = self._targets(text, positions)  # -1 after the last: its most likely
        where = np.where(windows >= 0, positions[:, None] - windows.shape[1] + 1 +
                         np.arange(windows.shape[1]), -1)
        return units.connectivity(self.params, x, mask, targets, where, len(text),
                                  i.stateful, i.activation)

    def _repr_html_(self) -> str | None:
        """In Jupyter a model shows as its explorer (``lstmlab.explore``); one whose weights
        would make the notebook heavy (over 16 MiB) shows as its text repr."""
        if self.info.params_bytes() > REPR_HTML_MAX_BYTES:
            return None
        from . import explorer
        return explorer.Explorer(self)._repr_html_()

    def generate(self, start: str, length: int, temperature: float = 0.0,
                 seed: int = 0) -> str:
        """``start`` followed by ``length`` generated symbols: at ``temperature`` 0 the most
        likely one each time (greedy), else each drawn from p^(1/temperature) renormalised
        (``seed`` makes the draws repeatable). A stateful model carries its state (reset
        first, then reads ``start``); a window model slides its window over what it has
        generated."""
        length, temperature, seed = map(data.plain, (length, temperature, seed))
        if not isinstance(length, int) or isinstance(length, bool) or \
                not 1 <= length <= MAX_GENERATE:
            raise DataError(f"length {length!r} is not allowed; allowed: an integer from "
                            f"1 to {MAX_GENERATE}")
        if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or \
                not 0 <= temperature <= MAX_TEMPERATURE:
            raise DataError(f"temperature {temperature!r} is not allowed; allowed: a number "
                            f"from 0 (greedy) to {MAX_TEMPERATURE:g}")
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
            raise DataError(f"seed {seed!r} is not allowed; allowed: an integer from 0 to "
                            f"{MAX_SEED}")
        idx = list(self._indices(start))
        key = jax.random.PRNGKey(seed)
        if self.info.stateful:
            i, idx = self.info, np.array(idx, np.int32)
            table = data.encode(np.arange(len(self.vocab))[:, None], len(self.vocab),
                                i.encoding, "timesteps")[:, 0]  # (V, F per symbol)
            out = evaluate.generate_stateful(self.params, self.stateful_windows(idx),
                                             device(idx[-i.window:]),
                                             device(table), length,
                                             i.framing == "features", i.activation,
                                             jnp.float32(temperature), key)
            return start + "".join(self.vocab.decode(out))
        self._window_input(np.array(idx))  # checks the start is long enough
        for k in jax.random.split(key, length):
            p = jnp.asarray(self._probs(np.array(idx[-self.info.window:])))
            idx.append(int(evaluate.pick(jnp.log(p), jnp.float32(temperature), k)))
        return "".join(self.vocab.decode(idx))

    # -- Keras (imported only when asked for) --------------------------------------------
    @classmethod
    def from_keras(cls, model_or_path, sequence: str | None = None, vocab=None,
                   framing: str | None = None, window: int | None = None) -> "Model":
        """A Keras model, or a ``.keras`` / legacy ``.h5`` file of one, as an lstmlab Model
        (``lstmlab.from_keras``): units, activation, masking, statefulness and the framing
        are read from it; the vocabulary is the symbols of ``sequence`` (A–Z by default) or
        ``vocab``. See :func:`lstmlab.keras_io.read`."""
        from . import keras_io
        params, fields = keras_io.read(model_or_path, sequence or (None if vocab else
                                                                    data.ALPHABET),
                                       vocab, framing, window)
        info = ModelInfo(**fields)
        try:
            info.check()
        except ValueError as e:
            raise keras_io.KerasError(f"unsupported Keras model: {e}") from None
        return cls(params, info)

    def to_keras(self):
        """This model as a Keras model with the same weights (a stateful one with
        ``stateful=True`` and batch shape 1)."""
        from . import keras_io
        return keras_io.build(self.params, self.info)

    def save_keras(self, path) -> Path:
        """Write this model as a Keras file (``.keras``, or legacy ``.h5``)."""
        from . import keras_io
        return keras_io.save(self.to_keras(), path)

    # -- files ----------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write ``model.safetensors`` and ``model.json`` into directory ``path``."""
        if not isinstance(path, (str, os.PathLike)):
            raise ModelError(f"path {path!r} is not allowed; allowed: a directory's path (a "
                             f"string or a pathlib.Path)")
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ModelError(f"{path} is a file: a model is saved into a directory")
        flat = {k: np.asarray(self.params[k.split("/")[0]][k.split("/")[1]], np.float32)
                for k in self.info.shapes()}
        blob = st_save(flat)
        atomic_write(path / PARAMS_FILE, blob)
        meta = {"format_version": FORMAT_VERSION, "lstmlab_version": _version(),
                "params_file": PARAMS_FILE, "params_sha256": hashlib.sha256(blob).hexdigest(),
                **asdict(self.info), "vocab": list(self.info.vocab)}
        atomic_write(path / META_FILE, dumps(meta))
        return path

    @classmethod
    def load(cls, path, check_finite: bool = True) -> "Model":
        """Load a model directory, checking format version, hash, keys, shapes, sizes and
        (unless ``check_finite`` is False) that every parameter is finite."""
        path = Path(path)
        if not path.is_dir():
            raise ModelError(f"{path}: no such model directory")
        try:
            meta = json.loads(read_bytes(path / META_FILE, MAX_META_BYTES, "model.json"))
        except FileError as e:
            missing = not (path / META_FILE).exists()
            raise ModelError(f"{path}: {META_FILE} is missing" if missing else str(e)) \
                from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelError(f"{path}: cannot read the model ({e.__class__.__name__}: "
                             f"{e})") from None
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            version = meta.get("format_version") if isinstance(meta, dict) else None
            raise ModelError(f"{path}: unknown model format version {version!r}; this "
                             f"lstmlab reads version {FORMAT_VERSION}")
        try:
            fields = {k: meta[k] for k in ModelInfo.__dataclass_fields__ if k in meta}
            info = ModelInfo(**{**fields, "vocab": tuple(meta["vocab"])})
            info.check()
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{path}: malformed model ({e})") from None
        try:
            # the shapes bound the file: a header of a few hundred bytes besides the floats
            blob = read_bytes(path / PARAMS_FILE, info.params_bytes() + 2**16, PARAMS_FILE)
        except FileError as e:
            missing = not (path / PARAMS_FILE).exists()
            raise ModelError(f"{path}: {PARAMS_FILE} is missing" if missing else str(e)) \
                from None
        if hashlib.sha256(blob).hexdigest() != meta.get("params_sha256"):
            raise ModelError(f"{path}: {PARAMS_FILE} does not match the sha256 in "
                             f"{META_FILE} (corrupted or replaced)")
        try:
            arrays = st_load(blob)
        except (ValueError, SafetensorError) as e:
            raise ModelError(f"{path}: malformed model ({e})") from None
        for key, shape in info.shapes().items():
            if key not in arrays:
                raise ModelError(f"{path}: parameter {key!r} is missing")
            if tuple(arrays[key].shape) != shape:
                raise ModelError(f"{path}: parameter {key!r} has shape "
                                 f"{tuple(arrays[key].shape)}, expected {shape}")
            if check_finite and not np.all(np.isfinite(arrays[key])):
                raise ModelError(f"{path}: parameter {key!r} holds NaN or infinite values "
                                 f"(the training diverged); this model cannot predict")
        params = {}
        for key in info.shapes():
            layer, name = key.split("/")
            params.setdefault(layer, {})[name] = arrays[key]
        return cls(params, info)


def load(path) -> Model:
    """Load a saved model directory (``lstmlab.load``)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ModelError(f"path {path!r} is not allowed; allowed: a model directory's path "
                         f"(a string or a pathlib.Path)")
    return Model.load(path)


def _version() -> str:
    from . import __version__
    return __version__
