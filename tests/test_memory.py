"""The memory tasks (adding, copy, temporal order) as the third kind: each task's data
against a reference written here in NumPy, the baselines by simulation, a short training
that beats its baseline, "updates until solved" censored, the sweep sentence's rule by
simulation, and the kind through run, record, resume, report and sweep."""

import json
import math
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstmlab import grid
from lstmlab.config import Config, PRESETS
from lstmlab.kinds import memory_tasks as mt
from lstmlab.kinds.base import Headline
from lstmlab.kinds.memory import MemoryResult
from lstmlab.kinds.memory_train import EPOCH_UPDATES, MemorySpec, fit
from lstmlab.train import replica_keys


def _draw(task, n=400, lag=30, seed=0):
    x, y, w = mt.batch(task, jax.random.PRNGKey(seed), n, lag)
    return np.asarray(x), np.asarray(y), np.asarray(w)


# -- the data against a reference --------------------------------------------------------

def adding_reference(x):
    """The adding problem's target and whether its layout is the task's, read from x."""
    numbers, marker = x[..., 0], x[..., 1]
    lag = x.shape[1]
    ok = (marker.sum(1) == 2) & (marker[:, :lag // 2].sum(1) == 1) \
        & np.all((numbers >= 0) & (numbers < 1), 1) & np.all((marker == 0) | (marker == 1), 1)
    return (numbers * marker).sum(1, dtype=np.float64), ok


def test_adding_marks_one_number_in_each_half_and_asks_their_sum():
    x, y, w = _draw("adding")
    target, ok = adding_reference(x)
    assert x.shape == (400, 30, 2) and ok.all() and np.allclose(y, target, atol=1e-6)
    assert np.all(w == 1)
    first = x[..., 1].argmax(1)
    assert set(first) == set(range(15))  # every step of the first half is drawn
    # negative control: the reference tells a wrong target and a wrong layout apart
    assert not np.allclose(y, x[..., 0].sum(1) - target, atol=1e-3)
    bad = x.copy()
    bad[:, 20, 1] = 1 - bad[:, 20, 1]
    assert not adding_reference(bad)[1].any()


def copy_reference(lag, symbols):
    """Arjovsky et al.'s copy layout: the input and target indices for the 10 symbols."""
    n = len(symbols)
    inputs = np.concatenate([symbols, np.full((n, lag - 1), 8), np.full((n, 1), 9),
                             np.full((n, 10), 8)], 1)
    target = np.concatenate([np.full((n, lag + 10), 8), symbols], 1)
    return inputs, target


def test_copy_is_ten_symbols_blanks_a_delimiter_and_their_recall():
    x, y, w = _draw("copy", 50, 30)
    inputs = x.argmax(-1)
    assert x.shape == (50, 50, 10) and np.all(x.sum(-1) == 1)
    ref_in, ref_target = copy_reference(30, inputs[:, :10])
    assert np.all(inputs[:, :10] < 8)
    assert np.array_equal(inputs, ref_in) and np.array_equal(y, ref_target)
    assert np.array_equal(w, (np.arange(50) >= 40)[None].repeat(50, 0))
    # negative control: a target shifted by one step is not the layout
    assert not np.array_equal(np.roll(y, 1, 1), ref_target)


def test_temporal_order_has_two_relevant_symbols_in_their_ranges_and_their_order():
    x, y, w = _draw("temporal-order", 400, 100)
    s = x.argmax(-1)
    assert np.all(s[:, 0] == 4) and np.all(s[:, -1] == 5)
    relevant = (s == 6) | (s == 7)
    assert np.all(relevant.sum(1) == 2)
    t = np.sort(np.argwhere(relevant)[:, 1].reshape(-1, 2), 1)
    assert np.all((t[:, 0] >= 10) & (t[:, 0] < 20) & (t[:, 1] >= 50) & (t[:, 1] < 60))
    rows = np.arange(len(s))
    order = 2 * (s[rows, t[:, 0]] == 7) + (s[rows, t[:, 1]] == 7)
    assert np.array_equal(y, order) and set(y) == {0, 1, 2, 3}
    # negative control: the order read backwards is not the class
    assert not np.array_equal(y, 2 * (s[rows, t[:, 1]] == 7) + (s[rows, t[:, 0]] == 7))


def test_a_short_lag_keeps_temporal_orders_ranges_inside_the_sequence():
    for lag in (4, 5, 7, 12):
        (a, b), (c, d) = mt.order_positions(lag)
        assert 1 <= a < b <= c < d <= lag - 1, lag
        _draw("temporal-order", 20, lag)


# -- the baselines by simulation -----------------------------------------------------------

def test_the_baselines_are_what_remembering_nothing_scores():
    t = mt.TASKS
    x, y, w = mt.batch("adding", jax.random.PRNGKey(1), 200_000, 20)
    mse = float(mt.loss_and_score(t["adding"], jnp.ones((len(y), 1)), y, w)[0])
    se = float(np.std((np.asarray(y) - 1) ** 2) / math.sqrt(len(y)))
    assert abs(mse - t["adding"].baseline(20)) < 4 * se
    worse = float(mt.loss_and_score(t["adding"], jnp.full((len(y), 1), 0.8), y, w)[0])
    assert worse > t["adding"].baseline(20) + 10 * se  # negative control
    # copy: blanks for sure, then a uniform guess of the 8 symbols
    lag = 40
    x, y, w = mt.batch("copy", jax.random.PRNGKey(2), 500, lag)
    logits = jnp.where(jnp.arange(10) == 8, 0.0, -1e9) * jnp.ones((500, lag + 20, 10))
    logits = logits.at[:, lag + 10:].set(jnp.where(jnp.arange(10) < 8, 0.0, -1e9))
    loss = float(mt.loss_and_score(t["copy"], logits, y, w)[0])
    assert abs(loss - t["copy"].baseline(lag)) < 1e-5
    uniform = float(mt.loss_and_score(t["copy"], jnp.zeros((500, lag + 20, 10)), y, w)[0])
    assert uniform > 2 * t["copy"].baseline(lag)  # negative control
    x, y, w = mt.batch("temporal-order", jax.random.PRNGKey(3), 500, 50)
    loss, acc = mt.loss_and_score(t["temporal-order"], jnp.zeros((500, 4)), y, w)
    assert abs(float(loss) - t["temporal-order"].baseline(50)) < 1e-5


# -- training ---------------------------------------------------------------------------

def _spec(**kw):
    base = dict(task="adding", lag=10, cell="lstm", units=16, layers=1, activation="sigmoid",
                batch_size=32, optimizer="adam", grad_clip=1.0, lr=1e-2, epochs=6)
    return MemorySpec(**{**base, **kw})


def _result(spec, out, seeds):
    cfg = Config("adding", kind="memory", task=spec.task, lag=spec.lag, units=spec.units,
                 epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, seeds=seeds)
    return MemoryResult(cfg, None, out["params"], out["history"], 0.0, 0.0)


def test_a_short_training_beats_the_baseline_and_no_training_does_not():
    spec = _spec()
    res = _result(spec, fit(spec, replica_keys(7, 2), 7), 2)
    assert np.all(res.final() < res.baseline / 3) and res.solved.all()
    still = _spec(lr=0.0)  # negative control: the same program, no step taken
    flat = _result(still, fit(still, replica_keys(7, 2), 7), 2)
    assert np.all(flat.final() > 0.8 * flat.baseline) and not flat.solved.any()
    assert np.all(np.isnan(flat.solved_at))


def test_training_is_deterministic_and_replica_r_does_not_depend_on_how_many_run():
    spec = _spec(epochs=2)
    a = fit(spec, replica_keys(7, 2), 7)["history"]
    b = fit(spec, replica_keys(7, 3), 7)["history"]
    assert np.array_equal(a, b[:2])


@pytest.mark.parametrize("workers", [2, 3])
def test_seeds_trained_in_groups_at_once_are_those_of_one_program(workers):
    """The replicas train in a group per core, the groups at once (lstmlab.replicas; 3
    seeds in 2 workers' groups of 2 pad the second): every replica's history and
    parameters are bit for bit those of one program of all (one worker), the padding
    dropped."""
    spec = _spec(epochs=2)
    one = fit(spec, replica_keys(7, 3), 7, workers=1)
    grouped = fit(spec, replica_keys(7, 3), 7, workers=workers)
    assert grouped["history"].shape == one["history"].shape == (3, 2, 3)
    np.testing.assert_array_equal(grouped["history"], one["history"])
    for got, want in zip(jax.tree.leaves(grouped["params"]), jax.tree.leaves(one["params"])):
        assert got.shape[0] == 3
        np.testing.assert_array_equal(got, want)
    # negative control: each replica is its own (no group trained a copy of another's)
    assert len(set(grouped["history"][:, -1, 0].tolist())) == 3


def test_updates_until_solved_are_the_first_crossing_or_censored():
    spec = _spec(epochs=5)
    h = np.zeros((3, 5, 3))
    h[:, :, 1] = h[:, :, 2] = 0.1                    # never below 0.01
    h[1, 2:, 2] = 0.005                               # solved from epoch 3
    h[2, 1, 2], h[2, 2:, 2] = 0.009, 0.05             # solved at epoch 2, then lost
    res = _result(spec, {"params": None, "history": h}, 3)
    res.finite = np.ones(3, bool)
    assert np.isnan(res.solved_at[0])
    assert res.solved_at[1] == 3 * EPOCH_UPDATES and res.solved_at[2] == 2 * EPOCH_UPDATES
    rows = res.per_seed()
    assert rows[0]["updates_to_solve"] is None and rows[0]["updates_trained"] == 500
    assert res.median_updates() == 300  # two of three solved: the median is known
    h[2, :, 2] = 0.1                                  # negative control: one of three
    res = _result(spec, {"params": None, "history": h}, 3)
    res.finite = np.ones(3, bool)
    assert math.isnan(res.median_updates()) and res.solved_text().startswith("1/3")


# -- the sweep sentence: the longest time lag most seeds solve ------------------------------

def _fake(lag, solved):
    solved = np.asarray(solved, bool)
    h = Headline("final test MSE", np.zeros(len(solved)), False, solved, str, str,
                 full_words="solve adding", full_share=0.5, harder=("lag",))
    return SimpleNamespace(config=Config("adding", kind="memory", lag=lag), headline=lambda: h)


def test_the_lag_sentence_names_the_longest_lag_most_seeds_solve():
    results = [_fake(50, [1] * 10), _fake(100, [1] * 10), _fake(200, [1] * 3 + [0] * 7)]
    text = grid.sentences(results, {"lag": [50, 100, 200]})[0]
    assert "up to 100 (10/10" in text and "not shown at 200 (3/10" in text
    none = [_fake(50, [1] * 5 + [0] * 5), _fake(100, [0] * 10)]  # negative control
    assert "at no value" in grid.sentences(none, {"lag": [50, 100]})[0]


def test_the_lag_sentence_rarely_claims_a_lag_where_exactly_half_solve():
    """At the boundary (every lag solved by exactly half the seeds) the sentence claims a
    lag in at most its 5% family-wise error (simulated)."""
    rng = np.random.default_rng(0)
    wrong = 0
    for _ in range(400):
        results = [_fake(lag, rng.random(20) < 0.5) for lag in (50, 100, 200)]
        wrong += "at no value" not in grid.sentences(results, {"lag": [50, 100, 200]})[0]
    assert wrong / 400 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 400)


def test_the_lag_sentence_reaches_the_largest_lag_where_nine_in_ten_seeds_solve():
    """Power, simulated: three cells × three lags, every lag solved by 90% of seeds in
    truth. With 20 seeds the sentence names the largest lag for most slices (88% in a
    larger simulation); with 10 it needs 10/10 at every lag and gets there far less often
    (40%) — docs/memory.md says so."""
    rng = np.random.default_rng(1)
    lags, cells = [50, 100, 200], ["lstm", "gru", "rnn"]

    def reached(seeds, sweeps=150):
        hit = 0
        for _ in range(sweeps):
            results = []
            for c in cells:
                for lag in lags:
                    r = _fake(lag, rng.random(seeds) < 0.9)
                    r.config = r.config.replace(cell=c)
                    results.append(r)
            hit += grid.sentences(results, {"lag": lags, "cell": cells})[0].count("up to 200")
        return hit / (sweeps * len(cells))
    assert reached(20) >= 0.8
    assert reached(10) <= 0.55  # negative control: too few seeds to say it


# -- the kind everywhere ------------------------------------------------------------------

def test_a_memory_task_runs_records_resumes_reports_and_sweeps(run_cli, tmp_path):
    out = tmp_path / "run"
    code, text, err = run_cli("run", "copy", "--lag", "6", "--epochs", "2", "--seeds", "2",
                              "--units", "8", "--out", out)
    assert code == 0, err
    assert "memory tasks" in text and "baseline" in text and "copy at T = 6" in text
    record = json.loads((out / "copy" / "record.json").read_text())
    assert record["config"]["task"] == "copy" and len(record["seeds"]) == 2
    assert "updates_to_solve" in record["seeds"][0]
    code, text, err = run_cli("run", "copy", "--lag", "6", "--epochs", "2", "--seeds", "2",
                              "--units", "8", "--out", out)
    assert code == 0 and "cached" in text
    code, _, err = run_cli("report", out)
    assert code == 0, err
    md = (out / "report.md").read_text()
    assert "## memory tasks" in md and "copy-memory-curves.png" in md
    assert (out / "plots" / "copy-memory-curves.png").stat().st_size > 1000
    assert (out / "memory-history.csv").read_text().count("\n") == 1 + 2 * 2
    code, text, err = run_cli("sweep", "temporal-order", "--lag", "5,8", "--epochs", "1",
                              "--seeds", "2", "--units", "4", "--out", tmp_path / "sw")
    assert code == 0, err
    assert "lag: the largest value at which most seeds solve temporal-order" in text


@pytest.mark.parametrize("args, words", [
    (["--lag", "2"], "time lag 2 is not allowed; allowed: an integer from 4"),
    (["--batch-size", "all"], "batch size 'all' is not allowed for a memory task"),
    (["--window", "3"], "--window does not apply to adding"),
    (["--streams", "5"], "does not apply to adding"),
])
def test_bad_settings_of_a_memory_task_are_one_line(run_cli, tmp_path, args, words):
    code, _, err = run_cli("run", "adding", "--epochs", "1", *args, "--out", tmp_path / "r")
    assert code == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r" / "adding").exists()


def test_the_main_job_trains_no_memory_task():
    from lstmlab.config import MAIN_RUN
    assert not {"adding", "adding-rnn", "copy", "temporal-order"} & set(MAIN_RUN)
    assert all(PRESETS[n].kind_name == "memory" for n in ("adding", "copy", "temporal-order"))


def test_nothing_outside_the_memory_kind_branches_on_it():
    """The kind interface holds: only the memory kind's modules, config and the registry
    name the tasks."""
    src = Path(__file__).parents[1] / "src" / "lstmlab"
    hits = subprocess.run(["grep", "-rlE", r"memory_tasks|\"adding\"|temporal-order|"
                           r"kind_name == \"memory\"|MemoryResult", str(src)],
                          capture_output=True, text=True).stdout.split()
    allowed = {"config.py", "kinds/__init__.py", "kinds/memory.py", "kinds/memory_tasks.py",
               "kinds/memory_train.py", "kinds/memory_view.py", "kinds/memory_units.py",
               "findings.py"}
    assert {str(Path(h).relative_to(src)) for h in hits} <= allowed
    assert re.search(r"memory_tasks", (src / "kinds" / "memory.py").read_text())


def test_the_memory_claims_are_judged_on_the_seeds_that_solved():
    from lstmlab import findings
    from lstmlab.verdicts import NOT_SUPPORTED, SUPPORTED

    def found(name, solved):
        res = SimpleNamespace(config=Config(name, kind="memory", seeds=len(solved)),
                              solved=np.asarray(solved, bool), updates=3000)
        return {f.id: f for f in findings.from_results([res])}
    assert found("adding", [1] * 10)["adding-lstm"].verdict == SUPPORTED
    assert found("adding", [0] * 10)["adding-lstm"].verdict == NOT_SUPPORTED
    assert found("adding-rnn", [0] * 10)["adding-rnn"].verdict == SUPPORTED
    assert found("adding-rnn", [1] * 9 + [0])["adding-rnn"].verdict == NOT_SUPPORTED


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.parametrize("task, cell, layers", [("adding", "lstm", 1), ("copy", "gru", 2),
                                                ("temporal-order", "rnn", 1),
                                                ("adding", "gru", (8, 4))])
def test_a_memory_model_is_the_same_model_in_keras(tmp_path, task, cell, layers):
    """Keras itself is the reference: the exported model's outputs equal lstmlab's, and
    the saved file reads back with them; negative control: another replica's weights."""
    from lstmlab.keras_io import _keras
    from lstmlab.kinds.memory import Memory
    keras = _keras()  # with the JAX backend
    # layers: how many of 8 units, or one size per layer (a tapering stack)
    units, layers = (layers, len(layers)) if isinstance(layers, tuple) else (8, layers)
    cfg = Config(task, kind="memory", task=task, lag=6, cell=cell, layers=layers, units=units,
                 epochs=2, batch_size=16, lr=1e-2, grad_clip=1.0, seeds=2)
    kind = Memory()
    res = kind.train(cfg, kind.prepare(cfg))
    x, _, _ = mt.batch(task, jax.random.PRNGKey(5), 7, 6)
    ours = res.model(0).outputs(x)
    if not mt.TASKS[task].regression:
        ours = np.asarray(jax.nn.softmax(ours))
    theirs = np.asarray(res.model(0).keras()(np.asarray(x)))
    assert np.allclose(ours, theirs, atol=1e-5)
    path = res.model(0).save_keras(tmp_path / "m.keras")
    assert np.allclose(keras.saving.load_model(path)(np.asarray(x)), theirs, atol=1e-6)
    other = np.asarray(res.model(1).keras()(np.asarray(x)))
    assert not np.allclose(other, theirs, atol=1e-3)


@pytest.mark.keras
def test_export_keras_of_a_memory_task_and_the_symbol_commands_refused(run_cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli("run", "adding", "--lag", "6", "--epochs", "1", "--seeds", "2",
                           "--units", "4", "--out", out)
    assert code == 0, err
    code, text, err = run_cli("predict", out, "--experiment", "adding", "A")
    assert code == 2 and "memory tasks" in err and len(err.strip().splitlines()) == 1
    code, text, err = run_cli("export-keras", out, "--experiment", "adding", "--replica",
                              "1", "--out", tmp_path / "a.keras")
    assert code == 0, err
    assert (tmp_path / "a.keras").stat().st_size > 1000
    code, text, err = run_cli("export-keras", out, "--experiment", "adding", "--replica",
                              "5", "--out", tmp_path / "b.keras")
    assert code == 2 and "replica 5 is not allowed" in err and not (tmp_path / "b.keras").exists()


def test_the_adding_tracks_against_a_loop():
    from lstmlab.kinds.memory_units import tracks
    x, _, _ = _draw("adding", 20, 12)
    got = tracks("adding", x)
    for b in range(20):
        seen, first, total = 0, None, 0.0
        for t in range(12):
            if x[b, t, 1] == 1:
                seen += 1
                total += x[b, t, 0]
                first = t if first is None else first
            assert got["markers seen"][b, t] == seen
            assert got["steps since the first marker"][b, t] == (0 if first is None else t - first)
            assert got["the first marked number"][b, t] == (0.0 if first is None else x[b, first, 0])
            assert np.isclose(got["running sum of marked numbers"][b, t], total)
    # negative control: the sum of every number is not the track
    assert not np.allclose(got["running sum of marked numbers"], np.cumsum(x[..., 0], 1))


def test_a_trained_adding_model_holds_the_first_number_more_than_its_untrained_self():
    from lstmlab.kinds import memory_units
    from lstmlab.kinds.memory_train import init
    spec = _spec(epochs=8)
    keys = replica_keys(7, 2)
    out = fit(spec, keys, 7)
    initial = jax.vmap(lambda k: init(spec, k)[0])(keys)
    held = memory_units.study(spec, out["params"], initial, 7)["the first marked number"]
    assert min(held["trained"]) > max(held["untrained"]) and held["unit"]
    # negative control: the untrained weights against themselves are not stronger
    same = memory_units.study(spec, initial, initial, 7)["the first marked number"]
    assert same["trained"] == same["untrained"]


def test_lstmlab_units_prints_a_memory_tasks_kept_study(run_cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli("run", "temporal-order", "--lag", "6", "--epochs", "1",
                           "--seeds", "2", "--units", "4", "--out", out)
    assert code == 0, err
    code, text, err = run_cli("units", out, "--experiment", "temporal-order")
    assert code == 0, err
    assert "the first was Y (once seen)" in text and "untrained" in text
    code, _, err = run_cli("units", out, "--experiment", "adding")  # negative control
    assert code == 2 and "no experiment 'adding'" in err
