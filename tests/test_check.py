"""``lstmlab check``: a user's stateful Keras model and data, checked — each check on a
setup built to fail it and on the tutorial's own correct stateful model (the negative
controls), and the measurement of whether the state carries anything on a model whose
state matters and on one whose state carries nothing. Keras runs the models."""

import numpy as np
import pytest

import lstmlab
from lstmlab.keras_check import check

pytestmark = [pytest.mark.slow, pytest.mark.keras]  # Keras; a stateful model trained once

SETUP = ("shuffle=True", "not a multiple", "predicting with batch size",
         "continue one another", "not stateful")


@pytest.fixture(scope="module")
def tutorial():
    """The tutorial's stateful model (lstmlab's, trained once) as Keras, and its data in
    the order it is fed: A…Y → B…Z, batch size 1."""
    net = lstmlab.run("stateful", seeds=1, epochs=300).model(0).to_keras()
    x = (np.arange(25) / 26).reshape(25, 1, 1).astype(np.float32)
    y = np.eye(26, dtype=np.float32)[np.arange(1, 26)]
    return net, x, y


def setup_problems(found):
    return [p for p in found.problems if any(s in p for s in SETUP)]


def test_the_tutorials_correct_setup_has_no_setup_problem_and_its_state_carries(tutorial):
    net, x, y = tutorial
    found = check(net, x, y)
    assert setup_problems(found) == []
    assert found.better >= 20 and "the state carries something" in found.verdict
    assert found.carried.mean() < 0.1 < found.reset.mean()


def test_the_jax_backend_carries_no_state_through_fit_or_predict(tutorial):
    """Keras 3's JAX backend (this project's): fit and predict do not carry the state;
    direct calls do (what the measurement uses)."""
    net, x, y = tutorial
    found = check(net, x, y)
    assert any("fit() does not carry the state" in p for p in found.problems)
    assert any("predict() and predict_on_batch() do not carry" in p for p in found.problems)


def test_shuffle_a_batch_size_that_does_not_divide_and_another_predict_batch(tutorial):
    net, x, y = tutorial
    assert any("shuffle=True" in p for p in check(net, x, y, shuffle=True).problems)
    short = check(net, x[:24], y[:24], batch_size=5)
    assert any("24 samples are not a multiple of the batch size 5" in p
               for p in short.problems)
    assert not any("not a multiple" in p for p in check(net, x[:20], y[:20],
                                                        batch_size=5).problems)
    assert any("predicting with batch size 5 where the model trains with 1" in p
               for p in check(net, x, y, predict_batch_size=5).problems)
    assert not any("predicting with" in p for p in check(net, x, y,
                                                         predict_batch_size=1).problems)


def _batched(net, b):
    """The same weights in a stateful model of batch size ``b``."""
    from lstmlab.keras_io import _keras
    keras = _keras()
    lstm, dense = net.layers
    other = keras.Sequential([keras.Input(batch_shape=(b, 1, 1)),
                              keras.layers.LSTM(lstm.units, stateful=True),
                              keras.layers.Dense(26, activation="softmax")])
    other.set_weights(net.get_weights())
    return other


def test_rows_that_do_not_continue_the_previous_batchs_rows(tutorial):
    net, x, y = tutorial
    five = _batched(net, 5)
    # the alphabet in order, five consecutive letters per batch: row j of batch k + 1
    # is not the letter after row j of batch k
    wrong = check(five, x, y)
    assert any("continue one another" in p for p in wrong.problems)
    # five streams of five letters, stream j in row j of every batch (negative control)
    order = np.array([j * 5 + k for k in range(5) for j in range(5)])
    right = check(five, x[order], y[order])
    assert not any("continue one another" in p for p in right.problems), right.problems


def test_a_state_that_carries_nothing_and_a_model_that_is_not_stateful(tutorial):
    from lstmlab.keras_io import _keras
    keras = _keras()
    net, x, y = tutorial
    w = [a.copy() for a in net.get_weights()]
    units = w[1].shape[0]
    w[1][:] = 0.0                          # no recurrent input
    w[2][units:2 * units] = -50.0          # forget gate shut: the cell keeps nothing
    amnesic = _batched(net, 1)
    amnesic.set_weights(w)
    found = check(amnesic, x, y)
    assert found.untied == 0 and "carries nothing" in found.verdict
    flat = keras.Sequential([keras.Input((1, 1)), keras.layers.LSTM(4),
                             keras.layers.Dense(26, activation="softmax")])
    found = check(flat, x, y, batch_size=1)
    assert any("not stateful" in p for p in found.problems) and found.carried is None


def test_the_command_line(tutorial, run_cli, tmp_path):
    net, x, y = tutorial
    net.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x=x, y=y)
    code, text, err = run_cli("check", tmp_path / "m.keras", tmp_path / "d.npz", "--shuffle")
    assert code == 1 and "Problem: shuffle=True" in text and "State: over 25 batches" in text
    np.savez(tmp_path / "bad.npz", x=x)
    code, _, err = run_cli("check", tmp_path / "m.keras", tmp_path / "bad.npz")
    assert code == 2 and "lacks y" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "junk.npz").write_text("not numpy")
    code, _, err = run_cli("check", tmp_path / "m.keras", tmp_path / "junk.npz")
    assert code == 2 and "not a .npz file" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("check", tmp_path / "nope.keras", tmp_path / "d.npz")
    assert code == 2 and "no such Keras model file" in err
