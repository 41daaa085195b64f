"""Training a character model the way a stateful RNN is meant to be trained (Karpathy's
char-rnn, ``train.lua``): the text as B contiguous streams (:mod:`lstmlab.kinds.stream_layout`), a
prediction and a loss at every step of every stream, one update per S steps of all B
streams, the state carried from batch to batch without gradient (truncated BPTT), reset at
every epoch's start, RMSprop on element-wise clipped gradients, the learning rate decayed
per epoch, and validation on streams of its own; replicas (seeds) in a group per core
(``lstmlab.replicas``).
A trained text model is a stateful window-1 one-hot model: sampling with a temperature is
``Model.generate``'s.

char-rnn's defaults, read in its train.lua: 2 layers of 128, sequence length 50, 50
streams, RMSprop lr 2e-3 decay 0.95, gradients clipped at ±5, lr × 0.97 per epoch from
epoch 10 on, 50 epochs, 95% / 5% split. Two differences, on purpose: Keras's initialisers
(lstmlab's models are Keras's; char-rnn draws every parameter from U(−0.08, 0.08)), and the
state is reset at each epoch's start (char-rnn carries it over — its issue #78)."""

from __future__ import annotations

import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import model, replicas
from ..cells import CELLS, param_count
from ..config import MAX_LAYERS
from ..errors import RecordError
from ..files import FileError, atomic_write, read_bytes
from ..programs import device
from .stream_layout import Batches

MAX_CHECKPOINT_BYTES = 2**31


@dataclass(frozen=True)
class TextSpec:
    """Everything that shapes a char-rnn training program: each field but vocab_size is
    the Config setting of the same name (``experiments.text_spec_of``; char-rnn's defaults
    are the ``char-rnn`` preset's)."""

    vocab_size: int
    cell: str
    units: int
    layers: int
    seq_length: int
    streams: int
    lr: float
    decay_rate: float    # RMSprop's average of squared gradients
    grad_clip: float     # element-wise, as char-rnn's grad_params:clamp
    lr_decay: float
    lr_decay_after: int  # epochs at the first learning rate
    epochs: int
    activation: str
    dropout: float

    def lr_at(self, epoch: int) -> float:
        """The learning rate of 0-based ``epoch``: char-rnn decays it at the end of every
        epoch from the ``lr_decay_after``-th on."""
        return self.lr * self.lr_decay ** max(0, epoch - self.lr_decay_after + 1)


def direction(spec: TextSpec) -> optax.GradientTransformation:
    """Clip every gradient entry to ±grad_clip, then divide by the RMS of recent gradients
    (torch's legacy ``optim.rmsprop``: ε added outside the square root); the learning rate
    is applied by the caller, so that it can change per epoch in one compiled program."""
    return optax.chain(optax.clip(spec.grad_clip),
                       optax.scale_by_rms(decay=spec.decay_rate, eps=1e-8, eps_in_sqrt=False))


def init(spec: TextSpec, key):
    params = model.init_params(key, spec.vocab_size, spec.units, spec.vocab_size, spec.cell,
                               spec.layers)
    return params, direction(spec).init(params)


def _dropout(rate: float, key, h, k: int):
    """Inverted dropout of h with its own key per place ``k`` (as torch's nn.Dropout)."""
    keep = jax.random.bernoulli(jax.random.fold_in(key, k), 1.0 - rate, h.shape)
    return jnp.where(keep, h / (1.0 - rate), 0.0)


def batch_loss(params, state, xb, yb, vocab_size: int, activation: str,
               dropout: float = 0.0, key=None):
    """Mean cross-entropy in nats over every step of every stream of one batch, and the
    state after it. xb, yb (B, S) indices; one-hot vectors made here, per batch. With
    ``dropout`` (training) the outputs each layer passes on — to the next layer and to
    Dense — are dropped with that rate, drawn from ``key`` (char-rnn's places)."""
    x = jax.nn.one_hot(xb, vocab_size, dtype=jnp.float32)             # (B, S, V)
    drop = (lambda k, h: _dropout(dropout, key, h, k)) if dropout else None
    # fused: an LSTM layer's backward as one product over every step (lstm_layer)
    h, state = model.sequence(params, x, state, activation, drop, fused=True)  # (B, S, U)
    if dropout:
        h = _dropout(dropout, key, h, MAX_LAYERS)
    logits = model.head(params, h)                                     # (B, S, V)
    return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), state


