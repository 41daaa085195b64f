"""Training a character model the way a stateful RNN is meant to be trained (Karpathy's
char-rnn, ``train.lua``): the text as B contiguous streams (:mod:`lstmlab.streams`), a
prediction and a loss at every step of every stream, one update per S steps of all B
streams, the state carried from batch to batch without gradient (truncated BPTT), reset at
every epoch's start, RMSprop on element-wise clipped gradients, the learning rate decayed
per epoch, and validation on streams of its own. Sampling with a temperature from a state
warmed up on a prime text.

char-rnn's defaults, read in its train.lua: 2 layers of 128, sequence length 50, 50
streams, RMSprop lr 2e-3 decay 0.95, gradients clipped at ±5, lr × 0.97 per epoch from
epoch 10 on, 50 epochs, 95% / 5% split. Two differences, on purpose: Keras's initialisers
(lstmlab's models are Keras's; char-rnn draws every parameter from U(−0.08, 0.08)), and the
state is reset at each epoch's start (char-rnn carries it over — its issue #78)."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import model
from .cells import CELLS
from .errors import RecordError
from .files import FileError, atomic_write, read_bytes
from .streams import Batches

MAX_CHECKPOINT_BYTES = 2**31


@dataclass(frozen=True)
class TextSpec:
    """Everything that shapes a char-rnn training program, char-rnn's defaults."""

    vocab_size: int
    cell: str = "lstm"
    units: int = 128
    layers: int = 2
    seq_length: int = 50
    streams: int = 50
    lr: float = 2e-3
    decay_rate: float = 0.95     # RMSprop's average of squared gradients
    grad_clip: float = 5.0       # element-wise, as char-rnn's grad_params:clamp
    lr_decay: float = 0.97
    lr_decay_after: int = 10     # epochs at the first learning rate
    epochs: int = 50
    activation: str = "sigmoid"

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


def batch_loss(params, state, xb, yb, vocab_size: int, activation: str):
    """Mean cross-entropy in nats over every step of every stream of one batch, and the
    state after it. xb, yb (B, S) indices; one-hot vectors made here, per batch."""
    x = jax.nn.one_hot(xb, vocab_size, dtype=jnp.float32)             # (B, S, V)
    h, state = model.sequence(params, x, state, activation)            # (B, S, U)
    logits = model.head(params, h)                                     # (B, S, V)
    return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), state


@partial(jax.jit, static_argnames="spec")
def train_epoch(spec: TextSpec, params, opt_state, lr, x, y):
    """One pass over Batches x, y (n, B, S) from a reset state: per batch one update.
    Returns params, opt_state and each batch's loss (n,)."""
    value_and_grad = jax.value_and_grad(batch_loss, has_aux=True)
    tx = direction(spec)

    def step(carry, batch):
        params, opt_state, state = carry
        xb, yb = batch
        (loss, state), grads = value_and_grad(params, state, xb, yb, spec.vocab_size,
                                              spec.activation)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
        # the next batch continues every stream from here, without gradient (truncated BPTT)
        state = jax.tree.map(jax.lax.stop_gradient, state)
        return (params, opt_state, state), loss

    state = model.zero_state(x.shape[1], spec.units, CELLS[spec.cell], spec.layers)
    (params, opt_state, _), losses = jax.lax.scan(step, (params, opt_state, state), (x, y))
    return params, opt_state, losses


@partial(jax.jit, static_argnames="spec")
def evaluate(spec: TextSpec, params, x, y):
    """Mean loss (nats per symbol) over Batches x, y, reading the streams from a reset and
    carrying the state from batch to batch, as training does."""
    def step(state, batch):
        loss, state = batch_loss(params, state, *batch, spec.vocab_size, spec.activation)
        return state, loss

    state = model.zero_state(x.shape[1], spec.units, CELLS[spec.cell], spec.layers)
    _, losses = jax.lax.scan(step, state, (x, y))
    return losses.mean()


