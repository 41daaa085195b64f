import json
import os

import numpy as np
import pytest

import lstmlab
from lstmlab import budget, document, engine, experiments, files, records, report
from lstmlab.kinds import window_plots

FAST = ["--epochs", "3", "--seeds", "2", "-q"]


def test_run_writes_every_record(run_cli, tmp_path):
    out = tmp_path / "run"
    code, text, err = run_cli("run", "one-char", "stateful",
                              "--out", str(out), *FAST)
    assert code == 0, err
    for f in ("config.json", "results.json", "history.csv", "predictions.csv", "report.md",
              "report.html", "one-char/record.json", "stateful/1/model.safetensors",
              "stateful/1/model.json", "plots/stateful-states.png"):
        assert (out / f).is_file(), f
    config = json.loads((out / "config.json").read_text())
    assert config["experiments"]["one-char"]["epochs"] == 3
    assert config["versions"]["jax"] and config["machine"]["cpus"]
    results = json.loads((out / "results.json").read_text())
    assert [s["replica"] for s in results["one-char"]["seeds"]] == [0, 1]
    assert "generated" in results["stateful"]["seeds"][0]
    assert "share_100" not in results["one-char"]["summary"]["loss"]
    hist = (out / "history.csv").read_text().splitlines()
    assert hist[0] == "experiment,replica,epoch,loss,accuracy"
    assert len(hist) == 1 + 2 * 2 * 3  # 2 experiments × 2 seeds × 3 epochs
    preds = (out / "predictions.csv").read_text().splitlines()
    assert len(preds) == 1 + 2 * 25 + 2 * 25
    assert "Findings" in text and "not run" in text
    # no temporary file or directory left: the marker and the drawings' index only
    assert sorted(p.name for p in out.rglob(".*")) == [".drawn.json", ".lstmlab"]


def test_history_rows_are_what_csv_writes_of_them():
    """history.csv's rows, formatted as one string per seed, against csv.writer of the
    rows (the reference): an experiment name csv must quote, with a % in it, NaN and
    tiny losses; and the file reads back as those rows."""
    import csv
    import io

    import lstmlab
    res = lstmlab.run("one-char", epochs=3, seeds=2, units=4)
    res.config = res.config.replace(name='a,"b"%d')
    res.history = res.history.copy()
    res.history[1, 1] = [np.nan, 1e-12]
    header, text = res.run_files()["history.csv"]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(
        (res.config.name, s, e + 1, f"{loss:.6g}", f"{acc:.6g}") for s in range(2)
        for e, (loss, acc) in enumerate(res.history[s].tolist()))
    assert text == buf.getvalue()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 6 and {r[0] for r in rows} == {'a,"b"%d'}
    assert rows[4][3:] == ["nan", "1e-12"]


@pytest.mark.slow
def test_resume_skips_a_finished_experiment_and_retrains_a_changed_one(run_cli, monkeypatch,
                                                                       tmp_path):
    out = str(tmp_path / "run")
    assert run_cli("run", "one-char", "two-char", "--out", out, *FAST)[0] == 0
    record = tmp_path / "run" / "one-char" / "record.json"
    before = record.read_text()

    trained = []
    real_run = experiments.run
    monkeypatch.setattr(engine, "run_experiment",
                        lambda cfg, **kw: trained.append(cfg.name) or real_run(cfg, **kw))
    code, text, _ = run_cli("run", "one-char", "two-char", "--out", out,
                            *FAST)
    assert code == 0 and trained == [] and text.count("cached") >= 2
    assert record.read_text() == before

    # other settings: refused, naming what would be replaced, until --force
    code, text, err = run_cli("run", "one-char", "--out", out,
                              "--epochs", "4", "--seeds", "2", "-q")
    assert code == 2 and trained == [] and record.read_text() == before
    assert "one-char holds a finished experiment with other settings (epochs 3 → 4)" in err
    assert "--force" in err and len(err.strip().splitlines()) == 1
    code, text, err = run_cli("run", "one-char", "--out", out,
                              "--epochs", "4", "--seeds", "2", "-q", "--force")
    assert code == 0 and trained == ["one-char"] and "replacing it (--force)" in err
    assert json.loads(record.read_text())["config"]["epochs"] == 4
    # the run's files still hold both experiments
    assert set(json.loads((tmp_path / "run" / "results.json").read_text())) == \
        {"one-char", "two-char"}