def _replica_chunk(spec: TextSpec, params, opt_state, state, lr, x, y, key, first):
    """Batches x, y (n, B, S) of one replica from ``state``, one update each; the state
    after a batch carries on to the next without gradient (truncated BPTT). ``first``: the
    index of the first batch in the epoch (each batch's dropout key is folded from it).
    Returns params, opt_state, state and each batch's loss (n,)."""
    value_and_grad = jax.value_and_grad(batch_loss, has_aux=True)
    tx = direction(spec)

    def step(carry, batch):
        params, opt_state, state = carry
        xb, yb, k = batch
        (loss, state), grads = value_and_grad(params, state, xb, yb, spec.vocab_size,
                                              spec.activation, spec.dropout,
                                              jax.random.fold_in(key, k))
        updates, opt_state = tx.update(grads, opt_state, params)
        params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
        state = jax.tree.map(jax.lax.stop_gradient, state)
        return (params, opt_state, state), loss

    ks = first + jnp.arange(x.shape[0])
    (params, opt_state, state), losses = jax.lax.scan(step, (params, opt_state, state),
                                                      (x, y, ks))
    return params, opt_state, state, losses


@partial(jax.jit, static_argnames="spec", donate_argnums=(1, 2, 3))
def train_chunk(spec: TextSpec, params, opt_state, state, lr, x, y, keys, first):
    """:func:`_replica_chunk` for every replica (leading axis of params, opt_state, state
    and keys); the batches are shared. The replicas run one after another inside the
    program (``lax.map``), each as unbatched products: on the CPU a vmap of them compiles
    to batched matrix products, slower per replica than one replica alone
    (benchmarks/text_bench.py)."""
    def one(args):
        return _replica_chunk(spec, *args[:3], lr, x, y, args[3], first)
    return jax.lax.map(one, (params, opt_state, state, keys))


@partial(jax.jit, static_argnames="spec")
def evaluate(spec: TextSpec, params, x, y):
    """Mean loss (nats per symbol) of every replica (leading axis of params) over Batches
    x, y, reading the streams from a reset and carrying the state from batch to batch, as
    training does; no dropout."""
    def one(params):
        def step(state, batch):
            loss, state = batch_loss(params, state, *batch, spec.vocab_size, spec.activation)
            return state, loss

        state = model.zero_state(x.shape[1], spec.units, CELLS[spec.cell], spec.layers)
        _, losses = jax.lax.scan(step, state, (x, y))
        return losses.mean()
    return jax.lax.map(one, params)  # one after another, as train_chunk


def flops_per_char(spec: TextSpec) -> int:
    """Training FLOPs per predicted symbol: about 6 per parameter (2 forward, 4 backward;
    every parameter is one multiply-add per step) — 1.4 M for char-rnn's 2 × LSTM(128) on
    65 symbols."""
    return 6 * param_count(CELLS[spec.cell], spec.vocab_size, spec.units, spec.vocab_size,
                           spec.layers)


CHUNK_SECONDS = 1.0   # about this long per compiled call: progress and Ctrl-C between them
FLOPS_GUESS = 1.5e10  # a slow CPU's float32 FLOP/s, only to size the chunks


def chunk_batches(spec: TextSpec, n_batches: int, replicas: int) -> int:
    """Batches per compiled call: about CHUNK_SECONDS of training at FLOPS_GUESS, and a
    divisor of the epoch's batches, so that every call has one shape (one compilation)."""
    per_batch = flops_per_char(spec) * spec.streams * spec.seq_length * replicas / FLOPS_GUESS
    want = max(1, min(n_batches, int(CHUNK_SECONDS / per_batch)))
    return max(d for d in range(1, want + 1) if n_batches % d == 0)


class Progress(NamedTuple):
    """What ``fit`` tells its observer after every compiled call: the epoch (0-based),
    batches done in it and in all, the epoch's training losses so far (per replica),
    the last validation losses (per replica, or None)."""

    epoch: int
    batch: int
    batches: int
    losses: np.ndarray
    val: np.ndarray | None


