"""What every kind's result shares below the kinds: the one divergence rule and the error
when no replica is sound. (The results themselves are the kinds': ``lstmlab.kinds``.)"""

from __future__ import annotations

import numpy as np

from .artifacts import ModelError
from .data import plain  # noqa: F401  (results.plain: the Python API's numbers)

EXPLODED_LOSS = 1e4    # a mean cross-entropy above this (nats) means training diverged


def diverged_at(losses: np.ndarray, finite: np.ndarray) -> dict[int, int]:
    """The one divergence rule of every kind of experiment: replicas whose mean loss
    (``losses`` (R, epochs, k): every column a loss in nats) is not finite or above
    EXPLODED_LOSS (the logits differ by thousands: the weights exploded), or whose
    parameters are not all finite (``finite`` (R,); then the last epoch) → the first epoch
    (1-based) where it shows."""
    bad = ~(np.abs(losses) <= EXPLODED_LOSS).all(-1)  # NaN compares False: bad
    bad[:, -1] |= ~finite
    return {r: int(bad[r].argmax()) + 1 for r in range(len(bad)) if bad[r].any()}


def no_sound_replica(name: str) -> ModelError:
    return ModelError(f"every seed's training of {name} diverged: there is no model to "
                      f"keep; try a smaller learning rate (--lr)")
