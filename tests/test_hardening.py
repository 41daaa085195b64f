"""What a new user hit in char-rnn, units and the error messages (round three): each rule
with a case that broke it before and its negative control."""

import json
import re
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from lstmlab import config, console, document, experiments, tables, terminal
from lstmlab.kinds import stream_plots, stream_view, window_view
from lstmlab.errors import ConfigError, DataError, ModelError, shown
from lstmlab.results import EXPLODED_LOSS, diverged_at

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, "
        "speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n") * 12
SMALL = ["--streams", "4", "--seq-length", "10", "--units", "8", "--epochs", "1"]


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(TEXT)
    return p


# -- one divergence rule for every kind -----------------------------------------------------

def test_the_divergence_rule_at_its_boundary():
    finite = np.ones(4, bool)
    losses = np.array([[[1.0, 2.0], [EXPLODED_LOSS, 3.0]],       # at the threshold: sound
                       [[1.0, 2.0], [EXPLODED_LOSS * 1.001, 3.0]],  # above it in training
                       [[1.0, 2.0], [1.0, np.nan]],               # validation not finite
                       [[1.0, 2.0], [1.0, 2.0]]])                 # sound, but see finite
    assert diverged_at(losses, finite) == {1: 2, 2: 2}
    assert diverged_at(losses[:, :, :1], finite) == {1: 2}  # validation not read
    assert diverged_at(losses, np.array([True, True, True, False])) == {1: 2, 2: 2, 3: 2}


@pytest.mark.slow
def test_a_diverged_text_training_is_said_and_never_the_best(run_cli, text_file, tmp_path):
    from lstmlab import records
    out = tmp_path / "d"
    code, so, err = run_cli("run", "char-rnn", "--text-file", text_file, *SMALL, "--lr",
                            "1e6", "--seeds", "2", "--out", out, "--quiet")
    assert code == 0
    assert "training diverged (a loss that is not finite or above 10000)" in err
    assert "that model is kept" not in so and "Replica 0's training diverged" in so
    assert re.search(r"char-rnn\S*\s.*\bdiverged\s+diverged", so)  # the table's loss cells
    (res,), _ = records.load_run(out)
    assert set(res.diverged) == {0, 1}
    with pytest.raises(ModelError, match="every seed's training of char-rnn diverged"):
        res.best()
    report = (out / "report.md").read_text()
    assert "Training diverged" in report and "that model is kept" not in report
    # negative control: a sane learning rate diverges nowhere and keeps its best model
    code, so, err = run_cli("run", "char-rnn", "--text-file", text_file, *SMALL, "--out",
                            tmp_path / "ok", "--quiet")
    assert code == 0 and "that model is kept" in so
    assert "training diverged" not in so + err and "diverged  " not in so
    (res,), _ = records.load_run(tmp_path / "ok")
    assert res.diverged == {} and res.best().info.loss == pytest.approx(res.best_val[0])


def test_a_window_experiments_best_model_skips_a_diverged_seed():
    res = experiments.run("one-char", seeds=2, epochs=2)
    first = res.best().info.replica
    res.history[first, -1, 0] = np.inf  # the best seed "diverged"
    res.__dict__.pop("diverged", None)
    assert res.best().info.replica == 1 - first
    res.history[:, -1, 0] = np.nan
    res.__dict__.pop("diverged", None)
    with pytest.raises(ModelError, match="diverged"):
        res.best()


def test_a_sweep_sentence_leaves_a_diverged_seed_out():
    from lstmlab import grid
    sound = SimpleNamespace(sound=np.array([True, True, True]),
                            best_val=np.array([1.0, 1.1, 1.2]))
    wild = SimpleNamespace(sound=np.array([True, False, True]),
                           best_val=np.array([2.0, 9e9, 2.2]))
    from lstmlab.kinds.stream_result import TextResult
    for point in (sound, wild):  # a text point's headline: its best validation losses
        point.headline = lambda point=point: TextResult.headline(point)
    lowest_loss = grid._metric(sound.headline())
    words = grid._best_value("lr", {(): {0.1: sound, 0.2: wild}}, {"lr": [0.1, 0.2]},
                             lowest_loss)
    assert "in 2 of 2 seeds" in words and "9e" not in words  # the diverged seed is left out
    # negative control: without divergence every pair counts
    wild.sound = np.array([True, True, True])
    assert "in 3 of 3 seeds" in grid._best_value("lr", {(): {0.1: sound, 0.2: wild}},
                                                {"lr": [0.1, 0.2]}, lowest_loss)


