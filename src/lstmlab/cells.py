"""Recurrent cells, each described once, as flax's ``RNNCellBase`` and Keras's
``state_size`` describe theirs: its parameters (Keras's names, order and initialisers),
its zero state (a tuple of arrays, the output h first), one unbatched-or-batched step
``(params, state, x) → (state, trace)`` whose trace names what the step computes, the
Keras layer it is, and words for each traced quantity. The loop over time, masking and
the Dense head live in :mod:`lstmlab.model`; everything else (model files, the trace, the
records' state arrays, memory and disk estimates, the explorer, Keras files) reads the cell
from here. A new cell is one class and one entry of :data:`CELLS`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.nn import initializers as init


class LSTMTrace(NamedTuple):
    """What one LSTM step computes, each (B, U): input gate i, forget gate f, candidate g,
    output gate o, and the new cell state c and output h."""

    i: jax.Array
    f: jax.Array
    g: jax.Array
    o: jax.Array
    c: jax.Array
    h: jax.Array


class LSTM:
    """Keras 3's ``LSTM`` cell: z = x·K + h·R + b split into i, f, g, o (Keras's order),
    c' = f·c + i·g, h' = o·tanh(c'); glorot_uniform kernel, orthogonal recurrent kernel,
    zero bias with the forget slice at 1 (``unit_forget_bias``)."""

    name = "lstm"
    keras_layer = "LSTM"
    weights = ("kernel", "recurrent_kernel", "bias")   # Keras's get_weights() order
    state = ("h", "c")                                  # the output first
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

    @staticmethod
    def shapes(n_features: int, units: int) -> dict[str, tuple[int, ...]]:
        return {"kernel": (n_features, 4 * units), "recurrent_kernel": (units, 4 * units),
                "bias": (4 * units,)}

    @staticmethod
    def init(k1, k2, n_features: int, units: int) -> dict:
        """Keras's initialisers: ``k1`` draws the kernel, ``k2`` the recurrent kernel."""
        return {"kernel": init.glorot_uniform()(k1, (n_features, 4 * units), jnp.float32),
                "recurrent_kernel": init.orthogonal()(k2, (units, 4 * units), jnp.float32),
                "bias": jnp.zeros(4 * units).at[units:2 * units].set(1.0)}

    @staticmethod
    def zero_state(batch: int, units: int) -> tuple:
        z = jnp.zeros((batch, units), jnp.float32)
        return (z, z)

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

    @staticmethod
    def units(p) -> int:
        return p["recurrent_kernel"].shape[0]


CELLS = {c.name: c for c in (LSTM,)}


def cell_of(params) -> type:
    """The cell whose parameters ``params`` (a model's pytree) hold: its key besides
    "dense"."""
    for name in params:
        if name in CELLS:
            return CELLS[name]
    raise ValueError(f"no recurrent cell among the parameters {sorted(params)}; known: "
                     f"{', '.join(CELLS)}")


def param_count(cell, n_features: int, units: int, vocab_size: int) -> int:
    """The cell's parameters and the Dense head's (U·V + V)."""
    n = 0
    for shape in cell.shapes(n_features, units).values():
        size = 1
        for d in shape:
            size *= d
        n += size
    return n + units * vocab_size + vocab_size
