import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import reference as ref
from lstmlab import keras_compat, model, train


def random_params(rng, f, u, v, scale=0.5):
    return {"lstm": {"kernel": rng.normal(0, scale, (f, 4 * u)).astype(np.float32),
                     "recurrent_kernel": rng.normal(0, scale, (u, 4 * u)).astype(np.float32),
                     "bias": rng.normal(0, scale, 4 * u).astype(np.float32)},
            "dense": {"kernel": rng.normal(0, scale, (u, v)).astype(np.float32),
                      "bias": rng.normal(0, scale, v).astype(np.float32)}}


@pytest.mark.parametrize("activation", ["sigmoid", "hard_sigmoid"])
@pytest.mark.parametrize("steps", [1, 3, 20])   # 20 runs the lax.scan path
def test_forward_matches_float64_reference(activation, steps):
    rng = np.random.default_rng(1962)
    b, f, u, v = 4, 3, 8, 7
    p = random_params(rng, f, u, v)
    x = rng.normal(size=(b, steps, f)).astype(np.float32)
    h0, c0 = (rng.normal(size=(b, u)).astype(np.float32) for _ in range(2))
    got, (h, c) = model.logits_fn(p, x, None, (h0, c0), activation)
    act = ref.sigmoid if activation == "sigmoid" else ref.hard_sigmoid
    want, (hr, cr) = ref.lstm_forward(p, x, None, h0, c0, act)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, hr, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, cr, rtol=1e-5, atol=1e-6)


def test_masked_forward_matches_reference():
    rng = np.random.default_rng(1963)
    p = random_params(rng, 2, 5, 4)
    x = rng.normal(size=(6, 5, 2)).astype(np.float32)
    mask = rng.random((6, 5)) > 0.4
    got, _ = model.logits_fn(p, x, mask)
    want, _ = ref.lstm_forward(p, x, mask)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_leading_padding_changes_nothing_when_masked():
    rng = np.random.default_rng(1964)
    p = random_params(rng, 1, 6, 5)
    seq = rng.random((1, 2, 1)).astype(np.float32)
    padded = np.concatenate([np.zeros((1, 3, 1), np.float32), seq], axis=1)
    mask = np.array([[False, False, False, True, True]])
    a, sa = model.logits_fn(p, seq)
    b, sb = model.logits_fn(p, padded, mask)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sa[1], sb[1])
    # unmasked, the padded zeros are read as input and the output changes
    c, _ = model.logits_fn(p, padded)
    assert np.max(np.abs(np.asarray(a) - np.asarray(c))) > 1e-4


def test_initializers_follow_keras():
    p = model.init_params(jax.random.PRNGKey(0), 3, 32, 26)
    k, rk, b = (np.asarray(p["lstm"][n]) for n in ("kernel", "recurrent_kernel", "bias"))
    assert k.shape == (3, 128) and rk.shape == (32, 128) and b.shape == (128,)
    np.testing.assert_array_equal(b, np.r_[np.zeros(32), np.ones(32), np.zeros(64)])
    limit = np.sqrt(6 / (3 + 128))  # glorot_uniform
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit
    np.testing.assert_allclose(rk @ rk.T, np.eye(32), atol=1e-5)  # orthogonal rows
    dk = np.asarray(p["dense"]["kernel"])
    assert dk.shape == (32, 26) and np.abs(dk).max() <= np.sqrt(6 / 58)
    assert not np.any(np.asarray(p["dense"]["bias"]))


@pytest.mark.slow
def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1965)
    p = random_params(rng, 1, 4, 5, scale=0.3)
    x = rng.random((3, 3, 1)).astype(np.float32)
    y = rng.integers(0, 5, 3)
    w = jnp.ones(3)
    g, _ = jax.grad(train.batch_loss, has_aux=True)(p, x, y, w, None, None, "sigmoid")
    eps = 1e-6
    for layer, name in [("lstm", "kernel"), ("lstm", "recurrent_kernel"), ("lstm", "bias"),
                        ("dense", "kernel"), ("dense", "bias")]:
        base = ref.to64(p)
        flat = base[layer][name].reshape(-1)
        for j in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            up, down = ref.to64(p), ref.to64(p)
            up[layer][name].reshape(-1)[j] += eps
            down[layer][name].reshape(-1)[j] -= eps
            fd = (ref.mean_xent(up, x, y) - ref.mean_xent(down, x, y)) / (2 * eps)
            got = float(np.asarray(g[layer][name]).reshape(-1)[j])
            assert abs(got - fd) <= 1e-4 + 1e-3 * abs(fd), (layer, name, j, got, fd)