# -- --streams names what the user set -------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["char-rnn", "--streams", "0"], "--streams 0 would make char-rnn a window experiment"),
    (["one-char", "--streams", "5"], "--streams 5 would make one-char a stream experiment"),
    (["one-char", "--streams", "5", "--optimizer", "rmsprop", "--seq-length", "5"],
     "--streams 5 would make one-char a stream experiment"),
    (["--streams", "5"], "would make two-char a stream experiment"),
])
def test_a_streams_value_that_changes_the_kind_is_named(run_cli, text_file, args, words):
    extra = ["--text-file", text_file] if args[0] == "char-rnn" else []
    code, _, err = run_cli("run", *args, *extra)
    assert code == 2 and words in err and "optimizer" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_streams_value_of_the_same_kind_is_taken():
    cfg = experiments.resolve("char-rnn", streams=2, seq_length=10, sequence=TEXT)
    experiments.prepare(cfg)  # no error: still a stream experiment
    with pytest.raises(ConfigError, match="streams=5 would make one-char a stream"):
        experiments.run("one-char", streams=5)
    code_sweep = config.kind_changed("char-rnn", 3, "--streams 3")
    assert code_sweep is None


def test_a_sweep_over_streams_that_changes_the_kind_is_named(run_cli, text_file, tmp_path):
    code, _, err = run_cli("sweep", "char-rnn", "--text-file", text_file, "--streams", "0,4",
                           "--out", tmp_path / "s")
    assert code == 2 and "--streams 0 would make char-rnn a window experiment" in err


# -- errors quote a long value by its head and tail -------------------------------------------

def test_an_error_never_repeats_a_whole_input(run_cli):
    code, _, err = run_cli("run", "one-char", "--sequence", "a" * 20_000)
    assert code == 2 and len(err) < 300
    assert "20,000 characters" in err and "needs at least 2 different symbols" in err
    # negative control: a short value is quoted whole
    code, _, err = run_cli("run", "one-char", "--sequence", "aaaa")
    assert code == 2 and "got 'aaaa'" in err
    assert shown("x" * 70) == repr("x" * 70)
    assert shown(list(range(1000))).endswith("(4,890 characters)")


def test_track_errors_count_from_one_and_show_plain_numbers(tmp_path):
    from lstmlab import units
    with pytest.raises(DataError, match=r"track 'x': value 3 \(nan\) is not a finite number"):
        units.checked_tracks({"x": [1.0, 2.0, float("nan")]}, 3)
    with pytest.raises(DataError, match=r"track 'x': value 2 \('b'\) is not a number"):
        units.read_track("1\nb\n", "x")
    assert units.checked_tracks({"x": [1.0, 2.0, 3.0]}, 3)["x"].tolist() == [1, 2, 3]


# -- read-only commands open nothing for writing ---------------------------------------------

def test_report_json_writes_nothing_in_the_run_directory(run_cli, tmp_path):
    run = tmp_path / "r"
    assert run_cli("run", "one-char", "--epochs", "3", "--seeds", "2", "--out", run,
                   "--quiet", "--no-settle")[0] == 0
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    writes = []
    root = str(run.resolve())

    def hook(event, args):  # every open for writing, rename, removal or mkdir in the run
        if event == "open" and isinstance(args[0], str) and args[0].startswith(root):
            mode, flags = args[1], args[2]
            if (mode and set(mode) & set("wax+")) or (flags or 0) & 0o3:
                writes.append((event, args[0]))
        elif event in ("os.rename", "os.remove", "os.mkdir", "os.replace", "os.unlink") \
                and str(args[0]).startswith(root):
            writes.append((event, args[0]))
    watching = [True]
    sys.addaudithook(lambda e, a: watching[0] and hook(e, a))
    try:
        code, so, _ = run_cli("report", run, "--json")
    finally:
        watching[0] = False
    assert code == 0 and json.loads(so)
    assert writes == []
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before
    # negative control: the hook sees the writes of a report that writes
    watching[0] = True
    try:
        assert run_cli("report", run)[0] == 0
    finally:
        watching[0] = False
    assert writes


