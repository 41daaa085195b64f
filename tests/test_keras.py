"""Parity with Keras 3 (JAX backend): training from identical weights on identical data
gives the same parameters step for step, and models move between Keras and lstmlab.
Keras is installed with the test extra; these tests are skipped only without it."""

import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras's default backend is TensorFlow
keras = pytest.importorskip("keras")

import lstmlab  # noqa: E402
from lstmlab import cells, data, experiments, model, train  # noqa: E402
from lstmlab.kinds import windows  # noqa: E402

pytestmark = pytest.mark.keras


def keras_net(n_steps, n_features, units, vocab, mask=False, stateful=False, batch=None,
              cell="lstm", layers=1):
    shape = dict(batch_shape=(batch, n_steps, n_features)) if stateful else \
        dict(shape=(n_steps, n_features))
    c = cells.CELLS[cell]
    sizes = cells.layer_sizes(units, layers)  # one size, or one per layer
    layers = [keras.Input(**shape)] + ([keras.layers.Masking(0.0)] if mask else []) + [
        getattr(keras.layers, c.keras_layer)(u, stateful=stateful,
                                             return_sequences=k < len(sizes) - 1,
                                             **c.keras_config)
        for k, u in enumerate(sizes)] + [keras.layers.Dense(vocab, activation="softmax")]
    net = keras.Sequential(layers)
    net.compile(loss="categorical_crossentropy", optimizer="adam")
    return net


def initial_params(key, n_features, units, vocab, cell="lstm", layers=1):
    """The parameters train.fit starts replica ``key`` from (its first split)."""
    return model.init_params(jax.random.split(key)[0], n_features, units, vocab, cell, layers)


def assert_close_to_keras(fit_params, net, tol=1e-5):
    got = model.keras_weights(jax.tree.map(lambda a: a[0], fit_params))
    for name, a, b in zip(("kernel", "recurrent_kernel", "bias", "dense kernel", "dense bias"),
                          got, net.get_weights()):
        assert np.abs(a - b).max() <= tol, (name, np.abs(a - b).max())


