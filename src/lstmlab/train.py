"""Compiled training: every update of a run is one step of a ``lax.scan``; replicas
(seeds) are ``vmap``-ed over, so N seeds are one program, not N runs.

The scan is flat over all (epoch, batch) updates, with each epoch's sample order drawn
up front: that measured ~2x faster than a scan of epochs around a scan of batches.
Epochs are fed to the compiled scan in a few equal chunks so that a progress bar can
move between them; the chunk size never changes the numbers (the program is the same).
"""

from __future__ import annotations

import time
from functools import lru_cache, partial
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import model, replicas
from .cells import CELLS
from .keras_compat import keras_crossentropy, optimizer
from .programs import device, program, program_ahead


@dataclass(frozen=True)
class TrainSpec:
    """The static part of a training run (everything that shapes the compiled program)."""

    units: int
    vocab_size: int
    epochs: int
    batch_size: int
    lr: float = 1e-3
    shuffle: bool = True
    stateful: bool = False
    activation: str = "sigmoid"
    optimizer: str = "adam"
    bptt: int = 1               # stateful: batches per update, gradient through the state
    random_start: bool = False  # stateful: each epoch starts at a random batch
    reset_prob: float = 0.0     # stateful: reset before each batch with this probability
    cell: str = "lstm"          # cells.CELLS
    layers: int = 1


@dataclass
class FitResult:
    """Trained parameters and per-epoch history of every replica, and the timings."""

    params: dict           # pytree, leading axis = replica
    history: np.ndarray    # (replicas, epochs, 2): training loss and accuracy per epoch
    compile_s: float
    train_s: float
    initial: dict | None = None  # the same pytree before training (the untrained control)