# -- --val-frac 0 says training loss ---------------------------------------------------------

def _text_result(val_frac):
    from lstmlab.kinds.stream_result import TextResult
    cfg = config.PRESETS["char-rnn"].replace(sequence=TEXT, val_frac=val_frac, seeds=1)
    history = np.array([[[1.6, 1.5]]])  # (1 seed, 1 epoch, training and validation)
    return TextResult(cfg, SimpleNamespace(chars=1000), None, None, history,
                      np.array([0]), 1.0, 2.0, finite=np.ones(1, bool))


def test_text_tables_say_training_loss_without_validation():
    header, _ = stream_view.table([_text_result(0.0)])[1:3]
    assert "best train nats [95% CI]" in header
    assert "on the training streams (no validation" in stream_view.loss_footnote(
        [_text_result(0.0)])
    # negative control: with validation, validation
    header, _ = stream_view.table([_text_result(0.05)])[1:3]
    assert "best val nats [95% CI]" in header
    assert "on the validation streams" in stream_view.loss_footnote([_text_result(0.05)])
    header, rows = stream_view.table([_text_result(0.05), _text_result(0.0)])[1:3]
    assert header[3] == "best nats [95% CI]" and rows[1][3].endswith(" train")
    assert not rows[0][3].endswith(" train")
    assert rows[1][3] == "1.600 train" and rows[0][3] == "1.500"  # the training loss


# -- the summary table never cuts a number ---------------------------------------------------

def _main_job_like():
    out = []
    for name in config.MAIN_RUN:
        from lstmlab.kinds import windows
        out.append(SimpleNamespace(config=config.PRESETS[name], cached=True, compile_s=12.51,
                                   train_s=165.21, accuracy=np.array([1.0] * 9 + [0.9999]),
                                   kind=windows.KIND))
    return out


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_summary_table_fits_the_terminal_without_cutting_a_number(width):
    results = _main_job_like()
    c = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.summary(results, c)
    text = c.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    _, _, rows, _ = window_view.table(results, terminal=True)
    numbers = {w for row in rows for cell in row[2:] for w in cell.split()}
    assert numbers >= {"[62.7–100.0]", "100.0–100.0", "165.21"}
    words = set(text.split())
    for number in numbers:
        assert number in words, number
    for name in config.MAIN_RUN:
        assert any(name in line for line in text.splitlines())


def test_a_table_too_wide_for_its_columns_is_seen_to_be_cut():
    """Negative control of the test above: rich's plain table at 80 columns cuts them."""
    from rich.table import Table
    _, header, rows, _ = window_view.table(_main_job_like(), terminal=True)
    t = Table()
    for h in header:
        t.add_column(h, overflow="fold")
    for row in rows:
        t.add_row(*row)
    c = Console(width=80, record=True, file=open("/dev/null", "w"))
    c.print(t)
    assert "[62.7–100.0]" not in set(c.export_text().split())


# -- a sweep's fixed settings are the ones not swept ------------------------------------------

def test_fixed_settings_leave_out_the_swept_ones():
    cfg = config.PRESETS["timestep-window"]
    fixed = cfg.describe(leave_out={"units": [16, 32], "lr": [1e-3], "epochs": [5]})
    assert "LSTM(32)" not in fixed and "500 epochs" not in fixed and "lr 0.001" not in fixed
    assert "window 3" in fixed and "batch 1" in fixed
    assert cfg.describe(leave_out={}) == cfg.describe()
    assert "LSTM(32)" in cfg.describe() and "500 epochs" in cfg.describe()


# -- generate: --start and --prime are one option ---------------------------------------------

