"""A recurrent cell (:mod:`lstmlab.cells`; the LSTM by default) → Dense(V, softmax),
exactly as Keras 3 defines them, as pure functions: the loop over time and masking here,
one step of the cell there.

Parameters are a pytree with Keras's arrays and names, keyed by the cell's name:
``{"lstm": {"kernel" (F, 4U), "recurrent_kernel" (U, 4U), "bias" (4U)},
   "dense": {"kernel" (U, V), "bias" (V)}}`` (the LSTM's gate order i, f, c, o).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import initializers as init

from .cells import CELLS, LSTM, cell_of

# Above this many time steps the cell runs under lax.scan; below, it is unrolled in Python
# (T is static), which compiles to one fused block and is ~2x faster for the tutorial's T ≤ 5.
UNROLL_MAX_STEPS = 16

def hard_sigmoid(x):
    """Keras 2's recurrent activation (the seed notebook's default): clip(0.2x + 0.5, 0, 1)."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


def recurrent_activation(name: str):
    """The gate activation by name: sigmoid (Keras 3) or hard_sigmoid (Keras 2)."""
    return {"sigmoid": jax.nn.sigmoid, "hard_sigmoid": hard_sigmoid}[name]


def init_params(key, n_features: int, units: int, vocab_size: int, cell: str = "lstm"):
    """Keras's initialisers: the cell's (its kernel from the first of three keys, its
    recurrent kernel from the second), glorot_uniform for the Dense kernel (the third),
    zero Dense bias."""
    k1, k2, k3 = jax.random.split(key, 3)
    c = CELLS[cell]
    return {
        c.name: c.init(k1, k2, n_features, units),
        "dense": {
            "kernel": init.glorot_uniform()(k3, (units, vocab_size), jnp.float32),
            "bias": jnp.zeros(vocab_size, jnp.float32),
        },
    }


def zero_state(batch: int, units: int, cell=LSTM):
    """The cell's state of zeros (the LSTM's (h, c)): the state after a reset."""
    return cell.zero_state(batch, units)


def initial_state(params, batch: int) -> tuple:
    """The zero state of ``params``' cell for ``batch`` streams (the state after a reset)."""
    c = cell_of(params)
    return c.zero_state(batch, c.units(params[c.name]))


def masked_step(c, p, state, x_t, m_t, act):
    """One masked step of cell ``c``: where m_t (B,) is False the state stays unchanged
    (Keras ``Masking`` semantics; m_t None: no mask). Returns the new state and the trace
    (its state quantities are the state after masking)."""
    new, trace = c.step(p, state, x_t, act)
    if m_t is not None:
        keep = m_t[:, None]
        new = tuple(jnp.where(keep, a, b) for a, b in zip(new, state))
        trace = trace._replace(**dict(zip(c.state, new)))
    return new, trace


def rnn(params, x, mask=None, state=None, activation="sigmoid", gates=False):
    """Run the model's cell over x (B, T, F) from ``state`` (zeros if None) → final state;
    with ``gates``, also every step's trace, each (T, B, U)."""
    c = cell_of(params)
    p = params[c.name]
    act = recurrent_activation(activation)
    batch, steps, _ = x.shape
    if state is None:
        state = initial_state(params, batch)
    if steps <= UNROLL_MAX_STEPS:
        seen = []
        for t in range(steps):
            state, g = masked_step(c, p, state, x[:, t], None if mask is None else mask[:, t],
                                   act)
            seen.append(g)
        return (state, jax.tree.map(lambda *a: jnp.stack(a), *seen)) if gates else state
    xs = jnp.swapaxes(x, 0, 1)
    ms = None if mask is None else jnp.swapaxes(mask, 0, 1)

    def body(s, inp):
        x_t, m_t = inp
        s, g = masked_step(c, p, s, x_t, m_t, act)
        return s, (g if gates else None)

    state, seen = jax.lax.scan(body, state, (xs, ms))
    return (state, seen) if gates else state


def head(params, h):
    """The Dense layer's logits (B, V) from the output h (B, U)."""
    return h @ params["dense"]["kernel"] + params["dense"]["bias"]


def logits_fn(params, x, mask=None, state=None, activation="sigmoid"):
    """Logits (B, V) of the next symbol, and the cell's final state."""
    state = rnn(params, x, mask, state, activation)
    return head(params, state[0]), state


def keras_weights(params) -> list[np.ndarray]:
    """The arrays of Keras's ``model.get_weights()`` for the cell → Dense, in that order."""
    c = cell_of(params)
    return [np.asarray(params[c.name][k]) for k in c.weights] + \
        [np.asarray(params["dense"][k]) for k in ("kernel", "bias")]


def from_keras_weights(arrays, cell: str = "lstm") -> dict:
    """Inverse of :func:`keras_weights`: Keras's ``get_weights()`` list → lstmlab params."""
    c = CELLS[cell]
    arrays = [jnp.asarray(a, jnp.float32) for a in arrays]
    n = len(c.weights)
    return {c.name: dict(zip(c.weights, arrays[:n])),
            "dense": {"kernel": arrays[n], "bias": arrays[n + 1]}}
