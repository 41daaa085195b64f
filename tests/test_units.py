"""What the units learned: tracks, correlations, saturation, ablation, connectivity and
LSTMVis's match, each against an independent reference and a negative control."""

import jax
import numpy as np
import pytest

from lstmlab import data, train, units
from lstmlab.artifacts import Model, ModelInfo
from lstmlab.errors import DataError

from kinds import make, text_for
from reference import lstm_forward, lstm_gates, softmax

ALPHABET = data.ALPHABET
STEP = 0.03  # the planted counter adds this to its cell every step


def planted(units_n=4, counter=2, dense=True, seed=0):
    """A stateful one-hot LSTM over A–Z whose unit ``counter`` counts the steps since the
    reset (input, forget and output gates held open, candidate STEP: c = STEP·t) and,
    with ``dense``, whose prediction reads only that count: the symbol whose count level
    is nearest — so it predicts the alphabet by counting."""
    v, u = 26, units_n
    rng = np.random.default_rng(seed)
    k = rng.normal(0, 0.3, (v, 4 * u)).astype(np.float32)
    r = rng.normal(0, 0.3, (u, 4 * u)).astype(np.float32)
    b = np.zeros(4 * u, np.float32)
    cols = [g * u + counter for g in range(4)]
    k[:, cols] = 0
    r[:, cols] = 0
    b[[0 * u + counter, 1 * u + counter, 3 * u + counter]] = 30.0   # i, f, o open
    b[2 * u + counter] = np.arctanh(STEP)                            # g = STEP
    r[counter] = 0  # the counter's h reaches no other unit
    levels = np.tanh(STEP * np.arange(1, v + 1))                    # h after t steps
    w = np.zeros((u, v), np.float32)
    bias = np.zeros(v, np.float32)
    if dense:  # logit_s = β(2·h·m_s − m_s²): nearest level m_s = h after s steps
        m = np.r_[levels[0] - 1, levels[:-1]]  # B after 1 step, C after 2 …; A never
        w[counter] = 2e6 * m
        bias[:] = -1e6 * m ** 2
    info = ModelInfo(vocab=tuple(ALPHABET), window=1, framing="timesteps",
                     encoding="onehot", mask=True, units=u, activation="sigmoid",
                     stateful=True, variable_length=False, sequence=ALPHABET)
    return Model({"lstm": {"kernel": k, "recurrent_kernel": r, "bias": b},
                  "dense": {"kernel": w, "bias": bias}}, info)


def test_planted_counter_is_found():
    m = planted()
    f = m.units(ALPHABET)
    # on A–Z read from a reset, the step count is the alphabet position (one track)
    assert set(f.track) == {"since reset = symbol index = line position = word position"}
    top = units.best(f).set_index("track").loc["since reset = symbol index = line position "
                                               "= word position"]
    assert (top["layer"], top["unit"]) == (1, 2)
    assert top["r"] > 0.99  # tanh of a straight line: nearly straight
    # r as numpy's corrcoef computes it from the trace (an independent formula)
    tr = m.trace(ALPHABET)
    want = np.corrcoef(tr.h[:, -1, 2], tr.since_reset)[0, 1]
    counting = f.track.str.startswith("since reset")
    got = f[counting & (f.quantity == "h") & (f.unit == 2)]["r"].item()
    assert abs(got - want) < 1e-9
    c = f[counting & (f.quantity == "c") & (f.unit == 2)]["r"].item()
    assert abs(c - np.corrcoef(np.tanh(tr.c[:, -1, 2]), tr.since_reset)[0, 1]) < 1e-9


def test_random_model_has_no_counter():
    """Negative control: random weights reading a random text (steps since the reset
    and symbols unrelated) — no unit reaches the threshold."""
    m = make("stateful", seed=3, units=8)
    text = text_for(m, 400, seed=5)
    f = m.units(text)
    counting = f[f.track.str.startswith("since reset")]["r"]
    assert len(counting) and counting.abs().max() < units.THRESHOLD