def optimize(opt, theta, grads) -> list[np.ndarray]:
    """Parameters after each step of ``opt`` from ``theta`` with the given gradients."""
    params = jnp.asarray(theta, jnp.float32)
    state, out = opt.init(params), []
    for g in grads:
        upd, state = opt.update(jnp.asarray(g, jnp.float32), state, params)
        params = optax.apply_updates(params, upd)
        out.append(np.asarray(params))
    return out


def test_keras_adam_matches_keras_equations():
    """Keras 3's Adam, written from its update rule in float64: ε is added to √v before
    the bias correction (folded into the step size). Tiny gradients (as the recurrent
    kernel's early ones) are where it parts from the textbook Adam — the negative control."""
    rng = np.random.default_rng(1968)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    theta = rng.normal(size=6)
    grads = [rng.normal(size=6) * 10.0 ** rng.integers(-9, 0, 6) for _ in range(150)]
    m = v = np.zeros(6)
    want = theta.copy()
    for t, g in enumerate(grads, start=1):
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        want = want - m * alpha / (np.sqrt(v) + eps)
    np.testing.assert_allclose(optimize(keras_compat.optimizer(lr), theta, grads)[-1], want,
                               rtol=1e-5, atol=1e-6)
    textbook = optimize(keras_compat.optimizer(lr, "adam-optax"), theta, grads)[-1]
    assert np.abs(textbook - want).max() > 1e-3  # tiny gradients: the two Adams part


@pytest.mark.slow
def test_keras_crossentropy_is_clipped_where_a_prediction_is_near_certain():
    """Keras clips probabilities to [1e-7, 1 - 1e-7]: a near-certain correct prediction
    has loss -log(1 - 1e-7) and gradient 0; optax's loss from logits keeps a tiny gradient."""
    rng = np.random.default_rng(1969)
    logits = jnp.asarray(rng.normal(size=(4, 6)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 6, 4))
    p = ref.softmax(np.asarray(logits, np.float64))
    want = -np.log(np.clip(p[np.arange(4), np.asarray(labels)], 1e-7, 1 - 1e-7))
    np.testing.assert_allclose(keras_compat.keras_crossentropy(logits, labels), want, rtol=1e-5)
    sure = jnp.zeros((1, 6)).at[0, 2].set(30.0)  # p(2) = 1 - 5·e⁻³⁰ in float32: 1
    g = jax.grad(lambda z: keras_compat.keras_crossentropy(z, jnp.array([2]))[0])(sure)
    assert float(jnp.abs(g).max()) == 0.0
    g_optax = jax.grad(lambda z: optax.softmax_cross_entropy_with_integer_labels(
        z, jnp.array([2]))[0])(sure)
    assert float(jnp.abs(g_optax).max()) > 0.0


def test_optax_adam_steps_match_the_textbook():
    rng = np.random.default_rng(1966)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    theta = rng.normal(size=5)
    grads = [rng.normal(size=5) for _ in range(3)]
    got = optimize(keras_compat.optimizer(lr, "adam-optax"), theta, grads)
    m = v = np.zeros(5)
    want = theta.copy()
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        want = want - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(got[t - 1], want, rtol=1e-6, atol=1e-7)
        if t == 1:  # Adam's first step moves every weight by lr against its gradient's sign
            np.testing.assert_allclose(want - theta, -lr * np.sign(g), rtol=1e-3)


def test_keras_weight_order_roundtrip():
    p = model.init_params(jax.random.PRNGKey(1), 2, 4, 6)
    arrays = model.keras_weights(p)
    assert [a.shape for a in arrays] == [(2, 16), (4, 16), (16,), (4, 6), (6,)]
    back = model.from_keras_weights(arrays)
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(back)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_keras_model_with_copied_weights_predicts_the_same():
    # sigmoid only: Keras 3's hard_sigmoid is relu6(x + 3) / 6, not Keras 2's clip(0.2x + 0.5)
    os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras's default backend is TensorFlow
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1967)
    net = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(8),
                            keras.layers.Dense(5, activation="softmax")])
    net.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                     for w in net.get_weights()])
    x = rng.normal(size=(7, 3, 2)).astype(np.float32)
    p = model.from_keras_weights(net.get_weights())
    got = jax.nn.softmax(model.logits_fn(p, x)[0])
    np.testing.assert_allclose(got, net.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    for a, b in zip(model.keras_weights(p), net.get_weights()):
        np.testing.assert_array_equal(a, b)