def test_an_interrupted_run_keeps_its_finished_experiments(run_cli, monkeypatch, tmp_path):
    out = tmp_path / "run"
    real_run = experiments.run

    def interrupt_second(cfg, on_progress=None, **kw):
        if cfg.name == "two-char":
            def boom(done, hist):
                raise KeyboardInterrupt
            return real_run(cfg, on_progress=boom, **kw)
        return real_run(cfg, on_progress=on_progress, **kw)

    monkeypatch.setattr(engine, "run_experiment", interrupt_second)
    code, _, err = run_cli("run", "one-char", "two-char", "--out",
                           str(out), *FAST)
    assert code == 130
    assert "1 finished experiment(s) kept" in err and "resume with:" in err
    assert "Traceback" not in err
    assert (out / "one-char" / "record.json").is_file()
    assert not (out / "two-char").exists()
    # no temporary file left (one-char's pictures may have been drawn ahead, whole)
    assert {p.name for p in out.rglob(".*")} <= {".lstmlab", ".drawn.json"}
    assert set(json.loads((out / "results.json").read_text())) == {"one-char"}


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    files.atomic_write(target, "old")

    def fail(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        files.atomic_write(target, "new content that never lands")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
    with pytest.raises(OSError):
        files.atomic_write(tmp_path / "g.json", "x")
    assert not (tmp_path / "g.json").exists()


@pytest.mark.slow
def test_report_rebuilds_from_records_alone(run_cli, monkeypatch, tmp_path):
    out = tmp_path / "run"
    assert run_cli("run", "variable-length", "--out", str(out),
                   "--epochs", "2", "--seeds", "2", "--window", "3", "-q")[0] == 0
    md = (out / "report.md").read_text()
    for f in ("report.md", "report.html"):
        (out / f).unlink()
    import shutil
    shutil.rmtree(out / "plots")

    def no_training(*a, **k):
        raise AssertionError("the report must not train")

    from lstmlab import train
    monkeypatch.setattr(train, "fit", no_training)
    code, _, err = run_cli("report", str(out))
    assert code == 0, err
    assert (out / "report.md").read_text() == md
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    assert "seeds that predict ≥ 90% of all 71 patterns" in md  # measured from the models
    assert (out / "plots" / "variable-length-curves.png").is_file()


@pytest.mark.slow
def test_html_escapes_hostile_symbols():
    res = lstmlab.run("one-char", sequence="<script>alert(1)</script>", seeds=1, epochs=1)
    page = document.render_html(report.blocks([res], "t"))
    assert "<script>" not in page and "</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_unwritable_out_and_missing_run_dir(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli("run", "one-char", "--out",
                             str(blocker / "run"), *FAST)
    assert code == 2 and "cannot write" in err and "Traceback" not in err
    code, out, err = run_cli("report", str(tmp_path / "nope"))
    assert code == 2 and "no such run directory" in err
    code, out, err = run_cli("models", str(tmp_path / "nope"))
    assert code == 2 and "no such run directory" in err


def test_models_lists_every_replica(run_cli, tmp_path):
    out = tmp_path / "run"
    assert run_cli("run", "timestep-window", "--out", str(out), *FAST)[0] == 0
    code, text, _ = run_cli("models", str(out))
    lines = text.strip().splitlines()
    assert code == 0 and len(lines) == 2 and "timestep-window" in lines[1]
    assert "accuracy" in lines[0]
    code, text, _ = run_cli("predict", str(out), "--experiment",
                            "timestep-window", "--replica", "1", "ABC", "--top", "2")
    assert code == 0 and text.startswith("ABC -> ") and text.count("'") == 4
    model = lstmlab.load(out / "timestep-window" / "1")
    assert text.split()[2] == model.predict("ABC")
    code, text, _ = run_cli("generate", str(out), "--experiment",
                            "timestep-window", "--start", "ABC", "--length", "4")
    assert code == 0 and text.strip() == lstmlab.load(out / "timestep-window" / "0").generate("ABC", 4)