def test_text_tracks_by_hand():
    t = units.text_tracks('ab (c"d\n  [e)]) "x"\nZ9!')
    assert t["line position"][:9].tolist() == [1, 2, 3, 4, 5, 6, 7, 0, 1]
    assert t["word position"][:5].tolist() == [1, 2, 0, 0, 1]
    assert t["bracket depth"].tolist()[:16] == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 1, 0, 0,
                                                0]
    assert t["in quotes"][5:8].tolist() == [1, 1, 1]
    assert t["indentation"][8:11].tolist() == [2, 2, 2]
    assert t["indentation"][0] == 0
    assert t["upper case"][-3] == 1 and t["digit"][-2] == 1 and t["punctuation"][-1] == 1


def test_user_tracks_checked():
    m = make("stateful", units=4)
    text = text_for(m, 30)
    mine = np.random.default_rng(0).normal(size=30)
    f = m.units(text, tracks={"mine": mine, "twice": 2 * mine + 1})
    # a track equal to another up to scale and shift is the same track: one row
    assert "mine = twice" in set(f.track) and "mine" not in set(f.track)
    tr = m.trace(text)
    got = f[(f.track == "mine = twice") & (f.quantity == "o") & (f.unit == 1)]["r"].item()
    assert abs(got - np.corrcoef(tr.o[:, -1, 1], mine)[0, 1]) < 1e-9
    # steps since the reset is the position + 1 here, distinct from the random track
    assert any(t.startswith("since reset") for t in f.track)
    for bad, words in [({"x": np.arange(5)}, "5 value"), ({"x": [np.nan] * 30}, "finite"),
                       ({"": np.arange(30)}, "track name"), ([1, 2], "dict")]:
        with pytest.raises(DataError, match=words):
            m.units(text, tracks=bad)
    assert units.read_track("a,b\n1,2\n3,4\n", "b").tolist() == [2, 4]
    assert units.read_track("1\n2.5\n", "x").tolist() == [1, 2.5]
    with pytest.raises(DataError, match="value 2"):
        units.read_track("1\nten\n", "x")