def fit(spec: TextSpec, keys, train: Batches, val: Batches | None, on_progress=None,
        checkpoint: Path | None = None, check=None, workers: int | None = None) -> dict:
    """Train one replica per key (``keys`` (R, 2)) for spec.epochs with one compiled
    program, the replicas in a group per core (``workers`` groups if given) trained at once
    (``lstmlab.replicas``);
    after every compiled call ``on_progress(Progress)`` and ``check()`` (which may raise
    to stop: the last finished epoch is kept). With ``checkpoint`` (a file),
    every finished epoch is written there (atomically) and a run finds it and goes on from
    it: an interrupted training resumed ends with the same parameters as an uninterrupted
    one, bit for bit (the dropout keys depend only on the key, the epoch and the batch).
    Returns per replica the last and the best-validation parameters, the best epoch
    (0-based) and the per-epoch (train, validation) losses (R, epochs, 2); the seconds
    compiling and training, and the epochs trained by this call."""
    keys = jnp.asarray(keys)
    params, opt_state = jax.vmap(lambda k: init(spec, k))(keys)
    drop_keys = jax.vmap(lambda k: jax.random.fold_in(k, DROPOUT_STREAM))(keys)
    r = len(keys)
    size = replicas.per_group(r, workers)
    groups = -(-r // size)
    # the best parameters are copies: training donates its buffers to the next step
    best, best_val, best_epoch, history = jax.tree.map(jnp.copy, params), \
        np.full(r, np.inf), np.full(r, -1), []
    if checkpoint is not None and Path(checkpoint).exists():
        params, opt_state, best, best_val, best_epoch, history = _resume(
            Path(checkpoint), spec, (params, opt_state, best))
    x, y = device(train.x), device(train.y)
    vx, vy = (device(val.x), device(val.y)) if val is not None else (None, None)
    n = x.shape[0]
    chunk = chunk_batches(spec, n, size)
    last_val = history[-1][:, 1] if history and val is not None else None
    zero = lambda: jax.vmap(lambda _: model.zero_state(  # noqa: E731
        x.shape[1], spec.units, CELLS[spec.cell], spec.layers))(jnp.arange(groups * size))
    t0 = time.perf_counter()
    first = replicas.split((params, opt_state, zero(), drop_keys), size, groups)[0]
    step = train_chunk.lower(spec, *first[:3], jnp.float32(spec.lr), x[:chunk], y[:chunk],
                             first[3], 0).compile()
    compile_s, t0 = time.perf_counter() - t0, time.perf_counter()
    resumed = len(history)
    with ThreadPoolExecutor(replicas.threads(groups)) as pool:
        for epoch in range(len(history), spec.epochs):
            lr = jnp.float32(spec.lr_at(epoch))
            ek = jax.vmap(lambda k: jax.random.fold_in(k, epoch))(drop_keys)
            parts = replicas.split((params, opt_state, zero(), ek), size, groups)
            losses = []
            for b in range(0, n, chunk):
                def run(g, b=b):  # a group's chunk (its params, opt_state, state, keys)
                    *carry, keys_g = parts[g]
                    *carry, part = step(*carry, lr, x[b:b + chunk], y[b:b + chunk], keys_g, b)
                    parts[g] = (*jax.block_until_ready(carry), keys_g)
                    return np.asarray(part)
                losses.append(np.concatenate(list(pool.map(run, range(groups))))[:r])
                if on_progress is not None:
                    on_progress(Progress(epoch, b + chunk, n, np.concatenate(losses, 1),
                                         last_val))
                if check is not None and b + chunk < n:
                    check()
            params, opt_state = replicas.joined([p[:2] for p in parts], r)
            train_loss = np.concatenate(losses, 1).mean(1).astype(np.float64)
            val_loss = np.asarray(evaluate(spec, params, vx, vy), np.float64) \
                if val is not None else np.full(r, np.nan)
            history.append(np.stack([train_loss, val_loss], 1))
            better = val_loss < best_val if val is not None else np.ones(r, bool)
            if better.any():
                pick = device(better)
                best = jax.tree.map(lambda b_, p: jnp.where(
                    pick.reshape((-1,) + (1,) * (p.ndim - 1)), p, b_), best, params)
                best_val = np.where(better, val_loss, best_val)
                best_epoch = np.where(better, epoch, best_epoch)
            last_val = None if val is None else val_loss
            if checkpoint is not None:
                _save(Path(checkpoint), spec, (params, opt_state, best), best_val, best_epoch,
                      history)
            if on_progress is not None:
                on_progress(Progress(epoch + 1, 0, n, np.zeros((r, 0)), last_val))
            if check is not None:
                check()
    return {"params": params, "best": best, "best_epoch": np.asarray(best_epoch),
            "history": np.stack(history, 1), "compile_s": compile_s,
            "train_s": time.perf_counter() - t0, "trained_epochs": spec.epochs - resumed}


DROPOUT_STREAM = 1  # dropout's keys are folded from the replica's key with this


def _save(path: Path, spec: TextSpec, trees, best_val, best_epoch, history) -> None:
    """The training after an epoch, as one .npz: every array of (params, optimizer state,
    best params) in tree order, the settings, the best validation losses and epochs, the
    history."""
    leaves = [np.asarray(a) for a in jax.tree.leaves(trees)]
    meta = {"spec": asdict(spec), "best_val": [float(v) for v in best_val],
            "best_epoch": [int(e) for e in best_epoch],
            "history": [h.tolist() for h in history]}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **{f"a{i}": a for i, a in
                                                      enumerate(leaves)})
    atomic_write(path, buf.getvalue())


