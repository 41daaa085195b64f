"""Using trained parameters: probabilities, stateful evaluation, generation, the
within-batch order test, and statistics over seeds. Model functions take one replica's
params (no leading axis); ``jax.vmap`` them for many replicas."""

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
    def step(state, idx):
        mb = None if mask is None else mask[idx]
        logits, state = model.logits_fn(params, x[idx], mb, state, activation)
        return state, jax.nn.softmax(logits)

    state, probs = jax.lax.scan(step, model.zero_state(layout.shape[1], _units(params)),
                                layout)
    out = jnp.zeros((x.shape[0], probs.shape[-1])).at[layout.reshape(-1)].set(
        probs.reshape(-1, probs.shape[-1]))
    return out, state


def _units(params) -> int:
    return params["lstm"]["recurrent_kernel"].shape[0]


@partial(jax.jit, static_argnames="activation")
def state_trajectory(params, windows, activation="sigmoid"):
    """h and c after each input while a stateful model reads ``windows`` (n, T, F) one
    after another from a reset, carrying its state (for window 1: one symbol per step):
    (n, units) each — the last step of each window in :func:`trace`."""
    _, gates = trace(params, windows, None, True, activation)
    return gates.h[:, -1], gates.c[:, -1]


@partial(jax.jit, static_argnames=("carry", "activation"))
def trace(params, windows, mask=None, carry=False, activation="sigmoid"):
    """Every step's gates and the next-symbol probabilities while the model reads
    ``windows`` (N, S, F) one after another: each from a zero state, or with ``carry``
    from the state the previous window left (a stateful model after a reset). ``mask``
    (N, S) or None. Returns probs (N, V) and :class:`model.Gates`, each (N, S, U)."""
    def step(state, inp):
        x, m = inp
        start = state if carry else model.zero_state(1, _units(params))
        state, gates = model.lstm(params["lstm"], x[None], None if m is None else m[None],
                                  start, activation, gates=True)       # gates (S, 1, U)
        return state, (next_probs(params, state), jax.tree.map(lambda a: a[:, 0], gates))

    _, (probs, gates) = jax.lax.scan(step, model.zero_state(1, _units(params)),
                                     (windows, mask))
    return probs, gates


def read_states(params, windows, activation="sigmoid"):
    """The state (h, c), each (1, units), after reading ``windows`` from a reset."""
    h, c = state_trajectory(params, windows, activation)
    return h[-1:], c[-1:]


@jax.jit
def next_probs(params, state):
    """Next-symbol probabilities (V,) from a state: the Dense softmax on h."""
    h = state[0]
    return jax.nn.softmax(h @ params["dense"]["kernel"] + params["dense"]["bias"])[0]


@partial(jax.jit, static_argnames=("length", "features", "activation"))
def generate_stateful(params, start_windows, last, table, length, features=False,
                      activation="sigmoid"):
    """The tutorial's stateful generation: reset, read ``start_windows`` (n, T, F) carrying
    the state, then ``length`` times take the argmax, slide it into the window ``last``
    (T,) of indices, encode that window with ``table`` (V, F per symbol; concatenated into
    one step when ``features``) and read it, carrying the state. Returns the generated
    indices (length,)."""
    state = read_states(params, start_windows, activation)

    def step(carry, _):
        state, window = carry
        k = jnp.argmax(next_probs(params, state))
        window = jnp.concatenate([window[1:], k[None]])
        x = table[window]                                   # (T, F per symbol)
        x = x.reshape(1, 1, -1) if features else x[None]    # (1, steps, F)
        return (model.lstm(params["lstm"], x, None, state, activation), window), k

    _, out = jax.lax.scan(step, (state, last), None, length=length)
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
    perm = jnp.asarray(_permutation(len(y), seed))
    fn = partial(_order_stats, activation=activation, loss=loss)
    if replicas:
        fn = jax.vmap(fn, in_axes=(0, None, None, None, None))
    diff, scale = jax.jit(fn)(params, x, y, mask, perm)
    return float(jnp.max(diff)), float(jnp.max(scale))


MIN_FOLLOWING = 3  # a generation start is judged on at least this many following symbols


def continues(sequence: str, generated: str) -> bool:
    """Does ``generated`` follow ``sequence`` from the first occurrence of its first symbol,
    as far as the sequence goes? Configurations are validated so that at least
    MIN_FOLLOWING symbols follow the start: a start at the end would pass vacuously."""
    pos = sequence.find(generated[:1])
    if pos < 0:
        return False
    m = min(len(generated), len(sequence) - pos)
    return generated[:m] == sequence[pos:pos + m]


# Statistics over seeds. Accuracies: mean with a Student-t 95% interval over seeds (n-1
# degrees of freedom). Shares of seeds (a yes/no per seed): the Wilson score interval,
# which stays sensible at 0/n and n/n where a t-interval collapses to a point.
CI_METHOD = "95% CI: Student-t interval over seeds for means, Wilson score interval for shares"


def t_interval(values, level=0.95) -> tuple[float, float]:
    """Student-t confidence interval for the mean of ``values`` (n - 1 degrees of freedom)."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return (float("nan"), float("nan"))
    if np.all(v == v[0]):  # scipy returns nan for a zero-width interval
        return (float(v[0]), float(v[0]))
    # scipy.special's t quantile, not scipy.stats (1 s to import; the same numbers)
    from scipy.special import stdtrit
    half = stdtrit(len(v) - 1, (1 + level) / 2) * v.std(ddof=1) / np.sqrt(len(v))
    return (float(v.mean() - half), float(v.mean() + half))


def wilson_interval(successes: int, n: int, level=0.95) -> tuple[float, float]:
    """Wilson score interval for a share ``successes / n`` (what scipy.stats' binomtest
    gives, to the last digit or two; written out because scipy.stats takes 1 s to load)."""
    if n == 0:
        return (float("nan"), float("nan"))
    from scipy.special import ndtri
    z, p = float(ndtri((1 + level) / 2)), successes / n
    centre, spread = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at 0/n and n/n the ends are exactly 0 and 1; computed, they miss by ~1e-17 (a
    # share's error bar would then reach below 0)
    return (0.0 if successes == 0 else float(max(0.0, (centre - spread) / (1 + z * z / n))),
            1.0 if successes == n else float(min(1.0, (centre + spread) / (1 + z * z / n))))


def describe(values) -> dict:
    """n, mean, sd, min, max and the 95% t-interval of a per-seed metric (a loss: no bounds)."""
    v = np.asarray(values, np.float64)
    lo, hi = t_interval(v)
    return {"n": len(v), "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "ci95": [lo, hi]}


def at_100(values) -> np.ndarray:
    """Per seed: did its accuracy reach 100%? (float32 means of 0/1 may miss 1 by an ulp)"""
    return np.asarray(values) >= 1.0 - 1e-9


def summarize(values) -> dict:
    """:func:`describe` of a per-seed accuracy in [0, 1], with the interval clipped to
    [0, 1], and the share of seeds at 100% with its Wilson interval."""
    s = describe(values)
    full = int(np.sum(at_100(values)))
    lo, hi = s["ci95"]
    # a mean of values in [0, 1] lies in [0, 1]: the interval is clipped to it
    return {**s, "ci95": [max(0.0, lo), min(1.0, hi)], "share_100": full / s["n"],
            "share_100_ci95": list(wilson_interval(full, s["n"]))}
