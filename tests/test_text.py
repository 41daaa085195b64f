"""char-rnn's training (lstmlab.streams, lstmlab.charrnn): the stream layout and the
many-to-many loss against independent NumPy references, the state carried between batches
against one long batch, sampling, and a short text end to end."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstmlab import charrnn, data, streams
from lstmlab.errors import DataError, RecordError
from kinds import random_params
from reference import reference_cell

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, "
        "speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n") * 4


def test_the_streams_are_contiguous_and_each_batch_continues_the_one_before():
    idx = np.arange(1000)
    b = streams.layout(idx, n_streams=4, seq_length=7)
    n = 999 // 28
    assert b.x.shape == b.y.shape == (n, 4, 7)
    length = n * 7  # each stream's symbols, written out one by one (the reference)
    for i in range(4):
        for k in range(n):
            for s in range(7):
                assert b.x[k, i, s] == i * length + k * 7 + s
                assert b.y[k, i, s] == i * length + k * 7 + s + 1
    assert b.chars == n * 28
    # negative control: a row-major reshape (the wrong layout) breaks the continuation
    wrong = idx[:n * 28].reshape(n, 4, 7)
    assert wrong[1, 0, 0] != b.x[0, 0, -1] + 1 and b.x[1, 0, 0] == b.x[0, 0, -1] + 1


def test_a_text_too_short_for_two_batches_is_one_line_naming_the_sizes():
    with pytest.raises(DataError, match=r"has 100 symbols; 10 streams × sequence length 50 "
                                        r"need at least 1001"):
        streams.layout(np.arange(100), 10, 50)
    streams.layout(np.arange(1001), 10, 50)  # the boundary: exactly enough
    tr, va = streams.split(np.arange(100), 0.05)
    assert (len(tr), len(va)) == (95, 5) and va[0] == 95
    with pytest.raises(DataError, match="validation fraction 1.5 is not allowed"):
        streams.split(np.arange(10), 1.5)


def reference_loss(p, cell, layers, xb, yb, vocab, h0=None):
    """float64: one-hot steps through the stack (tests/test_cells.reference_cell, every
    step's h), the Dense head at every step, mean cross-entropy."""
    x = np.eye(vocab)[xb]
    keys = [cell] + [f"{cell}_{k}" for k in range(1, layers)]
    for key in keys:
        x = reference_cell(cell, p[key], x, outputs=True)
    logits = x @ np.asarray(p["dense"]["kernel"], np.float64) + np.asarray(p["dense"]["bias"])
    logits -= logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, yb[..., None], -1).mean()


@pytest.mark.parametrize("cell, layers", [("lstm", 2), ("gru", 1), ("rnn", 3)])
def test_the_many_to_many_loss_is_every_steps_cross_entropy(cell, layers):
    p = random_params(cell, layers, 21, n_features=6, units=5, vocab=6)
    rng = np.random.default_rng(22)
    xb, yb = rng.integers(0, 6, (3, 8)), rng.integers(0, 6, (3, 8))
    got, _ = charrnn.batch_loss(p, None, jnp.asarray(xb), jnp.asarray(yb), 6, "sigmoid")
    want = reference_loss(p, cell, layers, xb, yb, 6)
    assert abs(float(got) - want) < 1e-5
    # negative control: the loss of the last step only (many-to-one) is another number
    last = reference_loss(p, cell, layers, xb, np.broadcast_to(yb[:, -1:], yb.shape), 6)
    assert abs(float(got) - last) > 1e-3


def test_the_state_carried_between_batches_is_one_long_batch():
    """Two batches of S steps, the second from the state the first left, predict what one
    batch of 2S steps predicts; from a reset state they do not."""
    p = random_params("lstm", 2, 5, n_features=6, units=5, vocab=6)
    rng = np.random.default_rng(6)
    xb, yb = rng.integers(0, 6, (3, 10)), rng.integers(0, 6, (3, 10))
    l1, state = charrnn.batch_loss(p, None, jnp.asarray(xb[:, :5]), jnp.asarray(yb[:, :5]), 6,
                                   "sigmoid")
    l2, _ = charrnn.batch_loss(p, state, jnp.asarray(xb[:, 5:]), jnp.asarray(yb[:, 5:]), 6,
                               "sigmoid")
    whole = reference_loss(p, "lstm", 2, xb, yb, 6)
    assert abs((float(l1) + float(l2)) / 2 - whole) < 1e-5
    fresh, _ = charrnn.batch_loss(p, None, jnp.asarray(xb[:, 5:]), jnp.asarray(yb[:, 5:]), 6,
                                  "sigmoid")
    assert abs((float(l1) + float(fresh)) / 2 - whole) > 1e-4


