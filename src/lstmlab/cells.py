"""Recurrent cells, each described once, as flax's ``RNNCellBase`` and Keras's
``state_size`` describe theirs: its parameters (Keras's names, order and initialisers),
its zero state (a tuple of arrays, the output h first), one unbatched-or-batched step
``(params, state, x) → (state, trace)`` whose trace names what the step computes, the
Keras layer it is, and words for each traced quantity. The loop over time, masking and
the Dense head live in :mod:`lstmlab.model`; everything else (model files, the trace, the
records' state arrays, memory and disk estimates, the explorer, Keras files) reads the cell
from here. A new cell is one subclass of :class:`Cell` and one entry of :data:`CELLS`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.nn import initializers as init

from .config import CELL_LAYERS, layer_sizes


class Cell:
    """The contract every cell keeps; what all cells share is derived here: the zero state
    (one array of zeros per name in ``state``), the units (from the recurrent kernel) and
    Keras's initialisers (glorot_uniform kernel, orthogonal recurrent kernel, zero bias of
    the shape ``shapes`` gives; a cell may start its bias otherwise)."""

    name: str
    keras_layer: str
    weights = ("kernel", "recurrent_kernel", "bias")  # Keras's get_weights() order
    state = ("h",)   # the state's arrays, the output first
    trace: type      # a NamedTuple of what a step computes, the state's arrays among them
    legend: dict     # words for each traced quantity
    masked = ()      # traced quantities a masked step does not compute
    gates = ()       # traced quantities in [0, 1] (saturation is theirs)
    unbounded = ()   # traced quantities read through tanh when compared with a track
    keras_config: dict = {}  # the Keras layer's settings that make it this cell

    @staticmethod
    def shapes(n_features: int, units: int) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    @staticmethod
    def step(p, state, x_t, act):
        raise NotImplementedError

    @classmethod
    def bias(cls, units: int):
        return jnp.zeros(cls.shapes(1, units)["bias"], jnp.float32)

    @classmethod
    def init(cls, k1, k2, n_features: int, units: int) -> dict:
        """Keras's initialisers: ``k1`` draws the kernel, ``k2`` the recurrent kernel."""
        shapes = cls.shapes(n_features, units)
        return {"kernel": init.glorot_uniform()(k1, shapes["kernel"], jnp.float32),
                "recurrent_kernel": init.orthogonal()(k2, shapes["recurrent_kernel"],
                                                      jnp.float32),
                "bias": cls.bias(units)}

    @classmethod
    def zero_state(cls, batch: int, units: int) -> tuple:
        z = jnp.zeros((batch, units), jnp.float32)
        return tuple(z for _ in cls.state)

    @staticmethod
    def units(p) -> int:
        return p["recurrent_kernel"].shape[0]


class LSTMTrace(NamedTuple):
    """What one LSTM step computes, each (B, U): input gate i, forget gate f, candidate g,
    output gate o, and the new cell state c and output h."""

    i: jax.Array
    f: jax.Array
    g: jax.Array
    o: jax.Array
    c: jax.Array
    h: jax.Array


class LSTM(Cell):
    """Keras 3's ``LSTM`` cell: z = x·K + h·R + b split into i, f, g, o (Keras's order),
    c' = f·c + i·g, h' = o·tanh(c'); glorot_uniform kernel, orthogonal recurrent kernel,
    zero bias with the forget slice at 1 (``unit_forget_bias``)."""

    name = "lstm"
    keras_layer = CELL_LAYERS[name]
    state = ("h", "c")
    trace = LSTMTrace
    legend = {
        "i": "input gate: how much of the candidate g is written into the cell (0 nothing, "
             "1 all)",
        "f": "forget gate: how much of the previous cell state c is kept (1 keep, 0 forget)",
        "g": "candidate: the new value proposed for the cell, from −1 to 1",
        "o": "output gate: how much of the cell is let out as the output h",
        "c": "cell state: the memory carried to the next step, c = f·c + i·g",
        "h": "output (hidden state): what the next step and the prediction see, "
             "h = o·tanh(c); the prediction is softmax(h·W + b)",
    }
    masked = ("i", "f", "g", "o")  # traced quantities a masked step does not compute
    gates = ("i", "f", "o")
    unbounded = ("c",)  # h reads it as tanh(c)

    @staticmethod
    def shapes(n_features: int, units: int) -> dict[str, tuple[int, ...]]:
        return {"kernel": (n_features, 4 * units), "recurrent_kernel": (units, 4 * units),
                "bias": (4 * units,)}

    @staticmethod
    def bias(units: int):
        return jnp.zeros(4 * units).at[units:2 * units].set(1.0)  # unit_forget_bias

    @staticmethod
    def step(p, state, x_t, act):
        """(h, c), x_t (B, F) → (h, c), LSTMTrace. Where nobody reads the trace (training)
        XLA never materialises it."""
        h, c = state
        z = x_t @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]   # (B, 4U)
        zi, zf, zg, zo = jnp.split(z, 4, axis=-1)                        # (B, U) each
        i, f, g, o = act(zi), act(zf), jnp.tanh(zg), act(zo)
        c_new = f * c + i * g
        h_new = o * jnp.tanh(c_new)
        return (h_new, c_new), LSTMTrace(i, f, g, o, c_new, h_new)


