"""The cell contract (lstmlab.cells): a new recurrent cell is one small class and one entry
of CELLS, and the model loop, masking, the trace, model files, estimates and the explorer's
data derive from it. Proven with a cell written here (Keras's SimpleRNN equations),
checked against a float64 NumPy reference."""

import dataclasses
import json
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lstmlab
from lstmlab import cells, config, data, explorer, model
from lstmlab.artifacts import Model, ModelInfo
from kinds import random_params
from reference import reference_cell, reference_stack


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
    assert [set(w["weights"]) for w in page["layers"]] == [{"kernel", "recurrent_kernel",
                                                             "bias"}]
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


@pytest.mark.parametrize("cell", ["gru", "gru-reset-before", "rnn"])
def test_the_gru_and_simple_rnn_follow_kerass_equations(cell):
    p = random_params(cell, 1, 4)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 6, 3)).astype(np.float32)
    mask = np.ones((4, 6), bool)
    mask[:2, :2] = False
    state = model.rnn(p, jnp.asarray(x), jnp.asarray(mask))
    np.testing.assert_allclose(state[0], reference_cell(cell, p[cell], x, mask), atol=1e-5)
    # negative control: another cell's equations (the GRU's other convention for the
    # reset-before GRU) give other numbers from the same weights
    other = {"gru": "rnn", "rnn": "gru", "gru-reset-before": "gru"}[cell]
    q = p[cell] if other.startswith("gru") and cell.startswith("gru") else \
        random_params(other, 1, 4)[other]
    if cell == "gru-reset-before":
        q = {**q, "bias": jnp.stack([q["bias"], jnp.zeros_like(q["bias"])])}
    assert np.abs(np.asarray(model.rnn({other: q, "dense": p["dense"]}, jnp.asarray(x))[0])
                  - reference_cell(cell, p[cell], x)).max() > 1e-3
    assert set(config.CELL_LAYERS) == set(cells.CELLS)
    assert all(c.keras_layer == config.CELL_LAYERS[n] for n, c in cells.CELLS.items())


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru-reset-before", "rnn"])
def test_a_stack_runs_layer_by_layer_with_the_mask_at_every_layer(cell):
    """Three layers, front-padded rows masked: every layer's final h against the float64
    reference; the negative control is the same stack with the upper layers unmasked."""
    p = random_params(cell, 3, 11)
    assert cells.layers_of(p) == 3 and set(p) == {cell, f"{cell}_1", f"{cell}_2", "dense"}
    assert p[f"{cell}_1"]["kernel"].shape[0] == 5  # layer 2 reads layer 1's 5 outputs
    rng = np.random.default_rng(12)
    x = rng.normal(size=(4, 20, 3)).astype(np.float32)  # 20 > UNROLL_MAX_STEPS: lax.scan
    mask = np.ones((4, 20), bool)
    mask[:2, :3] = False
    layers = [p[k] for k in cells.layer_keys(cells.CELLS[cell], 3)]
    for steps in (5, 20):  # unrolled and scanned
        state = model.rnn(p, jnp.asarray(x[:, :steps]), jnp.asarray(mask[:, :steps]))
        names = cells.layered(cells.CELLS[cell].state, 3)
        assert len(state) == len(names)
        got = [np.asarray(state[names.index(h)]) for h in ("h", "h2", "h3")]
        want = reference_stack(cell, layers, x[:, :steps], mask[:, :steps])
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=2e-5)
        wrong = reference_stack(cell, layers, x[:, :steps], mask[:, :steps], mask_above=False)
        assert np.abs(got[2] - wrong[2]).max() > 1e-3
        # the head reads the last layer's h
        logits, _ = model.logits_fn(p, jnp.asarray(x[:, :steps]), jnp.asarray(mask[:, :steps]))
        np.testing.assert_allclose(logits, want[2] @ np.asarray(p["dense"]["kernel"], np.float64)
                                   + np.asarray(p["dense"]["bias"]), atol=1e-4)
    assert cells.param_count(cells.CELLS[cell], 3, 5, 7, 3) == sum(
        int(np.prod(a.shape)) for a in jax.tree.leaves(p))
    # a one-layer model's draws are every stack's first layer's
    one = model.init_params(jax.random.PRNGKey(0), 3, 5, 7, cell)
    two = model.init_params(jax.random.PRNGKey(0), 3, 5, 7, cell, layers=2)
    for k in one[cell]:
        np.testing.assert_array_equal(one[cell][k], two[cell][k])
    assert np.abs(np.asarray(two[f"{cell}_1"]["recurrent_kernel"])
                  - np.asarray(two[cell]["recurrent_kernel"])).max() > 0


