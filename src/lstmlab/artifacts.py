"""Models as files, and a trained model as an object to ask questions.

A saved model is a directory: ``model.safetensors`` (the parameters; safetensors never
executes code on load) and ``model.json`` (everything needed to use it, and the sha256 of
the parameters file). Every file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from . import data, evaluate, model

FORMAT_VERSION = 1
PARAMS_FILE, META_FILE = "model.safetensors", "model.json"
MAX_GENERATE = 100_000
KEYS = ("lstm/kernel", "lstm/recurrent_kernel", "lstm/bias", "dense/kernel", "dense/bias")


class ModelError(ValueError):
    """A model directory that cannot be used; the CLI prints it as one line."""


def atomic_write(path: Path, content: bytes | str) -> None:
    """Write to a temporary file beside ``path``, then rename over it: a reader (or a crash)
    sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class ModelInfo:
    """What ``model.json`` holds besides the format version and the hash."""

    vocab: tuple[str, ...]
    window: int
    framing: str
    encoding: str
    mask: bool
    units: int
    activation: str
    stateful: bool
    variable_length: bool
    experiment: str = ""
    replica: int = 0
    accuracy: float | None = None

    def check(self) -> None:
        """Raise ValueError unless every field is one lstmlab could have written."""
        if not (self.vocab and all(isinstance(v, str) and len(v) == 1 for v in self.vocab)
                and len(set(self.vocab)) == len(self.vocab)):
            raise ValueError("vocab must be distinct single characters")
        if self.framing not in data.FRAMINGS or self.encoding not in data.ENCODINGS:
            raise ValueError(f"unknown framing {self.framing!r} or encoding {self.encoding!r}")
        if self.activation not in model.ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}")
        for name in ("window", "units"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")
        for name in ("mask", "stateful", "variable_length"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")

    @property
    def n_features(self) -> int:
        per_step = 1 if self.encoding == "scaled" else len(self.vocab)
        return per_step * (self.window if self.framing == "features" else 1)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        f, u, v = self.n_features, self.units, len(self.vocab)
        return {"lstm/kernel": (f, 4 * u), "lstm/recurrent_kernel": (u, 4 * u),
                "lstm/bias": (4 * u,), "dense/kernel": (u, v), "dense/bias": (v,)}


class Model:
    """One trained LSTM with its vocabulary and framing: predict, generate, save.

    >>> model = lstmlab.load("runs/2026-11-29T10-00-00Z/timestep-window/0")
    >>> model.predict("ABC")
    'D'
    """

    def __init__(self, params, info: ModelInfo):
        self.params = jax.tree.map(jnp.asarray, params)
        self.info = info
        self.vocab = data.Vocab(tuple(info.vocab))

    def __repr__(self) -> str:
        i = self.info
        return (f"Model({i.experiment or 'custom'}, window {i.window}, {i.framing}, "
                f"{i.encoding}, LSTM({i.units}){', stateful' if i.stateful else ''})")

    # -- inputs ---------------------------------------------------------------------------
    def _indices(self, text: str) -> np.ndarray:
        if not text:
            raise data.DataError("the input is empty; give at least one symbol")
        return self.vocab.encode(text)

    def _window_input(self, idx: np.ndarray):
        """The last ``window`` symbols, framed and encoded as in training: (1, T, F), mask."""
        i = self.info
        if not i.variable_length and len(idx) < i.window:
            example = "".join(self.vocab.symbols[:i.window])
            raise data.DataError(f"the input has {len(idx)} symbol(s); this model reads a "
                                 f"window of {i.window}: give at least {i.window} (e.g. "
                                 f"{example!r})")
        x, mask = data.model_inputs(data.pad_front([idx], i.window), len(self.vocab),
                                    i.encoding, i.framing, i.mask)
        return jnp.asarray(x), None if mask is None else jnp.asarray(mask)

    def encode_steps(self, idx: np.ndarray):
        """One symbol per step (a stateful model's reading): (T, F)."""
        return jnp.asarray(data.encode(idx[:, None], len(self.vocab), self.info.encoding,
                                       "timesteps")[:, 0])

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
            state = evaluate.read_states(self.params, self.encode_steps(idx),
                                         self.info.activation)
            return evaluate.next_probs(self.params, state)
        x, mask = self._window_input(idx)
        return evaluate.probabilities(self.params, x, mask, self.info.activation)[0]

    def generate(self, start: str, length: int) -> str:
        """``start`` followed by ``length`` greedily generated symbols. A stateful model
        carries its state (reset first, then reads ``start``); a window model slides its
        window over what it has generated."""
        if not 1 <= length <= MAX_GENERATE:
            raise data.DataError(f"length {length} is not allowed; allowed: an integer from "
                                 f"1 to {MAX_GENERATE}")
        idx = list(self._indices(start))
        if self.info.stateful:
            out = evaluate.generate_stateful(self.params, self.encode_steps(np.array(idx)),
                                             self.encode_steps(np.arange(len(self.vocab))),
                                             length, self.info.activation)
            return start + "".join(self.vocab.decode(out))
        self._window_input(np.array(idx))  # checks the start is long enough
        for _ in range(length):
            idx.append(int(np.argmax(self._probs(np.array(idx[-self.info.window:])))))
        return "".join(self.vocab.decode(idx))

    # -- files ----------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write ``model.safetensors`` and ``model.json`` into directory ``path``."""
        path = Path(path)
        flat = {k: np.asarray(self.params[k.split("/")[0]][k.split("/")[1]], np.float32)
                for k in KEYS}
        blob = st_save(flat)
        atomic_write(path / PARAMS_FILE, blob)
        meta = {"format_version": FORMAT_VERSION, "lstmlab_version": _version(),
                "params_file": PARAMS_FILE, "params_sha256": hashlib.sha256(blob).hexdigest(),
                **asdict(self.info), "vocab": list(self.info.vocab)}
        atomic_write(path / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False))
        return path

    @classmethod
    def load(cls, path) -> "Model":
        """Load a model directory, checking format version, hash, keys and shapes."""
        path = Path(path)
        if not path.is_dir():
            raise ModelError(f"{path}: no such model directory")
        try:
            meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
            blob = (path / PARAMS_FILE).read_bytes()
        except FileNotFoundError as e:
            raise ModelError(f"{path}: {Path(e.filename).name} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelError(f"{path}: cannot read the model ({e.__class__.__name__}: "
                             f"{e})") from None
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            version = meta.get("format_version") if isinstance(meta, dict) else None
            raise ModelError(f"{path}: unknown model format version {version!r}; this "
                             f"lstmlab reads version {FORMAT_VERSION}")
        if hashlib.sha256(blob).hexdigest() != meta.get("params_sha256"):
            raise ModelError(f"{path}: {PARAMS_FILE} does not match the sha256 in "
                             f"{META_FILE} (corrupted or replaced)")
        try:
            fields = {k: meta[k] for k in ModelInfo.__dataclass_fields__ if k in meta}
            info = ModelInfo(**{**fields, "vocab": tuple(meta["vocab"])})
            info.check()
            arrays = st_load(blob)
        except (KeyError, TypeError, ValueError, SafetensorError) as e:
            raise ModelError(f"{path}: malformed model ({e})") from None
        for key, shape in info.shapes().items():
            if key not in arrays:
                raise ModelError(f"{path}: parameter {key!r} is missing")
            if tuple(arrays[key].shape) != shape:
                raise ModelError(f"{path}: parameter {key!r} has shape "
                                 f"{tuple(arrays[key].shape)}, expected {shape}")
        params = {"lstm": {}, "dense": {}}
        for key in KEYS:
            layer, name = key.split("/")
            params[layer][name] = arrays[key]
        return cls(params, info)


def load(path) -> Model:
    """Load a saved model directory (``lstmlab.load``)."""
    return Model.load(path)


def _version() -> str:
    from . import __version__
    return __version__
