"""Keras 3's training arithmetic where it differs from optax's: Adam with ε where Keras
puts it (an optax transformation, composed as optax composes its own ``adam``) and the
categorical cross-entropy of a softmax output with its probability clip. With these,
lstmlab's training matches Keras step for step (tests/test_keras.py)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

KERAS_EPSILON = 1e-7  # Keras's backend epsilon: Adam's ε and the loss's probability clip


class ScaleByKerasAdamState(NamedTuple):
    """Step count and Adam's first and second moments (optax's ScaleByAdamState layout)."""

    count: jnp.ndarray
    mu: optax.Updates
    nu: optax.Updates


def scale_by_keras_adam(b1: float = 0.9, b2: float = 0.999,
                        eps: float = KERAS_EPSILON) -> optax.GradientTransformation:
    """Adam's direction exactly as Keras 3 computes it: m and v updated as
    ``m += (g - m)(1 - β1)``, ``v += (g² - v)(1 - β2)``, and the step
    ``m · √(1 - β2ᵗ) / (1 - β1ᵗ) / (√v + ε)``. optax's ``scale_by_adam`` adds ε to the
    bias-corrected √v̂ instead, an effective ε of 1e-7/√(1 - β2ᵗ) in Keras's terms (3.2e-6 at
    step 1); early recurrent-kernel gradients are far below 1e-5 (h starts at 0), so the
    two Adams part by 7e-4 after one step. Written here because no optax transformation
    places ε this way."""
    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByKerasAdamState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update(grads, state, params=None):
        count = state.count + 1
        t = count.astype(jnp.float32)
        mu = jax.tree.map(lambda m, g: m + (g - m) * (1 - b1), state.mu, grads)
        nu = jax.tree.map(lambda v, g: v + (jnp.square(g) - v) * (1 - b2), state.nu, grads)
        alpha = jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        updates = jax.tree.map(lambda m, v: m * alpha / (jnp.sqrt(v) + eps), mu, nu)
        return updates, ScaleByKerasAdamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


def optimizer(lr: float, name: str = "adam") -> optax.GradientTransformation:
    """``adam``: Keras 3's Adam (its defaults β1 0.9, β2 0.999, ε 1e-7), composed as optax
    composes its own ``adam`` (direction, then learning rate); ``adam-optax``: optax's
    textbook Adam with the same constants."""
    if name == "adam-optax":
        return optax.adam(lr, b1=0.9, b2=0.999, eps=KERAS_EPSILON)
    return optax.chain(scale_by_keras_adam(), optax.scale(-lr))


def keras_crossentropy(logits, labels):
    """Keras 3's categorical cross-entropy of a softmax output (JAX backend): the
    probabilities are renormalised and clipped to [ε, 1 - ε] before the log. Where a
    prediction is near-certain (p > 1 - 1e-7, common once the alphabet is learned) the clip
    makes the sample's gradient exactly 0, where optax's logit-based loss leaves a tiny one
    that Adam's normalisation would still turn into a full-size step."""
    p = jax.nn.softmax(logits)
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    p = jnp.clip(p, KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    return -jnp.log(jnp.take_along_axis(p, labels[:, None], axis=-1)[:, 0])
