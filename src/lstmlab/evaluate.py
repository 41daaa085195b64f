"""Using trained parameters: probabilities, accuracy, stateful evaluation, generation, and
the within-batch order test. All functions take one replica's params (no leading axis);
``jax.vmap`` them for many replicas."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import model
from .train import batch_loss


@partial(jax.jit, static_argnames="activation")
def probabilities(params, x, mask=None, activation="sigmoid"):
    """Softmax over the next symbol for every sample, each from a zero state: (N, V)."""
    logits, _ = model.logits_fn(params, x, mask, None, activation)
    return jax.nn.softmax(logits)


@partial(jax.jit, static_argnames="activation")
def stateful_probabilities(params, x, layout, mask=None, activation="sigmoid"):
    """Keras's evaluation of a stateful model: reset, then run the batches of ``layout``
    (n_batches, b) in order, each starting from the state the previous one left.
    Returns (N, V) probabilities in sample order and the state after the last batch."""
    units = params["lstm"]["recurrent_kernel"].shape[0]

    def step(state, idx):
        mb = None if mask is None else mask[idx]
        logits, state = model.logits_fn(params, x[idx], mb, state, activation)
        return state, jax.nn.softmax(logits)

    state, probs = jax.lax.scan(step, model.zero_state(layout.shape[1], units), layout)
    out = jnp.zeros((x.shape[0], probs.shape[-1])).at[layout.reshape(-1)].set(
        probs.reshape(-1, probs.shape[-1]))
    return out, state


def accuracy(probs, y) -> float:
    return float(np.mean(np.argmax(np.asarray(probs), -1) == np.asarray(y)))


def generate(params, first: int, length: int, encode_one, activation="sigmoid",
             stateful=True, window=1):
    """Greedy generation of ``length`` symbols after ``first``.

    stateful: reset, feed one symbol, take the argmax, feed it back, carrying the state
    (the tutorial's demo). Otherwise: a window model slides its window over what it
    generated (padding at the front until it is full is not needed for window 1).
    ``encode_one(indices)`` turns a list of indices into a (1, T, F) input.
    """
    units = params["lstm"]["recurrent_kernel"].shape[0]
    out = [first]
    state = model.zero_state(1, units)
    for _ in range(length):
        if stateful:
            logits, state = _step_logits(params, encode_one(out[-1:]), state, activation)
        else:
            logits, _ = _step_logits(params, encode_one(out[-window:]), None, activation)
        out.append(int(jnp.argmax(logits[0])))
    return out


@partial(jax.jit, static_argnames="activation")
def _step_logits(params, x, state, activation):
    return model.logits_fn(params, x, None, state, activation)


def order_test(params, x, y, mask=None, activation="sigmoid", seed=0) -> float:
    """Largest |difference| between the batch gradient with the samples in order and in a
    random permutation. A stateless LSTM treats the samples of a batch independently, so
    this is rounding-level (the sum is merely added up in another order)."""
    perm = np.random.default_rng(seed).permutation(len(y))
    w = jnp.ones(len(y), jnp.float32)

    def grad(idx):
        mb = None if mask is None else mask[idx]
        return jax.grad(batch_loss, has_aux=True)(params, x[idx], y[idx], w, mb, None,
                                                  activation)[0]

    g1, g2 = grad(np.arange(len(y))), grad(perm)
    diffs = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), g1, g2)
    return float(max(jax.tree.leaves(diffs)))
