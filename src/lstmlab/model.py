"""A recurrent cell (:mod:`lstmlab.cells`; the LSTM by default) → Dense(V, softmax),
exactly as Keras 3 defines them, as pure functions: the loop over time and masking here,
one step of the cell there.

Parameters are a pytree with Keras's arrays and names, keyed by the cell's name:
``{"lstm": {"kernel" (F, 4U), "recurrent_kernel" (U, 4U), "bias" (4U)},
   "dense": {"kernel" (U, V), "bias" (V)}}`` (the LSTM's gate order i, f, c, o); a stack
of layers adds "lstm_1", … (each reading the outputs below: kernel (U_below, 4U); the
layers may differ in size, Dense reads the last). The state is a flat tuple of the layers'
arrays, named by ``cells.layered``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import initializers as init

from . import lstm_layer
from .cells import CELLS, LSTM, cell_of, layer_keys, layered, layers_of, sizes_of
from .config import layer_sizes

# Above this many time steps the cell runs under lax.scan; below, it is unrolled in Python
# (T is static), which compiles to one fused block and is ~2x faster for the tutorial's T ≤ 5.
UNROLL_MAX_STEPS = 16

def hard_sigmoid(x):
    """Keras 2's recurrent activation (the seed notebook's default): clip(0.2x + 0.5, 0, 1)."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


def recurrent_activation(name: str):
    """The gate activation by name: sigmoid (Keras 3) or hard_sigmoid (Keras 2)."""
    return {"sigmoid": jax.nn.sigmoid, "hard_sigmoid": hard_sigmoid}[name]


def init_params(key, n_features: int, units, vocab_size: int, cell: str = "lstm",
                layers: int = 1):
    """Keras's initialisers: the first layer's cell (its kernel from the first of three
    keys, its recurrent kernel from the second), glorot_uniform for the Dense kernel (the
    third), zero Dense bias; layer k ≥ 2 reads the outputs below it and draws from
    ``fold_in(key, k - 1)`` (a one-layer model's draws are those of every stack's first).
    ``units``: one size for every layer, or one per layer."""
    k1, k2, k3 = jax.random.split(key, 3)
    c = CELLS[cell]
    sizes = layer_sizes(units, layers)
    stack = {c.name: c.init(k1, k2, n_features, sizes[0])}
    for k, name in enumerate(layer_keys(c, layers)[1:], start=1):
        stack[name] = c.init(*jax.random.split(jax.random.fold_in(key, k)), sizes[k - 1],
                             sizes[k])
    return {
        **stack,
        "dense": {
            "kernel": init.glorot_uniform()(k3, (sizes[-1], vocab_size), jnp.float32),
            "bias": jnp.zeros(vocab_size, jnp.float32),
        },
    }


def zero_state(batch: int, units, cell=LSTM, layers: int = 1) -> tuple:
    """The stack's state of zeros, flat (``cells.layered``: the LSTM's (h, c), two layers'
    (h, c, h2, c2)): the state after a reset (``units``: one size, or one per layer)."""
    return sum((cell.zero_state(batch, u) for u in layer_sizes(units, layers)), ())


def initial_state(params, batch: int) -> tuple:
    """The zero state of ``params``' stack for ``batch`` streams (the state after a reset)."""
    sizes = sizes_of(params)
    return zero_state(batch, sizes, cell_of(params), len(sizes))


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


def _layer(c, p, x, mask, state, act, gates: bool, outputs: bool, fused: bool = False):
    """One layer over x (B, T, F) from its ``state`` → (final state, trace (T, B, U) each
    or None, outputs h (B, T, U) or None). The output at a masked step is the previous one
    (Keras's default); the layer above skips that step too. ``fused``: an unmasked sigmoid
    LSTM layer whose trace nobody reads runs as lstm_layer's (its backward by hand)."""
    if fused and c is LSTM and act is jax.nn.sigmoid and mask is None and not gates:
        state, out = lstm_layer.layer(p, x, state)
        return state, None, out
    steps = x.shape[1]
    if steps <= UNROLL_MAX_STEPS:
        seen, out = [], []
        for t in range(steps):
            state, g = masked_step(c, p, state, x[:, t], None if mask is None else mask[:, t],
                                   act)
            seen.append(g)
            out.append(state[0])
        trace = jax.tree.map(lambda *a: jnp.stack(a), *seen) if gates else None
        return state, trace, jnp.stack(out, 1) if outputs else None
    xs = jnp.swapaxes(x, 0, 1)
    ms = None if mask is None else jnp.swapaxes(mask, 0, 1)

    def body(s, inp):
        x_t, m_t = inp
        s, g = masked_step(c, p, s, x_t, m_t, act)
        return s, (g if gates else None, s[0] if outputs else None)

    state, (trace, out) = jax.lax.scan(body, state, (xs, ms))
    return state, trace, None if out is None else jnp.swapaxes(out, 0, 1)


