"""The classic long-time-lag tasks as data: fresh random sequences drawn in JAX (inside the
compiled training, a new batch every update), each task described once — its inputs and
outputs, its loss, its baseline and its rule for "solved".

- **adding** (Hochreiter & Schmidhuber 1997, exp. 4; as Le, Jaitly & Hinton 2015 and
  Arjovsky, Shah & Bengio 2016 set it): T steps of two channels, a number from U(0, 1) and
  a marker that is 1 at exactly two steps, one in each half; the target is the sum of the
  two marked numbers, read from the last step (a regression: linear output, mean squared
  error). Always answering 1 scores Var(U₁ + U₂) = 1/6 ≈ 0.167.
- **copy** (Arjovsky et al. 2016's copy memory): 10 symbols from 8, then T − 1 blanks, a
  delimiter and 10 blanks; the output is T + 10 blanks, then the 10 symbols (a symbol at
  every step: cross-entropy per step). Blanks then a uniform guess score 10·ln 8/(T + 20).
- **temporal-order** (Hochreiter & Schmidhuber 1997, exp. 6a): T symbols, the first B and
  the last E, between them distractors a–d except two steps, one in [0.1T, 0.2T) and one in
  [0.5T, 0.6T), that hold X or Y; the class is their order (XX, XY, YX, YY), read from the
  last step. A guess scores ln 4 ≈ 1.386 nats, 25%.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

COPIED = 10          # copy: the symbols to remember (Arjovsky et al. 2016)
COPY_SYMBOLS = 8     # drawn from this many; then blank (8) and delimiter (9)
BLANK, DELIMITER = COPY_SYMBOLS, COPY_SYMBOLS + 1
ORDER_DISTRACTORS = 4  # temporal order: a–d; then B, E, X, Y
ADDING_SOLVED = 0.01   # adding is solved below this test MSE (≈ 1/17 of the baseline; the
                       # threshold Le et al. 2015 and Arjovsky et al. 2016 read off their curves)
ACCURACY_SOLVED = 0.99  # copy and temporal order: accuracy on what must be recalled


class Task(NamedTuple):
    """One memory task: its sizes, its data, its loss and what "solved" means."""

    name: str
    inputs: int              # features per step
    outputs: int             # the Dense layer's units
    every_step: bool         # an output at every step (copy) or at the last only
    regression: bool         # linear output and squared error (adding) or softmax classes
    symbols: str             # what each input feature is, for words and tables

    def steps(self, lag: int) -> int:
        """Steps of one sequence at time lag ``lag``."""
        return lag + 2 * COPIED if self.every_step else lag

    def baseline(self, lag: int) -> float:
        """The loss of the best answer that remembers nothing (see the module's docstring)."""
        return {"adding": 1 / 6, "copy": COPIED * math.log(COPY_SYMBOLS) / (lag + 2 * COPIED),
                "temporal-order": math.log(4)}[self.name]

    def solved_words(self) -> str:
        return (f"test MSE below {ADDING_SOLVED:g}" if self.regression else
                f"accuracy on the {'copied symbols' if self.every_step else 'order'} of "
                f"{ACCURACY_SOLVED:.0%} or more")


TASKS = {
    "adding": Task("adding", 2, 1, False, True, "number, marker"),
    "copy": Task("copy", COPY_SYMBOLS + 2, COPY_SYMBOLS + 2, True, False,
                 "one-hot: 8 symbols, blank, delimiter"),
    "temporal-order": Task("temporal-order", ORDER_DISTRACTORS + 4, 4, False, False,
                           "one-hot: a–d, B, E, X, Y"),
}
ORDER_CLASSES = ("XX", "XY", "YX", "YY")


def batch(task: str, key, size: int, lag: int):
    """``size`` fresh sequences of ``task`` at time lag ``lag``: inputs x (size, steps,
    inputs) float32, targets y (adding (size,) float32; copy (size, steps) int32;
    temporal order (size,) int32) and the weight of each target in the loss and the
    accuracy w (copy (size, steps): 1 on the 10 recalled steps; else (size,) ones)."""
    return {"adding": _adding, "copy": _copy, "temporal-order": _order}[task](key, size, lag)


def _adding(key, size, lag):
    k1, k2, k3 = jax.random.split(key, 3)
    numbers = jax.random.uniform(k1, (size, lag))
    half = lag // 2
    first = jax.random.randint(k2, (size,), 0, half)
    second = jax.random.randint(k3, (size,), half, lag)
    steps = jnp.arange(lag)
    marker = ((steps == first[:, None]) | (steps == second[:, None])).astype(jnp.float32)
    y = jnp.sum(numbers * marker, axis=1)
    return jnp.stack([numbers, marker], -1), y, jnp.ones(size, jnp.float32)


def _copy(key, size, lag):
    recalled = jax.random.randint(key, (size, COPIED), 0, COPY_SYMBOLS)
    blanks = lambda n: jnp.full((size, n), BLANK, jnp.int32)  # noqa: E731
    delimiter = jnp.full((size, 1), DELIMITER, jnp.int32)
    inputs = jnp.concatenate([recalled, blanks(lag - 1), delimiter, blanks(COPIED)], 1)
    y = jnp.concatenate([blanks(lag + COPIED), recalled], 1)
    w = jnp.zeros(y.shape, jnp.float32).at[:, lag + COPIED:].set(1.0)
    return jax.nn.one_hot(inputs, COPY_SYMBOLS + 2), y, w


def order_positions(lag: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ranges [low, high) of temporal order's two relevant steps at length ``lag``
    (the paper's [10, 20] and [50, 60] of 100, scaled; each at least one step wide and
    inside the first and last symbols)."""
    lo1, lo2 = max(1, int(0.1 * lag)), max(2, int(0.5 * lag))
    return (lo1, max(lo1 + 1, min(int(0.2 * lag), lo2))), \
        (lo2, max(lo2 + 1, min(int(0.6 * lag), lag - 1)))


def _order(key, size, lag):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    (a, b), (c, d) = order_positions(lag)
    symbols = jax.random.randint(k1, (size, lag), 0, ORDER_DISTRACTORS)
    symbols = symbols.at[:, 0].set(ORDER_DISTRACTORS).at[:, -1].set(ORDER_DISTRACTORS + 1)
    t1 = jax.random.randint(k2, (size,), a, b)
    t2 = jax.random.randint(k3, (size,), c, d)
    which = jax.random.randint(k4, (size, 2), 0, 2)  # 0: X, 1: Y
    rows = jnp.arange(size)
    symbols = symbols.at[rows, t1].set(ORDER_DISTRACTORS + 2 + which[:, 0])
    symbols = symbols.at[rows, t2].set(ORDER_DISTRACTORS + 2 + which[:, 1])
    return (jax.nn.one_hot(symbols, ORDER_DISTRACTORS + 4), 2 * which[:, 0] + which[:, 1],
            jnp.ones(size, jnp.float32))


def loss_and_score(task: Task, out, y, w):
    """The loss (mean squared error, or cross-entropy in nats per weighted target) and the
    score (adding: the same MSE; else the accuracy over the weighted targets) of the
    Dense outputs ``out`` (copy (B, steps, V); else (B, V))."""
    if task.regression:
        mse = jnp.sum(w * (out[:, 0] - y) ** 2) / jnp.sum(w)
        return mse, mse
    logp = jax.nn.log_softmax(out)
    nll = -jnp.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    hit = (jnp.argmax(out, -1) == y).astype(jnp.float32)
    if task.every_step:  # copy: the loss over every step (the papers'), accuracy on recall
        return jnp.mean(nll), jnp.sum(w * hit) / jnp.sum(w)
    return jnp.sum(w * nll) / jnp.sum(w), jnp.sum(w * hit) / jnp.sum(w)


def solved(task: Task, score) -> jnp.ndarray:
    """Is a test score (MSE for adding, else accuracy) solved?"""
    return score < ADDING_SOLVED if task.regression else score >= ACCURACY_SOLVED