@pytest.mark.slow
@pytest.mark.parametrize("case", ["batch 1", "partial last batch", "masked variable-length"])
def test_training_matches_keras_step_for_step(case):
    units, key = 8, train.replica_keys(int.from_bytes(case.encode()[:3], "big"), 1)
    if case == "masked variable-length":
        cfg = lstmlab.PRESETS["variable-length"].replace(samples=60, encoding="onehot",
                                                         units=units, epochs=2, shuffle=False)
        batch = 1   # 120 steps; one-hot: Keras's Masking(0) masks exactly the padding
    else:
        cfg = lstmlab.PRESETS["timestep-window"].replace(units=units, shuffle=False,
                                                         epochs=5 if case == "batch 1" else 20)
        batch = 1 if case == "batch 1" else 4  # 23 samples: 5 batches of 4, then 3
    cfg = cfg.replace(batch_size=batch)
    ds = experiments.prepare(cfg)
    x, y, v = ds.x, ds.patterns.y, len(ds.vocab)
    spec = windows.spec_of(cfg, len(y), v)
    fit = train.fit(spec, key, x, y, ds.mask)
    steps = cfg.epochs * -(-len(y) // batch)
    assert steps >= 100
    net = keras_net(x.shape[1], x.shape[2], units, v, mask=cfg.samples > 0)
    net.set_weights(model.keras_weights(initial_params(key[0], x.shape[2], units, v)))
    net.fit(x, keras.utils.to_categorical(y, v), epochs=cfg.epochs, batch_size=batch,
            shuffle=False, verbose=0)
    assert_close_to_keras(fit.params, net)
    # the negative control: optax's textbook Adam from the same start does not match
    other = train.fit(spec.__class__(**{**spec.__dict__, "optimizer": "adam-optax"}), key, x,
                      y, ds.mask)
    with pytest.raises(AssertionError):
        assert_close_to_keras(other.params, net, tol=1e-4)


def keras_adam_numpy(theta, grads, state, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """One step of Keras's Adam update rule in float64 NumPy."""
    m, v = state
    m = [mi + (g - mi) * (1 - b1) for mi, g in zip(m, grads)]
    v = [vi + (g * g - vi) * (1 - b2) for vi, g in zip(v, grads)]
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    theta = [p - mi * alpha / (np.sqrt(vi) + eps) for p, mi, vi in zip(theta, m, v)]
    return theta, (m, v)


@pytest.mark.slow
def test_stateful_training_matches_a_hand_unrolled_keras_loop():
    """Keras 3 cannot be the reference here (its fit does not carry state): a Python loop
    that carries (h, c) from sample to sample, resets every epoch, differentiates each
    sample's Keras loss (clipped probabilities) with the carried state held constant, and
    applies Keras's Adam in float64."""
    units, epochs = 6, 4  # 25 samples × 4 epochs = 100 steps
    cfg = lstmlab.PRESETS["stateful"].replace(units=units, epochs=epochs)
    ds = experiments.prepare(cfg)
    x, y, v = ds.x, ds.patterns.y, len(ds.vocab)
    key = train.replica_keys(9, 1)
    fit = train.fit(windows.spec_of(cfg, len(y), v), key, x, y, None,
                    ds.order.reshape(-1))

    def loss(arrays, xb, yb, state):
        params = model.from_keras_weights(arrays)
        logits, new_state = model.logits_fn(params, xb, None, state)
        p = jnp.clip(jax.nn.softmax(logits), 1e-7, 1 - 1e-7)
        return -jnp.log(p[0, yb[0]]), new_state

    theta = [np.asarray(a, np.float64) for a in
             model.keras_weights(initial_params(key[0], 1, units, v))]
    moments = ([np.zeros_like(a) for a in theta], [np.zeros_like(a) for a in theta])
    t = 0
    for _ in range(epochs):
        state = model.zero_state(1, units)  # reset_states() after every epoch
        for i in range(len(y)):
            arrays = [jnp.asarray(a, jnp.float32) for a in theta]
            g, state = jax.grad(loss, has_aux=True)(arrays, x[i:i + 1], y[i:i + 1], state)
            t += 1
            theta, moments = keras_adam_numpy(theta, [np.asarray(a, np.float64) for a in g],
                                              moments, t)
    got = model.keras_weights(jax.tree.map(lambda a: a[0], fit.params))
    for a, b in zip(got, theta):
        assert np.abs(a - b).max() <= 1e-5


@pytest.mark.slow
def test_keras_stateful_fit_does_not_carry_state():
    """What lstmlab found in Keras 3 (JAX backend): a stateful LSTM trained with fit ends
    with exactly the weights of a stateless one, while lstmlab's stateful training differs
    from its stateless training."""
    units, epochs = 6, 2
    cfg = lstmlab.PRESETS["stateful"].replace(units=units, epochs=epochs)
    ds = experiments.prepare(cfg)
    x, y, v = ds.x, ds.patterns.y, len(ds.vocab)
    key = train.replica_keys(4, 1)
    start = model.keras_weights(initial_params(key[0], 1, units, v))
    nets = []
    for stateful in (True, False):
        net = keras_net(1, 1, units, v, stateful=stateful, batch=1)
        net.set_weights(start)
        for _ in range(epochs):
            net.fit(x, keras.utils.to_categorical(y, v), epochs=1, batch_size=1,
                    shuffle=False, verbose=0)
            if stateful:
                net.layers[0].reset_states()
        nets.append(net)
    for a, b in zip(nets[0].get_weights(), nets[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    spec = windows.spec_of(cfg, len(y), v)
    carried = train.fit(spec, key, x, y, None, ds.order.reshape(-1))
    stateless = train.fit(spec.__class__(**{**spec.__dict__, "stateful": False}), key, x, y)
    assert_close_to_keras(stateless.params, nets[1])
    with pytest.raises(AssertionError):
        assert_close_to_keras(carried.params, nets[1], tol=1e-4)


# -- Keras models in and out ---------------------------------------------------------------

@pytest.fixture(scope="module")
def models():
    """One tiny trained model per kind that Keras can represent."""
    def one(name, **kw):
        return lstmlab.run(name, seeds=1, epochs=3, **kw).model(0)
    return {"window": one("timestep-window"),
            "features one-hot": one("feature-window", encoding="onehot"),
            "stateful": one("stateful"),
            "variable-length one-hot": one("variable-length", encoding="onehot", samples=60)}


INPUTS = {"window": ["ABC", "KLM"], "features one-hot": ["ABC", "XYZ"],
          "stateful": ["A", "ABCD"], "variable-length one-hot": ["A", "BCD", "ABCDE"]}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_export_and_import_round_trip(models, kind, suffix, tmp_path):
    m = models[kind]
    path = m.save_keras(tmp_path / f"m{suffix}")
    back = lstmlab.from_keras(path)  # A–Z by default
    assert (back.info.window, back.info.framing, back.info.encoding, back.info.units,
            back.info.stateful, back.info.mask and back.info.variable_length) == \
        (m.info.window, m.info.framing, m.info.encoding, m.info.units, m.info.stateful,
         m.info.mask and m.info.variable_length)
    for a, b in zip(model.keras_weights(m.params), model.keras_weights(back.params)):
        np.testing.assert_array_equal(a, b)
    for text in INPUTS[kind]:
        assert m.predict_proba(text) == back.predict_proba(text)
    # and Keras itself predicts what lstmlab predicts from the file
    net = keras.saving.load_model(path, compile=False)
    text = INPUTS[kind][-1]
    idx = m.vocab.encode(text)
    if m.info.stateful:
        net.layers[0].reset_states()
        x = np.asarray(m.stateful_windows(idx))
        for i in range(len(x)):
            probs = net(x[i:i + 1])
    else:
        x, mask = m._window_input(idx)
        probs = net.predict(np.asarray(x), verbose=0)
    want = np.array([m.predict_proba(text)[s] for s in m.vocab.symbols])
    np.testing.assert_allclose(np.asarray(probs)[0], want, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_a_model_trained_in_keras_predicts_the_same_in_lstmlab(tmp_path):
    """The tutorial's model, built and trained in Keras, then read by lstmlab."""
    cfg = lstmlab.PRESETS["timestep-window"]
    ds = experiments.prepare(cfg)
    keras.utils.set_random_seed(7)
    net = keras_net(3, 1, 16, 26)
    net.fit(ds.x, keras.utils.to_categorical(ds.patterns.y, 26), epochs=3, batch_size=1,
            verbose=0)
    net.save(tmp_path / "tutorial.keras")
    m = lstmlab.from_keras(tmp_path / "tutorial.keras", sequence=data.ALPHABET)
    assert m.info.units == 16 and m.info.window == 3 and m.info.encoding == "scaled"
    want = net.predict(ds.x, verbose=0)
    got = np.stack([[m.predict_proba("".join(ds.vocab.decode(w)))[s] for s in data.ALPHABET]
                    for w in ds.patterns.x])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def unsupported(kind):
    L = keras.layers
    inp = keras.Input((3, 1))
    return keras.Sequential({
        "LSTM then GRU": [inp, L.LSTM(4, return_sequences=True), L.GRU(4), L.Dense(26, activation="softmax")],
        "return_sequences": [inp, L.LSTM(4, return_sequences=True), L.Dense(26, activation="softmax")],
        "a Dense between": [inp, L.LSTM(4, return_sequences=True), L.Dense(4), L.LSTM(4),
                            L.Dense(26, activation="softmax")],
        "hard_sigmoid": [inp, L.LSTM(4, recurrent_activation="hard_sigmoid"), L.Dense(26, activation="softmax")],
        "linear output": [inp, L.LSTM(4), L.Dense(26)],
        "wrong vocabulary": [inp, L.LSTM(4), L.Dense(5, activation="softmax")],
        "masked scaled": [inp, L.Masking(0.0), L.LSTM(4), L.Dense(26, activation="softmax")],
        "stateful batch 4": [keras.Input((1, 1), batch_size=4), L.LSTM(4, stateful=True),
                             L.Dense(26, activation="softmax")],
    }[kind])


@pytest.mark.slow
@pytest.mark.parametrize("kind, message", [
    ("LSTM then GRU", "recurrent layers of different cells (lstmlab stacks one cell, of any "
                      "sizes: LSTM(4) → GRU(4))"),
    ("a Dense between", "layers LSTM → Dense → LSTM → Dense"),
    ("return_sequences", "return_sequences=True"),
    ("hard_sigmoid", "recurrent_activation 'hard_sigmoid'"),
    ("linear output", "Dense activation 'linear'"),
    ("wrong vocabulary", "predicts 5 symbols but the vocabulary has 26"),
    ("masked scaled", "also masks the first symbol"),
    ("stateful batch 4", "a stateful LSTM with batch size 4 carries 4 parallel streams"),
])
def test_unsupported_keras_models_are_one_line_errors(kind, message, tmp_path, run_cli):
    with pytest.raises(lstmlab.KerasError, match=re.escape(message)):
        lstmlab.from_keras(unsupported(kind))
    path = tmp_path / "m.keras"
    unsupported(kind).save(path)
    code, out, err = run_cli("import-keras", path, "--out", tmp_path / "model")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "model").exists()


@pytest.mark.slow
def test_keras_commands(run_cli, tmp_path, models):
    run = tmp_path / "run"
    assert run_cli("run", "timestep-window", "--epochs", "3", "--seeds", "2", "-q",
                   "--out", run)[0] == 0
    code, out, err = run_cli("export-keras", run, "--experiment", "timestep-window",
                             "--replica", "1", "--out", tmp_path / "tw.keras")
    assert code == 0 and (tmp_path / "tw.keras").is_file(), err
    code, out, err = run_cli("import-keras", tmp_path / "tw.keras", "--out", tmp_path / "back")
    assert code == 0, err
    a = run_cli("predict", run, "--experiment", "timestep-window", "--replica", "1", "KLM")[1]
    assert run_cli("predict", tmp_path / "back", "KLM")[1] == a
    for args, message in [
        (("export-keras", run, "--experiment", "timestep-window", "--out", tmp_path / "x.txt"),
         "ending in .keras or .h5"),
        (("export-keras", run, "--experiment", "timestep-window", "--out",
          tmp_path / "nodir" / "x.keras"), "no such directory"),
        (("import-keras", tmp_path / "none.keras", "--out", tmp_path / "m"), "no such"),
        (("import-keras", tmp_path / "tw.keras", "--sequence", "0123", "--out", tmp_path / "m"),
         "vocabulary has 4"),
    ]:
        code, out, err = run_cli(*args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    code, _, err = run_cli("import-keras", tmp_path / "bad.keras", "--out", tmp_path / "m")
    assert code == 2 and "not a .keras file" in err
    # nothing is replaced without --force, and nothing lands in a directory that is not a
    # model's (a run's root, say)
    keras_bytes, run_files = (tmp_path / "tw.keras").read_bytes(), sorted(run.iterdir())
    back = {p.name: p.read_bytes() for p in (tmp_path / "back").iterdir()}
    for args, message in [
        (("export-keras", run, "--experiment", "timestep-window", "--out",
          tmp_path / "tw.keras"), "exists; add --force"),
        (("import-keras", tmp_path / "tw.keras", "--out", tmp_path / "back"),
         "holds a model; add --force"),
        (("import-keras", tmp_path / "tw.keras", "--out", run),
         "is not an lstmlab model directory"),
        (("import-keras", tmp_path / "tw.keras", "--out", run, "--force"),
         "is not an lstmlab model directory"),
    ]:
        code, out, err = run_cli(*args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert (tmp_path / "tw.keras").read_bytes() == keras_bytes
    assert sorted(run.iterdir()) == run_files
    assert {p.name: p.read_bytes() for p in (tmp_path / "back").iterdir()} == back
    assert run_cli("import-keras", tmp_path / "tw.keras", "--out", tmp_path / "back",
                   "--force")[0] == 0
    assert run_cli("export-keras", run, "--experiment", "timestep-window", "--out",
                   tmp_path / "tw.keras", "--force")[0] == 0
    masked_scaled = lstmlab.run("variable-length", seeds=1, epochs=1, samples=30).model(0)
    with pytest.raises(lstmlab.KerasError, match="also masks the first symbol"):
        masked_scaled.to_keras()


@pytest.mark.slow
def test_without_keras_the_commands_name_the_install_command(run_cli, monkeypatch, tmp_path,
                                                             models):
    import sys
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` now fails
    models["window"].save(tmp_path / "m")
    for args in (("export-keras", tmp_path / "m", "--out", tmp_path / "m.keras"),
                 ("import-keras", tmp_path / "x.keras", "--out", tmp_path / "n")):
        code, out, err = run_cli(*args)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert 'Keras is not installed; install it with: pip install -e ".[keras]"' in err
    code, _, err = run_cli("import-keras", tmp_path / "x.keras", "--framing", "diagonal",
                           "--out", tmp_path / "n")
    assert code == 2 and "framing 'diagonal' is not allowed" in err


def test_a_keras_2_h5_file_keeps_keras_2s_hard_sigmoid(tmp_path):
    """The seed notebook ran Keras 2, whose default recurrent activation hard_sigmoid is
    clip(0.2x + 0.5, 0, 1). In a Keras 2 .h5 file lstmlab reads it as that (its own
    hard_sigmoid); in a Keras 3 file the same name means x/6 + 1/2 and is refused."""
    import h5py

    import reference as ref
    rng = np.random.default_rng(1970)
    net = keras.Sequential([keras.Input((3, 1)),
                            keras.layers.LSTM(5, recurrent_activation="hard_sigmoid"),
                            keras.layers.Dense(26, activation="softmax")])
    net.set_weights([rng.normal(0, 0.7, w.shape).astype(np.float32) for w in net.get_weights()])
    path = tmp_path / "tutorial.h5"
    net.save(path)
    with pytest.raises(lstmlab.KerasError, match="hard_sigmoid"):
        lstmlab.from_keras(path)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "2.1.5"  # as the tutorial's Keras wrote it
    m = lstmlab.from_keras(path)
    assert m.info.activation == "hard_sigmoid"
    x = data.encode(m.vocab.encode("KLM")[None], 26, "scaled", "timesteps")
    logits, _ = ref.lstm_forward(m.params, x, act=ref.hard_sigmoid)
    want = ref.softmax(logits)[0]
    got = np.array([m.predict_proba("KLM")[s] for s in data.ALPHABET])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    sig_logits, _ = ref.lstm_forward(m.params, x)  # negative control: Keras 3's sigmoid
    assert np.abs(ref.softmax(sig_logits)[0] - want).max() > 1e-3


def test_a_functional_chain_reads_as_its_sequential_twin(tmp_path, run_cli):
    L = keras.layers
    inp = keras.Input((3, 1))
    functional = keras.Model(inp, L.Dense(26, activation="softmax")(L.LSTM(4)(inp)))
    sequential = keras.Sequential([keras.Input((3, 1)), L.LSTM(4),
                                   L.Dense(26, activation="softmax")])
    sequential.set_weights(functional.get_weights())
    a, b = lstmlab.from_keras(functional), lstmlab.from_keras(sequential)
    assert a.predict_proba("ABC") == b.predict_proba("ABC")


def test_import_keras_says_what_a_file_is_and_which_option_conflicts(tmp_path, run_cli):
    (tmp_path / "random.keras").write_bytes(b"\x13\x37 not a zip at all")
    (tmp_path / "random.h5").write_bytes(b"neither hdf5")
    for name, message in (("random.keras", "not a .keras file (a .keras file is a zip"),
                          ("random.h5", "not an HDF5 file")):
        code, _, err = run_cli("import-keras", tmp_path / name, "--out", tmp_path / "m")
        assert code == 2 and message in err and "File not found" not in err
    path = tmp_path / "steps.keras"
    unsupported("linear output")  # build keras once
    keras.Sequential([keras.Input((3, 1)), keras.layers.LSTM(4),
                      keras.layers.Dense(26, activation="softmax")]).save(path)
    code, _, err = run_cli("import-keras", path, "--framing", "features", "--out",
                           tmp_path / "m")
    assert code == 2 and "--framing features does not match the model: it reads 3 steps" in err
    assert run_cli("import-keras", path, "--out", tmp_path / "m")[0] == 0  # without it: fine


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["gru", "rnn"])
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_other_cells_go_to_keras_and_back(cell, suffix, tmp_path):
    res = lstmlab.run("timestep-window", cell=cell, seeds=1, epochs=2, units=5)
    m = res.model(0)
    path = m.save_keras(tmp_path / f"m{suffix}")
    back = lstmlab.from_keras(path, sequence=data.ALPHABET)
    assert back.info.cell == cell
    for k, a in m.params[cell].items():
        np.testing.assert_array_equal(back.params[cell][k], a)
    assert back.predict_proba("ABC") == m.predict_proba("ABC")


# -- every cell, stacked: forward, gradients, training, files, stateful stepping ---------

CELL_LAYER_CASES = [("lstm", 2), ("gru", 1), ("gru", 2), ("gru-reset-before", 1),
                    ("gru-reset-before", 2), ("rnn", 1), ("rnn", 2),
                    # stacks of one size per layer: tapering, widening
                    ("lstm", (6, 4)), ("gru", (3, 6)), ("gru-reset-before", (6, 4)),
                    ("rnn", (7, 4))]
# the fast tier keeps one tapering case of the forward and gradient test; CI runs them all
_FORWARD_CASES = [c if c in CELL_LAYER_CASES[:8] else pytest.param(*c, marks=pytest.mark.slow)
                  for c in CELL_LAYER_CASES]


def _stack(layers, units):
    """A case's (layers, units): an int is that many layers of ``units``; a tuple is one
    size per layer."""
    return (len(layers), layers) if isinstance(layers, tuple) else (layers, units)


@pytest.mark.parametrize("cell, layers", _FORWARD_CASES)
def test_every_cell_and_stack_predicts_and_differentiates_as_keras_does(cell, layers):
    """Forward probabilities (masked input too) and the gradient of the mean categorical
    cross-entropy, from Keras's own random weights: Keras's gradient is jax.grad of Keras's
    stateless_call, as its JAX backend's fit takes it."""
    layers, units = _stack(layers, 6)
    rng = np.random.default_rng(30 + layers)
    for mask in (False, True):
        net = keras_net(5, 4, units, 7, mask=mask, cell=cell, layers=layers)
        net.set_weights([rng.normal(0, 0.6, w.shape).astype(np.float32)
                         for w in net.get_weights()])
        x = rng.normal(size=(9, 5, 4)).astype(np.float32)
        y = rng.integers(0, 7, 9)
        if mask:
            x[:3, :2] = 0.0  # front padding, which Masking(0) skips at every layer
        params = model.from_keras_weights(net.get_weights(), cell)
        assert cells.layers_of(params) == layers
        assert cells.sizes_of(params) == cells.layer_sizes(units, layers)
        m = jnp.asarray(np.any(x != 0, -1)) if mask else None
        got = jax.nn.softmax(model.logits_fn(params, jnp.asarray(x), m)[0])
        np.testing.assert_allclose(got, net.predict(x, verbose=0), atol=1e-6)

        loss_fn = keras.losses.CategoricalCrossentropy()
        onehot = jnp.asarray(np.eye(7, dtype=np.float32)[y])

        fixed = [v.value for v in net.non_trainable_variables]  # Keras's seed states

        def keras_loss(weights):
            probs, _ = net.stateless_call(weights, fixed, jnp.asarray(x))
            return loss_fn(onehot, probs)

        want = jax.grad(keras_loss)([v.value for v in net.trainable_variables])
        grads = jax.grad(train.batch_loss, has_aux=True)(
            params, jnp.asarray(x), jnp.asarray(y), jnp.ones(9, jnp.float32), m, None,
            "sigmoid")[0]
        got_g = model.keras_weights(grads)
        assert len(got_g) == len(want)
        scale = max(float(np.abs(w).max()) for w in want)
        for a, b in zip(got_g, want):
            assert np.abs(a - np.asarray(b)).max() <= 1e-6 * max(1.0, scale)
        # negative control: the gradient with the samples' labels shifted differs
        other = jax.grad(train.batch_loss, has_aux=True)(
            params, jnp.asarray(x), jnp.asarray((y + 1) % 7), jnp.ones(9, jnp.float32), m,
            None, "sigmoid")[0]
        assert max(np.abs(a - np.asarray(b)).max() for a, b in
                   zip(model.keras_weights(other), want)) > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("cell, layers", CELL_LAYER_CASES)
def test_every_cell_and_stack_trains_as_keras_does_step_for_step(cell, layers):
    (layers, units), key = _stack(layers, 8), train.replica_keys(17, 1)
    cfg = lstmlab.PRESETS["timestep-window"].replace(units=units, shuffle=False, epochs=5,
                                                     cell=cell, layers=layers,
                                                     encoding="onehot")
    ds = experiments.prepare(cfg)
    x, y, v = ds.x, ds.patterns.y, len(ds.vocab)
    spec = windows.spec_of(cfg, len(y), v)
    fit = train.fit(spec, key, x, y, ds.mask)
    assert cfg.epochs * len(y) >= 100
    net = keras_net(x.shape[1], x.shape[2], units, v, cell=cell, layers=layers)
    net.set_weights(model.keras_weights(initial_params(key[0], x.shape[2], units, v, cell,
                                                       layers)))
    net.fit(x, keras.utils.to_categorical(y, v), epochs=cfg.epochs, batch_size=1,
            shuffle=False, verbose=0)
    got = model.keras_weights(jax.tree.map(lambda a: a[0], fit.params))
    for a, b in zip(got, net.get_weights()):
        assert np.abs(a - b).max() <= 1e-5
    # the negative control: optax's textbook Adam from the same start does not match
    other = train.fit(spec.__class__(**{**spec.__dict__, "optimizer": "adam-optax"}), key, x,
                      y, ds.mask)
    worst = max(np.abs(a - b).max() for a, b in zip(
        model.keras_weights(jax.tree.map(lambda a: a[0], other.params)), net.get_weights()))
    assert worst > 1e-5  # the tolerance above: the check can fail


@pytest.mark.slow
@pytest.mark.parametrize("cell, units", [("lstm", 6), ("gru-reset-before", 6),
                                         ("gru", (7, 4))])
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_stacked_stateful_model_goes_to_keras_and_back_and_steps_alike(cell, units, suffix,
                                                                         tmp_path):
    """Two stateful layers (of one size, or tapering): the file round trip keeps every
    array, and Keras's stateful model stepped one symbol at a time predicts as Model.trace
    does (every layer's state carried)."""
    res = lstmlab.run("stateful", cell=cell, layers=2, seeds=1, epochs=3, units=units)
    m = res.model(0)
    path = m.save_keras(tmp_path / f"m{suffix}")
    back = lstmlab.from_keras(path, sequence=data.ALPHABET)
    assert back.info.cell == cell and back.info.layers == 2 and back.info.stateful
    assert back.info.units == units and back.info.sizes == cells.layer_sizes(units, 2)
    for a, b in zip(model.keras_weights(m.params), model.keras_weights(back.params)):
        np.testing.assert_array_equal(a, b)
    net = m.to_keras()
    text = "ABCDEFGH"
    x = data.encode(m.vocab.encode(text)[:, None], 26, m.info.encoding, "timesteps")
    for layer in net.layers[:2]:
        layer.reset_states()
    # called, not predict(): Keras 3's predict on the JAX backend does not carry the state
    stepped = np.stack([np.asarray(net(x[t:t + 1]))[0] for t in range(len(text))])
    np.testing.assert_allclose(stepped, m.trace(text).probs, atol=1e-5)
    # negative control: a Keras model that forgets its state between steps differs
    fresh = keras_net(1, x.shape[2], units, 26, cell=cell, layers=2)
    fresh.set_weights(model.keras_weights(m.params))
    assert np.abs(fresh.predict(x, verbose=0) - stepped).max() > 1e-4  # 10× the tolerance


def test_a_keras_2_gru_file_reads_with_reset_before_and_hard_sigmoid(tmp_path):
    """Keras 2's GRU defaults: reset_after=False, recurrent_activation hard_sigmoid
    (clip(0.2x + 0.5, 0, 1) in Keras 2). Checked against a float64 NumPy GRU."""
    import h5py

    import reference as ref
    rng = np.random.default_rng(1971)
    net = keras.Sequential([keras.Input((3, 1)),
                            keras.layers.GRU(5, reset_after=False,
                                             recurrent_activation="hard_sigmoid"),
                            keras.layers.Dense(26, activation="softmax")])
    net.set_weights([rng.normal(0, 0.7, w.shape).astype(np.float32) for w in net.get_weights()])
    path = tmp_path / "keras2.h5"
    net.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "2.2.4"
    m = lstmlab.from_keras(path)
    assert (m.info.cell, m.info.activation) == ("gru-reset-before", "hard_sigmoid")
    x = data.encode(m.vocab.encode("KLM")[None], 26, "scaled", "timesteps")
    h = ref.reference_cell("gru-reset-before", m.params["gru-reset-before"], x,
                           act=ref.hard_sigmoid)[0]
    want = ref.softmax(h @ np.asarray(m.params["dense"]["kernel"], np.float64)
                       + np.asarray(m.params["dense"]["bias"]))
    got = np.array([m.predict_proba("KLM")[s] for s in data.ALPHABET])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # negative control: Keras 3's GRU (reset after) from the same weights
    as_after = {"gru": {**m.params["gru-reset-before"],
                        "bias": jnp.stack([m.params["gru-reset-before"]["bias"],
                                           jnp.zeros(15)])}, "dense": m.params["dense"]}
    other = jax.nn.softmax(model.logits_fn(as_after, jnp.asarray(x), None, None,
                                           "hard_sigmoid")[0])[0]
    assert np.abs(np.asarray(other) - want).max() > 1e-4


@pytest.mark.slow
def test_a_char_rnn_text_model_goes_to_keras_and_back_and_steps_alike(tmp_path):
    """A text model (char-rnn's training: 2 stateful layers, one-hot symbols) exported for
    generation (batch 1): Keras stepped one symbol at a time predicts as Model.trace does,
    and the file read back generates the same text."""
    text = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n"
            "Speak, speak.\n") * 30
    res = lstmlab.run("char-rnn", sequence=text, streams=4, seq_length=10, units=8,
                      epochs=2)
    m = res.model(0)
    path = m.save_keras(tmp_path / "text.keras")
    back = lstmlab.from_keras(path, sequence=text)
    assert back.info.stateful and back.info.layers == 2 and back.info.encoding == "onehot"
    net = m.to_keras()
    prime = "First Citizen"
    x = data.encode(m.vocab.encode(prime)[:, None], len(m.vocab), "onehot", "timesteps")
    for layer in net.layers[:2]:
        layer.reset_states()
    stepped = np.stack([np.asarray(net(x[t:t + 1]))[0] for t in range(len(prime))])
    np.testing.assert_allclose(stepped, m.trace(prime).probs, atol=1e-5)
    assert back.generate(prime, 40, 0.8, 3) == m.generate(prime, 40, 0.8, 3)
    # negative control: without the state carried, Keras predicts otherwise
    for layer in net.layers[:2]:
        layer.reset_states()
    forgetful = np.stack([np.asarray(net(x[t:t + 1]))[0] for t in range(len(prime))
                          if [layer.reset_states() for layer in net.layers[:2]]])
    assert np.abs(forgetful - stepped).max() > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("layers", [("LSTM", (16, 12)), ("GRU", (64, 32)),
                                    ("SimpleRNN", (5, 9, 3))])
def test_a_users_tapering_keras_stack_imports_and_predicts_as_keras(layers, tmp_path,
                                                                    run_cli):
    """The issue's models (LSTM(16, return_sequences=True) → LSTM(12); GRU(64) → GRU(32))
    and a three-size SimpleRNN: imported through the command line, lstmlab's predictions
    are Keras's own, and the export writes the same stack back. Negative control: the
    same weights with the last layer's rows permuted predict otherwise."""
    name, sizes = layers
    L = keras.layers
    net = keras.Sequential([keras.Input((3, 1))] + [
        getattr(L, name)(u, return_sequences=k < len(sizes) - 1) for k, u in enumerate(sizes)]
        + [L.Dense(26, activation="softmax")])
    rng = np.random.default_rng(sum(sizes))
    net.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in net.get_weights()])
    path = tmp_path / "user.keras"
    net.save(path)
    code, out, err = run_cli("import-keras", path, "--out", tmp_path / "m")
    assert code == 0, err
    m = lstmlab.load(tmp_path / "m")
    assert m.info.units == sizes and m.info.layers == len(sizes)
    assert " → ".join(f"{name}({u})" for u in sizes) in out
    x = data.encode(m.vocab.encode("KLM")[None], 26, "scaled", "timesteps")
    want = net.predict(x, verbose=0)[0]
    got = np.array([m.predict_proba("KLM")[s] for s in data.ALPHABET])
    np.testing.assert_allclose(got, want, atol=1e-6)
    back = m.to_keras()
    assert [layer.get_config()["units"] for layer in back.layers[:-1]] == list(sizes)
    np.testing.assert_allclose(back.predict(x, verbose=0)[0], want, atol=1e-6)
    w = net.get_weights()
    w[-2] = w[-2][::-1]  # Dense reads the last layer's units in another order
    other = keras.models.clone_model(net)
    other.set_weights(w)
    assert np.abs(other.predict(x, verbose=0)[0] - got).max() > 1e-4