def test_char_rnns_learning_rate_schedule_and_clipping():
    spec = charrnn.TextSpec(vocab_size=3)
    assert [spec.lr_at(e) for e in (0, 9)] == [2e-3, 2e-3]
    assert spec.lr_at(10) == pytest.approx(2e-3 * 0.97) and \
        spec.lr_at(12) == pytest.approx(2e-3 * 0.97 ** 3)
    tx = charrnn.direction(spec)
    g = {"w": jnp.array([100.0, -100.0, 1.0])}
    u, _ = tx.update(g, tx.init(g))
    # clipped to ±5 first, then divided by sqrt(0.05 · g²) + 1e-8
    np.testing.assert_allclose(u["w"], [5 / np.sqrt(0.05 * 25), -5 / np.sqrt(0.05 * 25),
                                        1 / np.sqrt(0.05)], rtol=1e-5)


def test_a_short_text_trains_validates_and_samples():
    vocab = data.Vocab.from_sequence(TEXT)
    idx = vocab.encode(TEXT)
    tr, va = streams.split(idx, 0.1)
    spec = charrnn.TextSpec(vocab_size=len(vocab), units=32, layers=2, seq_length=10,
                            streams=4, epochs=8, lr=1e-2)
    train_b = streams.layout(tr, spec.streams, spec.seq_length)
    val_b = streams.layout(va, 2, spec.seq_length, "validation text")
    seen = []
    out = charrnn.fit(spec, jax.random.PRNGKey(0), train_b, val_b,
                      on_epoch=lambda e, t, v: seen.append((e, t, v)))
    h = out["history"]
    assert h.shape == (8, 2) and len(seen) == 8 and np.isfinite(h).all()
    assert h[-1, 0] < h[0, 0] - 0.5 and h[:, 1].min() < h[0, 1]  # it learns
    prime = jnp.asarray(vocab.encode("First"))
    greedy = [charrnn.sample(out["best"], prime, jax.random.PRNGKey(k), 0.0, 20, len(vocab))
              for k in (1, 2)]
    np.testing.assert_array_equal(greedy[0], greedy[1])  # temperature 0: no draw
    warm = [charrnn.sample(out["best"], prime, jax.random.PRNGKey(k), 1.0, 20, len(vocab))
            for k in (3, 3, 4)]
    np.testing.assert_array_equal(warm[0], warm[1])      # same seed, same sample
    assert not np.array_equal(warm[0], warm[2])          # another seed, another one
    # the same training again: the same numbers
    again = charrnn.fit(spec, jax.random.PRNGKey(0), train_b, val_b)
    np.testing.assert_array_equal(again["history"], h)


def test_an_interrupted_training_resumes_to_the_same_parameters(tmp_path):
    vocab = data.Vocab.from_sequence(TEXT)
    tr, va = streams.split(vocab.encode(TEXT), 0.1)
    spec = charrnn.TextSpec(vocab_size=len(vocab), units=16, layers=2, seq_length=10,
                            streams=4, epochs=4, lr=1e-2)
    b, v = streams.layout(tr, 4, 10), streams.layout(va, 2, 10)
    whole = charrnn.fit(spec, jax.random.PRNGKey(5), b, v)

    def stop_after_two(epoch, *_):
        if epoch == 1:
            raise KeyboardInterrupt  # as Ctrl-C after the second epoch

    ck = tmp_path / "train.ckpt"
    with pytest.raises(KeyboardInterrupt):
        charrnn.fit(spec, jax.random.PRNGKey(5), b, v, stop_after_two, checkpoint=ck)
    epochs_seen = []
    resumed = charrnn.fit(spec, jax.random.PRNGKey(5), b, v,
                          lambda e, *_: epochs_seen.append(e), checkpoint=ck)
    assert epochs_seen == [2, 3]  # only the epochs not yet trained
    np.testing.assert_array_equal(resumed["history"], whole["history"])
    for key in ("params", "best"):
        for a, c in zip(jax.tree.leaves(resumed[key]), jax.tree.leaves(whole[key])):
            np.testing.assert_array_equal(a, c)
    # negative control: a checkpoint of other settings is refused in one line, not used
    with pytest.raises(RecordError, match="another training .*it differs in lr"):
        charrnn.fit(charrnn.TextSpec(**{**spec.__dict__, "lr": 2e-2}), jax.random.PRNGKey(5),
                    b, v, checkpoint=ck)
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(RecordError, match="not a checkpoint lstmlab can read"):
        charrnn.fit(spec, jax.random.PRNGKey(5), b, v, checkpoint=ck)
