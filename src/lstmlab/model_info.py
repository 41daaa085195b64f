"""What a saved model is (:class:`ModelInfo`: everything ``model.json`` holds beside the
parameters, checked as lstmlab writes it) and what it computes while it reads a text
(:class:`Trace`); the files themselves are ``artifacts``'."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import data
from .cells import CELLS, stack_shapes
from .config import layer_sizes, problem, sizes_problem, stack_text

MAX_STORED_SEQUENCE = 100_000  # model.json keeps the training sequence up to this length


@dataclass(frozen=True)
class ModelInfo:
    """What ``model.json`` holds besides the format version and the hash."""

    vocab: tuple[str, ...]
    window: int
    framing: str
    encoding: str
    mask: bool
    units: int | tuple[int, ...]  # one size for every layer, or one per layer
    activation: str
    stateful: bool
    variable_length: bool
    experiment: str = ""
    replica: int = 0
    accuracy: float | None = None
    sequence: str = ""  # the training sequence ("" when longer than MAX_STORED_SEQUENCE)
    cell: str = "lstm"  # the recurrent cell (cells.CELLS); files before it held an LSTM
    layers: int = 1     # layers of the cell; files before it held one
    streams: int = 0    # trained as char-rnn on this many streams of a text (0: windows)
    loss: float | None = None  # a text model's validation loss (nats per symbol; its
                               # training loss when it had no validation, val_loss False)
    val_loss: bool = True

    def __post_init__(self):
        if isinstance(self.units, list):  # model.json's list of one size per layer
            object.__setattr__(self, "units", tuple(self.units))

    @property
    def sizes(self) -> tuple[int, ...]:
        """Each recurrent layer's units, bottom first."""
        return layer_sizes(self.units, self.layers)

    def stack_text(self, layers_word: str = "") -> str:
        """LSTM(32), LSTM(32) × 2, LSTM(64) → LSTM(32) (``setting.stack_text``)."""
        return stack_text(CELLS[self.cell].keras_layer, self.units, self.layers, layers_word)

    @property
    def reads_text(self) -> bool:
        """A text model (char-rnn's streams): it reads any text of its symbols."""
        return self.streams > 0

    def check(self) -> None:
        """Raise ValueError unless every field is one lstmlab could have written."""
        if not (self.vocab and all(isinstance(v, str) and len(v) == 1 for v in self.vocab)
                and len(set(self.vocab)) == len(self.vocab)):
            raise ValueError("vocab must be distinct single characters")
        # the experiment's settings, as it checks them
        for name in ("window", "framing", "encoding", "cell", "units", "layers", "activation",
                     "mask", "stateful", "sequence", "streams"):
            if (wrong := problem(name, getattr(self, name))) is not None:
                raise ValueError(wrong)
        if (wrong := sizes_problem(self.units, self.layers)):
            raise ValueError(wrong)
        if not isinstance(self.variable_length, bool):
            raise ValueError("variable_length must be true or false")

    @property
    def n_features(self) -> int:
        return data.n_features(len(self.vocab), self.window, self.encoding, self.framing)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The model file's parameters, "layer/name" → shape: each layer's cell (lstm,
        lstm_1, …; layer 2 on reads the U outputs below), then Dense's."""
        f, u, v = self.n_features, self.units, len(self.vocab)
        last = self.sizes[-1]
        c = CELLS[self.cell]
        return {**{f"{key}/{k}": shape
                   for key, shapes in stack_shapes(c, f, u, self.layers).items()
                   for k, shape in shapes.items()},
                "dense/kernel": (last, v), "dense/bias": (v,)}

    def params_bytes(self) -> int:
        """The size of the float32 parameters: a parameters file may be this plus a header."""
        return 4 * sum(int(np.prod(s)) for s in self.shapes().values())


@dataclass(frozen=True, eq=False)
class Trace:
    """What a model computes while it reads a text (:meth:`Model.trace`), as numpy arrays.

    N predictions (one after each symbol the model can predict from), S recurrent steps per
    prediction (the window under ``timesteps`` framing, 1 under ``features``), U units,
    V symbols, W the window:

    - ``positions`` (N,): the index in ``text`` of the last symbol each prediction read;
    - ``windows`` (N, W): the vocabulary indices of the window each prediction read
      (-1: front padding of variable-length input); under ``timesteps`` step s reads
      ``windows[:, s]``, under ``features`` the one step reads them all;
    - ``mask`` (N, S): False where a padding step is masked (the state stays unchanged);
    - the cell's traced quantities by name, ``quantities`` and as attributes — for the
      LSTM ``i, f, g, o, c, h`` (N, S, U) float32: input gate, forget gate, candidate,
      output gate, cell state and output after every step (i, f, g, o are NaN at masked
      steps: ``cells.LSTM.masked``); a stack of layers adds each further layer's with its
      number appended (``h2``: layer 2's output; the prediction reads the last layer's h);
    - ``probs`` (N, V) float32: the next-symbol probabilities after each prediction's
      last step;
    - ``since_reset`` (N,): symbols read since the reset (stateful models; for window
      models the window's length).
    """

    text: str
    vocab: tuple[str, ...]
    positions: np.ndarray
    windows: np.ndarray
    mask: np.ndarray
    probs: np.ndarray
    since_reset: np.ndarray
    quantities: dict  # name → (N, S, U), in the cell's order

    def __getattr__(self, name: str):
        quantities = self.__dict__.get("quantities") or {}
        if name in quantities:
            return quantities[name]
        raise AttributeError(f"'Trace' of this cell has no {name!r}; it has "
                             f"{', '.join(quantities)}")

    def predictions(self) -> list[str]:
        """The most likely next symbol after each position."""
        return [self.vocab[k] for k in self.probs.argmax(-1)]