def test_generate_refuses_both_start_and_prime(run_cli, tmp_path):
    from lstmlab import experiments
    model_dir = tmp_path / "m"
    experiments.run("stateful", seeds=1, epochs=2).model(0).save(model_dir)
    code, _, err = run_cli("generate", model_dir, "--prime", "A", "--start", "B")
    assert code == 2 and "not both" in err
    code, _, err = run_cli("generate", model_dir)
    assert code == 2 and "--start" in err
    a = run_cli("generate", model_dir, "--prime", "A", "--length", "5")
    b = run_cli("generate", model_dir, "--start", "A", "--length", "5")
    assert a[0] == b[0] == 0 and a[1] == b[1]


# -- units: an empty table is explained ------------------------------------------------------

@pytest.mark.slow
def test_units_on_a_text_where_no_track_varies_says_so(run_cli, tmp_path):
    run = tmp_path / "r"
    assert run_cli("run", "stateful", "--epochs", "2", "--seeds", "2", "--out", run,
                   "--quiet", "--no-settle")[0] == 0
    code, so, _ = run_cli("units", run, "--text", "A")
    assert code == 0 and "No track varies" in so
    code, so, _ = run_cli("units", run)  # negative control: the training sequence varies
    assert code == 0 and "No track varies" not in so


@pytest.mark.slow
def test_a_crlf_text_draws_its_carriage_returns_without_a_missing_glyph(recwarn):
    from lstmlab import report
    assert document.drawn("a\r\n") == "a\\r⏎"
    assert document.drawn("a b", "monospace") == "a·b"  # negative control: glyphs it has
    res = experiments.run("char-rnn", sequence=TEXT.replace("\n", "\r\n"), streams=4,
                          seq_length=10, units=8, layers=1, epochs=1)
    stream_plots.plot_text_layout(res)
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


# -- long work shows its progress --------------------------------------------------------------

@pytest.mark.slow
def test_the_report_shows_its_steps_on_a_terminal_and_nothing_when_quiet(run_cli, tmp_path,
                                                                       monkeypatch):
    import io
    from lstmlab import job
    run = tmp_path / "r"
    assert run_cli("run", "stateful", "--epochs", "2", "--seeds", "2", "--out", run,
                   "--quiet", "--no-settle")[0] == 0
    buf = io.StringIO()
    monkeypatch.setattr(terminal, "err", Console(file=buf, force_terminal=True, width=100))
    assert run_cli("report", run)[0] == 0
    shown_ = buf.getvalue()
    # (the unit study was made when the run saved it: the report only reads it)
    for step in ("judging the claims", "writing the explorer pages", "drawing the report"):
        assert step in shown_, step
    # negative controls: quiet, and a stderr that is no terminal, show nothing
    buf.truncate(0), buf.seek(0)
    job.reproduce(["stateful"], out=run, settle=False, quiet=True, epochs=2, seeds=2)
    assert buf.getvalue() == ""
    monkeypatch.setattr(terminal, "err", Console(file=buf, force_terminal=False))
    assert run_cli("report", run)[0] == 0
    assert buf.getvalue() == ""
    # and reproduce, as a notebook calls it, shows its steps by default
    monkeypatch.setattr(terminal, "err", Console(file=buf, force_terminal=True, width=100))
    job.reproduce(["stateful"], out=run, settle=False, epochs=2, seeds=2)
    assert "drawing the report" in buf.getvalue()


def test_unknown_symbols_are_named_up_to_a_limit():
    from lstmlab import data
    big = data.Vocab.from_sequence("".join(chr(0x4E00 + i) for i in range(300)))
    with pytest.raises(DataError) as e:
        big.encode("".join(chr(0x3000 + i) for i in range(200)))
    line = str(e.value)
    assert len(line) < 400 and "and 160 more" in line and "(300 symbols)" in line
    with pytest.raises(DataError, match=r"^unknown symbol\(s\) 'x'; the vocabulary is 'ABC'$"):
        data.Vocab.from_sequence("ABC").encode("ABx")  # negative control: short, whole


# -- measurements made once and kept (the kinds and speed issues' part here) ---------------