def _reference_ablation(m, text, silenced):
    """Float64 reference: the LSTM stepped by hand with the silenced units' h and c set
    to 0 after every step (not by the weights, as lstmlab does)."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), m.params)
    idx = m.vocab.encode(text)
    x = np.eye(len(m.vocab))[idx]
    u = m.info.units
    h, c = np.zeros(u), np.zeros(u)
    out = []
    for t in range(len(idx)):
        z = x[t] @ p["lstm"]["kernel"] + h @ p["lstm"]["recurrent_kernel"] + p["lstm"]["bias"]
        sg = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
        i, f, g, o = sg(z[:u]), sg(z[u:2 * u]), np.tanh(z[2 * u:3 * u]), sg(z[3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        h[silenced], c[silenced] = 0, 0
        out.append(softmax(h @ p["dense"]["kernel"] + p["dense"]["bias"]))
    return np.array(out)


def test_ablation_matches_clamped_reference():
    m = make("stateful", seed=2, units=6, sequence=ALPHABET)
    m = Model(m.params, ModelInfo(**{**m.info.__dict__, "encoding": "onehot"}))
    m = Model({"lstm": {**m.params["lstm"], "kernel": np.random.default_rng(0).normal(
        0, 0.8, (26, 24)).astype(np.float32)}, "dense": m.params["dense"]}, m.info)
    text = text_for(m, 60)
    got = m.ablate([1, 4]).trace(text).probs
    want = _reference_ablation(m, text, [1, 4])
    assert np.abs(got - want).max() < 1e-5
    # negative control: the reference without clamping differs from the ablated model
    assert np.abs(_reference_ablation(m, text, []) - want).max() > 1e-3


def test_ablation_of_counter_breaks_counting_and_silent_unit_changes_nothing():
    m = planted()
    eff = m.ablation([2], ALPHABET)
    row = eff.set_index("where").loc["all"]
    assert row["accuracy"] == 1.0 and row["accuracy ablated"] < 0.2
    assert row["loss ablated"] > row["loss"] + 1
    # unit 3 has no outgoing weight to the prediction: ablating it changes nothing
    q = m.params
    silent = Model({"lstm": q["lstm"], "dense": {"kernel": np.asarray(q["dense"]["kernel"]),
                                                  "bias": q["dense"]["bias"]}}, m.info)
    assert np.all(np.asarray(silent.params["dense"]["kernel"])[3] == 0)
    same = silent.ablation([0, 1, 3], ALPHABET).set_index("where").loc["all"]
    assert same["accuracy ablated"] == same["accuracy"] == 1.0
    assert abs(same["loss ablated"] - same["loss"]) < 1e-6
    with pytest.raises(DataError, match="unit 9"):
        m.ablate(9)
    with pytest.raises(DataError, match="layer from 1 to 1"):
        m.ablate([(2, 0)])
    for bad in (["x"], "x", [True], [(1, 2, 3)], [2.0], None):
        with pytest.raises(DataError, match="is not allowed"):
            m.ablate(bad)
    assert len(m.ablate([]).trace(ALPHABET).probs)  # nothing silenced: the model itself


def test_ablation_of_stacks_and_gru():
    """Two layers: silencing a layer-1 unit zeroes its rows of the layer-2 kernel."""
    for kind in ("lstm-2-layers-stateful", "gru", "rnn"):
        m = make(kind, seed=1, units=5)
        a = m.ablate([(m.info.layers, 0)])
        last = "dense"
        assert np.all(np.asarray(a.params[last]["kernel"])[0] == 0)
        if m.info.layers == 2:
            b = m.ablate([(1, 3)])
            assert np.all(np.asarray(b.params["lstm_1"]["kernel"])[3] == 0)
            assert np.any(np.asarray(m.params["lstm_1"]["kernel"])[3] != 0)
        text = text_for(m, 12)
        assert not np.allclose(a.trace(text).probs, m.trace(text).probs)


@pytest.mark.parametrize("kind", ["stateful", "timesteps", "features", "variable-length",
                                  "onehot"])
def test_connectivity_against_finite_differences(kind):
    """|∂ log p / ∂ input_s| by central differences of the float64 NumPy reference over
    each feature of each symbol's encoding (a symbol read in several windows moves in
    all of them)."""
    m = make(kind, seed=4, units=5)
    text = text_for(m, 9, seed=2)
    # the last prediction's target (its most likely symbol) is found in connectivity's
    # own program: the model's probabilities are not run again (and below: it is that one)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Model, "_probs", lambda *a: pytest.fail("ran the model again"))
        with pytest.raises(pytest.fail.Exception):
            m.predict_proba(text)  # the patch is in force
        conn = m.connectivity(text)
    windows, positions, _, x, mask = m._reading(text)
    targets = m._targets(text, positions)
    targets[-1] = np.argmax(m.trace(text).probs[-1])
    w = windows.shape[1]
    x = x.astype(np.float64)

    def logp(x):
        out, h, c = [], None, None
        for n in range(len(x)):
            logits, (h2, c2) = lstm_forward(m.params, x[n:n + 1],
                                            None if mask is None else mask[n:n + 1],
                                            h if m.info.stateful else None,
                                            c if m.info.stateful else None)
            h, c = h2, c2
            out.append(np.log(softmax(logits)[0, targets[n]]))
        return np.array(out)

    feats = x.reshape(len(x), w, -1)
    grads = np.zeros((len(positions), len(text), feats.shape[-1]))
    eps = 1e-6
    for s in range(len(text)):
        for f in range(feats.shape[-1]):
            d = np.zeros_like(feats)
            for n in range(len(positions)):
                for j in range(w):
                    if windows[n, j] >= 0 and positions[n] - w + 1 + j == s:
                        d[n, j, f] = eps
            if not d.any():
                continue
            up = logp((feats + d).reshape(x.shape))
            down = logp((feats - d).reshape(x.shape))
            grads[:, s, f] = (up - down) / (2 * eps)
    want = np.sqrt((grads ** 2).sum(-1))
    assert np.abs(conn - want).max() < 1e-3 * max(1, want.max())
    # a prediction never depends on a symbol after it
    later = positions[:, None] < np.arange(len(text))[None, :]
    assert np.all(conn[later] == 0)
    if not m.info.stateful:  # a window model reads nothing before its window
        early = positions[:, None] - w >= np.arange(len(text))[None, :]
        assert np.all(conn[early] == 0)
    else:
        assert conn[-1, 0] > 0  # the state carries the first symbol to the last step


def test_connectivity_refuses_long_text():
    m = make("stateful", units=3)
    with pytest.raises(DataError, match="at most"):
        m.connectivity("A" * (units.MAX_CONNECTIVITY + 1))


def test_saturation_against_numpy():
    m = make("stateful", seed=6, units=5)
    text = text_for(m, 50)
    s = m.saturation(text).set_index(["layer", "gate", "unit"])
    g = lstm_gates(m.params, (m.vocab.encode(text) / 26.0)[:, None])[0]  # scaled encoding
    for gate in ("i", "f", "o"):
        for u in range(5):
            row = s.loc[(1, gate, u)]
            assert row["left"] == pytest.approx(np.mean(g[gate][:, u] < 0.1))
            assert row["right"] == pytest.approx(np.mean(g[gate][:, u] > 0.9))
    assert make("rnn", units=3).saturation(ALPHABET).empty  # no gates


def test_match_ranking():
    """LSTMVis's match on a hand-made activation matrix."""
    h = np.full((30, 4), -1.0)
    h[2:5, [0, 1]] = 1          # the selection: units 0 and 1 on over 3 steps
    h[10:13, [0, 1]] = 1        # the same pattern, same length: best
    h[20:26, 0] = 1             # half the units, longer: lower
    h[15:16, [0, 1]] = 1        # one step, both on: full overlap, far in length
    hyp = units.hypothesis(h, 2, 5, 0.5)
    assert hyp.tolist() == [0, 1]
    got = units.match(h, hyp, 0.5, 3)
    assert [m[:2] for m in got] == [(2, 5), (10, 13), (15, 16), (20, 26)]
    assert got[-1][2] == 0.5
    assert units.match(h, hyp, 0.5, 3, min_length=2, max_length=4) == [(2, 5, 1.0),
                                                                         (10, 13, 1.0)]
    assert units.match(h, np.array([], int), 0.5, 3) == []