def test_a_stacked_model_saves_traces_and_shows_every_layer(tmp_path):
    info = ModelInfo(vocab=tuple("ABCDEF"), window=3, framing="timesteps", encoding="onehot",
                     mask=False, units=4, activation="sigmoid", stateful=False,
                     variable_length=False, cell="gru", layers=2)
    p = random_params("gru", 2, 3, info.n_features, 4, 6)
    m = Model(jax.tree.map(np.asarray, p), info)
    assert set(info.shapes()) == {"gru/kernel", "gru/recurrent_kernel", "gru/bias",
                                  "gru_1/kernel", "gru_1/recurrent_kernel", "gru_1/bias",
                                  "dense/kernel", "dense/bias"}
    back = lstmlab.load(m.save(tmp_path / "m"))
    assert back.info.layers == 2 and back.predict_proba("ABC") == m.predict_proba("ABC")
    t = m.trace("ABCDE")
    assert list(t.quantities) == ["z", "r", "hh", "h", "z2", "r2", "hh2", "h2"]
    x = data.encode(m.vocab.encode("CDE")[None], 6, "onehot", "timesteps")
    want = reference_stack("gru", [p["gru"], p["gru_1"]], x)
    np.testing.assert_allclose(t.h[-1, -1], want[0][0], atol=1e-5)
    np.testing.assert_allclose(t.h2[-1, -1], want[1][0], atol=1e-5)
    page = explorer.model_data(m)
    assert page["gates"] == list(t.quantities) and page["output"] == "h2"
    assert len(page["layers"]) == 2 and page["gate_text"]["z2"].startswith("layer 2 of 2")
    assert [(l["gates"], l["state"]) for l in page["layers"]] == [
        (["z", "r", "hh", "h"], ["h"]), (["z2", "r2", "hh2", "h2"], ["h2"])]
    # a model file written before --layers (no "layers" key) is a one-layer model
    one = Model(jax.tree.map(np.asarray, random_params("gru", 1, 3, info.n_features, 4, 6)),
                ModelInfo(**{**info.__dict__, "layers": 1}))
    path = one.save(tmp_path / "old")
    meta = json.loads((path / "model.json").read_text())
    del meta["layers"]
    (path / "model.json").write_text(json.dumps(meta))
    assert lstmlab.load(path).info.layers == 1
    with pytest.raises(ValueError, match="layers 0 is not allowed"):
        ModelInfo(**{**info.__dict__, "layers": 0}).check()


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_every_experiment_trains_with_another_cell(cell, tmp_path):
    res = lstmlab.run("stateful", cell=cell, seeds=2, epochs=3, units=4)
    assert res.states.shape[0] == len(cells.CELLS[cell].state)
    assert res.model(1).info.cell == cell and set(res.params) == {cell, "dense"}
    m = lstmlab.load(res.model(0).save(tmp_path / "m"))
    assert m.info.cell == cell and m.generate("A", 3)[:1] == "A"
    assert f"{config.CELL_LAYERS[cell]}(4)" in res.config.describe()


# -- stacks of one size per layer ---------------------------------------------------------