def finished_epochs(path: Path) -> int | None:
    """How many epochs the checkpoint ``path`` holds (None if it cannot be read)."""
    try:
        with np.load(io.BytesIO(read_bytes(path, MAX_CHECKPOINT_BYTES, "checkpoint"))) as f:
            return len(json.loads(str(f["meta"]))["history"])
    except (FileError, OSError, ValueError, KeyError, TypeError):
        return None


def _resume(path: Path, spec: TextSpec, fresh):
    """What _save wrote, checked against this training's settings and shapes; a
    RecordError naming the difference otherwise."""
    try:
        with np.load(io.BytesIO(read_bytes(path, MAX_CHECKPOINT_BYTES, "checkpoint"))) as f:
            meta = json.loads(str(f["meta"]))
            arrays = [f[f"a{i}"] for i in range(len(f.files) - 1)]
        history = [np.asarray(h, np.float64) for h in meta["history"]]
        best_val = np.asarray(meta["best_val"], np.float64)
        best_epoch = np.asarray(meta["best_epoch"], np.int64)
    except (FileError, OSError, ValueError, KeyError, TypeError) as e:
        raise RecordError(f"{path}: not a checkpoint lstmlab can read ({e})") from None
    saved = meta.get("spec") if isinstance(meta.get("spec"), dict) else {}
    # the number of epochs may differ: epoch k does not depend on the total
    diff = sorted(k for k, v in asdict(spec).items() if k != "epochs" and saved.get(k) != v)
    if diff:
        raise RecordError(f"{path}: a checkpoint of another training (it differs in "
                          f"{', '.join(diff)}); remove it or train with its settings")
    if len(history) > spec.epochs:
        raise RecordError(f"{path} holds {len(history)} finished epochs of these settings, "
                          f"more than the {spec.epochs} asked: run with --epochs "
                          f"{len(history)} or more to go on from it, or remove it to train "
                          f"{spec.epochs} from the start")
    leaves, treedef = jax.tree.flatten(fresh)
    r = leaves[0].shape[0]
    if len(arrays) != len(leaves) or any(a.shape != b.shape for a, b in zip(arrays, leaves)) \
            or len(history) > spec.epochs or any(h.shape != (r, 2) for h in history) \
            or best_val.shape != (r,) or best_epoch.shape != (r,):
        raise RecordError(f"{path}: the checkpoint's arrays do not match this model")
    params, opt_state, best = jax.tree.unflatten(treedef, [device(a) for a in arrays])
    return params, opt_state, best, best_val, best_epoch, history