@pytest.mark.slow
def test_report_reads_the_kept_measurements_and_runs_no_unit_study(run_cli, tmp_path,
                                                                     monkeypatch):
    """A finished run's records keep what the findings and the report measure of its
    models; `lstmlab report` reads them: with every measurement function patched to fail,
    it writes the same findings. Negative control: a record that lacks them is measured
    again (the patched function is called) and then keeps them."""
    from lstmlab import measure, units
    run = tmp_path / "r"
    assert run_cli("run", "stateful", "one-char", "--epochs", "3", "--seeds", "2", "--out",
                   run, "--quiet", "--no-settle")[0] == 0
    record = json.loads((run / "stateful" / "record.json").read_text())
    assert {"counter_unit", "counting_share", "units"} <= set(record["analyses"])
    before = json.loads((run / "findings.json").read_text())

    def fail(*args, **kwargs):
        raise AssertionError("measured again")
    for name in measure.MEASURES:
        monkeypatch.setitem(measure.MEASURES, name, fail)
    monkeypatch.setattr(units, "study", fail)
    from lstmlab import train
    monkeypatch.setattr(train, "fit", fail)  # and nothing is trained
    code, _, err = run_cli("report", run)
    assert code == 0, err
    assert json.loads((run / "findings.json").read_text()) == before
    assert "stateful: what the units learned" in (run / "report.md").read_text()
    # negative control: without the kept measurements the report measures (and fails here)
    del record["analyses"]
    (run / "stateful" / "record.json").write_text(json.dumps(record))
    with pytest.raises(AssertionError, match="measured again"):
        run_cli("report", run)
    monkeypatch.undo()
    assert run_cli("report", run)[0] == 0
    again = json.loads((run / "stateful" / "record.json").read_text())
    assert {"counter_unit", "units"} <= set(again["analyses"])  # kept from now on
    assert json.loads((run / "findings.json").read_text()) == before


def test_report_on_a_finished_run_draws_nothing_again(run_cli, tmp_path, monkeypatch):
    """Its pictures are kept with what they were drawn from (the record and the code):
    `lstmlab report` reads them back instead of drawing, the same bytes; a record that
    changed is drawn again (negative control), and so is a kept PNG that is gone."""
    from lstmlab.kinds import window_plots
    run = tmp_path / "r"
    assert run_cli("run", "one-char", "--epochs", "3", "--seeds", "2", "--out", run,
                   "--quiet", "--no-settle")[0] == 0
    curves = run / "plots" / "one-char-curves.png"
    png, html = curves.read_bytes(), (run / "report.html").read_text()

    def fail(*args, **kwargs):
        raise AssertionError("drawn again")
    monkeypatch.setattr(window_plots, "plot_curves", fail)
    code, _, err = run_cli("report", run)
    assert code == 0, err
    assert curves.read_bytes() == png and (run / "report.html").read_text() == html
    record = json.loads((run / "one-char" / "record.json").read_text())
    record["compile_s"] += 1.0   # the record changed: its pictures are drawn again
    (run / "one-char" / "record.json").write_text(json.dumps(record))
    with pytest.raises(AssertionError, match="drawn again"):
        run_cli("report", run)
    monkeypatch.undo()
    assert run_cli("report", run)[0] == 0
    curves.unlink()              # a kept picture that is gone is drawn again
    monkeypatch.setattr(window_plots, "plot_curves", fail)
    with pytest.raises(AssertionError, match="drawn again"):
        run_cli("report", run)


def test_a_kept_unit_study_reads_back_as_it_was_made():
    from kinds import make
    from lstmlab import files, measure, units
    models = [make("stateful", seed=k) for k in range(2)]
    text = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" * 2
    made = units.study("stateful", models, text)
    back = measure.study_from(json.loads(files.dumps(measure.study_record(made))), text)
    assert back.rows() == made.rows() and back.reach == made.reach
    assert back.saturation.equals(made.saturation)
    for (t, label, v), (t2, label2, v2) in zip(back.shown, made.shown):
        assert (t, label) == (t2, label2)
        np.testing.assert_allclose(v, v2, rtol=0, atol=0)
    np.testing.assert_array_equal(back.profile, made.profile)
    # negative control: a study kept for another text is not read as this one's
    assert measure.study_from(measure.study_record(made), text + "A") is None