def batch_plan(spec: TrainSpec, n: int, epoch_keys, order=None):
    """Sample indices, weights and reset flags for every update of the given epochs.

    A last partial batch is padded with weight-0 samples, which gives exactly the gradient
    of the smaller batch Keras would use, with a fixed shape. ``order`` (n,) fixes the
    order of samples (the stateful stream layout); otherwise shuffle or keep 0..n-1.
    """
    spe = -(-n // spec.batch_size)
    base = jnp.arange(n) if order is None else jnp.asarray(order)
    if spec.shuffle:
        perms = jax.vmap(lambda k: jax.random.permutation(k, base))(epoch_keys)
    else:
        perms = jnp.broadcast_to(base, (len(epoch_keys), n))
    pad = spe * spec.batch_size - n
    idx = jnp.pad(perms, ((0, 0), (0, pad)))
    w = jnp.pad(jnp.ones_like(perms, jnp.float32), ((0, 0), (0, pad)))
    reset = jnp.zeros((len(epoch_keys), spe), bool).at[:, 0].set(True)
    if spec.random_start or spec.reset_prob > 0:
        idx, reset = _stateful_plan(spec, idx.reshape(len(epoch_keys), spe, -1), epoch_keys)
    shape = (-1, spec.batch_size)
    idx, w, reset = idx.reshape(shape), w.reshape(shape), reset.reshape(-1)
    if spec.bptt > 1:
        return _windows(spec, spe, idx, w, reset)
    return idx, w, reset


def _stateful_plan(spec: TrainSpec, batches, epoch_keys):
    """Random starts and random resets of a stateful run: batches (epochs, spe, b) of the
    stream layout in order → the same batches and the reset flags (epochs, spe). With
    ``random_start`` an epoch begins at a random batch after a reset, runs to the end of
    the sequence, is reset again and goes on from its beginning up to where it started
    (every batch once per epoch). With ``reset_prob`` p, any batch is preceded by a reset
    with probability p. The draws come from the epoch's key (folded, so that the shuffle
    draws of other experiments are untouched)."""
    spe = batches.shape[1]

    def epoch(key, rows):
        k_start, k_reset = jax.random.split(jax.random.fold_in(key, 1))
        order = jnp.arange(spe)
        if spec.random_start:
            order = (order + jax.random.randint(k_start, (), 0, spe)) % spe
        reset = (jnp.arange(spe) == 0) | (order == 0)  # the start, and the wrap to batch 0
        if spec.reset_prob > 0:
            reset |= jax.random.bernoulli(k_reset, spec.reset_prob, (spe,))
        return rows[order], reset

    return jax.vmap(epoch)(epoch_keys, batches)


def _windows(spec: TrainSpec, spe: int, idx, w, reset):
    """Truncated BPTT: each epoch's batches in windows of ``spec.bptt`` consecutive batches,
    one update per window; a last partial window is padded with weight-0 batches (at the
    end of an epoch, whose state the next epoch's reset discards)."""
    k, b = spec.bptt, spec.batch_size
    per = -(-spe // k)  # windows per epoch
    pad = per * k - spe
    idx = jnp.pad(idx.reshape(-1, spe, b), ((0, 0), (0, pad), (0, 0)))
    w = jnp.pad(w.reshape(-1, spe, b), ((0, 0), (0, pad), (0, 0)))
    reset = jnp.pad(reset.reshape(-1, spe), ((0, 0), (0, pad)))
    return idx.reshape(-1, k, b), w.reshape(-1, k, b), reset.reshape(-1, k)


def window_loss(params, state, x, y, idx, w, reset, mask, activation):
    """Truncated BPTT over one window: read the K batches idx (K, b) in order, carrying the
    state — reset to zero where ``reset`` (K,) says — with the gradient flowing through it
    from batch to batch. Returns the weighted mean of Keras's cross-entropy over the
    window's samples, with (per-batch loss sums, per-batch correct counts, final state)."""
    def body(state, inp):
        i, wk, r = inp
        state = jax.tree.map(lambda s: jnp.where(r, 0.0, s), state)
        mb = None if mask is None else mask[i]
        logits, state = model.logits_fn(params, x[i], mb, state, activation)
        losses = keras_crossentropy(logits, y[i])
        return state, (jnp.sum(wk * losses), jnp.sum(wk * (jnp.argmax(logits, -1) == y[i])))

    state, (loss_sums, correct) = jax.lax.scan(body, state, (idx, w, reset))
    return jnp.sum(loss_sums) / jnp.sum(w), (loss_sums, correct, state)


def batch_loss(params, xb, yb, w, mb, state, activation):
    """Weighted mean of Keras's cross-entropy over a batch (weight-0 samples pad a last
    partial batch), with per-sample losses, logits and the final state."""
    logits, new_state = model.logits_fn(params, xb, mb, state, activation)
    losses = keras_crossentropy(logits, yb)
    return jnp.sum(w * losses) / jnp.sum(w), (losses, logits, new_state)


def make_chunk_fn(spec: TrainSpec, n: int):
    """Functions for one replica: ``init(key) → (carry, epoch_keys)`` and
    ``chunk(carry, epoch_keys, lr, data) → (carry, per-epoch history)``, where data is
    (x, y, mask, order). The learning rate and the data are arguments, not constants, so
    one compiled program serves every run whose shapes agree (an --lr sweep compiles once)."""
    spe = -(-n // spec.batch_size)
    upe = -(-spe // spec.bptt)  # updates per epoch
    grad_fn = jax.grad(batch_loss, has_aux=True)

    def window_step(carry, inp, lr, x, y, mask):
        params, opt_state, state = carry
        idx, w, reset = inp
        grads, (loss_sums, correct, state) = jax.grad(window_loss, has_aux=True)(
            params, state, x, y, idx, w, reset, mask, spec.activation)
        updates, opt_state = optimizer(lr, spec.optimizer).update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        # the next window starts from this state, without gradient (truncated BPTT)
        state = jax.tree.map(jax.lax.stop_gradient, state)
        return (params, opt_state, state), (jnp.sum(loss_sums), jnp.sum(correct))

    def step(carry, inp, lr, x, y, mask):
        if spec.bptt > 1:
            return window_step(carry, inp, lr, x, y, mask)
        params, opt_state, state = carry
        idx, w, reset = inp
        mb = None if mask is None else mask[idx]
        if spec.stateful:
            # Reset at each epoch start (the tutorial's reset_states() after every epoch).
            # No gradient flows into the carried state, as in Keras: it enters grad_fn as
            # an input, not as a function of these parameters.
            state = jax.tree.map(lambda s: jnp.where(reset, 0.0, s), state)
            init_state = state
        else:
            init_state = None
        grads, (losses, logits, new_state) = grad_fn(params, x[idx], y[idx], w, mb,
                                                     init_state, spec.activation)
        updates, opt_state = optimizer(lr, spec.optimizer).update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        correct = jnp.sum(w * (jnp.argmax(logits, -1) == y[idx]))
        state = new_state if spec.stateful else state
        return (params, opt_state, state), (jnp.sum(w * losses), correct)

    def chunk(carry, epoch_keys, lr, data):
        x, y, mask, order = data
        idx, w, reset = batch_plan(spec, n, epoch_keys, order)
        carry, (loss_sum, correct) = jax.lax.scan(
            lambda c, i: step(c, i, lr, x, y, mask), carry, (idx, w, reset))
        # per update (epochs, updates per epoch); summed per epoch on the host (epoch_history)
        return carry, jnp.stack([loss_sum, correct]).reshape(2, -1, upe)

    def init(key, n_features):
        k_init, k_shuffle = jax.random.split(key)  # the weights, and the epochs' shuffles
        params = model.init_params(k_init, n_features, spec.units, spec.vocab_size, spec.cell,
                                   spec.layers)
        state = model.zero_state(spec.batch_size, spec.units, CELLS[spec.cell], spec.layers)
        epoch_keys = jax.random.split(k_shuffle, spec.epochs)
        # the optimizer's state does not depend on the learning rate
        return (params, optimizer(spec.lr, spec.optimizer).init(params), state), epoch_keys

    return init, chunk


def _plan(spec: TrainSpec, n_rep: int, x, y, mask, order, workers, chunk):
    """Everything ``fit`` compiles and runs, as functions and argument shapes (the same
    for ``fit`` and ``compile_ahead``, so that both find the same cached programs)."""
    init, chunk_fn = make_chunk_fn(spec, y.shape[0])
    size = group_size(n_rep, workers)
    groups = -(-n_rep // size)
    # a chunk of at most CHUNK_UPDATES per group: a long text's epoch is its own chunk
    ce = chunk or chunk_epochs(spec.epochs, cap=CHUNK_UPDATES // (size * y.shape[0]))
    if spec.epochs % ce:
        raise ValueError(f"chunk {ce} does not divide {spec.epochs} epochs")
    init_program = _init_program(init, size, x.shape[-1])
    (keys,), _, build, _ = init_program
    group = jax.eval_shape(build(), keys)  # one group's carry and epoch keys, as shapes
    group_keys = jax.ShapeDtypeStruct((size, ce) + group[1].shape[2:], group[1].dtype)
    batch = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), (x, y, mask, order))
    lr = jax.ShapeDtypeStruct((), jnp.float32)
    programs = (init_program,
                ((group[0], group_keys, lr, batch), "chunk",
                 lambda: jax.jit(jax.vmap(chunk_fn, in_axes=(0, 0, None, None)))))
    return groups, size, ce, programs


def _init_program(init, size: int, n_features: int) -> tuple:
    """The initialisation program of a group of ``size`` replicas, as ``program`` takes it
    (argument shapes, kind, build, static): ``init(key, n_features)`` for each key."""
    # lax.map, not vmap: a batched QR (the orthogonal initializer) compiles 1.7x slower
    # than one QR in a loop, and the numbers are the same
    init_fn = jax.jit(lambda ks: jax.lax.map(lambda k: init(k, n_features), ks))
    keys = jax.ShapeDtypeStruct((size, 2), jnp.uint32)  # one group's, as every program
    return (keys,), "init", lambda: init_fn, n_features


def initial_weights(spec: TrainSpec, keys, n_features: int, workers: int | None = None):
    """Each replica's weights before training (``keys`` (R, 2): replica_keys'), stacked:
    what ``fit`` keeps as ``FitResult.initial``, drawn by the same compiled program — the
    training's initialisation, in the same groups — so that a measurement of them (the
    untrained control) makes no program of its own; in this process after its training,
    none is even loaded."""
    n_rep = len(keys)
    size = group_size(n_rep, workers)
    start, _ = program(spec, *_init_program(make_chunk_fn(spec, 1)[0], size, n_features))
    groups = -(-n_rep // size)
    return replicas.joined([jax.tree.map(np.asarray, start(k))[0][0]
                            for k in replicas.split(np.asarray(keys), size, groups)], n_rep)


def _fit_inputs(x, y, mask, order):
    """The arrays the training program reads (a mask that hides nothing is left out), on
    the device (programs.device: no conversion program per shape)."""
    mask = None if mask is None or bool(np.all(mask)) else device(mask)
    return device(x), device(y), mask, None if order is None else device(order)


def compile_ahead(spec: TrainSpec, n_rep: int, x, y, mask=None, order=None,
                  workers: int | None = None, chunk: int | None = None) -> None:
    """Start compiling what ``fit`` with these arguments will run, in the background; its
    ``fit`` then waits for (or finds) the programs instead of compiling them."""
    _, _, _, programs = _plan(spec, n_rep, *_fit_inputs(x, y, mask, order), workers, chunk)
    for p in programs:
        program_ahead(spec, *p)


def epoch_history(sums: np.ndarray, n: int) -> np.ndarray:
    """Per-update loss and correct sums (R, 2, epochs, updates per epoch) → per-epoch mean
    loss and accuracy (R, epochs, 2). Summed here, row by row in float64, rather than in
    the compiled program, where XLA's vectorised sum over a replica batch adds in an order
    that depends on the batch's size: replica r's history is then the same however many
    replicas trained with it (settling adds seeds without training the earlier ones)."""
    return (sums.astype(np.float64).sum(-1) / n).astype(np.float32).transpose(0, 2, 1)


CHUNK_UPDATES = 2_000_000  # replica·updates of one group's chunk (~1-2 s on a CPU core)


def chunk_epochs(epochs: int, chunks: int = 20, cap: int | None = None) -> int:
    """Largest divisor of ``epochs`` that is at most epochs / chunks and at most ``cap``
    (≥ 1): equal chunks, so the chunk program compiles once."""
    target = max(1, min(epochs // chunks, epochs if cap is None else cap))
    return max(d for d in range(1, target + 1) if epochs % d == 0)


@lru_cache(maxsize=64)  # derived once per process: every preset of a run has seed 7
def replica_keys(seed: int, replicas: int):
    """Replica r of seed s always gets the same key, however many replicas run (one
    dispatched fold_in each: kept, not derived again for every experiment)."""
    base = jax.random.PRNGKey(seed)
    # stacked on the host: jnp.stack would compile a program per number of replicas
    return device(np.stack([np.asarray(jax.random.fold_in(base, r))
                            for r in range(replicas)]))


# On the CPU, replicas train in groups of at most this many, each group one call of the
# same compiled program (XLA runs one program on one core here), as many at once as there
# are cores. vmap barely amortises on these cores (100 seeds of timestep-window: 45-50 ms
# per seed in groups of 5, 10, 25 or 50, measured 2026-11-29), while a group size that
# does not change with the number of seeds lets 10, 30 or 100 seeds share one compiled
# program (a settling round, a sweep over seeds) and compiles twice as fast as 50.
MAX_GROUP = 5


def group_size(n_rep: int, workers: int | None = None) -> int:
    """Replicas per group (one compiled call): ``n_rep / workers`` groups if ``workers``
    is given; on the CPU enough groups of at most MAX_GROUP to keep every core busy; one
    group of all on an accelerator (one program holds every replica on the device)."""
    size = replicas.per_group(n_rep, workers)
    return size if workers is not None or jax.default_backend() != "cpu" \
        else min(MAX_GROUP, size)


def fit(spec: TrainSpec, keys, x, y, mask=None, order=None,
        on_progress: Callable[[int, np.ndarray], None] | None = None,
        workers: int | None = None, chunk: int | None = None,
        check: Callable[[], None] | None = None) -> FitResult:
    """Train ``len(keys)`` replicas, ``vmap``-ed into one compiled program.

    x (N, T, F) float32, y (N,) int, mask (N, T) bool or None; ``order`` fixes the sample
    order (stateful). ``on_progress(epochs_done, history_so_far)`` is called between chunks
    of ``chunk`` epochs (default: about 1/20 of them, fewer where a chunk would be a lot of
    work; it must divide the epochs). ``check()`` is called after every group's chunk (it
    may raise to stop: the groups not yet started are cancelled), so that an interrupt
    takes effect within one group's chunk however many seeds train.

    The replicas are split into equal groups (``group_size``) that run the same compiled
    program from separate threads, one per core: the groups are independent, so this
    nearly halves the time on 2 cores. The last group is padded with copies of the last
    key, whose results are dropped.
    """
    x, y, mask, order = batch = _fit_inputs(x, y, mask, order)
    n, n_rep = y.shape[0], len(keys)
    groups, size, ce, programs = _plan(spec, n_rep, x, y, mask, order, workers, chunk)
    lr = device(np.float32(spec.lr))  # no conversion program
    with ThreadPoolExecutor(2) as pool:  # the two programs compile at the same time
        (start, t_init), (run, t_chunk) = [f.result() for f in [pool.submit(program, spec, *p)
                                                                for p in programs]]
    # what compiling this run's programs took, at the same time (or ahead, in the
    # background): not the wait, which compiling ahead hides
    compile_s = max(t_init, t_chunk)
    parts = [jax.tree.map(np.asarray, start(k))
             for k in replicas.split(np.asarray(keys), size, groups)]
    initial = replicas.joined([p[0][0] for p in parts], n_rep)

    def run_group(g, start):
        carry_g, keys_g = parts[g]
        carry_g, h = run(carry_g, keys_g[:, start:start + ce], lr, batch)
        parts[g] = (jax.block_until_ready(carry_g), keys_g)
        return epoch_history(np.asarray(h), n)

    hist = []
    t0 = time.perf_counter()
    with ThreadPoolExecutor(replicas.threads(groups)) as pool:
        for start in range(0, spec.epochs, ce):
            futures = [pool.submit(run_group, g, start) for g in range(groups)]
            try:
                done = []
                for f in futures:
                    done.append(f.result())
                    if check is not None:
                        check()
            except BaseException:
                for f in futures:  # the running ones finish their chunk; no others start
                    f.cancel()
                raise
            hist.append(np.concatenate(done)[:n_rep])
            if on_progress is not None:
                on_progress(start + ce, np.concatenate(hist, axis=1))
    train_s = time.perf_counter() - t0
    params = replicas.joined([p[0][0] for p in parts], n_rep)
    return FitResult(params, np.concatenate(hist, axis=1), compile_s, train_s, initial)