def test_initial_weights_are_what_training_starts_from():
    """train.initial_weights: each replica's init (run eagerly, the reference) within
    float32 rounding, and bit for bit what fit keeps (FitResult.initial) — drawn by the
    training's own program, so after the training it lowers none (7 replicas: groups of 5,
    the last padded)."""
    spec = train.TrainSpec(units=4, vocab_size=5, epochs=2, batch_size=1, stateful=False)
    keys = train.replica_keys(11, 7)
    x = np.eye(5, dtype=np.float32)[np.arange(3) % 5][:, None, :]        # (3, 1, 5)
    fitted = train.fit(spec, keys, x, np.array([1, 2, 3]) % 5)
    got = []
    assert _lowered(lambda: got.append(train.initial_weights(spec, keys, 5))) == 0
    every = got[0]
    for a, b in zip(jax.tree.leaves(every), jax.tree.leaves(fitted.initial)):
        np.testing.assert_array_equal(a, b)
    init, _ = train.make_chunk_fn(spec, 3)
    for r in (0, 2, 6):
        (params, _, _), _ = init(keys[r], 5)
        want = jax.tree.map(lambda a: a[r], every)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(want)):
            assert np.allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)
    # another replica: other weights
    assert not np.allclose(every["dense"]["kernel"][1], every["dense"]["kernel"][2])


