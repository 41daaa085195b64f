"""Stateful training beyond Keras's: truncated BPTT over K batches (gradient through the
carried state, checked against finite differences of a float64 reference and against the
unrolled stateless model), random starts and random resets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference import lstm_forward, softmax

import lstmlab
from lstmlab import data, keras_compat, model, train


def window_reference(params, xs, ys, resets):
    """float64: read the batches xs[k] (b, 1, F) in order, carrying (h, c) and resetting it
    where ``resets`` says; the mean cross-entropy over every sample of the window."""
    h = c = None
    losses = []
    for xk, yk, r in zip(xs, ys, resets):
        if r:
            h = c = None
        logits, (h, c) = lstm_forward(params, xk, h=h, c=c)
        p = softmax(logits)
        losses += list(-np.log(p[np.arange(len(yk)), yk]))
    return float(np.mean(losses))


def setup(seed, k=4, b=1, units=5, vocab=7):
    rng = np.random.default_rng(seed)
    params = jax.tree.map(np.asarray, model.init_params(jax.random.PRNGKey(seed), 1, units,
                                                        vocab))
    x = rng.random((k * b, 1, 1)).astype(np.float32)   # one sample per (batch, row)
    y = rng.integers(0, vocab, k * b)
    idx = np.arange(k * b).reshape(k, b)
    return params, x, y, idx


def jax_window_grad(params, x, y, idx, reset, units=5):
    state = model.zero_state(idx.shape[1], units)
    w = jnp.ones(idx.shape, jnp.float32)
    return jax.grad(train.window_loss, has_aux=True)(
        params, state, jnp.asarray(x), jnp.asarray(y), jnp.asarray(idx), w,
        jnp.asarray(reset), None, "sigmoid")


@pytest.mark.slow
@pytest.mark.parametrize("seed, b", [(0, 1), (1, 3)])
def test_a_window_gradient_matches_finite_differences(seed, b):
    params, x, y, idx = setup(seed, b=b)
    reset = np.array([True, False, False, False])
    grads, (_, _, _) = jax_window_grad(params, x, y, idx, reset)
    xs, ys = [x[i] for i in idx], [y[i] for i in idx]
    rng = np.random.default_rng(seed + 10)
    eps = 1e-6
    for path in (("lstm", "kernel"), ("lstm", "recurrent_kernel"), ("lstm", "bias"),
                 ("dense", "kernel")):
        leaf = params[path[0]][path[1]]
        for flat in rng.choice(leaf.size, 4, replace=False):
            at = np.unravel_index(flat, leaf.shape)
            p64 = jax.tree.map(lambda a: np.array(a, np.float64), params)
            p64[path[0]][path[1]][at] += eps
            up = window_reference(p64, xs, ys, reset)
            p64[path[0]][path[1]][at] -= 2 * eps
            down = window_reference(p64, xs, ys, reset)
            numeric = (up - down) / (2 * eps)
            got = float(grads[path[0]][path[1]][at])
            assert got == pytest.approx(numeric, rel=2e-3, abs=2e-6), (path, at)


@pytest.mark.slow
def test_the_gradient_flows_through_the_state_as_in_the_unrolled_stateless_model():
    params, x, y, idx = setup(3)
    k = len(idx)
    grads, _ = jax_window_grad(params, x, y, idx, np.array([True] + [False] * (k - 1)))

    # the same K symbols read by a stateless model: the prediction after symbol j is the
    # stateless model's on the first j symbols (window j) from a zero state
    def unrolled(p):
        total = 0.0
        for j in range(1, k + 1):
            logits, _ = model.logits_fn(p, jnp.asarray(x[:j, 0, 0])[None, :, None])
            total += keras_compat.keras_crossentropy(logits, jnp.asarray(y[j - 1:j]))[0]
        return total / k

    ref = jax.grad(unrolled)(params)
    for a, b_ in zip(jax.tree.leaves(grads), jax.tree.leaves(ref)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b_), rtol=1e-4, atol=1e-7)
    # negative control: reset before every batch, and no gradient flows between batches,
    # so the recurrent kernel's gradient is another
    cut, _ = jax_window_grad(params, x, y, idx, np.array([True] * k))
    assert not np.allclose(cut["lstm"]["recurrent_kernel"], grads["lstm"]["recurrent_kernel"])


def plan(epochs=40, n=25, b=1, **kw):
    spec = train.TrainSpec(units=4, vocab_size=26, epochs=epochs, batch_size=b, shuffle=False,
                           stateful=True, **kw)
    order = data.stream_layout(n, b).reshape(-1)
    keys = jax.random.split(jax.random.PRNGKey(5), epochs)
    return [np.asarray(a) for a in train.batch_plan(spec, n, keys, order)]


@pytest.mark.slow
def test_random_starts_visit_every_batch_once_and_reset_at_the_wrap():
    idx, w, reset = plan(random_start=True)
    spe = 25
    rows, resets = idx.reshape(40, spe), reset.reshape(40, spe)
    starts = rows[:, 0]
    for e in range(40):
        assert sorted(rows[e]) == list(range(spe))            # every sample once
        assert resets[e, 0]                                    # after a reset
        wrap = int(np.flatnonzero(rows[e] == 0)[0])
        assert resets[e, wrap] and resets[e].sum() == 1 + (wrap > 0)
        np.testing.assert_array_equal(rows[e], (np.arange(spe) + starts[e]) % spe)
    assert len(set(starts)) > 10                               # starts vary by epoch
    again = plan(random_start=True)[0]
    np.testing.assert_array_equal(again, idx)                  # deterministic
    # negative control: without it, every epoch reads the sequence from its start
    plain_idx, _, plain_reset = plan()
    np.testing.assert_array_equal(plain_idx.reshape(40, spe), np.tile(np.arange(spe), (40, 1)))
    assert plain_reset.reshape(40, spe).sum() == 40


@pytest.mark.slow
def test_random_resets_happen_at_the_asked_rate():
    _, _, reset = plan(epochs=400, reset_prob=0.3)
    extra = reset.reshape(400, 25)[:, 1:]  # the epoch's own reset is always there
    share = extra.mean()
    n = extra.size
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)


def test_bptt_windows_group_consecutive_batches_and_pad_the_last():
    idx, w, reset = plan(epochs=2, bptt=4)
    assert idx.shape == (2 * 7, 4, 1)                          # 25 batches → 7 windows
    np.testing.assert_array_equal(idx[:6].reshape(-1), np.arange(24))
    assert w[6, 0, 0] == 1 and w[6, 1:].sum() == 0             # batch 25, then padding
    assert reset[0, 0] and reset[7, 0] and reset.sum() == 2    # each epoch's reset


@pytest.mark.slow
def test_stateful_options_run_end_to_end_and_are_deterministic(run_cli, tmp_path):
    args = ["run", "stateful", "--bptt", "5", "--random-start", "--reset-prob", "0.1",
            "--batch-size", "5", "--epochs", "4", "--seeds", "2", "-q"]
    assert run_cli(*args, "--out", tmp_path / "a")[0] == 0
    assert run_cli(*args, "--out", tmp_path / "b")[0] == 0
    a = (tmp_path / "a" / "history.csv").read_text()
    assert a == (tmp_path / "b" / "history.csv").read_text()
    # five streams: the report draws the stream layout; one stream has none to draw
    assert (tmp_path / "a" / "plots" / "stateful-stream-layout.png").is_file()
    assert "Keras's stateful rule" in (tmp_path / "a" / "report.md").read_text()
    assert run_cli("run", "stateful", "--epochs", "2", "--seeds", "1", "-q", "--out",
                   tmp_path / "c")[0] == 0
    assert not (tmp_path / "c" / "plots" / "stateful-stream-layout.png").exists()
    r = lstmlab.run("stateful", bptt=5, random_start=True, reset_prob=0.1, batch_size=5,
                    epochs=4, seeds=2)
    assert "truncated BPTT over 5 batches" in r.config.describe()
    assert r.history.shape == (2, 4, 2) and np.all(np.isfinite(r.history))


@pytest.mark.parametrize("args, message", [
    (["stateful", "--bptt", "26"], "bptt 26 is not allowed; allowed: 1 to 25"),
    (["stateful", "--batch-size", "5", "--bptt", "6"], "allowed: 1 to 5"),
    (["stateful", "--reset-prob", "1"], "reset probability 1.0 is not allowed"),
    (["one-char", "--bptt", "5"], "--bptt does not apply"),
    (["one-char", "--random-start"], "--random-start does not apply"),
])
def test_bad_stateful_options_are_one_line(run_cli, tmp_path, args, message):
    code, _, err = run_cli("run", *args, "--epochs", "2", "--seeds", "1", "-q", "--out",
                           tmp_path / "r")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
