"""LSTM(units) → Dense(V, softmax), exactly as Keras 3 defines it, as pure functions.

Parameters are a pytree with Keras's arrays and names:
``{"lstm": {"kernel" (F, 4U), "recurrent_kernel" (U, 4U), "bias" (4U)},
   "dense": {"kernel" (U, V), "bias" (V)}}``, gate order i, f, c, o.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import initializers as init

# Above this many time steps the cell runs under lax.scan; below, it is unrolled in Python
# (T is static), which compiles to one fused block and is ~2x faster for the tutorial's T ≤ 5.
UNROLL_MAX_STEPS = 16


def hard_sigmoid(x):
    """Keras 2's recurrent activation (the seed notebook's default): clip(0.2x + 0.5, 0, 1)."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


def recurrent_activation(name: str):
    """The gate activation by name: sigmoid (Keras 3) or hard_sigmoid (Keras 2)."""
    return {"sigmoid": jax.nn.sigmoid, "hard_sigmoid": hard_sigmoid}[name]


def init_params(key, n_features: int, units: int, vocab_size: int):
    """Keras defaults: glorot_uniform kernels, orthogonal recurrent kernel, zero biases with
    the forget-gate slice at 1 (``unit_forget_bias``)."""
    k1, k2, k3 = jax.random.split(key, 3)
    glorot, ortho = init.glorot_uniform(), init.orthogonal()
    bias = jnp.zeros(4 * units).at[units:2 * units].set(1.0)
    return {
        "lstm": {
            "kernel": glorot(k1, (n_features, 4 * units), jnp.float32),
            "recurrent_kernel": ortho(k2, (units, 4 * units), jnp.float32),
            "bias": bias,
        },
        "dense": {
            "kernel": glorot(k3, (units, vocab_size), jnp.float32),
            "bias": jnp.zeros(vocab_size, jnp.float32),
        },
    }


def zero_state(batch: int, units: int):
    """(h, c) of zeros: the state after a reset."""
    z = jnp.zeros((batch, units), jnp.float32)
    return (z, z)


class Gates(NamedTuple):
    """What one LSTM step computes, each (B, U): input gate i, forget gate f, candidate g,
    output gate o, and the new cell state c and output h."""

    i: jax.Array
    f: jax.Array
    g: jax.Array
    o: jax.Array
    c: jax.Array
    h: jax.Array


def cell(p, state, x_t, act):
    """The LSTM cell alone, as flax's ``LSTMCell``: (h, c), x_t (B, F) → (h, c), Gates.
    The loop that runs it (:func:`lstm`) keeps only the state, so where nobody reads the
    gates XLA never materialises them: training costs what it cost before the split."""
    h, c = state
    z = x_t @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]   # (B, 4U)
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)                        # (B, U) each
    i, f, g, o = act(zi), act(zf), jnp.tanh(zg), act(zo)
    c_new = f * c + i * g
    h_new = o * jnp.tanh(c_new)
    return (h_new, c_new), Gates(i, f, g, o, c_new, h_new)


def lstm_step(p, state, x_t, m_t, act):
    """One masked step: the cell, and where m_t (B,) is False h and c stay unchanged
    (Keras ``Masking`` semantics; m_t None: no mask). Returns the new state and the gates
    (their c and h are the state after masking)."""
    new, gates = cell(p, state, x_t, act)
    if m_t is not None:
        keep = m_t[:, None]
        new = (jnp.where(keep, new[0], state[0]), jnp.where(keep, new[1], state[1]))
        gates = gates._replace(h=new[0], c=new[1])
    return new, gates


def lstm(p, x, mask=None, state=None, activation="sigmoid", gates=False):
    """Run the LSTM over x (B, T, F) from ``state`` (zeros if None) → final (h, c); with
    ``gates``, also every step's :class:`Gates`, each (T, B, U)."""
    act = recurrent_activation(activation)
    batch, steps, _ = x.shape
    if state is None:
        state = zero_state(batch, p["recurrent_kernel"].shape[0])
    if steps <= UNROLL_MAX_STEPS:
        seen = []
        for t in range(steps):
            state, g = lstm_step(p, state, x[:, t], None if mask is None else mask[:, t], act)
            seen.append(g)
        return (state, jax.tree.map(lambda *a: jnp.stack(a), *seen)) if gates else state
    xs = jnp.swapaxes(x, 0, 1)
    ms = None if mask is None else jnp.swapaxes(mask, 0, 1)

    def body(s, inp):
        x_t, m_t = inp
        s, g = lstm_step(p, s, x_t, m_t, act)
        return s, (g if gates else None)

    state, seen = jax.lax.scan(body, state, (xs, ms))
    return (state, seen) if gates else state


def logits_fn(params, x, mask=None, state=None, activation="sigmoid"):
    """Logits (B, V) of the next symbol, and the LSTM's final state."""
    h, c = lstm(params["lstm"], x, mask, state, activation)
    return h @ params["dense"]["kernel"] + params["dense"]["bias"], (h, c)


def keras_weights(params) -> list[np.ndarray]:
    """The arrays of Keras's ``model.get_weights()`` for LSTM → Dense, in that order."""
    return [np.asarray(params["lstm"][k]) for k in ("kernel", "recurrent_kernel", "bias")] + \
        [np.asarray(params["dense"][k]) for k in ("kernel", "bias")]


def from_keras_weights(arrays) -> dict:
    """Inverse of :func:`keras_weights`: Keras's ``get_weights()`` list → lstmlab params."""
    k, rk, b, dk, db = (jnp.asarray(a, jnp.float32) for a in arrays)
    return {"lstm": {"kernel": k, "recurrent_kernel": rk, "bias": b},
            "dense": {"kernel": dk, "bias": db}}
