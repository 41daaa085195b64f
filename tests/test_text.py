"""char-rnn's training (lstmlab.kinds.stream_layout, lstmlab.kinds.charrnn): the stream layout and the
many-to-many loss against independent NumPy references, the state carried between batches
against one long batch, sampling, and a short text end to end."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstmlab import data, experiments, replicas
from lstmlab.kinds import charrnn, stream_layout as streams, streams as streams_kind
from lstmlab.config import PRESETS
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


@pytest.mark.parametrize("cell, layers, units", [("lstm", 2, 5), ("gru", 1, 5), ("rnn", 3, 5),
                                                 ("lstm", 2, (7, 3))])
def test_the_many_to_many_loss_is_every_steps_cross_entropy(cell, layers, units):
    p = random_params(cell, layers, 21, n_features=6, units=units, vocab=6)
    rng = np.random.default_rng(22)
    xb, yb = rng.integers(0, 6, (3, 8)), rng.integers(0, 6, (3, 8))
    got, _ = charrnn.batch_loss(p, None, jnp.asarray(xb), jnp.asarray(yb), 6, "sigmoid")
    want = reference_loss(p, cell, layers, xb, yb, 6)
    assert abs(float(got) - want) < 1e-5
    # negative control: the loss of the last step only (many-to-one) is another number
    last = reference_loss(p, cell, layers, xb, np.broadcast_to(yb[:, -1:], yb.shape), 6)
    assert abs(float(got) - last) > 1e-3


@pytest.mark.parametrize("sizes, dropout", [((6,), 0.0), ((6, 6), 0.0), ((6, 6), 0.4),
                                            ((8, 5), 0.4)])
def test_the_fused_lstm_layer_has_jax_grads_gradients(sizes, dropout):
    """The training's LSTM layer with its backward by hand (lstm_layer) against jax.grad
    of the same loss through the model's cell (autodiff of lax.scan): the loss, every
    parameter's gradient, and the gradient through a carried state in and the final state
    out, ≤ 1e-5. Negative control: cutting the gradient through time (the state passed on
    without gradient at every step) gives another gradient, so the comparison can fail."""
    from lstmlab import model
    layers = len(sizes)  # of one size each, or tapering (8, 5)
    p = random_params("lstm", layers, 31, n_features=7, units=sizes, vocab=7)
    rng = np.random.default_rng(32)
    xb, yb = rng.integers(0, 7, (3, 20)), rng.integers(0, 7, (3, 20))
    state = tuple(jnp.asarray(rng.normal(0, 0.5, (3, u)), jnp.float32)
                  for u in sizes for _ in range(2))
    x = jax.nn.one_hot(jnp.asarray(xb), 7)

    def loss(p, state, fused):
        drop = (lambda k, h: charrnn._dropout(dropout, jax.random.PRNGKey(3), h, k)) \
            if dropout else None
        h, final = model.sequence(p, x, state, "sigmoid", drop, fused=fused)
        ce = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(model.head(p, h)),
                                           jnp.asarray(yb)[..., None], -1))
        return ce + 0.1 * sum(jnp.mean(s ** 2) for s in final)  # the final state's path too
    want = jax.value_and_grad(loss, (0, 1))(p, state, False)
    got = jax.value_and_grad(loss, (0, 1))(p, state, True)
    assert abs(float(got[0]) - float(want[0])) < 1e-6
    for a, b in zip(jax.tree.leaves(got[1]), jax.tree.leaves(want[1])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-4)

    # the first layer alone, against a backward that forgot the path through time (the
    # state passed on without gradient at every step): the fused one matches autodiff of
    # the whole path and not the cut one
    from lstmlab import lstm_layer
    from lstmlab.cells import LSTM, layer_keys
    first = layer_keys(LSTM, layers)[0]

    def through(p, cut):
        s = state[:2]
        for t in range(x.shape[1]):
            s, _ = model.masked_step(LSTM, p[first], jax.lax.stop_gradient(s) if cut else s,
                                     x[:, t], None, jax.nn.sigmoid)
        return jnp.sum(s[0])
    fused = jax.grad(lambda p: jnp.sum(lstm_layer.layer(p[first], x, state[:2])[0][0]))(p)
    mine = np.asarray(fused[first]["recurrent_kernel"])
    np.testing.assert_allclose(mine, np.asarray(jax.grad(through)(p, False)[first][
        "recurrent_kernel"]), atol=1e-5, rtol=1e-4)
    assert np.max(np.abs(mine - np.asarray(jax.grad(through)(p, True)[first][
        "recurrent_kernel"]))) > 1e-3


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


def text_spec(vocab_size: int, **settings) -> charrnn.TextSpec:
    """A TextSpec as a run derives it: the char-rnn preset with ``settings``."""
    return streams_kind.text_spec_of(PRESETS["char-rnn"].replace(**settings), vocab_size)


def test_char_rnns_learning_rate_schedule_and_clipping():
    spec = text_spec(3)
    assert (spec.units, spec.layers, spec.seq_length, spec.streams, spec.epochs) == \
        (128, 2, 50, 50, 50)  # char-rnn's train.lua defaults, from the preset
    assert [spec.lr_at(e) for e in (0, 9)] == [2e-3, 2e-3]
    assert spec.lr_at(10) == pytest.approx(2e-3 * 0.97) and \
        spec.lr_at(12) == pytest.approx(2e-3 * 0.97 ** 3)
    tx = charrnn.direction(spec)
    g = {"w": jnp.array([100.0, -100.0, 1.0])}
    u, _ = tx.update(g, tx.init(g))
    # clipped to ±5 first, then divided by sqrt(0.05 · g²) + 1e-8
    np.testing.assert_allclose(u["w"], [5 / np.sqrt(0.05 * 25), -5 / np.sqrt(0.05 * 25),
                                        1 / np.sqrt(0.05)], rtol=1e-5)


def small(epochs=8, **kw):
    """The short text as a run lays it out: (spec, training batches, validation batches)."""
    vocab = data.Vocab.from_sequence(TEXT)
    tr, va = streams.split(vocab.encode(TEXT), 0.1)
    spec = text_spec(len(vocab), units=kw.pop("units", 32), seq_length=10, streams=4,
                     epochs=epochs, lr=1e-2, **kw)
    return spec, streams.layout(tr, 4, 10), streams.layout(va, 2, 10, "validation text")


def test_a_short_text_trains_validates_and_samples():
    spec, train_b, val_b = small()
    seen = []
    out = charrnn.fit(spec, jax.random.PRNGKey(0)[None], train_b, val_b,
                      on_progress=lambda p: seen.append((p.epoch, p.batch)))
    h = out["history"][0]
    assert h.shape == (8, 2) and np.isfinite(h).all()
    assert seen[-1] == (8, 0) and len({e for e, _ in seen}) == 9
    assert h[-1, 0] < h[0, 0] - 0.5 and h[:, 1].min() < h[0, 1]  # it learns
    assert out["best_epoch"][0] == np.argmin(h[:, 1])  # the best model is the best epoch's
    # the same training again: the same numbers
    again = charrnn.fit(spec, jax.random.PRNGKey(0)[None], train_b, val_b)
    np.testing.assert_array_equal(again["history"], out["history"])


def test_replicas_trained_together_are_each_trained_alone():
    """vmapped seeds (lstmlab's edge) train each replica as it trains alone (to float
    rounding: over one epoch; RMSprop's normalisation amplifies the last bits later)."""
    spec, b, v = small(epochs=1)
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    together = charrnn.fit(spec, keys, b, v)
    for r in (0, 2):
        alone = charrnn.fit(spec, keys[r:r + 1], b, v)
        np.testing.assert_allclose(together["history"][r], alone["history"][0], atol=2e-5)
    # negative control: the replicas differ from each other
    assert abs(together["history"][0, -1, 1] - together["history"][1, -1, 1]) > 1e-3


@pytest.mark.parametrize("workers", [2, 3])
def test_seeds_trained_in_groups_at_once_are_those_of_one_program(workers):
    """On the CPU the seeds train in a group per core, the groups at once on threads of
    their own (replicas.per_group; 3 seeds in 2 workers' groups of 2 pad the second with a
    copy of the last): every replica's numbers are bit for bit those of one program of
    all (one worker), and the padding is dropped."""
    spec, b, v = small(epochs=2)
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    # workers: the groups (on the CPU one per core by default; a Ray task's seeds are one)
    assert [replicas.per_group(3, w) for w in (1, 2, 3)] == [3, 2, 1]
    one = charrnn.fit(spec, keys, b, v, workers=1)
    grouped = charrnn.fit(spec, keys, b, v, workers=workers)
    assert grouped["history"].shape == one["history"].shape == (3, 2, 2)
    np.testing.assert_array_equal(grouped["history"], one["history"])
    for got, want in zip(jax.tree.leaves((grouped["params"], grouped["best"])),
                         jax.tree.leaves((one["params"], one["best"]))):
        assert got.shape[0] == 3
        np.testing.assert_array_equal(got, want)
    # negative control: each replica is its own (no group trained a copy of another's)
    h = grouped["history"][:, -1, 0]
    assert len(set(h.tolist())) == 3


def test_dropout_drops_at_its_rate_scales_the_rest_and_is_off_in_evaluation():
    """Simulation where the truth is known: a share p of 100,000 entries dropped (within 4
    binomial SE), the kept ones scaled by 1/(1 − p); the loss with dropout differs in
    training, and evaluation never drops."""
    h = jnp.ones((100, 1000))
    for p in (0.2, 0.5):
        out = np.asarray(charrnn._dropout(p, jax.random.PRNGKey(1), h, 0))
        dropped = np.mean(out == 0)
        assert abs(dropped - p) < 4 * np.sqrt(p * (1 - p) / out.size)
        np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-6)
    spec, b, v = small(epochs=1, dropout=0.5)
    params = charrnn.init(spec, jax.random.PRNGKey(0))[0]
    xb, yb = jnp.asarray(b.x[0]), jnp.asarray(b.y[0])
    plain, _ = charrnn.batch_loss(params, None, xb, yb, spec.vocab_size, "sigmoid")
    dropped, _ = charrnn.batch_loss(params, None, xb, yb, spec.vocab_size, "sigmoid", 0.5,
                                    jax.random.PRNGKey(2))
    assert abs(float(plain) - float(dropped)) > 1e-4
    one = jax.tree.map(lambda a: a[None], params)
    evaluated = charrnn.evaluate(spec, one, jnp.asarray(b.x[:1]), jnp.asarray(b.y[:1]))
    assert float(evaluated[0]) == pytest.approx(float(plain), abs=1e-6)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_an_interrupted_training_resumes_to_the_same_parameters(tmp_path, dropout):
    spec, b, v = small(epochs=4, units=16, dropout=dropout)
    key = jax.random.PRNGKey(5)[None]
    whole = charrnn.fit(spec, key, b, v)

    def stop_after_two(p):
        if p.epoch == 2 and p.batch == 0:
            raise KeyboardInterrupt  # as Ctrl-C after the second epoch

    ck = tmp_path / "train.ckpt"
    with pytest.raises(KeyboardInterrupt):
        charrnn.fit(spec, key, b, v, stop_after_two, checkpoint=ck)
    assert charrnn.finished_epochs(ck) == 2
    epochs_seen = set()
    resumed = charrnn.fit(spec, key, b, v, lambda p: epochs_seen.add(p.epoch),
                          checkpoint=ck)
    assert epochs_seen == {2, 3, 4}  # only the epochs not yet trained
    assert resumed["trained_epochs"] == 2
    np.testing.assert_array_equal(resumed["history"], whole["history"])
    for k in ("params", "best"):
        for a, c in zip(jax.tree.leaves(resumed[k]), jax.tree.leaves(whole[k])):
            np.testing.assert_array_equal(a, c)
    # negative control: a checkpoint of other settings is refused in one line, not used
    other = charrnn.TextSpec(**{**spec.__dict__, "lr": 2e-2})
    with pytest.raises(RecordError, match="another training .*it differs in lr"):
        charrnn.fit(other, key, b, v, checkpoint=ck)
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(RecordError, match="not a checkpoint lstmlab can read"):
        charrnn.fit(spec, key, b, v, checkpoint=ck)