class GRUTrace(NamedTuple):
    """What one GRU step computes, each (B, U): update gate z, reset gate r, candidate
    h̃ (``hh``) and the new output h."""

    z: jax.Array
    r: jax.Array
    hh: jax.Array
    h: jax.Array


class GRU(Cell):
    """Keras 3's ``GRU`` cell with its defaults (``reset_after=True``): x·K + b_in and
    h·R + b_rec split into z, r, h̃ (Keras's order); z = σ(x_z + r_z), r = σ(x_r + r_r),
    h̃ = tanh(x_h + r ⊙ r_h), h' = z ⊙ h + (1 − z) ⊙ h̃; glorot_uniform kernel, orthogonal
    recurrent kernel, zero biases (an input and a recurrent one: bias (2, 3U))."""

    name = "gru"
    keras_layer = CELL_LAYERS[name]
    keras_config = {"reset_after": True}
    trace = GRUTrace
    legend = {
        "z": "update gate: how much of the previous output h is kept (1 keep, 0 replace "
             "with the candidate)",
        "r": "reset gate: how much of the previous output the candidate reads",
        "hh": "candidate h̃: the new value proposed, from −1 to 1",
        "h": "output (the state): h = z·h + (1 − z)·h̃; the prediction is softmax(h·W + b)",
    }
    masked = ("z", "r", "hh")
    gates = ("z", "r")

    @staticmethod
    def shapes(n_features: int, units: int) -> dict[str, tuple[int, ...]]:
        return {"kernel": (n_features, 3 * units), "recurrent_kernel": (units, 3 * units),
                "bias": (2, 3 * units)}

    @staticmethod
    def step(p, state, x_t, act):
        """(h,), x_t (B, F) → (h,), GRUTrace."""
        (h,) = state
        xz, xr, xh = jnp.split(x_t @ p["kernel"] + p["bias"][0], 3, axis=-1)
        rz, rr, rh = jnp.split(h @ p["recurrent_kernel"] + p["bias"][1], 3, axis=-1)
        z, r = act(xz + rz), act(xr + rr)
        hh = jnp.tanh(xh + r * rh)
        h_new = z * h + (1 - z) * hh
        return (h_new,), GRUTrace(z, r, hh, h_new)


class GRUResetBefore(GRU):
    """Keras's ``GRU(reset_after=False)``, the default of Keras 2 (and of Cho et al.'s
    first GRU): one bias (3U,), and r applied to h before the recurrent product:
    h̃ = tanh(x·K_h + b_h + (r ⊙ h)·R_h); z and r as in :class:`GRU`."""

    name = "gru-reset-before"
    keras_layer = CELL_LAYERS[name]
    keras_config = {"reset_after": False}
    legend = {**GRU.legend, "r": "reset gate: how much of the previous output enters the "
                                 "candidate (r·h is multiplied by the recurrent kernel)"}

    @staticmethod
    def shapes(n_features: int, units: int) -> dict[str, tuple[int, ...]]:
        return {"kernel": (n_features, 3 * units), "recurrent_kernel": (units, 3 * units),
                "bias": (3 * units,)}

    @staticmethod
    def step(p, state, x_t, act):
        """(h,), x_t (B, F) → (h,), GRUTrace (Keras's implementation 2: z and r from one
        product with the first 2U recurrent columns)."""
        (h,) = state
        R = p["recurrent_kernel"]
        u = R.shape[0]
        xz, xr, xh = jnp.split(x_t @ p["kernel"] + p["bias"], 3, axis=-1)
        rz, rr = jnp.split(h @ R[:, :2 * u], 2, axis=-1)
        z, r = act(xz + rz), act(xr + rr)
        hh = jnp.tanh(xh + (r * h) @ R[:, 2 * u:])
        h_new = z * h + (1 - z) * hh
        return (h_new,), GRUTrace(z, r, hh, h_new)


