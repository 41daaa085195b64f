import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstmlab import PRESETS


@pytest.mark.parametrize("args, named", [
    (["run", "no-such"], "'no-such'"),
    (["run", "one-char", "--window", "0"], "window 0"),
    (["run", "one-char", "--window", "26"], "window 26"),
    (["run", "one-char", "--epochs", "0"], "epochs 0"),
    (["run", "one-char", "--units", "0"], "units 0"),
    (["run", "one-char", "--batch-size", "0"], "batch size 0"),
    (["run", "one-char", "--batch-size", "26"], "batch size 26"),
    (["run", "one-char", "--batch-size", "many"], "'many'"),
    (["run", "one-char", "--lr", "0"], "learning rate 0"),
    (["run", "one-char", "--lr", "-1"], "learning rate -1"),
    (["run", "one-char", "--framing", "diagonal"], "'diagonal'"),
    (["run", "one-char", "--encoding", "morse"], "'morse'"),
    (["run", "one-char", "--activation", "relu"], "'relu'"),
    (["run", "one-char", "--epochs", "ten"], "'ten'"),
    (["run", "one-char", "--seed", "-1"], "seed -1"),
    (["run", "one-char", "--seeds", "0"], "seeds 0"),
    (["run", "stateful", "--batch-size", "4"], "25 samples"),
    (["run", "stateful", "--start", "?"], "'?'"),
    (["run", "--no-such-option"], "--no-such-option"),
    (["run", "one-char", "--lr", "inf"], "learning rate inf"),
    (["run", "one-char", "--lr", "nan"], "learning rate nan"),
    (["run", "one-char", "--window", "100001"], "window 100001"),
    (["run", "one-char", "--start", "M"], "--start does not apply to one-char"),
    (["run", "one-char", "--length", "5"], "--length does not apply"),
    (["run", "timestep-window", "--no-mask"], "--no-mask does not apply"),
    (["run", "stateful", "--order-test"], "--order-test does not apply"),
    (["run", "stateful", "--start", "KL"], "'KL'"),
    (["run", "stateful", "--start", "Z"], "start 'Z' leaves 0 symbol(s)"),
    (["run", "stateful", "--start", "X"], "start 'X' leaves 2 symbol(s)"),
    (["run", "--sequence", "ABCD"], "variable-length: window 5"),
    (["run", "one-char", "-q", "-v"], "--quiet and --verbose"),
    (["run", "timestep-window", "--units", "8192"], "GiB"),
    (["run", "one-char", "--text-file", "/dev/zero"], "not a regular file"),
    (["predict", ".", "ABC", "--top", "0"], "top 0"),
])
def test_bad_input_is_one_line_exit_2(run_cli, args, named):
    code, out, err = run_cli(*args)
    assert code == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstmlab: error:")
    assert named in lines[0]
    assert any(w in lines[0] for w in ("allowed", "choose", "No such option",
                                       "not a valid integer", "vocabulary", "applies to",
                                       "exclude", "available", "regular file"))
    assert out == ""  # nothing was trained or printed


def test_list_names_every_preset(run_cli):
    code, out, _ = run_cli("list")
    assert code == 0
    assert [line.split()[0] for line in out.strip().splitlines()] == list(PRESETS)


@pytest.mark.slow
def test_run_prints_the_notebooks_output(run_cli):
    code, out, _ = run_cli("run", "two-char", "--epochs", "3", "-q")
    assert code == 0
    assert "AB -> C" in out and "XY -> Z" in out
    assert "Model Accuracy:" in out and "['A', 'B'] -> " in out
    assert "Summary" in out and "two-char" in out


@pytest.mark.slow
def test_verbose_prints_the_epoch_log(run_cli):
    code, out, _ = run_cli("run", "one-char", "--epochs", "2", "-v")
    assert code == 0
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and " - loss: " in out