def test_a_trained_result_keeps_the_weights_its_training_started_from(tmp_path):
    """The unit claims' untrained control is the weights training started from, kept on
    the result (not drawn again): bit for bit train.initial_weights, also for replicas
    added to a prior; the measurement is the same with them as drawn again, and it reads
    them (negative control: other weights there, other numbers)."""
    from lstmlab import experiments, measure
    settings = dict(epochs=2, units=4)
    few = experiments.run("one-char", seeds=2, **settings)
    grown = experiments.run("one-char", seeds=3, prior=few, **settings)
    c, ds = grown.config, grown.dataset
    from lstmlab.kinds import windows
    want = train.initial_weights(windows.spec_of(c, len(ds.patterns), len(ds.vocab)),
                                 train.replica_keys(c.seed, 3), ds.x.shape[-1])
    assert jax.tree.structure(grown.initial) == jax.tree.structure(want)
    for a, b in zip(jax.tree.leaves(grown.initial), jax.tree.leaves(want)):
        np.testing.assert_array_equal(a, np.asarray(b))
    for a, b in zip(jax.tree.leaves(few.initial), jax.tree.leaves(want)):
        np.testing.assert_array_equal(a, np.asarray(b)[:2])
    kept = measure.position_unit(grown)["untrained"]
    grown.initial = None  # as a loaded record: drawn again
    np.testing.assert_array_equal(measure.position_unit(grown)["untrained"], kept)
    grown.initial = grown.params
    assert not np.array_equal(measure.position_unit(grown)["untrained"], kept)
    # a run's results hold them until they are measured; a sweep's, measured never, do not
    import lstmlab
    swept = lstmlab.sweep("one-char", out=tmp_path / "s", lr=[0.001, 0.01], seeds=2,
                          epochs=2, units=4)
    assert len(swept.results) == 2 and all(r.initial is None for r in swept.results)