def fit(spec: TextSpec, key, train: Batches, val: Batches | None, on_epoch=None,
        checkpoint: Path | None = None) -> dict:
    """Train for spec.epochs; after each epoch ``on_epoch(epoch, train_loss, val_loss)``.
    With ``checkpoint`` (a file), every finished epoch is written there (atomically) and a
    run finds it and goes on from it: an interrupted training resumed ends with the same
    parameters as an uninterrupted one, bit for bit (no randomness after the start).
    Returns the last and the best-validation parameters and the per-epoch losses."""
    params, opt_state = init(spec, key)
    best, best_val, history = params, np.inf, []
    if checkpoint is not None and Path(checkpoint).exists():
        params, opt_state, best, best_val, history = _resume(Path(checkpoint), spec,
                                                              (params, opt_state, best))
    x, y = jnp.asarray(train.x), jnp.asarray(train.y)
    vx, vy = (jnp.asarray(val.x), jnp.asarray(val.y)) if val is not None else (None, None)
    for epoch in range(len(history), spec.epochs):
        params, opt_state, losses = train_epoch(spec, params, opt_state,
                                                jnp.float32(spec.lr_at(epoch)), x, y)
        train_loss = float(losses.mean())
        val_loss = float(evaluate(spec, params, vx, vy)) if val is not None else float("nan")
        history.append((train_loss, val_loss))
        if val is not None and val_loss < best_val:
            best, best_val = params, val_loss
        if checkpoint is not None:
            _save(Path(checkpoint), spec, (params, opt_state, best), best_val, history)
        if on_epoch is not None:
            on_epoch(epoch, train_loss, val_loss)
    return {"params": params, "best": best, "history": np.array(history, np.float64)}


def _save(path: Path, spec: TextSpec, trees, best_val: float, history) -> None:
    """The training after an epoch, as one .npz: every array of (params, optimizer state,
    best params) in tree order, the settings, the history."""
    leaves = [np.asarray(a) for a in jax.tree.leaves(trees)]
    meta = {"spec": asdict(spec), "best_val": best_val, "history": history}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **{f"a{i}": a for i, a in
                                                      enumerate(leaves)})
    atomic_write(path, buf.getvalue())


def _resume(path: Path, spec: TextSpec, fresh):
    """What _save wrote, checked against this training's settings and shapes; a
    RecordError naming the difference otherwise."""
    try:
        with np.load(io.BytesIO(read_bytes(path, MAX_CHECKPOINT_BYTES, "checkpoint"))) as f:
            meta = json.loads(str(f["meta"]))
            arrays = [f[f"a{i}"] for i in range(len(f.files) - 1)]
    except (FileError, OSError, ValueError, KeyError) as e:
        raise RecordError(f"{path}: not a checkpoint lstmlab can read ({e})") from None
    if meta.get("spec") != asdict(spec):
        diff = sorted(k for k, v in asdict(spec).items() if meta.get("spec", {}).get(k) != v)
        raise RecordError(f"{path}: a checkpoint of another training (it differs in "
                          f"{', '.join(diff)}); remove it or train with its settings")
    leaves, treedef = jax.tree.flatten(fresh)
    if len(arrays) != len(leaves) or any(a.shape != b.shape for a, b in zip(arrays, leaves)):
        raise RecordError(f"{path}: the checkpoint's arrays do not match this model")
    params, opt_state, best = jax.tree.unflatten(treedef, [jnp.asarray(a) for a in arrays])
    return params, opt_state, best, meta["best_val"], [tuple(h) for h in meta["history"]]


@partial(jax.jit, static_argnames=("length", "vocab_size", "activation"))
def sample(params, prime, key, temperature, length: int, vocab_size: int,
           activation="sigmoid"):
    """Read ``prime`` (P,) from a reset state, then draw ``length`` symbols, each from
    softmax(logits / temperature) (temperature 0: the most likely one), each read in turn.
    Returns the drawn indices (length,)."""
    x = jax.nn.one_hot(prime[None], vocab_size, dtype=jnp.float32)
    h, state = model.sequence(params, x, None, activation)
    logits = model.head(params, h[:, -1])[0]

    def step(carry, k):
        state, logits = carry
        greedy = jnp.argmax(logits)
        drawn = jax.random.categorical(k, logits / jnp.maximum(temperature, 1e-6))
        s = jnp.where(temperature > 0, drawn, greedy)
        h, state = model.sequence(params, jax.nn.one_hot(s, vocab_size)[None, None], state,
                                  activation)
        return (state, model.head(params, h[:, -1])[0]), s

    _, out = jax.lax.scan(step, (state, logits), jax.random.split(key, length))
    return out