def test_console_script_is_installed():
    r = subprocess.run(["lstmlab", "run", "x"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown experiment 'x'" in r.stderr
    assert "Traceback" not in r.stderr


def test_version(run_cli):
    import lstmlab
    code, out, _ = run_cli("--version")
    assert code == 0 and lstmlab.__version__ in out


@pytest.mark.slow
def test_an_option_applies_where_it_can(run_cli, tmp_path):
    """--start with several presets applies to the one that generates; the others run as
    they are (no error: it applies to one of them)."""
    out = tmp_path / "run"
    code, text, err = run_cli("run", "one-char", "stateful", "--start", "M", "--epochs", "2",
                              "--seeds", "2", "-q", "--out", out)
    assert code == 0, err
    assert "Generated from 'M'" in text
    import json
    configs = json.loads((out / "config.json").read_text())["experiments"]
    assert configs["stateful"]["start"] == "M" and configs["one-char"]["start"] == ""


def test_a_fifo_and_a_huge_file_are_refused_without_reading(run_cli, tmp_path):
    import os
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _, err = run_cli("run", "one-char", "--text-file", fifo)  # would block if opened
    assert code == 2 and "not a regular file" in err
    from lstmlab.data import MAX_TEXT_BYTES
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(MAX_TEXT_BYTES + 1)  # sparse: nothing written
    code, _, err = run_cli("run", "one-char", "--text-file", big)
    assert code == 2 and "the limit for a text file" in err
    binary = tmp_path / "a.bin"  # valid UTF-8, but a NUL byte: not a text
    binary.write_bytes(b"ABCDEF\x00GHIJ" * 10)
    code, _, err = run_cli("run", "char-rnn", "--text-file", binary)
    assert code == 2 and "looks binary (a NUL byte at offset 6)" in err
    binary.write_bytes(b"ABCDEF" * 10)  # negative control: without it, another error
    code, _, err = run_cli("run", "char-rnn", "--text-file", binary)
    assert code == 2 and "binary" not in err and "need at least" in err


def test_python_api_checks_types_like_the_cli():
    import lstmlab
    for bad in ({"epochs": "5"}, {"seeds": 2.5}, {"window": True}, {"lr": "fast"},
                {"shuffle": 1}, {"sequence": 42}):
        with pytest.raises(lstmlab.ConfigError, match=repr(next(iter(bad.values())))
                           .replace("(", r"\(").replace(".", r"\.")):
            lstmlab.run("one-char", **bad)
    with pytest.raises(lstmlab.ConfigError, match="does not apply"):
        lstmlab.run("one-char", start="M")
    assert issubclass(lstmlab.DataError, ValueError)


@pytest.mark.slow
def test_summary_fits_80_and_120_columns():
    """The summary table is cut nowhere: at 80 and 120 columns every line fits, no cell
    is truncated with an ellipsis, and every value appears whole."""
    import io

    from rich.console import Console

    import lstmlab
    from lstmlab import console, tables
    results = [lstmlab.run(name, seeds=3, epochs=2) for name in
               ("variable-length", "stateful", "batch-state")]
    results[1].cached = True
    from lstmlab.kinds import window_view
    _, _, rows, _ = window_view.table(results, terminal=True)
    for width in (80, 120):
        buf = io.StringIO()
        console.summary(results, Console(file=buf, width=width, highlight=False))
        text = buf.getvalue()
        assert max(len(line) for line in text.splitlines()) <= width
        assert "…" not in text
        words = text.split()
        for row in rows:
            for cell in row:
                assert all(w in words for w in cell.split()), (width, cell)
        assert "stateful*" in words and "* cached" in text


@pytest.mark.slow
def test_a_piped_run_writes_nothing_to_stderr(tmp_path):
    r = subprocess.run(["lstmlab", "run", "one-char", "--epochs", "2", "--seeds", "2",
                        "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""


@pytest.mark.slow
def test_invisible_symbols_are_shown_visibly(run_cli, tmp_path):
    from lstmlab import data
    assert data.show("a b\n\tc\x0b") == "a·b⏎⇥c\\x0b"
    out = tmp_path / "run"
    code, text, _ = run_cli("run", "timestep-window", "--sequence", "ab c\nde\tf",
                            "--window", "2", "--epochs", "2", "--seeds", "1", "-q", "--out", out)
    assert code == 0
    assert "['b', '·'] -> c" in text or "['b', '·'] ->" in text
    assert "\n" not in "".join(line for line in text.splitlines() if " -> " in line)
    code, text, _ = run_cli("predict", out, "--experiment", "timestep-window", "b c")
    assert code == 0 and text.startswith("b·c -> ")
    report = (out / "report.md").read_text()
    assert "| ·c |" in report or "·c" in report


@pytest.mark.slow
def test_predict_says_when_a_window_was_never_seen(run_cli, tmp_path):
    out = tmp_path / "run"
    assert run_cli("run", "timestep-window", "stateful", "--epochs", "2", "--seeds", "1",
                   "-q", "--out", out)[0] == 0
    code, text, _ = run_cli("predict", out, "--experiment", "timestep-window", "ABC", "AZQ",
                            "XYZ")
    lines = text.strip().splitlines()
    assert code == 0 and lines[0].startswith("ABC -> ") and "note" not in lines[1]
    assert "'AZQ' is never followed by a symbol in the training sequence" in lines[2]
    assert "'XYZ' is never followed" in lines[4]  # it occurs, but only at the very end
    code, text, _ = run_cli("predict", out, "--experiment", "stateful", "ABC", "K")
    assert "not how the sequence begins" in text.strip().splitlines()[-1]
    assert text.count("note:") == 1
    code, _, err = run_cli("predict", out, "--experiment", "nosuch", "ABC")
    assert code == 2 and "has no experiment 'nosuch'; it has: timestep-window, stateful" \
        in err or "it has: stateful, timestep-window" in err


def test_the_progress_bar_says_compiling_until_the_first_epochs(monkeypatch):
    import io

    import numpy as np
    from rich.console import Console

    from lstmlab import terminal
    from lstmlab.kinds import window_view
    buf = io.StringIO()
    monkeypatch.setattr(terminal, "err", Console(file=buf, force_terminal=True, width=100))
    with window_view.Progress(PRESETS["one-char"], None, quiet=False, verbose=False) as bar:
        bar.bar.refresh()
        first = buf.getvalue()
        bar(25, np.full((2, 25, 2), 0.5))
        bar.bar.refresh()
    assert "compiling…" in first and "nan" not in first
    assert "loss 0.5000 acc 0.5000" in buf.getvalue()
    monkeypatch.setattr(terminal, "err", Console(file=io.StringIO(), force_terminal=False))
    assert window_view.Progress(PRESETS["one-char"], None, False, False).bar is None  # piped


def test_the_memory_check_states_its_rule(monkeypatch):
    from lstmlab import ConfigError, budget, experiments
    monkeypatch.setattr(budget, "available_memory", lambda: 2**30)
    with pytest.raises(ConfigError, match=r"a run may use 80% of the 1\.0 GiB available "
                                          r"\(0\.8 GiB\)"):
        experiments.prepare(experiments.resolve("timestep-window", units=2048))


@pytest.mark.slow
def test_the_test_suites_compilation_cache_is_kept_only_where_asked(tmp_path):
    """conftest's cache directory is kept between sessions where LSTMLAB_TEST_CACHE_DIR
    (or the user cache) says, with the programs the session compiled; with
    LSTMLAB_TEST_CACHE_DIR="" it is a fresh one, removed when the session ends."""
    import subprocess
    here = Path(__file__).parent

    def session(cache_dir):
        env = {**os.environ, "TMPDIR": str(tmp_path), "LSTMLAB_TEST_CACHE_DIR": cache_dir}
        env.pop("LSTMLAB_CACHE_DIR", None)
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(here / "test_train.py::test_same_seed_gives_identical_"
                                "history_and_params")],
                           env=env, capture_output=True, text=True, cwd=here.parent)
        assert r.returncode == 0, r.stdout + r.stderr
    session("")
    assert not list(tmp_path.glob("lstmlab-test-cache-*"))
    session(str(tmp_path / "kept"))
    assert len(list((tmp_path / "kept").iterdir())) > 0


def test_the_command_leaves_at_once_with_its_output_and_files_whole(tmp_path):
    """``python -m lstmlab`` (cli.process) leaves without the interpreter's teardown once
    JAX has run: its exit code, its piped output to the last line and its files are whole;
    a bad value is still one line and exit 2."""
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "lstmlab", "run", "timestep-window", "--seeds",
                        "1", "--epochs", "2", "--out", str(out)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.rstrip().splitlines()[-1].startswith("Run directory:")
    assert (out / "report.html").read_text().rstrip().endswith("</html>")
    assert json.loads((out / "timestep-window" / "record.json").read_text())
    # one seed's report draws no accuracy histogram (one bar); two seeds' does
    assert (out / "plots" / "timestep-window-curves.png").is_file()
    assert not (out / "plots" / "timestep-window-accuracy.png").exists()
    two = tmp_path / "two"
    assert subprocess.run([sys.executable, "-m", "lstmlab", "run", "timestep-window",
                           "--seeds", "2", "--epochs", "2", "--out", str(two), "-q"],
                          capture_output=True).returncode == 0
    assert (two / "plots" / "timestep-window-accuracy.png").is_file()
    bad = subprocess.run([sys.executable, "-m", "lstmlab", "run", "timestep-window",
                          "--seeds", "0", "--out", str(tmp_path / "bad")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "seeds 0" in bad.stderr
    assert not (tmp_path / "bad").exists()
