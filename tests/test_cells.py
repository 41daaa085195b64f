"""The cell contract (lstmlab.cells): a new recurrent cell is one small class and one entry
of CELLS, and the model loop, masking, the trace, model files, estimates and the explorer's
data derive from it. Proven with a cell written here (Keras's SimpleRNN equations),
checked against a float64 NumPy reference."""

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lstmlab
from lstmlab import cells, config, data, explorer, model
from lstmlab.artifacts import Model, ModelInfo


class RNNTrace(NamedTuple):
    h: jax.Array


class SimpleRNN(cells.Cell):
    """h' = tanh(x·K + h·R + b): the whole of a new cell (the zero state, the units and
    Keras's initialisers come from cells.Cell)."""

    name = "test-rnn"
    keras_layer = "SimpleRNN"
    trace = RNNTrace
    legend = {"h": "output: tanh(x·K + h·R + b)"}

    @staticmethod
    def shapes(n_features, units):
        return {"kernel": (n_features, units), "recurrent_kernel": (units, units),
                "bias": (units,)}

    @staticmethod
    def step(p, state, x_t, act):
        h = jnp.tanh(x_t @ p["kernel"] + state[0] @ p["recurrent_kernel"] + p["bias"])
        return (h,), RNNTrace(h)


@pytest.fixture
def registered(monkeypatch):
    """A new cell's registration: its entry in CELLS and its name among the --cell
    setting's choices (config.CELL_LAYERS, from which the settings table is built)."""
    monkeypatch.setitem(cells.CELLS, SimpleRNN.name, SimpleRNN)
    st = config.SETTINGS["cell"]
    monkeypatch.setitem(config.SETTINGS, "cell",
                        dataclasses.replace(st, choices=(*st.choices, SimpleRNN.name)))
    return SimpleRNN


def reference(p, x, mask):
    """float64 NumPy: the recurrence, masked steps keep h, then Dense softmax."""
    q = {k: {n: np.asarray(a, np.float64) for n, a in v.items()} for k, v in p.items()}
    r = q["test-rnn"]
    h = np.zeros((x.shape[0], r["bias"].shape[0]))
    for t in range(x.shape[1]):
        new = np.tanh(x[:, t] @ r["kernel"] + h @ r["recurrent_kernel"] + r["bias"])
        h = np.where(mask[:, t, None], new, h)
    z = h @ q["dense"]["kernel"] + q["dense"]["bias"]
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_a_new_cell_runs_through_the_model_loop_and_masking(registered):
    p = model.init_params(jax.random.PRNGKey(0), 3, 5, 7, cell="test-rnn")
    assert set(p) == {"test-rnn", "dense"} and p["test-rnn"]["kernel"].shape == (3, 5)
    x = np.random.default_rng(1).normal(size=(4, 6, 3)).astype(np.float32)
    mask = np.ones((4, 6), bool)
    mask[:2, :3] = False  # front padding
    got = np.asarray(jax.nn.softmax(model.logits_fn(p, jnp.asarray(x), jnp.asarray(mask))[0]))
    np.testing.assert_allclose(got, reference(p, x, mask), atol=1e-6)
    # negative control: without the mask the padding is read
    unmasked = np.asarray(jax.nn.softmax(model.logits_fn(p, jnp.asarray(x))[0]))
    assert np.abs(unmasked - reference(p, x, mask)).max() > 1e-4
    assert [a.shape for a in model.keras_weights(p)] == [(3, 5), (5, 5), (5,), (5, 7), (7,)]
    back = model.from_keras_weights(model.keras_weights(p), cell="test-rnn")
    assert jax.tree.all(jax.tree.map(np.array_equal, back, p))