def test_the_study_table_on_arrays_is_the_one_of_the_frames():
    """units.across_seeds (on each seed's arrays) against the frames' route it replaces,
    written here with pandas: each seed's correlations as a frame, units.best per seed,
    then per track the strongest over seeds, how many reach the threshold, the median —
    on r with ties (rounded to one decimal, ± the same), NaN units, and tracks missing in
    some seeds or first seen late; ties are there and decide (else the test is vacuous)."""
    import pandas as pd
    rng = np.random.default_rng(5)
    names = np.array(["a", "b = c", "d", "e"], dtype=object)
    layer = np.repeat([1, 1, 2, 2], 3)
    quantity = np.array(["i", "h", "i", "h"] * 3, dtype=object).reshape(3, 4).T.reshape(-1)
    unit = np.tile(np.arange(3), 4)
    seeds_correlated = []
    for seed in range(4):
        r = np.round(rng.uniform(-1, 1, (12, 4)), 1)
        r[rng.random((12, 4)) < 0.2] = np.nan
        if seed == 0:
            r[:, 3] = np.nan           # "e" first seen in a later seed
        if seed == 2:
            r[:, 1] = np.nan           # "b = c" missing in one seed
            r[:5, 2] = np.nan          # "d" first seen after the others
        seeds_correlated.append(units.Correlated(names, layer, quantity, unit, r))
    frames = [units._frame(c) for c in seeds_correlated]
    per = [units.best(f).assign(seed=s) for s, f in enumerate(frames)]
    for c, b in zip(seeds_correlated, per):
        got = units.strongest_per_track(c)
        assert [(t, r, la, q, u) for t, r, la, q, u in got] == list(zip(
            b["track"], b["r"], b["layer"], b["quantity"], b["unit"]))
    allb = pd.concat(per, ignore_index=True)
    rows = []
    for track, g in allb.groupby("track", sort=False):
        top = g.iloc[int(np.argmax(g["r"].abs().to_numpy()))]
        rows.append({"track": track, "r": float(top["r"]), "seed": int(top["seed"]),
                     "layer": int(top["layer"]), "quantity": top["quantity"],
                     "unit": int(top["unit"]), "seeds": int((g["r"].abs() >= 0.5).sum()),
                     "of": 4, "median |r|": float(np.median(np.r_[
                         g["r"].abs().to_numpy(), np.zeros(4 - len(g))]))})
    want = pd.DataFrame(rows).sort_values("median |r|", ascending=False,
                                          kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(units.across_seeds(seeds_correlated, 0.5), want,
                                  check_exact=True)
    assert list(want["track"]) != list(names) and set(want["track"]) == set(names)
    ties = 0
    for c in seeds_correlated:
        for k in range(4):
            a = np.abs(c.r[:, k])
            ties += np.sum(a == np.nanmax(a)) > 1 if np.isfinite(a).any() else 0
    assert ties >= 3
    # no track anywhere: the empty table with its columns
    empty = units.Correlated(names[:0], layer[:0], quantity[:0], unit[:0], np.zeros((0, 0)))
    assert list(units.across_seeds([empty], 0.5).columns) == list(want.columns)


def _lowered(f):
    """How many programs ``f()`` traced and lowered (compiled or loaded from the cache)."""
    lowered = []
    listen = lambda event, *a, **k: lowered.append(event) if event.endswith(  # noqa: E731
        "jaxpr_to_mlir_module_duration") else None
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        f()
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return len(lowered)


def test_the_position_claim_is_a_float64_reference_and_runs_the_study_s_program():
    """The position claim's strongest |r| (trained and untrained) against a float64 NumPy
    LSTM reading every training window from a zero state; and it lowers no program of
    its own once the report's unit study has run on the same experiment (negative
    control: on an experiment of another shape it lowers one)."""
    from lstmlab import experiments, measure
    res = experiments.run("timestep-window", seeds=2, epochs=3, units=11)  # shapes of its own
    c, vocab = res.config, res.dataset.vocab
    win = data.windows(vocab.encode(c.sequence), c.window)
    x, _ = data.model_inputs(win.x, len(vocab), c.encoding, c.framing, False)
    track = win.x[:, -1].astype(float)
    assert _lowered(lambda: measure.study(res)) >= 1
    got = {}
    assert _lowered(lambda: got.update(measure.position_unit(res))) == 0
    for which, params in (("trained", res.params), ("untrained", res.initial)):
        for r in range(2):
            p = jax.tree.map(lambda a: np.asarray(a)[r], params)
            last = [lstm_gates(p, xi)[0] for xi in x]
            best = 0.0
            for q in "ifgoch":
                a = np.array([g[q][-1] for g in last])                      # (N, U)
                a = np.tanh(a) if q == "c" else a
                for u in range(a.shape[1]):
                    if a[:, u].std() > 1e-7:
                        best = max(best, abs(np.corrcoef(a[:, u], track)[0, 1]))
            assert abs(got[which][r] - best) < 1e-4, (which, r)
    other = experiments.run("one-char", seeds=2, epochs=3, units=11)
    assert _lowered(lambda: measure.position_unit(other)) >= 1


@pytest.mark.slow
def test_units_command_end_to_end(run_cli, tmp_path):
    run = tmp_path / "run"
    code, _, err = run_cli("run", "stateful", "--epochs", "3", "--seeds", "2", "--out", run,
                           "-q", "--no-settle")
    assert code == 0, err
    code, out, err = run_cli("units", run, "--experiment", "stateful")
    assert code == 0, err
    assert "since reset = symbol index" in out and "/2" in out
    import pandas as pd
    table = pd.read_csv(run / "units.csv")
    assert set(table["seed"]) == {0, 1} and set(table["experiment"]) == {"stateful"}
    html = (run / "units.html").read_text()
    assert "what the units learned" in html and "saturation" in html
    # a user track through a file, on a text of the user's
    (tmp_path / "t.txt").write_text("\n".join(str(v) for v in [3, 1, 4, 1, 5, 9, 2, 6]))
    code, out, err = run_cli("units", run, "--text", "QWERTYUI", "--track",
                             f"digits={tmp_path / 't.txt'}")
    assert code == 0, err
    assert "digits" in out
    # bad input: one line, exit 2, nothing half-written
    for args, words in [(("--experiment", "nope"), "no experiment 'nope'"),
                        (("--text", "abc"), "unknown symbol"),
                        (("--text", ""), "empty"),
                        (("--threshold", "1.5"), "threshold"),
                        (("--track", "x"), "NAME=FILE"),
                        (("--text", "QWE", "--track", f"d={tmp_path / 't.txt'}"),
                         "8 value")]:
        code, _, err = run_cli("units", run, *args)
        assert code == 2 and words in err and "Traceback" not in err, (args, err)
    code, _, err = run_cli("units", tmp_path / "missing")
    assert code == 2 and "Traceback" not in err


@pytest.mark.slow
def test_unit_claims_judged_with_untrained_control():
    """The two tutorial unit claims on a short run: judged (not "not run"), and their
    words carry the untrained control; a run without the experiments: not run."""
    import lstmlab
    from lstmlab import findings
    results = [lstmlab.run(n, seeds=2, epochs=3) for n in
               ("stateful", "one-char", "feature-window", "timestep-window")]
    found = {f.id: f for f in findings.from_results(results)}
    for cid in ("counter-unit", "position-unit"):
        assert found[cid].verdict != findings.NOT_RUN
        assert "before training" in found[cid].measurement and found[cid].seeds == 2
    assert found["line-unit"].verdict == findings.NOT_RUN
    partial = {f.id: f for f in findings.from_results(results[1:3])}
    assert partial["position-unit"].verdict == findings.NOT_RUN
    # the measurement itself: a trained seed's strongest |r| as units.strongest computes
    # it from Model.trace on the same strings
    from lstmlab import measure
    trained = measure.counter_unit(results[0])["trained"]
    r = results[0]
    rng = np.random.RandomState(measure.UNIT_SEED)
    idx = rng.randint(26, size=(measure.UNIT_STRINGS, 26))
    m = r.model(1)
    from lstmlab.cells import LSTM
    acts = None
    for row in idx:
        a = units.activations(m.trace("".join(ALPHABET[i] for i in row)), LSTM, 1)
        acts = a if acts is None else [(l, q, np.r_[x, y]) for (l, q, x), (_, _, y)
                                       in zip(acts, a)]
    track = np.tile(np.arange(1.0, 27), measure.UNIT_STRINGS)
    assert abs(units.strongest(acts, track) - trained[1]) < 1e-4


@pytest.mark.slow
def test_line_unit_claim_is_judged_on_a_text_model():
    """The text claim reads a char-rnn run (any text): judged on the validation text with
    its seeds, its r the strongest of Model.units' line-position rows."""
    import lstmlab
    from lstmlab import datasets, findings
    text = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n"
            "Speak, speak.\n") * 30
    res = lstmlab.run("char-rnn", sequence=text, streams=4, seq_length=10, units=8,
                      epochs=2, seeds=2)
    f = {x.id: x for x in findings.from_results([res])}["line-unit"]
    assert f.verdict != findings.NOT_RUN and f.seeds == 2
    trained, untrained = findings.BY_ID["line-unit"].measure({"char-rnn": res})
    frame = res.model(1).units(res.kind.analysed_text(res.config))
    line = frame[frame.track.str.contains("line position")]
    assert abs(trained[1] - line.r.abs().max()) < 1e-12
    # the untrained control: the weights char-rnn's training starts from, replica by
    # replica (the same key), so the claim can ask whether the training made the unit
    from lstmlab.kinds import charrnn, streams
    start, _ = charrnn.init(streams.text_spec_of(res.config, len(res.dataset.vocab)),
                            train.replica_keys(res.config.seed, 2)[1])
    before = res.untrained_model(1)
    for a, b in zip(jax.tree.leaves(start), jax.tree.leaves(before.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(jax.tree.leaves(res.model(1).params)[0]),
                              np.asarray(jax.tree.leaves(before.params)[0]))
    frame = before.units(res.kind.analysed_text(res.config))
    assert abs(untrained[1] - frame[frame.track.str.contains("line position")].r.abs().max()
               ) < 1e-12
    assert "than its weights before training" in f.measurement
    # one seed: not run (a share of one seed says nothing)
    one = lstmlab.run("char-rnn", sequence=text, streams=4, seq_length=10, units=8,
                      epochs=1, seeds=1)
    assert {x.id: x for x in findings.from_results([one])}["line-unit"].verdict == \
        findings.NOT_RUN


def test_a_diverged_seed_tracks_nothing_and_keeps_its_replica_number():
    """NaN activations (a diverged seed) give no correlation and no warning; a study of
    seeds 1 and 3 names them so (control: a finite model's units do correlate)."""
    import warnings
    m = make("stateful", seed=1, units=5)
    nan = Model(jax.tree.map(lambda a: np.full_like(np.asarray(a), np.nan), m.params),
                m.info)
    text = text_for(m, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nan.units(text).empty
        from lstmlab.cells import LSTM
        assert units.strongest(units.activations(nan.trace(text), LSTM, 1),
                               np.arange(40.0)) == 0.0
    assert not m.units(text).empty
    s = units.study("x", [make("stateful", seed=k, units=5) for k in (1, 3)], text,
                    seeds=[1, 3])
    assert set(s.table["seed"]) <= {1, 3} and set(s.table["of"]) == {2}
