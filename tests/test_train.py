import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import reference as ref
from lstmlab import (PRESETS, data, evaluate, experiments, keras_compat, model, programs,
                     replicas, train)


def az_windows(n=3, encoding="scaled", framing="timesteps"):
    v = data.Vocab.from_sequence(data.ALPHABET)
    p = data.windows(v.encode(data.ALPHABET), n)
    return data.encode(p.x, 26, encoding, framing), p.y


def test_same_seed_gives_identical_history_and_params():
    x, y = az_windows()
    spec = train.TrainSpec(units=8, vocab_size=26, epochs=20, batch_size=1)
    a = train.fit(spec, train.replica_keys(3, 1), x, y)
    seen = []
    b = train.fit(spec, train.replica_keys(3, 1), x, y, on_progress=lambda d, h: seen.append(d))
    np.testing.assert_array_equal(a.history, b.history)
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_array_equal(u, v)
    assert seen[-1] == 20 and len(seen) > 1
    c = train.fit(spec, train.replica_keys(4, 1), x, y)
    assert not np.array_equal(a.history, c.history)


@pytest.mark.slow
def test_replicas_in_one_program_equal_replicas_one_by_one():
    x, y = az_windows()
    spec = train.TrainSpec(units=8, vocab_size=26, epochs=15, batch_size=2)
    keys = train.replica_keys(11, 3)
    together = train.fit(spec, keys, x, y)
    def final_accuracy(params, r):
        p = jax.tree.map(lambda a: a[r], params)
        return float(np.mean(np.argmax(evaluate.probabilities(p, x), -1) == y))

    for r in range(3):
        alone = train.fit(spec, keys[r:r + 1], x, y)
        assert final_accuracy(together.params, r) == final_accuracy(alone.params, 0)
        np.testing.assert_array_equal(together.history[r, :, 1], alone.history[0, :, 1])
        np.testing.assert_allclose(together.history[r], alone.history[0], rtol=1e-5)
        for u, v in zip(jax.tree.leaves(together.params), jax.tree.leaves(alone.params)):
            np.testing.assert_allclose(u[r], v[0], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_partial_last_batch_is_the_smaller_batch():
    # 5 samples in batches of 2, no shuffle: updates on [0,1], [2,3], [4]
    rng = np.random.default_rng(1975)
    x = rng.random((5, 2, 1)).astype(np.float32)
    y = rng.integers(0, 4, 5)
    spec = train.TrainSpec(units=4, vocab_size=4, epochs=1, batch_size=2, shuffle=False,
                           lr=0.01)
    key = train.replica_keys(0, 1)
    fit = train.fit(spec, key, x, y)
    params = model.init_params(jax.random.split(key[0])[0], 1, 4, 4)
    opt = keras_compat.optimizer(0.01)
    st = opt.init(params)
    losses = []
    for idx in ([0, 1], [2, 3], [4]):
        (l, _), g = jax.value_and_grad(train.batch_loss, has_aux=True)(
            params, x[idx], y[idx], jnp.ones(len(idx)), None, None, "sigmoid")
        losses.append(float(l) * len(idx))
        upd, st = opt.update(g, st, params)
        params = optax.apply_updates(params, upd)
    for u, v in zip(jax.tree.leaves(fit.params), jax.tree.leaves(params)):
        np.testing.assert_allclose(u[0], v, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fit.history[0, 0, 0], sum(losses) / 5, rtol=1e-5)


def test_timestep_window_reaches_100_percent():
    res = experiments.run("timestep-window", seeds=1)  # seed 7, 500 epochs, as the notebook
    assert res.accuracy[0] == 1.0
    assert res.history[0, -1, 0] < res.history[0, 0, 0] / 4  # the loss fell


def stateful_numpy_losses(params, x, y):
    """Hand-unrolled float64 loop: reset, then carry (h, c) from sample to sample."""
    h = c = None
    losses = []
    for i in range(len(y)):
        logits, (h, c) = ref.lstm_forward(params, x[i:i + 1], None, h, c)
        losses.append(-np.log(ref.softmax(logits)[0, y[i]]))
    return np.array(losses), h, c


@pytest.mark.slow
def test_stateful_carry_and_reset_match_a_numpy_loop():
    rng = np.random.default_rng(1976)
    x = rng.random((6, 1, 1)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    # lr = 0 keeps the weights fixed, so every epoch must see exactly the same losses:
    # only true if the state is carried within an epoch and reset between epochs.
    spec = train.TrainSpec(units=5, vocab_size=5, epochs=3, batch_size=1, lr=0.0,
                           shuffle=False, stateful=True)
    fit = train.fit(spec, train.replica_keys(2, 1), x, y, order=np.arange(6))
    p = jax.tree.map(lambda a: np.asarray(a[0]), fit.params)
    losses, h, c = stateful_numpy_losses(p, x, y)
    np.testing.assert_allclose(fit.history[0, :, 0], [losses.mean()] * 3, rtol=1e-5)
    # carrying matters: a stateless model gives other losses on the same weights
    stateless = [ref.mean_xent(p, x[i:i + 1], y[i:i + 1]) for i in range(6)]
    assert abs(np.mean(stateless) - losses.mean()) > 1e-4
    # the evaluation path (reset, run in order, carry) agrees with the same loop
    probs, (he, ce) = evaluate.stateful_probabilities(p, x, np.arange(6)[:, None])
    np.testing.assert_allclose(-np.log(np.asarray(probs)[np.arange(6), y]), losses, rtol=1e-5)
    np.testing.assert_allclose(he, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ce, c, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_no_gradient_flows_through_the_carried_state():
    rng = np.random.default_rng(1977)
    x = rng.random((3, 1, 1)).astype(np.float32)
    y = rng.integers(0, 4, 3)
    spec = train.TrainSpec(units=4, vocab_size=4, epochs=1, batch_size=1, lr=0.01,
                           shuffle=False, stateful=True)
    key = train.replica_keys(5, 1)
    fit = train.fit(spec, key, x, y, order=np.arange(3))
    # by hand: each update sees the carried state as a constant NumPy array
    params = model.init_params(jax.random.split(key[0])[0], 1, 4, 4)
    opt = keras_compat.optimizer(0.01)
    st = opt.init(params)
    state = model.zero_state(1, 4)
    for i in range(3):
        const = tuple(np.asarray(s) for s in state)
        g, (_, _, state) = jax.grad(train.batch_loss, has_aux=True)(
            params, x[i:i + 1], y[i:i + 1], jnp.ones(1), None, const, "sigmoid")
        upd, st = opt.update(g, st, params)
        params = optax.apply_updates(params, upd)
    for u, v in zip(jax.tree.leaves(fit.params), jax.tree.leaves(params)):
        np.testing.assert_allclose(u[0], v, rtol=1e-5, atol=1e-7)


def test_gradient_through_the_state_would_differ():
    """Guards the test above: had the carried state depended on the weights, the gradient
    of the second sample's loss would not be the constant-state gradient."""
    rng = np.random.default_rng(1978)
    x = rng.random((2, 1, 1)).astype(np.float32)
    y = rng.integers(0, 4, 2)
    p = model.init_params(jax.random.PRNGKey(0), 1, 4, 4)

    def loss(pp, detach):
        _, s0 = model.logits_fn(pp, x[:1])
        s0 = jax.lax.stop_gradient(s0) if detach else s0
        return train.batch_loss(pp, x[1:], y[1:], jnp.ones(1), None, s0, "sigmoid")[0]

    a = jax.grad(loss)(p, True)["lstm"]["kernel"]
    b = jax.grad(loss)(p, False)["lstm"]["kernel"]
    assert float(jnp.abs(a - b).max()) > 1e-6


@pytest.mark.slow
def test_order_test_is_rounding_level_for_a_stateless_model():
    rng = np.random.default_rng(1979)
    x, y = az_windows(1)
    p = model.init_params(jax.random.PRNGKey(int(rng.integers(1 << 30))), 1, 16, 26)
    diff, scale = evaluate.order_test(p, jnp.asarray(x), jnp.asarray(y))
    assert diff < 1e-6
    # the largest gradient entry is many orders of magnitude above that
    g, _ = jax.grad(train.batch_loss, has_aux=True)(p, x, y, jnp.ones(len(y)), None, None,
                                                    "sigmoid")
    assert scale == pytest.approx(max(float(jnp.abs(a).max()) for a in jax.tree.leaves(g)))
    assert scale > 1e3 * diff


@pytest.mark.slow
def test_stateful_preset_generates_the_alphabet_from_a_but_not_from_k():
    res = experiments.run("stateful", seeds=1)  # seed 7, 300 epochs
    assert res.accuracy[0] == 1.0
    assert res.generated["A"][0] == data.ALPHABET
    assert not res.generated["K"][0].startswith("KLMNOP")


@pytest.mark.slow
def test_stateful_with_batches_uses_the_stream_layout():
    cfg = PRESETS["stateful"].replace(batch_size=5, epochs=3, seeds=1)
    ds = experiments.prepare(cfg)
    np.testing.assert_array_equal(ds.order, data.stream_layout(25, 5))
    res = experiments.run(cfg, dataset=ds)
    assert res.probs.shape == (1, 25, 26)
    np.testing.assert_allclose(res.probs.sum(-1), 1, rtol=1e-5)


def coupled_loss(params, xb, yb, w, mb, state, activation):
    """A loss in which the samples of a batch are NOT independent: the batch is read as one
    stream, each sample starting from the state the previous one left (train.batch_loss's
    signature)."""
    s, total = None, 0.0
    for i in range(xb.shape[0]):
        logits, s = model.logits_fn(params, xb[i:i + 1], None, s, activation)
        total = total + optax.softmax_cross_entropy_with_integer_labels(logits, yb[i:i + 1])[0]
    return total / xb.shape[0], None


@pytest.mark.slow
def test_order_test_detects_a_loss_that_couples_the_samples():
    """Positive control of the order test: where the samples of a batch interact, the order
    changes the gradient far above rounding, and the verdict says so. (An order test that
    compared a gradient with itself would report 0 here.)"""
    x, y = az_windows(1)
    p = model.init_params(jax.random.PRNGKey(3), 1, 16, 26)
    diff, scale = evaluate.order_test(p, jnp.asarray(x), jnp.asarray(y), loss=coupled_loss)
    assert diff / scale > 1e-2
    assert "coupled" in evaluate.order_check(diff, scale)
    diff0, scale0 = evaluate.order_test(p, jnp.asarray(x), jnp.asarray(y))
    assert diff0 / scale0 < evaluate.ORDER_ROUNDING
    assert "by construction" in evaluate.order_check(diff0, scale0)


@pytest.mark.slow
def test_the_order_test_is_not_decided_by_rounding_at_3000_samples():
    """Float32 rounding of a re-ordered sum of 3000 per-sample gradients made the old test
    "inconclusive"; in float64 it stays far below the threshold."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 25, 3000)
    x = (idx / 26.0).astype(np.float32)[:, None, None]
    y = (idx + 1).astype(np.int32)
    p = model.init_params(jax.random.PRNGKey(3), 1, 16, 26)
    diff, scale = evaluate.order_test(p, jnp.asarray(x), jnp.asarray(y))
    assert diff / scale < evaluate.ORDER_ROUNDING * 1e-2


@pytest.mark.slow
def test_stateful_window_models_read_overlapping_windows_carrying_state():
    """A stateful model with a window of 3 (features framing) reads, after a reset, every
    window of its input in order, carrying the state — as in its training. Predicting after
    a prefix equals the Keras-style stateful evaluation; generation slides the window."""
    res = experiments.run("stateful", framing="features", window=3, epochs=30, seeds=1)
    m = res.model(0)
    for n in (3, 4, 10):
        p = m.predict_proba(data.ALPHABET[:n])
        got = np.array([p[s] for s in data.ALPHABET])
        np.testing.assert_allclose(got, res.probs[0, n - 3], rtol=1e-5, atol=1e-7)
    gen = m.generate("ABC", 5)
    assert gen[:3] == "ABC" and len(gen) == 8
    # generation equals predicting one symbol at a time from the growing text
    text = "ABC"
    for _ in range(5):
        text += m.predict(text)
    assert gen == text


@pytest.mark.slow
def test_compile_ahead_builds_the_programs_fit_runs():
    x, y = az_windows()
    spec = train.TrainSpec(units=7, vocab_size=26, epochs=12, batch_size=3)
    keys = train.replica_keys(5, 3)
    plain = train.fit(spec, keys, x, y, workers=2, chunk=4)  # compiled in fit
    programs._PROGRAMS.clear()
    train.compile_ahead(spec, 3, x, y, workers=2, chunk=4)
    ahead = dict(programs._PROGRAMS)
    assert len(ahead) == 2 and all(hasattr(p, "result") for p in ahead.values())
    for p in ahead.values():
        p.result()
    fitted = train.fit(spec, keys, x, y, workers=2, chunk=4)
    assert programs._PROGRAMS.keys() == ahead.keys()  # fit compiled nothing more
    np.testing.assert_array_equal(fitted.history, plain.history)
    for u, v in zip(jax.tree.leaves(fitted.params), jax.tree.leaves(plain.params)):
        np.testing.assert_array_equal(u, v)
    # negative control: another chunk size is another program, compiled by fit itself
    train.fit(spec, keys, x, y, workers=2, chunk=6)
    assert len(programs._PROGRAMS) == 3


@pytest.mark.slow
def test_cancelled_compilations_are_compiled_when_needed():
    x, y = az_windows()
    specs = [train.TrainSpec(units=u, vocab_size=26, epochs=4, batch_size=5) for u in (3, 4)]
    programs._PROGRAMS.clear()
    for spec in specs:
        train.compile_ahead(spec, 1, x, y)
    programs.cancel_ahead()  # what has not started is dropped, what runs is kept
    assert all(p.running() or p.done() for p in programs._PROGRAMS.values())
    for spec in specs:  # and fit compiles it again
        assert np.isfinite(train.fit(spec, train.replica_keys(1, 1), x, y).history).all()


@pytest.mark.slow
def test_more_seeds_run_the_same_compiled_program_in_more_groups(monkeypatch):
    x, y = az_windows()
    spec = train.TrainSpec(units=6, vocab_size=26, epochs=6, batch_size=1)
    monkeypatch.setattr(replicas.os, "cpu_count", lambda: 2)  # the groups are replicas.py's
    programs._PROGRAMS.clear()
    keys = train.replica_keys(9, 3 * train.MAX_GROUP)
    few = train.fit(spec, keys[:2 * train.MAX_GROUP], x, y)  # 2 groups, one per core
    compiled = dict(programs._PROGRAMS)
    many = train.fit(spec, keys, x, y)                        # 3 groups of the same size
    assert programs._PROGRAMS.keys() == compiled.keys() and many.compile_s == 0.0
    n = 2 * train.MAX_GROUP
    np.testing.assert_array_equal(many.history[:n], few.history)
    for u, v in zip(jax.tree.leaves(many.params), jax.tree.leaves(few.params)):
        np.testing.assert_array_equal(u[:n], v)
    # negative control: one group of all of them (workers=1) is another program
    train.fit(spec, keys, x, y, workers=1)
    assert len(programs._PROGRAMS) > len(compiled)
    assert train.group_size(3, None) == 2 and train.group_size(100, None) == train.MAX_GROUP


@pytest.mark.slow
def test_an_interrupt_is_checked_after_every_groups_chunk():
    """With 10,000 seeds a chunk of every group took 42 s to finish after Ctrl-C; now the
    check runs after each group's chunk and the groups not started are cancelled."""
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        experiments.run("one-char", seeds=40, epochs=20, units=2, check=check)
    assert len(calls) == 3
    # negative control: a check that never stops is called once per group and chunk
    calls.clear()
    res = experiments.run("one-char", seeds=40, epochs=20, units=2, check=lambda: calls.append(1))
    groups = -(-40 // train.group_size(40))
    assert len(calls) == groups * (20 // train.chunk_epochs(20)) and res.config.seeds == 40


def test_a_chunk_is_capped_by_its_work():
    assert train.chunk_epochs(500) == 25                 # the presets' chunks: unchanged
    assert train.chunk_epochs(500, cap=7) == 5          # a long text's: smaller
    assert train.chunk_epochs(3, cap=0) == 1


def test_the_process_keeps_a_bounded_number_of_compiled_programs(monkeypatch):
    """Each compiled program holds memory mappings, of which a process has a fixed number:
    beyond MAX_PROGRAMS the least recently used finished one is dropped, and compiled again
    when asked for."""
    monkeypatch.setattr(programs, "MAX_PROGRAMS", 2)
    monkeypatch.setattr(programs, "_PROGRAMS", {})
    spec = train.TrainSpec(units=1, vocab_size=2, epochs=1, batch_size=1)
    built = []

    def get(n):
        def build():
            built.append(n)
            return jax.jit(lambda a: a * n)
        return programs.program(spec, (jax.ShapeDtypeStruct((n,), jnp.float32),), "t", build)

    get(1), get(2), get(1)          # 1 used again: 2 is now the least recent
    get(3)                          # over the bound: 2 goes
    assert len(programs._PROGRAMS) == 2 and built == [1, 2, 3]
    assert get(1)[1] == 0.0         # kept: not compiled again
    get(2)
    assert built == [1, 2, 3, 2]    # dropped: compiled again
    # negative control: without the bound every program stays
    monkeypatch.setattr(programs, "MAX_PROGRAMS", 100)
    get(4), get(5)
    assert len(programs._PROGRAMS) == 4


def test_arrays_go_to_the_device_as_jnp_asarray_makes_them_but_without_a_program():
    """programs.device: the values and dtypes of jnp.asarray (int64 → int32, float64 →
    float32 without x64, float64 kept with it), a JAX array as it is, and no compiled
    program per new shape (negative control: jnp.asarray of a new shape compiles one)."""
    compiled = []
    listen = lambda event, *a, **k: compiled.append(event) if event.endswith(  # noqa: E731
        "backend_compile_duration") else None
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        rng = np.random.default_rng(0)
        for a in [rng.integers(0, 9, (3, 7)), rng.normal(size=(5, 11)),
                  rng.normal(size=(2, 13)).astype(np.float32), rng.random((4, 17)) > 0.5]:
            compiled.clear()
            got = programs.device(a)
            assert compiled == []
            want = jnp.asarray(a)
            assert compiled, "jnp.asarray no longer compiles: programs.device is not needed"
            assert got.dtype == want.dtype and isinstance(got, jax.Array)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        x = jnp.ones(3)
        assert programs.device(x) is x and programs.device(x, jnp.int32).dtype == jnp.int32
        with jax.enable_x64(True):
            assert programs.device(np.ones(2)).dtype == jnp.float64
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