@pytest.mark.parametrize("cell, sizes", [("lstm", (6, 3)), ("gru", (3, 7, 4)), ("rnn", (5, 2))])
def test_a_stack_of_different_sizes_runs_saves_and_ablates_layer_by_layer(cell, sizes,
                                                                          tmp_path):
    """Each layer reads the outputs of the one below, whatever their number: every layer's
    final h against the float64 reference, the head reading the last layer's; its state,
    shapes and parameter count; a file round trip; an ablation in a narrow layer."""
    c, n = cells.CELLS[cell], len(sizes)
    rng = np.random.default_rng(5)
    p = jax.tree.map(lambda a: jnp.asarray(rng.normal(0, 0.7, a.shape), jnp.float32),
                     model.init_params(jax.random.PRNGKey(4), 3, sizes, 7, cell, n))
    keys = cells.layer_keys(c, n)
    assert cells.sizes_of(p) == sizes
    assert [p[k]["kernel"].shape[0] for k in keys] == [3, *sizes[:-1]]  # what each reads
    assert p["dense"]["kernel"].shape == (sizes[-1], 7)
    assert [a.shape[1] for a in model.initial_state(p, 2)] == \
        [u for u in sizes for _ in c.state]
    assert cells.param_count(c, 3, sizes, 7, n) == sum(
        int(np.prod(a.shape)) for a in jax.tree.leaves(p))
    x = rng.normal(size=(4, 20, 3)).astype(np.float32)
    mask = np.ones((4, 20), bool)
    mask[:2, :3] = False
    names = cells.layered(c.state, n)
    for steps in (5, 20):  # unrolled and scanned
        state = model.rnn(p, jnp.asarray(x[:, :steps]), jnp.asarray(mask[:, :steps]))
        got = [np.asarray(state[names.index(cells.layered(("h",), n)[k])]) for k in range(n)]
        want = reference_stack(cell, [p[k] for k in keys], x[:, :steps], mask[:, :steps])
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=2e-5)
        wrong = reference_stack(cell, [p[k] for k in keys], x[:, :steps], mask[:, :steps],
                                mask_above=False)
        if steps == 5:  # the check can fail (20 steps on, the padding's trace has faded)
            assert np.abs(got[-1] - wrong[-1]).max() > 1e-3
        logits, _ = model.logits_fn(p, jnp.asarray(x[:, :steps]), jnp.asarray(mask[:, :steps]))
        np.testing.assert_allclose(logits, want[-1] @ np.asarray(p["dense"]["kernel"],
                                                                 np.float64)
                                   + np.asarray(p["dense"]["bias"]), atol=1e-4)
    # a file: the shapes follow the sizes; the model reads back the same
    info = ModelInfo(vocab=tuple("ABCDEFG"), window=3, framing="timesteps", encoding="scaled",
                     mask=False, units=sizes, activation="sigmoid", stateful=False,
                     variable_length=False, cell=cell, layers=n)
    p1 = model.init_params(jax.random.PRNGKey(6), 1, sizes, 7, cell, n)
    m = Model(jax.tree.map(np.asarray, p1), info)
    back = lstmlab.load(m.save(tmp_path / "m"))
    assert back.info.units == sizes and back.predict_proba("ABC") == m.predict_proba("ABC")
    assert [getattr(m.trace("ABCDE"), h).shape[-1] for h in cells.layered(("h",), n)] == \
        list(sizes)
    # the last unit of the narrowest layer can be silenced; one past it is refused
    narrow = int(np.argmin(sizes)) + 1
    ablated = m.ablate([(narrow, sizes[narrow - 1] - 1)])
    assert ablated.predict_proba("ABC") != m.predict_proba("ABC")
    with pytest.raises(lstmlab.DataError, match="units per layer"):
        m.ablate([(narrow, sizes[narrow - 1])])
    # a file whose units name other layers than it holds is refused
    with pytest.raises(ValueError, match="layers"):
        ModelInfo(**{**info.__dict__, "layers": n + 1}).check()