def _stack(params, x, mask, state, activation, gates: bool, outputs: bool, between=None,
           fused: bool = False):
    """Every layer in turn over x (B, T, F), each reading the whole output sequence of the
    one below (as Keras runs a Sequential): (final flat state, the trace by name or {},
    the last layer's outputs (B, T, U) or None). ``between(k, h)``: what layer k + 1
    reads instead of layer k's outputs h (dropout in training)."""
    c = cell_of(params)
    act = recurrent_activation(activation)
    layers, n, names = layers_of(params), len(c.state), c.trace._fields
    if state is None:
        state = initial_state(params, x.shape[0])
    final, traced = (), {}
    for k, key in enumerate(layer_keys(c, layers)):
        s, trace, x = _layer(c, params[key], x, mask, tuple(state[k * n:(k + 1) * n]), act,
                             gates, outputs or k < layers - 1, fused)
        final += s
        if between is not None and k < layers - 1:
            x = between(k, x)
        if gates:
            traced.update(zip(layered(names, layers)[k * len(names):], trace))
    return final, traced, x if outputs else None


def rnn(params, x, mask=None, state=None, activation="sigmoid", gates=False):
    """Run the model's stack over x (B, T, F) from ``state`` (flat, zeros if None) → final
    state; with ``gates``, also every step's trace as a dict of the stack's quantities
    (``cells.layered`` names: i, f, …, h, i2, …), each (T, B, U)."""
    final, traced, _ = _stack(params, x, mask, state, activation, gates, False)
    return (final, traced) if gates else final


def sequence(params, x, state=None, activation="sigmoid", between=None, fused=False):
    """Many-to-many: the last layer's output h at every step (B, T, U) and the final flat
    state — Keras's return_sequences=True on every layer (``between``: see _stack;
    ``fused``: see _layer — the same numbers, a faster backward)."""
    final, _, out = _stack(params, x, None, state, activation, False, True, between, fused)
    return out, final


def head(params, h):
    """The Dense layer's logits (B, V) from the output h (B, U)."""
    return h @ params["dense"]["kernel"] + params["dense"]["bias"]


def logits_fn(params, x, mask=None, state=None, activation="sigmoid"):
    """Logits (B, V) of the next symbol, and the cell's final state."""
    state = rnn(params, x, mask, state, activation)
    return head(params, output(params, state)), state


def output(params, state):
    """The stack's output h (B, U) in its flat state: the last layer's h."""
    return state[-len(cell_of(params).state)]


def keras_weights(params) -> list[np.ndarray]:
    """The arrays of Keras's ``model.get_weights()`` for the stack → Dense, in that order."""
    c = cell_of(params)
    return [np.asarray(params[key][k]) for key in layer_keys(c, layers_of(params))
            for k in c.weights] + [np.asarray(params["dense"][k]) for k in ("kernel", "bias")]


def from_keras_weights(arrays, cell: str = "lstm") -> dict:
    """Inverse of :func:`keras_weights`: Keras's ``get_weights()`` list → lstmlab params
    (as many layers as the list holds)."""
    c = CELLS[cell]
    arrays = [jnp.asarray(a, jnp.float32) for a in arrays]
    n, layers = len(c.weights), (len(arrays) - 2) // len(c.weights)
    return {**{key: dict(zip(c.weights, arrays[k * n:(k + 1) * n]))
               for k, key in enumerate(layer_keys(c, layers))},
            "dense": {"kernel": arrays[-2], "bias": arrays[-1]}}