def test_a_long_text_is_encoded_in_its_smallest_integer_type():
    """Indices, never a one-hot text nor a Python list: a 3-million-symbol text is held as
    uint8 (3 MB) in its streams; the chunked encoder agrees with a per-symbol reference."""
    text = (TEXT * 6000)[:3_000_000]
    vocab = data.Vocab.from_sequence(text)
    idx = vocab.encode(text, vocab.compact_dtype())
    assert idx.dtype == np.uint8 and idx.nbytes == 3_000_000
    ref = {s: i for i, s in enumerate(vocab.symbols)}
    assert [ref[s] for s in text[999_990:1_000_010]] == idx[999_990:1_000_010].tolist()
    b = streams.layout(idx, 50, 50)
    assert b.x.dtype == np.uint8 and b.x.nbytes < 3_000_000
    with pytest.raises(DataError, match=r"unknown symbol\(s\) '~'"):
        vocab.encode(text[:2_000_000] + "~")
    assert data.Vocab(tuple("ab")).compact_dtype() == np.uint8
    assert data.Vocab(tuple(chr(0x4e00 + i) for i in range(300))).compact_dtype() == np.uint16


SMALL = ["--streams", "4", "--seq-length", "10", "--units", "8", "--epochs", "2"]


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "text.txt"
    p.write_text(TEXT * 3, encoding="utf-8")
    return p


