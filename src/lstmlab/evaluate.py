"""Using trained parameters (inference only): probabilities, stateful evaluation, the
trace, generation, and the within-batch order test (a check of the code). Statistics over
seeds are ``stats``'. Functions take one replica's params (no leading axis); ``jax.vmap``
them for many replicas."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


from . import model
from .cells import cell_of, layered, layers_of
from .programs import device
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
    def step(state, idx):
        mb = None if mask is None else mask[idx]
        logits, state = model.logits_fn(params, x[idx], mb, state, activation)
        return state, jax.nn.softmax(logits)

    state, probs = jax.lax.scan(step, model.initial_state(params, layout.shape[1]), layout)
    out = jnp.zeros((x.shape[0], probs.shape[-1])).at[layout.reshape(-1)].set(
        probs.reshape(-1, probs.shape[-1]))
    return out, state


@partial(jax.jit, static_argnames="activation")
def state_trajectory(params, windows, activation="sigmoid"):
    """The stack's flat state (the LSTM's h and c; then h2, c2, … of further layers) after
    each input while a stateful model reads ``windows`` (n, T, F) one after another from a
    reset, carrying its state (for window 1: one symbol per step): (n, units) each — the
    last step of each window in :func:`trace`."""
    _, gates = trace(params, windows, None, True, activation)
    return tuple(gates[k][:, -1] for k in state_names(params))


def state_names(params) -> tuple[str, ...]:
    """The names of the stack's flat state (``cells.layered``)."""
    return layered(cell_of(params).state, layers_of(params))


@partial(jax.jit, static_argnames=("carry", "activation"))
def trace(params, windows, mask=None, carry=False, activation="sigmoid"):
    """Every step's gates and the next-symbol probabilities while the model reads
    ``windows`` (N, S, F) one after another: each from a zero state, or with ``carry``
    from the state the previous window left (a stateful model after a reset). ``mask``
    (N, S) or None. Returns probs (N, V) and the stack's trace by name (the LSTM's i, f, g,
    o, c, h; then i2, … of further layers), each (N, S, U)."""
    def step(state, inp):
        x, m = inp
        start = state if carry else model.initial_state(params, 1)
        state, gates = model.rnn(params, x[None], None if m is None else m[None],
                                 start, activation, gates=True)        # gates (S, 1, U)
        return state, (next_probs(params, state), jax.tree.map(lambda a: a[:, 0], gates))

    _, (probs, gates) = jax.lax.scan(step, model.initial_state(params, 1), (windows, mask))
    return probs, gates


def read_states(params, windows, activation="sigmoid"):
    """The cell's state, each (1, units), after reading ``windows`` from a reset."""
    return tuple(a[-1:] for a in state_trajectory(params, windows, activation))


@jax.jit
def next_probs(params, state):
    """Next-symbol probabilities (V,) from a state: the Dense softmax on the last layer's h."""
    return jax.nn.softmax(model.head(params, model.output(params, state)))[0]


def pick(logits, temperature, key):
    """The next symbol from ``logits`` (V,): the most likely one at temperature 0, else a
    draw from softmax(logits / temperature), i.e. p^(1/T) renormalised."""
    drawn = jax.random.categorical(key, logits / jnp.maximum(temperature, 1e-6))
    return jnp.where(temperature > 0, drawn, jnp.argmax(logits))


@partial(jax.jit, static_argnames=("length", "features", "activation"))
def generate_stateful(params, start_windows, last, table, length, features=False,
                      activation="sigmoid", temperature=0.0, key=None):
    """The tutorial's stateful generation: reset, read ``start_windows`` (n, T, F) carrying
    the state, then ``length`` times pick the next symbol (:func:`pick`: the argmax at
    ``temperature`` 0, else a draw with ``key``), slide it into the window ``last`` (T,) of
    indices, encode that window with ``table`` (V, F per symbol; concatenated into one step
    when ``features``) and read it, carrying the state. Returns the generated indices
    (length,)."""
    state = read_states(params, start_windows, activation)
    keys = jax.random.split(jax.random.PRNGKey(0) if key is None else key, length)

    def step(carry, k_t):
        state, window = carry
        k = pick(model.head(params, model.output(params, state))[0], temperature, k_t)
        window = jnp.concatenate([window[1:], k[None]])
        x = table[window]                                   # (T, F per symbol)
        x = x.reshape(1, 1, -1) if features else x[None]    # (1, steps, F)
        return (model.rnn(params, x, None, state, activation), window), k

    _, out = jax.lax.scan(step, (state, last), keys)
    return out