class RNNTrace(NamedTuple):
    """What one SimpleRNN step computes: the new output h (B, U)."""

    h: jax.Array


class SimpleRNN(Cell):
    """Keras 3's ``SimpleRNN`` cell: h' = tanh(x·K + b + h·R); glorot_uniform kernel,
    orthogonal recurrent kernel, zero bias. It has no gate: the recurrent activation does
    not enter it."""

    name = "rnn"
    keras_layer = CELL_LAYERS[name]
    trace = RNNTrace
    legend = {"h": "output (the state): h = tanh(x·K + h·R + b); the prediction is "
                   "softmax(h·W + b)"}

    @staticmethod
    def shapes(n_features: int, units: int) -> dict[str, tuple[int, ...]]:
        return {"kernel": (n_features, units), "recurrent_kernel": (units, units),
                "bias": (units,)}

    @staticmethod
    def step(p, state, x_t, act):
        """(h,), x_t (B, F) → (h,), RNNTrace (Keras's order of the sums)."""
        h = jnp.tanh(x_t @ p["kernel"] + p["bias"] + state[0] @ p["recurrent_kernel"])
        return (h,), RNNTrace(h)


CELLS = {c.name: c for c in (LSTM, GRU, GRUResetBefore, SimpleRNN)}


# -- a stack of layers of one cell --------------------------------------------------------

def layer_keys(cell, layers: int) -> tuple[str, ...]:
    """The parameters' keys of a stack, as Keras names a Sequential's layers: lstm,
    lstm_1, … (one layer: the cell's name alone, so one-layer models keep their files)."""
    return tuple(cell.name if k == 0 else f"{cell.name}_{k}" for k in range(layers))


def layered(names, layers: int) -> tuple[str, ...]:
    """Per-layer names of a stack's quantities, layer by layer: layer 1's as the cell
    names them, layer k's with k appended (h2 is layer 2's h). A stack's state is the flat
    tuple ``layered(cell.state, layers)``: (h, c, h2, c2) for two LSTM layers."""
    return tuple(n if k == 0 else f"{n}{k + 1}" for k in range(layers) for n in names)


def cell_of(params) -> type:
    """The cell whose parameters ``params`` (a model's pytree) hold: its key besides
    "dense"."""
    for name in params:
        if name in CELLS:
            return CELLS[name]
    raise ValueError(f"no recurrent cell among the parameters {sorted(params)}; known: "
                     f"{', '.join(CELLS)}")


def layers_of(params) -> int:
    """How many layers of its cell ``params`` holds (keys lstm, lstm_1, …)."""
    c = cell_of(params)
    n = 1
    while layer_keys(c, n + 1)[-1] in params:
        n += 1
    return n


def sizes_of(params) -> tuple[int, ...]:
    """Each layer's units in ``params`` (a model's pytree), bottom first."""
    c = cell_of(params)
    return tuple(c.units(params[key]) for key in layer_keys(c, layers_of(params)))


def stack_shapes(cell, n_features: int, units, layers: int) -> dict[str, dict]:
    """Each layer's parameter shapes by its key (``layer_keys``): the first layer reads the
    features, every other one the outputs of the layer below (``units``: one size for
    every layer, or one per layer)."""
    sizes = layer_sizes(units, layers)
    return {key: cell.shapes(n_features if k == 0 else sizes[k - 1], sizes[k])
            for k, key in enumerate(layer_keys(cell, layers))}


def param_count(cell, n_features: int, units, vocab_size: int, layers: int = 1) -> int:
    """The stack's parameters (:func:`stack_shapes`) and the Dense head's (U·V + V, U the
    last layer's units)."""
    last = layer_sizes(units, layers)[-1]
    return sum(math.prod(shape) for shapes in stack_shapes(cell, n_features, units,
                                                           layers).values()
               for shape in shapes.values()) + last * vocab_size + vocab_size
