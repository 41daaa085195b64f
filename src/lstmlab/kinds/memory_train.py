"""The compiled training of a memory task (:mod:`.memory_tasks`): every update draws a
fresh batch inside the program (as the papers train: no sequence is seen twice), an
epoch is EPOCH_UPDATES updates in one ``lax.scan``, replicas run in the same program; after every
epoch each replica is scored on the same fixed test set of fresh sequences."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import model, replicas
from ..keras_compat import scale_by_keras_adam
from .memory_tasks import TASKS, Task, batch, loss_and_score

EPOCH_UPDATES = 100     # updates per epoch (a point of the learning curve)
TEST_SEQUENCES = 1000   # the fixed test set every epoch is scored on
TEST_STREAM = 2**20     # the test set's key: fold_in(PRNGKey(seed), this), shared by replicas
DATA_STREAM = 1         # a replica's batches: fold_in(its key, this), then the epoch


@dataclass(frozen=True)
class MemorySpec:
    """Everything that shapes a memory task's training program; each field is the Config
    setting of its name (``memory.spec_of``)."""

    task: str
    lag: int
    cell: str
    units: int
    layers: int
    activation: str
    batch_size: int
    optimizer: str
    grad_clip: float
    lr: float
    epochs: int

    @property
    def of(self) -> Task:
        return TASKS[self.task]


def direction(spec: MemorySpec) -> optax.GradientTransformation:
    """Every gradient entry clipped to ±grad_clip (0: none), then the optimizer's direction;
    the caller applies the learning rate (one program for every rate)."""
    step = {"adam": scale_by_keras_adam, "adam-optax": lambda: optax.scale_by_adam(eps=1e-7),
            "rmsprop": lambda: optax.scale_by_rms(decay=0.9, eps=1e-7)}[spec.optimizer]()
    return optax.chain(optax.clip(spec.grad_clip), step) if spec.grad_clip else step


def init(spec: MemorySpec, key):
    t = spec.of
    params = model.init_params(key, t.inputs, spec.units, t.outputs, spec.cell, spec.layers)
    return params, direction(spec).init(params)


def outputs(spec: MemorySpec, params, x):
    """The Dense outputs: copy (B, steps, V) at every step; else (B, V) at the last."""
    h, _ = model.sequence(params, x, activation=spec.activation, fused=True)  # (B, T, U)
    return model.head(params, h if spec.of.every_step else h[:, -1])


def _loss(spec, params, x, y, w):
    return loss_and_score(spec.of, outputs(spec, params, x), y, w)


def _replica_epoch(spec: MemorySpec, params, opt_state, lr, key):
    """EPOCH_UPDATES updates of one replica, each on a fresh batch from ``key``."""
    tx = direction(spec)
    grad = jax.value_and_grad(partial(_loss, spec), has_aux=True)

    def step(carry, k):
        params, opt_state = carry
        x, y, w = batch(spec.task, k, spec.batch_size, spec.lag)
        (loss, _), g = grad(params, x, y, w)
        updates, opt_state = tx.update(g, opt_state, params)
        params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
        return (params, opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state),
                                               jax.random.split(key, EPOCH_UPDATES))
    return params, opt_state, losses.mean()


@partial(jax.jit, static_argnames="spec", donate_argnums=(1, 2))
def train_epoch(spec: MemorySpec, params, opt_state, lr, keys):
    """One epoch of every replica (leading axis of params, opt_state and keys), one replica
    after another inside the program (``lax.map``): with these small products a vmap's
    batched ones ran slower on the CPU (as char-rnn's training found)."""
    return jax.lax.map(lambda a: _replica_epoch(spec, *a[:2], lr, a[2]),
                       (params, opt_state, keys))


@partial(jax.jit, static_argnames="spec")
def test(spec: MemorySpec, params, x, y, w):
    """(loss, score) of every replica on the test set."""
    return jax.lax.map(lambda p: _loss(spec, p, x, y, w), params)


def test_set(spec: MemorySpec, seed: int):
    return batch(spec.task, jax.random.fold_in(jax.random.PRNGKey(seed), TEST_STREAM),
                 TEST_SEQUENCES, spec.lag)


def fit(spec: MemorySpec, keys, seed: int, on_progress=None, check=None,
        workers: int | None = None) -> dict:
    """Train one replica per key (``keys`` (R, 2)) for spec.epochs × EPOCH_UPDATES updates,
    the replicas in a group per core (``workers`` groups if given), the groups at once
    (``lstmlab.replicas``). After every epoch: ``on_progress(epochs done, history so far)``
    and ``check()`` (which may raise to stop). Returns the parameters, the history (R,
    epochs, 3): the mean training loss of the epoch, the test loss and the test score
    (adding: MSE; else accuracy), and the seconds compiling and training."""
    keys = jnp.asarray(keys)
    r = len(keys)
    params, opt_state = jax.vmap(lambda k: init(spec, k))(keys)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, DATA_STREAM))(keys)
    tx, ty, tw = test_set(spec, seed)
    lr = jnp.float32(spec.lr)
    size = replicas.per_group(r, workers)  # a group per core, at once (lstmlab.replicas)
    groups = -(-r // size)
    parts = replicas.split((params, opt_state), size, groups)
    t0 = time.perf_counter()
    step = train_epoch.lower(spec, *parts[0], lr,
                             replicas.split(data_keys, size, groups)[0]).compile()
    scored = test.lower(spec, parts[0][0], tx, ty, tw).compile()
    compile_s, t0 = time.perf_counter() - t0, time.perf_counter()
    history = []

    def run(g, ek):  # a group's epoch and its test scores
        params_g, opt_g, loss_g = step(*parts[g], lr, ek)
        parts[g] = (params_g, opt_g)
        return np.stack([np.asarray(loss_g), *map(np.asarray, scored(params_g, tx, ty, tw))],
                        1)
    with ThreadPoolExecutor(replicas.threads(groups)) as pool:
        for epoch in range(spec.epochs):
            ek = replicas.split(jax.vmap(lambda k: jax.random.fold_in(k, epoch))(data_keys),
                                size, groups)
            history.append(np.concatenate(list(pool.map(run, range(groups), ek)))[:r]
                           .astype(np.float64))
            if on_progress is not None:
                on_progress(epoch + 1, np.stack(history, 1))
            if check is not None:
                check()
    return {"params": replicas.joined([p[0] for p in parts], r),
            "history": np.stack(history, 1), "compile_s": compile_s,
            "train_s": time.perf_counter() - t0}