def _order_stats(params, x, y, mask, perm, activation, loss):
    """(largest |difference| of the two batch gradients, largest |gradient| entry)."""
    w = jnp.ones(len(y), jnp.float32)

    def grad(idx):
        mb = None if mask is None else mask[idx]
        return jax.grad(loss, has_aux=True)(params, x[idx], y[idx], w, mb, None,
                                            activation)[0]

    g1, g2 = grad(jnp.arange(len(y))), grad(perm)
    diff = jnp.max(jnp.stack([jnp.max(jnp.abs(a - b)) for a, b in
                              zip(jax.tree.leaves(g1), jax.tree.leaves(g2))]))
    scale = jnp.max(jnp.stack([jnp.max(jnp.abs(a)) for a in jax.tree.leaves(g1)]))
    return diff, scale


def _permutation(n: int, seed: int) -> np.ndarray:
    perm = np.random.default_rng(seed).permutation(n)
    if np.array_equal(perm, np.arange(n)) and n > 1:
        perm = np.roll(perm, 1)  # a permutation that leaves every sample in place tests nothing
    return perm


def order_test(params, x, y, mask=None, activation="sigmoid", seed=0,
               loss=batch_loss, replicas: bool = False) -> tuple[float, float]:
    """Largest |difference| between the batch gradient with the samples in order and in a
    random permutation, and the largest |gradient| entry (its scale). A stateless LSTM
    treats the samples of a batch independently, so the difference is rounding-level (the
    sum is merely added up in another order). ``loss`` has ``train.batch_loss``'s
    signature; a loss that couples the samples shows a large difference. ``replicas``:
    ``params`` has a leading replica axis; the largest values over replicas are returned
    (one compiled, vmapped call)."""
    fn = partial(_order_stats, activation=activation, loss=loss)
    if replicas:
        fn = jax.vmap(fn, in_axes=(0, None, None, None, None))
    # in float64, so that rounding cannot decide: with 3000 samples a float32 batch sum
    # re-ordered differs by ~1e-5 of its scale, a float64 one by ~1e-13
    with jax.enable_x64(True):
        f64 = lambda a: None if a is None else device(np.asarray(a, np.float64))  # noqa
        diff, scale = jax.jit(fn)(jax.tree.map(f64, params), f64(x), device(np.asarray(y)),
                                  f64(mask) if mask is not None else None,
                                  device(_permutation(len(y), seed)))
        return float(np.max(np.asarray(diff))), float(np.max(np.asarray(scale)))


ORDER_ROUNDING = 1e-9  # float64: a re-ordered sum of 10^5 terms differs by < 1e-11


def order_check(diff: float, scale: float) -> str:
    """What the within-batch order test says, in one sentence: a check of the code, not a
    finding — a stateless loss is a sum over the samples, so it holds by construction."""
    rel = diff / max(scale, 1e-300)
    if rel < ORDER_ROUNDING:
        return (f"Float64 batch gradients with the samples in order and shuffled agree to "
                f"{rel:.1e} of the largest entry (float64 rounding): as it must by "
                f"construction — a stateless loss is a sum over samples, each read from a "
                f"zero state. Whether order helps training is the batch-context finding.")
    return (f"The batch gradient changes by {rel:.1e} of its largest entry when the "
            f"samples are shuffled: far above float64 rounding, so the samples of a batch "
            f"are coupled — a stateless model must not do that (a bug).")


def continues(sequence: str, generated: str) -> bool:
    """Does ``generated`` follow ``sequence`` from the first occurrence of its first symbol,
    as far as the sequence goes? Configurations are validated so that at least
    config.MIN_FOLLOWING symbols follow the start: a start at the end would pass vacuously."""
    pos = sequence.find(generated[:1])
    if pos < 0:
        return False
    m = min(len(generated), len(sequence) - pos)
    return generated[:m] == sequence[pos:pos + m]


@partial(jax.jit, static_argnames=("carry", "activation"))
def traces(params, x, mask=None, carry=False, activation="sigmoid"):
    """:func:`trace`'s quantities for every replica of ``params`` (leading axis) and every
    text of ``x`` (P, N, S, F), each text read on its own (``mask`` (P, N, S) or None):
    by name, each (R, P, N, S, U). One compiled program for trained and untrained alike."""
    return _every_text(params, x, mask, carry, activation, 1)


@partial(jax.jit, static_argnames=("carry", "activation"))
def texts_probabilities(params, x, mask=None, carry=False, activation="sigmoid"):
    """:func:`trace`'s next-symbol probabilities for every replica of ``params`` and every
    text of ``x`` (P, N, S, F), each read on its own: (R, P, N, V)."""
    return _every_text(params, x, mask, carry, activation, 0)


def _every_text(params, x, mask, carry, activation, part: int):
    """Part ``part`` of :func:`trace` (0: probabilities, 1: quantities) for every replica
    and every text (traced inside the two programs above)."""
    one = lambda p, w, m: trace(p, w, m, carry, activation)[part]  # noqa: E731
    texts = jax.vmap(one, in_axes=(None, 0, None if mask is None else 0))
    return jax.vmap(texts, in_axes=(0, None, None))(params, x, mask)