def test_files_traces_and_the_page_derive_from_the_cell(registered, tmp_path):
    vocab = tuple(data.ALPHABET[:6])
    info = ModelInfo(vocab=vocab, window=3, framing="timesteps", encoding="onehot",
                     mask=True, units=4, activation="sigmoid", stateful=False,
                     variable_length=False, cell="test-rnn")
    p = model.init_params(jax.random.PRNGKey(2), info.n_features, 4, 6, cell="test-rnn")
    m = Model(jax.tree.map(np.asarray, p), info)
    assert set(info.shapes()) == {"test-rnn/kernel", "test-rnn/recurrent_kernel",
                                  "test-rnn/bias", "dense/kernel", "dense/bias"}
    back = lstmlab.load(m.save(tmp_path / "m"))
    assert back.info.cell == "test-rnn"
    assert back.predict_proba("ABC") == m.predict_proba("ABC")
    t = m.trace("ABCDE")
    assert t.h.shape == (3, 3, 4) and not hasattr(t, "i")
    page = explorer.model_data(m)
    assert page["gates"] == ["h"] and page["cell"] == "test-rnn"
    assert [set(w) for w in page["layers"]] == [{"kernel", "recurrent_kernel", "bias"}]
    assert set(page["dense"]) == {"kernel", "bias"}
    assert cells.param_count(SimpleRNN, info.n_features, 4, 6) == sum(
        int(np.prod(a.shape)) for a in jax.tree.leaves(p))
    # an unknown cell in a model file is named, not guessed
    bad = ModelInfo(**{**info.__dict__, "cell": "gru2"})
    with pytest.raises(ValueError, match="cell 'gru2' is not allowed; allowed: lstm"):
        bad.check()


def test_the_lstm_is_described_once_and_counted_right():
    p = model.init_params(jax.random.PRNGKey(0), 3, 8, 26)
    assert cells.cell_of(p) is cells.LSTM
    assert cells.param_count(cells.LSTM, 3, 8, 26) == sum(
        int(np.prod(a.shape)) for a in jax.tree.leaves(p))
    with pytest.raises(ValueError, match="no recurrent cell"):
        cells.cell_of({"dense": {}})


# -- the GRU and the SimpleRNN, as Keras 3 defines them ------------------------------------


def np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def reference_cell(cell, p, x, mask=None):
    """float64 NumPy from Keras 3's equations (gru.py, simple_rnn.py): the final h."""
    q = {k: np.asarray(a, np.float64) for k, a in p.items()}
    u = q["recurrent_kernel"].shape[0]
    h = np.zeros((x.shape[0], u))
    for t in range(x.shape[1]):
        xt = x[:, t].astype(np.float64)
        if cell == "gru":
            xz, xr, xh = np.split(xt @ q["kernel"] + q["bias"][0], 3, axis=-1)
            rz, rr, rh = np.split(h @ q["recurrent_kernel"] + q["bias"][1], 3, axis=-1)
            z, r = np_sigmoid(xz + rz), np_sigmoid(xr + rr)
            new = z * h + (1 - z) * np.tanh(xh + r * rh)
        else:
            new = np.tanh(xt @ q["kernel"] + q["bias"] + h @ q["recurrent_kernel"])
        h = new if mask is None else np.where(mask[:, t, None], new, h)
    return h


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_the_gru_and_simple_rnn_follow_kerass_equations(cell):
    p = model.init_params(jax.random.PRNGKey(4), 3, 5, 7, cell=cell)
    rng = np.random.default_rng(5)
    p[cell] = {k: jnp.asarray(rng.normal(0, 0.7, a.shape), jnp.float32)
               for k, a in p[cell].items()}  # non-zero biases: every term shows
    x = rng.normal(size=(4, 6, 3)).astype(np.float32)
    mask = np.ones((4, 6), bool)
    mask[:2, :2] = False
    state = model.rnn(p, jnp.asarray(x), jnp.asarray(mask))
    np.testing.assert_allclose(state[0], reference_cell(cell, p[cell], x, mask), atol=1e-5)
    # negative control: the other cell's equations give other numbers
    other = {"gru": "rnn", "rnn": "gru"}[cell]
    q = model.init_params(jax.random.PRNGKey(4), 3, 5, 7, cell=other)[other]
    assert np.abs(np.asarray(model.rnn({other: q, "dense": p["dense"]}, jnp.asarray(x))[0])
                  - reference_cell(cell, p[cell], x)).max() > 1e-3
    assert set(config.CELL_LAYERS) == set(cells.CELLS)
    assert all(c.keras_layer == config.CELL_LAYERS[n] for n, c in cells.CELLS.items())


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_every_experiment_trains_with_another_cell(cell, tmp_path):
    res = lstmlab.run("stateful", cell=cell, seeds=2, epochs=3, units=4)
    assert res.states.shape[0] == len(cells.CELLS[cell].state)
    assert res.model(1).info.cell == cell and set(res.params) == {cell, "dense"}
    m = lstmlab.load(res.model(0).save(tmp_path / "m"))
    assert m.info.cell == cell and m.generate("A", 3)[:1] == "A"
    assert f"{config.CELL_LAYERS[cell]}(4)" in res.config.describe()