# -- damaged run directories -------------------------------------------------------------

def _edit_record(path, change):
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def _rewrite_arrays(path, change):
    import numpy as np
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    np.savez(path, **arrays)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


DAMAGE = {
    "missing compile_s": lambda d: _edit_record(d / "record.json",
                                                lambda r: r.pop("compile_s")),
    "missing generated": lambda d: _edit_record(d / "record.json",
                                                lambda r: r.pop("generated")),
    "non-integer batch_size": lambda d: _edit_record(
        d / "record.json", lambda r: r["config"].__setitem__("batch_size", 1.5)),
    "wrong vocab": lambda d: _edit_record(d / "record.json",
                                          lambda r: r.__setitem__("vocab", ["A", "B"])),
    "future format": lambda d: _edit_record(
        d / "record.json", lambda r: r.__setitem__("format_version", 99)),
    "trained with optax's Adam (version 2)": lambda d: _edit_record(
        d / "record.json", lambda r: r.__setitem__("format_version", 2)),
    "lstmlab 0.1's first record (no version)": lambda d: _edit_record(
        d / "record.json", lambda r: r.pop("format_version")),
    "truncated arrays": lambda d: _truncate(d / "arrays.npz"),
    "missing history": lambda d: _rewrite_arrays(d / "arrays.npz",
                                                 lambda a: a.pop("history")),
    "wrong-shaped probs": lambda d: _rewrite_arrays(
        d / "arrays.npz", lambda a: a.__setitem__("probs", a["probs"][:, :3])),
    "not json": lambda d: (d / "record.json").write_text("{oops"),
    "wrong generation starts": lambda d: _edit_record(
        d / "record.json", lambda r: r["generated"].pop("K")),
    "missing states": lambda d: _rewrite_arrays(d / "arrays.npz", lambda a: a.pop("states")),
    "an order test it never ran": lambda d: _edit_record(
        d / "record.json", lambda r: r.__setitem__("order_diff", [1e-8, 1.0])),
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run directory with two finished experiments, made once; tests copy it."""
    import shutil
    import subprocess
    out = tmp_path_factory.mktemp("finished") / "run"
    r = subprocess.run(["lstmlab", "run", "one-char", "stateful", "--out", str(out), *FAST],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out, shutil


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_record_is_named_skipped_and_retrained(run_cli, finished_run, tmp_path,
                                                         damage):
    src, shutil = finished_run
    out = tmp_path / "run"
    shutil.copytree(src, out)
    DAMAGE[damage](out / "stateful")
    for command in ("report", "models"):
        code, text, err = run_cli(command, out)
        assert code == 0, err
        assert "Traceback" not in err
        warning = [line for line in err.splitlines() if "warning" in line]
        assert len(warning) == 1 and "stateful:" in warning[0] and "left out" in warning[0]
        assert "one-char" in text or command == "report"
    assert "stateful" not in (out / "report.md").read_text().split("## Summary")[1]
    code, text, err = run_cli("run", "one-char", "stateful", "--out", out, *FAST)
    assert code == 0, err
    assert "trained again" in err and "stateful" in err
    assert text.count("(cached:") == 1  # one-char cached, stateful retrained
    code, _, err = run_cli("models", out)
    assert code == 0 and err == ""


@pytest.mark.slow
def test_leftovers_of_a_killed_run_are_removed_on_resume(run_cli, finished_run, tmp_path):
    src, shutil = finished_run
    out = tmp_path / "run"
    shutil.copytree(src, out)
    half = out / ".one-char.k3j2h1"
    (half / "0").mkdir(parents=True)
    (half / "record.json").write_text("{}")  # even a complete-looking one is not loaded
    (half / ".lstmlab-partial").touch()      # what lstmlab writes into one it assembles
    (out / ".stateful.old").mkdir()          # an experiment replaced when the run died
    (out / ".stateful.old" / "record.json").write_text("{}")
    (out / ".results.json.abc.tmp").write_text("half")
    (out / "one-char" / ".arrays.npz.x.tmp").write_text("half")
    assert run_cli("models", out)[0] == 0  # a reader ignores them
    assert half.exists()  # ... and leaves them alone (a run may be assembling them)
    code, _, err = run_cli("run", "one-char", "--out", out, *FAST)
    assert code == 0, err
    assert sorted(p.name for p in out.rglob(".*")) == [".drawn.json", ".lstmlab"]


def test_default_run_directories_are_unique(tmp_path, monkeypatch):
    """Runs started in the same second get their own directories; a name another process
    just made is never reused."""
    from datetime import datetime, timezone

    from lstmlab import records

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 11, 29, 10, 0, 0, tzinfo=timezone.utc)

    monkeypatch.setattr(records, "datetime", Frozen)
    (tmp_path / "2026-11-29T10-00-00Z").mkdir()  # made by another process
    made = [records.new_run_dir(tmp_path) for _ in range(3)]
    assert [p.name for p in made] == ["2026-11-29T10-00-00Z-2", "2026-11-29T10-00-00Z-3",
                                      "2026-11-29T10-00-00Z-4"]
    assert all(p.is_dir() and not any(p.iterdir()) for p in made)


def test_an_out_of_memory_error_is_one_line(run_cli, monkeypatch, tmp_path):
    def oom(cfg, **kw):
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate "
                           "42 bytes.\nmore detail")

    monkeypatch.setattr(engine, "run_experiment", oom)
    code, _, err = run_cli("run", "one-char", "--out", tmp_path / "run", *FAST)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "out of memory" in err and "fewer seeds" in err
    assert not (tmp_path / "run").exists()  # no empty run directory left behind
    monkeypatch.setattr(engine, "run_experiment", lambda cfg, **kw: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # a real bug is not dressed up as a user error
        run_cli("run", "one-char", "--out", tmp_path / "run2", *FAST)


def test_a_run_directory_in_use_is_refused(run_cli, tmp_path):
    from lstmlab import records
    out = tmp_path / "run"
    out.mkdir()
    with records.lock(out):
        code, text, err = run_cli("run", "one-char", "--out", out, *FAST)
    assert code == 2 and "in use by another lstmlab run" in err and text == ""
    assert run_cli("run", "one-char", "--out", out, *FAST)[0] == 0


def test_files_respect_the_umask(run_cli, tmp_path):
    old = os.umask(0o022)
    try:
        files._UMASK = None
        out = tmp_path / "run"
        assert run_cli("run", "one-char", "--out", out, *FAST)[0] == 0
    finally:
        os.umask(old)
        files._UMASK = None
    for p in [out / "report.html", out / "config.json", out / "one-char" / "record.json",
              out / "one-char" / "0" / "model.safetensors", out / "plots" / "one-char-curves.png"]:
        assert p.stat().st_mode & 0o777 == 0o644, p
    for p in [out, out / "one-char", out / "one-char" / "0", out / "plots"]:
        assert p.stat().st_mode & 0o777 == 0o755, p


def test_divergence_is_reported_and_json_stays_valid(run_cli, tmp_path):
    out = tmp_path / "run"
    import warnings
    with warnings.catch_warnings():  # all seeds diverged: the plots must not warn either
        warnings.simplefilter("error", RuntimeWarning)
        code, text, err = run_cli("run", "one-char", "--lr", "1e37", "--out", out, *FAST)
    assert code == 0
    assert "training diverged" in err and "seed 0 from epoch 1" in err

    def no_nan(token):
        raise AssertionError(f"invalid JSON number {token}")

    results = json.loads((out / "results.json").read_text(), parse_constant=no_nan)
    seeds = results["one-char"]["seeds"]
    assert seeds[0]["diverged_at_epoch"] == 1 and seeds[0]["final_train_loss"] is None
    json.loads((out / "one-char" / "record.json").read_text(), parse_constant=no_nan)
    assert "Training diverged" in (out / "report.md").read_text()
    # the diverged models are kept with the record, and refused for predictions
    assert run_cli("report", out)[0] == 0
    code, _, err = run_cli("predict", out / "one-char" / "0", "A")
    assert code == 2 and "NaN or infinite" in err


def run_on_text(run_cli, tmp_path, text: str, *args):
    """``lstmlab run ARGS --text-file`` on ``text`` written to a file, into tmp_path/run:
    (exit code, stdout, stderr, the text file, the run directory)."""
    path, out = tmp_path / "long.txt", tmp_path / "run"
    path.write_text(text)
    return (*run_cli("run", *args, "--text-file", path, "--out", out), path, out)


@pytest.mark.slow
def test_a_long_text_is_kept_once_and_shown_short(run_cli, tmp_path):
    import hashlib
    text = "".join(chr(0x41 + (i * 7919) % 26) for i in range(5000))
    code, _, err, path, out = run_on_text(run_cli, tmp_path, text, "stateful", "--epochs",
                                          "1", "--seeds", "1", "-q")
    assert code == 0, err
    sha = hashlib.sha256(text.encode()).hexdigest()
    assert (out / "sequences" / f"{sha}.txt").read_text() == text
    for f in ("config.json", "report.md", "report.html", "stateful/record.json",
              "results.json"):
        assert text[:500] not in (out / f).read_text(), f
    assert "5,000 symbols, sha256" in (out / "report.md").read_text()
    assert json.loads((out / "config.json").read_text())["experiments"]["stateful"][
        "sequence"]["sha256"] == sha
    # the record still resumes: the sequence is read back from its one copy
    code, text_out, err = run_cli("run", "stateful", "--text-file", path, "--epochs", "1",
                                  "--seeds", "1", "-q", "--out", out)
    assert code == 0 and "(cached:" in text_out
    # the heatmap records the first steps only, with legible ticks
    res = lstmlab.run("stateful", sequence=text, epochs=1, seeds=1)
    assert res.states.shape == (2, budget.MAX_STATE_STEPS, 50)
    fig = window_plots.states_figure(res)
    assert all(len(ax.get_xticks()) <= document.MAX_TICKS for ax in fig.axes[::2])


@pytest.mark.slow
def test_markdown_report_escapes_user_text():
    hostile = "# Heading\n| a | b |\n<script>x</script> *em* [l](http://x) `c` &amp;"
    res = lstmlab.run("one-char", sequence=hostile, seeds=1, epochs=1)
    md = document.render_md(report.blocks([res], "t"))
    assert "<script>" not in md and "\n# Heading" not in md and "| a | b |" not in md
    assert "[l](" not in md and "·*em*" not in md and "·&amp;" not in md
    assert "\\<script\\>" in md and "\\[l\\](" in md and "\\*em\\*" in md
    assert "\\&amp;" in md
    lines = md.splitlines()
    assert [line for line in lines if line.startswith("#")] == \
        [line for line in lines if line.startswith(("# t", "## "))]


@pytest.mark.slow
def test_a_second_run_loads_its_programs_from_the_cache(tmp_path):
    import subprocess
    import sys
    env = {**os.environ, "LSTMLAB_CACHE_DIR": str(tmp_path / "cache")}

    def run(out, *extra):
        subprocess.run([sys.executable, "-m", "lstmlab", "run", "timestep-window", "--seeds",
                        "2", "--epochs", "20", "-q", "--out", str(tmp_path / out), *extra],
                       check=True, env=env, capture_output=True)
        return json.loads((tmp_path / out / "results.json").read_text())["timestep-window"]

    first = run("a")
    entries = set((tmp_path / "cache").iterdir())
    assert entries  # the compiled programs were written
    second = run("b")
    assert set((tmp_path / "cache").iterdir()) == entries  # nothing new to compile
    assert second["seeds"][0]["compile_s"] < first["seeds"][0]["compile_s"] / 2
    uncached = run("c", "--no-cache")
    for other in (second, uncached):  # the same numbers, cached or not
        assert [s["loss"] for s in other["seeds"]] == [s["loss"] for s in first["seeds"]]


@pytest.mark.slow
def test_the_report_is_drawn_the_same_every_time():
    results = [experiments.run("one-char", seeds=3, epochs=3),
               experiments.run("stateful", seeds=2, epochs=3, units=4),
               experiments.run("variable-length", seeds=2, epochs=1, samples=30, units=4,
                               probe=10)]
    def drawn(bl):  # a picture is drawn when written: draw them all
        return [(b.file, b.png()) if isinstance(b, document.Img) else b for b in bl]
    alone = drawn(report.blocks(results, "t"))
    assert drawn(report.blocks(results, "t")) == alone  # the same blocks, the same PNGs
    imgs = [b for b in alone if isinstance(b, tuple)]
    assert len(imgs) == 8 and all(png.startswith(b"\x89PNG") for _, png in imgs)


def _snapshot(root):
    """Every file under ``root`` (hidden ones too) → its bytes."""
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_out_never_touches_a_directory_lstmlab_did_not_make(run_cli, tmp_path):
    """The user's own files, put where lstmlab writes, come out byte for byte."""
    u = tmp_path / "u"
    (u / ".stateful.old").mkdir(parents=True)
    (u / "config.json").write_text("x\n")
    (u / ".one-char.backup").write_text("s\n")
    (u / ".stateful.old" / "f").write_text("k\n")
    (u / "report.html").write_text("r\n")
    (u / ".notes.tmp").write_text("t\n")
    before = _snapshot(u)
    for args in (["run", "one-char", "--seeds", "2", "--epochs", "5"],
                 ["sweep", "one-char", "--units", "2,4", "--seeds", "2", "--epochs", "2"]):
        code, _, err = run_cli(*args, "-q", "--out", u)
        assert code == 2 and "was not made by lstmlab" in err and "and 4 more" in err
        assert len(err.strip().splitlines()) == 1
        assert _snapshot(u) == before
    # positive control: an empty directory is used, and marked
    e = tmp_path / "e"
    e.mkdir()
    assert run_cli("run", "one-char", "--seeds", "2", "--epochs", "2", "-q", "--no-settle",
                   "--out", e)[0] == 0
    assert json.loads((e / ".lstmlab").read_text()) == {"kind": "run"}


def test_leftovers_are_known_by_what_lstmlab_wrote_not_by_their_names(run_cli, tmp_path):
    out = tmp_path / "r"
    args = ["run", "one-char", "--seeds", "2", "--epochs", "2", "-q", "--no-settle",
            "--out", out]
    assert run_cli(*args)[0] == 0
    (out / ".mine.old").mkdir()                    # the user's, with a leftover's name
    (out / ".mine.old" / "f").write_text("k\n")
    killed = out / ".one-char.abc123"              # a killed run's half-made experiment
    killed.mkdir()
    (killed / ".lstmlab-partial").touch()
    assert run_cli(*args)[0] == 0
    assert (out / ".mine.old" / "f").read_text() == "k\n" and not killed.exists()


@pytest.mark.slow
def test_a_run_and_a_sweep_do_not_share_a_directory(run_cli, tmp_path):
    run_dir, sweep_dir = tmp_path / "run", tmp_path / "sweep"
    small = ["--seeds", "2", "--epochs", "2", "-q"]
    assert run_cli("run", "one-char", "--no-settle", *small, "--out", run_dir)[0] == 0
    assert run_cli("sweep", "one-char", "--units", "2,4", *small, "--out", sweep_dir)[0] == 0
    code, _, err = run_cli("sweep", "one-char", "--units", "2,4", *small, "--out", run_dir)
    assert code == 2 and "is an lstmlab run directory; a sweep cannot share it" in err
    code, _, err = run_cli("run", "one-char", *small, "--out", sweep_dir)
    assert code == 2 and "is an lstmlab sweep directory; a run cannot share it" in err
    # another grid in a sweep directory needs --force; the same grid resumes
    before = (sweep_dir / "sweep.json").read_bytes()
    code, _, err = run_cli("sweep", "one-char", "--units", "2,8", *small, "--out", sweep_dir)
    assert code == 2 and "holds another sweep" in err and "--force" in err
    assert (sweep_dir / "sweep.json").read_bytes() == before
    assert run_cli("sweep", "one-char", "--units", "2,4", *small, "--out", sweep_dir)[0] == 0
    assert run_cli("sweep", "one-char", "--units", "2,8", *small, "--force",
                   "--out", sweep_dir)[0] == 0
    assert json.loads((sweep_dir / "sweep.json").read_text())["grid"] == {"units": [2, 8]}


def test_points_are_listed_in_the_order_of_their_values():
    from types import SimpleNamespace
    names = ["p,units=16", "p,units=2", "p,lr=0.01", "p,lr=0.001", "p,lr=1e-4", "one-char"]
    got = [r.config.name for r in records.in_order(
        [SimpleNamespace(config=SimpleNamespace(name=n)) for n in names])]
    assert got == ["one-char", "p,lr=1e-4", "p,lr=0.001", "p,lr=0.01", "p,units=2",
                   "p,units=16"]


def test_one_seed_has_no_interval_for_any_metric():
    from lstmlab import stats
    s, d = stats.summarize([0.8]), stats.describe([1.2])
    assert all(np.isnan(s["ci95"])) and all(np.isnan(d["ci95"]))  # both null in JSON


def test_a_full_disk_names_the_file_and_what_was_kept(run_cli, tmp_path, monkeypatch):
    import errno
    out = tmp_path / "run"
    args = ["one-char", "timestep-window", "--seeds", "2", "--epochs", "2", "-q",
            "--no-settle", "--out", out]
    real = files.os.fsync
    calls = []

    def fsync(fd):  # the disk fills up once the first experiment is saved
        if (out / "one-char" / "record.json").exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        calls.append(fd)
        return real(fd)
    monkeypatch.setattr(files.os, "fsync", fsync)
    code, _, err = run_cli("run", *args)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "No space left on device" in err and str(out) in err
    assert "1 finished experiment(s) kept" in err and "resume with: lstmlab run" in err
    assert "Traceback" not in err and not list(out.glob(".*.tmp"))


def test_a_collapse_to_one_answer_is_named_but_an_untrained_model_is_not(run_cli, tmp_path):
    """--lr 10 leaves a constant, confidently wrong predictor with finite numbers: no
    divergence, but a collapse; two epochs at the tutorial's rate answer alike too, with a
    uniform guess's loss, and are not called collapsed."""
    code, text, err = run_cli("run", "one-char", "--lr", "10", "--epochs", "20", "--seeds",
                              "2", "-q", "--no-settle", "--out", tmp_path / "a")
    assert code == 0 and "training collapsed to one answer for every input for seed 0" in err
    assert "try a smaller learning rate" in err and "diverged" not in err
    assert "Training collapsed" in (tmp_path / "a" / "report.md").read_text()
    summary = json.loads((tmp_path / "a" / "results.json").read_text())["one-char"]["summary"]
    assert set(summary["collapsed"]) == {"0", "1"}
    code, text, err = run_cli("run", "one-char", "--epochs", "2", "--seeds", "2", "-q",
                              "--no-settle", "--out", tmp_path / "b")
    assert code == 0 and "collapsed" not in err


@pytest.mark.slow
def test_a_damaged_run_says_what_is_damaged(run_cli, finished_run, tmp_path):
    src, shutil = finished_run
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(src, a)
    shutil.copytree(src, b)
    shutil.rmtree(a / "stateful" / "0")
    code, _, err = run_cli("predict", a, "--experiment", "stateful", "A")
    assert code == 2 and "the model directory is missing, though the record says the " \
                         "models were saved" in err and "--save-models" not in err
    (b / "stateful" / "record.json").unlink()
    (b / "results.json").unlink()   # as a run killed by SIGKILL leaves it
    code, _, err = run_cli("models", b)
    assert "stateful: its record.json is missing; left out" in err
    code, text, err = run_cli("report", b)
    assert code == 0 and "stateful: its record.json is missing" in err
    assert not (b / "explore-stateful.html").exists()     # no stale page
    assert (b / "explore-one-char.html").exists()
    assert set(json.loads((b / "results.json").read_text())) == {"one-char"}


@pytest.mark.slow
def test_a_long_text_keeps_a_readable_sample_of_its_predictions(run_cli, tmp_path):
    # 2,600 patterns, more than a record keeps: probabilities of MAX_KEPT_PATTERNS evenly
    # spaced ones, and each seed's accuracy and loss over all of them
    text = "".join(chr(0x41 + (i * 7919 + i // 7) % 11) for i in range(2601))
    code, shown, err, _, out = run_on_text(run_cli, tmp_path, text, "one-char", "--epochs",
                                           "2", "--seeds", "2", "--no-settle")
    assert code == 0, err
    fresh = lstmlab.run("one-char", sequence=text, epochs=2, seeds=2)
    k = budget.MAX_KEPT_PATTERNS
    assert len(fresh.dataset.patterns) == 2600 > k and fresh.kept is None
    assert "keeps the predictions of 2,000 of the 2,600" in shown
    with np.load(out / "one-char" / "arrays.npz") as z:
        assert z["probs"].shape == (2, k, 11) and z["x"].shape[0] == k
        kept = z["kept"]
    assert kept[0] == 0 and kept[-1] == 2599 and np.all(np.diff(kept) > 0)
    assert len((out / "predictions.csv").read_text().splitlines()) == 1 + 2 * k
    loaded = records.load_result(out / "one-char")
    # the numbers over all patterns survive the sample exactly
    np.testing.assert_array_equal(loaded.accuracy, fresh.accuracy)
    np.testing.assert_allclose(loaded.loss, fresh.loss, rtol=1e-6)
    np.testing.assert_array_equal(loaded.probs, fresh.probs[:, kept])
    np.testing.assert_array_equal(loaded.patterns.y, fresh.dataset.patterns.y[kept])
    assert "2,000 of the 2,600" in (out / "report.md").read_text()
    # a damaged sample is named, not read
    with np.load(out / "one-char" / "arrays.npz") as z:
        arrays = dict(z)
    arrays["kept"] = arrays["kept"][::-1].copy()
    np.savez(out / "one-char" / "arrays.npz", **arrays)
    with pytest.raises(lstmlab.errors.RecordError, match="'kept'"):
        records.load_result(out / "one-char")


def test_a_text_within_the_limit_keeps_every_prediction():
    res = lstmlab.run("one-char", epochs=1, seeds=1)
    assert res.readable()[0] is None and res.readable()[2] is res.probs
    assert budget.kept_index(budget.MAX_KEPT_PATTERNS) is None
    assert len(budget.kept_index(budget.MAX_KEPT_PATTERNS + 1)) == \
        budget.MAX_KEPT_PATTERNS


@pytest.mark.slow
def test_a_run_that_does_not_fit_on_the_disk_is_refused_before_it_trains(
        run_cli, tmp_path, monkeypatch):
    out = tmp_path / "run"
    user = tmp_path / "run" / "notes.txt"
    cfg = lstmlab.PRESETS["one-char"].replace(seeds=3, epochs=2)
    ds = experiments.prepare(cfg)
    need = budget.disk_estimate(cfg, ds)
    # the estimate is an upper bound of what the record takes
    code, _, err = run_cli("run", "one-char", "--seeds", "3", "--epochs", "2", "-q",
                           "--no-settle", "--out", out)
    assert code == 0, err
    written = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert written < need < 20 * written

    trained = []
    monkeypatch.setattr(engine, "run_experiment", lambda *a, **k: trained.append(1))
    usage = budget.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(budget.shutil, "disk_usage",
                        lambda p: usage._replace(free=need))  # less than need / DISK_SHARE
    user.write_text("mine")
    code, _, err = run_cli("run", "two-char", "--seeds", "3", "--epochs", "2", "-q",
                           "--no-settle", "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not trained, err
    assert "of records to" in err and "MiB free there" in err and "fewer seeds" in err
    assert user.read_text() == "mine"
    # a large write is said aloud, a small one is not
    monkeypatch.setattr(budget.shutil, "disk_usage", lambda p: usage)
    said = []
    budget.check_disk(tmp_path, [budget.disk_estimate(cfg, ds)], warn=said.append)
    assert said == []
    monkeypatch.setattr(budget, "LARGE_WRITE", 1)
    budget.check_disk(tmp_path, [budget.disk_estimate(cfg, ds)], warn=said.append)
    assert len(said) == 1 and "writes about" in said[0]