def test_run_char_rnn_end_to_end_then_generate_predict_and_export(run_cli, text_file,
                                                                  tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_cli("run", "char-rnn", "--text-file", text_file, *SMALL,
                                "--out", out)
    assert code == 0, err
    assert "4 contiguous streams" in stdout and "Best validation loss" in stdout
    assert "Findings" not in stdout  # the tutorial's claims are not a text run's
    hist = (out / "text-history.csv").read_text().splitlines()
    assert hist[0] == "experiment,replica,epoch,train_nats,val_nats,train_bits,val_bits"
    assert len(hist) == 3 and not (out / ".checkpoints").exists() or \
        not any((out / ".checkpoints").iterdir())
    report = (out / "report.md").read_text()
    assert "Text models" in report and "char-rnn-text-layout.png" in report
    assert "tutorial's claims" not in report
    assert (out / "char-rnn" / "0" / "model.json").is_file() and \
        (out / "char-rnn" / "last" / "0" / "model.json").is_file()
    # generation: greedy is repeatable, a temperature draws by its seed
    runs = [run_cli("generate", out, "--experiment", "char-rnn", "--prime", "First", "--length",
                    "30", *extra)[1] for extra in
            ([], [], ["--temperature", "1", "--seed", "3"], ["--temperature", "1", "--seed",
                                                              "3"],
             ["--temperature", "1", "--seed", "4"])]
    assert runs[0] == runs[1] and runs[2] == runs[3] and runs[2] != runs[4]
    assert all(r.startswith("First") for r in runs)
    code, stdout, _ = run_cli("predict", out, "--experiment", "char-rnn", "Citizen")
    assert code == 0 and stdout.startswith("Citizen -> ")
    # unknown symbols of the prime: one line naming them, exit 2
    code, _, err = run_cli("generate", out, "--experiment", "char-rnn", "--prime", "F~Z",
                           "--length", "5")
    assert code == 2 and "unknown symbol(s) 'Z', '~'" in err and err.count("\n") == 1
    # the same command again: nothing trained again
    code, stdout, _ = run_cli("run", "char-rnn", "--text-file", text_file, *SMALL, "--out",
                              out)
    assert code == 0 and "(cached:" in stdout


@pytest.mark.parametrize("args, words", [
    (["--window", "3"], "--window does not apply to char-rnn; it applies to window experiments"),
    (["--optimizer", "adam"], "optimizer 'adam' is not allowed; allowed: rmsprop"),
    (["--dropout", "1"], "dropout 1.0 is not allowed; allowed: a number from 0 to below 1"),
    (["--seq-length", "200"], "need at least"),
    (["--val-frac", "0.001"], "validation text"),
])
def test_impossible_text_settings_are_one_line_each(run_cli, text_file, args, words):
    small = dict(zip(SMALL[::2], SMALL[1::2]))
    small.pop(args[0], None)
    code, _, err = run_cli("run", "char-rnn", "--text-file", text_file,
                           *[a for kv in small.items() for a in kv], *args)
    assert code == 2 and words in err and err.count("\n") == 1, err


def test_char_rnn_without_a_text_says_to_give_one(run_cli):
    code, _, err = run_cli("run", "char-rnn")
    assert code == 2 and "give --text-file FILE" in err
    # rmsprop is char-rnn's: a window experiment refuses it
    code, _, err = run_cli("run", "one-char", "--optimizer", "rmsprop")
    assert code == 2 and "adam or adam-optax for window experiments" in err


def assert_resumed_is_whole(resumed, whole):
    """A training resumed after epoch 2 of 4 is the uninterrupted one, bit for bit."""
    assert resumed.trained_epochs == 2 and whole.trained_epochs == 4
    np.testing.assert_array_equal(resumed.history, whole.history)
    for x, y in zip(jax.tree.leaves((resumed.params, resumed.last)),
                    jax.tree.leaves((whole.params, whole.last))):
        np.testing.assert_array_equal(x, y)


def stop_at_two():
    """An engine observer that stops a stream training as SIGINT would after epoch 2."""
    from contextlib import nullcontext

    from lstmlab import engine

    class StopAtTwo(engine.Observer):
        def training(self, cfg, ds):
            def progress(p):
                if p.epoch == 2 and p.batch == 0:
                    raise engine.Interrupted(2)
            return nullcontext(progress)
    return StopAtTwo()


def test_an_interrupted_run_resumes_from_its_last_epoch_to_the_same_model(tmp_path):
    """Through the engine, as `lstmlab run` goes: a stop after epoch 2 keeps the epoch in
    the run directory's checkpoint; running again ends with the parameters of an
    uninterrupted run, bit for bit."""
    from lstmlab import engine
    cfg = PRESETS["char-rnn"].replace(sequence=TEXT * 3, streams=4, seq_length=10, units=8,
                                      epochs=4)
    ds = experiments.prepare(cfg)

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    with pytest.raises(engine.Interrupted):
        engine.execute(a, [cfg], [ds], observer=stop_at_two())
    (ck,) = (a / ".checkpoints").glob("char-rnn.*.npz")
    assert charrnn.finished_epochs(ck) == 2
    resumed = engine.execute(a, [cfg], [ds]).results[0]
    whole = engine.execute(b, [cfg], [ds]).results[0]
    assert_resumed_is_whole(resumed, whole)
    assert not list((a / ".checkpoints").glob("*.npz"))  # done: the checkpoint is gone
    # negative control: other settings do not resume that checkpoint (another file)
    from lstmlab import records
    assert records.checkpoint(a, cfg) != records.checkpoint(a, cfg.replace(lr=1e-3))


def test_an_interrupted_run_asked_for_more_epochs_goes_on_from_its_checkpoint(tmp_path):
    """Interrupted after epoch 2 of 3, the same settings asked with 4 epochs go on from
    epoch 2 (epoch k does not depend on the total) to the model of 4 uninterrupted epochs,
    bit for bit; a checkpoint of other settings is kept and named, never removed."""
    from lstmlab import engine, records
    cfg = PRESETS["char-rnn"].replace(sequence=TEXT * 3, streams=4, seq_length=10, units=8,
                                      epochs=3)
    longer = cfg.replace(epochs=4)
    ds = experiments.prepare(cfg)

    class Said(engine.Observer):
        lines: list = []

        def warn(self, line):
            self.lines.append(line)

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    with pytest.raises(engine.Interrupted):
        engine.execute(a, [cfg], [ds], observer=stop_at_two())
    other = records.checkpoint(a, cfg.replace(lr=1e-3))
    other.write_bytes(records.checkpoint(a, cfg).read_bytes())  # another setting's training
    said = Said()
    resumed = engine.execute(a, [longer], [ds], observer=said).results[0]
    whole = engine.execute(b, [longer], [ds]).results[0]
    assert_resumed_is_whole(resumed, whole)
    # the other settings' checkpoint is kept, and the run said so
    assert other.is_file() and not records.checkpoint(a, cfg).exists()
    assert any(str(other) in line and "kept" in line for line in said.lines)
    # negative control: fewer epochs than a checkpoint holds are refused in one line
    spec, bt, v = small(epochs=3, units=16)
    key = jax.random.PRNGKey(5)[None]
    ck = tmp_path / "c.npz"
    charrnn.fit(spec, key, bt, v, checkpoint=ck)
    fewer = charrnn.TextSpec(**{**spec.__dict__, "epochs": 2})
    with pytest.raises(RecordError, match="holds 3 finished epochs .* more than the 2 asked"):
        charrnn.fit(fewer, key, bt, v, checkpoint=ck)


def test_a_text_record_loads_back_as_it_was_saved(tmp_path):
    from lstmlab import engine, records
    cfg = PRESETS["char-rnn"].replace(sequence=TEXT * 3, streams=4, seq_length=10, units=8,
                                      epochs=2, seeds=2)
    res = engine.execute(tmp_path, [cfg], [experiments.prepare(cfg)]).results[0]
    back = records.load_result(tmp_path / "char-rnn")
    assert back.cached and back.config == cfg and back.samples == res.samples
    np.testing.assert_array_equal(back.history, res.history)
    np.testing.assert_array_equal(back.best_epoch, res.best_epoch)
    for x, y in zip(jax.tree.leaves((back.params, back.last)),
                    jax.tree.leaves((res.params, res.last))):
        np.testing.assert_array_equal(x, y)
    # a damaged record is one line naming what is wrong
    import json
    rec = json.loads((tmp_path / "char-rnn" / "record.json").read_text())
    rec["samples"] = rec["samples"][:1]
    (tmp_path / "char-rnn" / "record.json").write_text(json.dumps(rec))
    with pytest.raises(RecordError, match="samples must be one string per seed"):
        records.load_result(tmp_path / "char-rnn")


def test_a_sweep_of_text_points_has_its_table_and_sentences(tmp_path):
    import lstmlab
    sw = lstmlab.sweep("char-rnn", sequence=TEXT * 3, streams=4, seq_length=10, epochs=2,
                       units=[4, 8], seeds=2, out=tmp_path)
    assert list(sw.table["units"]) == [4, 8] and "best_val_mean" in sw.table
    assert len(sw.data) == 4 and "best_val_loss" in sw.data
    (line,) = sw.sentences
    assert line.startswith("units: ") and "best validation loss" in line
    assert "Validation curves" in (tmp_path / "report.md").read_text()


def test_char_rnns_split_is_its_loaders_batches_and_the_contiguous_one_is_not():
    """--split char-rnn against CharSplitLMMinibatchLoader.lua (test fraction 0), written
    here: the text as B rows, cut in S-step batches; ntrain = floor(n · 0.95) batches train,
    the rest validate (the end of every stream)."""
    from lstmlab.kinds.stream_layout import split_batches
    idx = np.arange(10 * 4 * 3 + 5) % 251
    B, S = 4, 3
    used = (len(idx) - 1) // (B * S) * B * S
    rows_x, rows_y = idx[:used].reshape(B, -1), idx[1:used + 1].reshape(B, -1)
    n = rows_x.shape[1] // S
    ntrain = int(np.floor(n * 0.7))
    train, val = split_batches(idx, B, S, 0.3)
    for k in range(n):
        part = train if k < ntrain else val
        j = k if k < ntrain else k - ntrain
        assert np.array_equal(part.x[j], rows_x[:, k * S:(k + 1) * S])
        assert np.array_equal(part.y[j], rows_y[:, k * S:(k + 1) * S])
    assert len(train.x) == ntrain and len(val.x) == n - ntrain
    # negative control: the contiguous split holds out the text's end, not every stream's
    from lstmlab.config import PRESETS
    from lstmlab.kinds.streams import build_text
    text = "".join(chr(65 + i % 26) for i in range(4000))
    cfg = PRESETS["char-rnn"].replace(sequence=text, streams=4, seq_length=10, val_frac=0.1)
    a, b = build_text(cfg), build_text(cfg.replace(split="char-rnn"))
    n = (len(text) - 1) // 40                    # batches of the whole text
    assert b.train.x.shape[0] == int(np.floor(n * 0.9)) and b.val.x.shape[0] == n - int(
        np.floor(n * 0.9))
    assert a.val.x.shape[0] < b.val.x.shape[0] or not np.array_equal(a.val.x[0], b.val.x[0])
    # char-rnn's validation is spread: stream i's first validation step sits i streams in
    start = b.train.x.shape[0] * 10
    for i in range(4):
        assert b.val.x[0, i, 0] == b.vocab.encode(text[i * n * 10 + start])[0]
    # the units' text under char-rnn's split: stream 0's validation steps, as laid out
    from lstmlab.kinds.streams import KIND
    assert KIND.analysed_text(cfg.replace(split="char-rnn")) == "".join(
        b.vocab.decode(b.val.x[:, 0, :].reshape(-1)))


def test_a_text_too_short_for_char_rnns_split_is_one_line(run_cli, tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("abcdefgh" * 30)
    code, _, err = run_cli("run", "char-rnn", "--text-file", f, "--streams", "4",
                           "--seq-length", "10", "--split", "char-rnn", "--val-frac", "0.7",
                           "--out", tmp_path / "r")
    assert code == 2 and "char-rnn's split" in err and len(err.strip().splitlines()) == 1
