import subprocess

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
])
def test_bad_input_is_one_line_exit_2(run_cli, args, named):
    code, out, err = run_cli(*args)
    assert code == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstmlab: error:")
    assert named in lines[0]
    assert "allowed" in lines[0] or "choose" in lines[0] or "No such option" in lines[0] \
        or "not a valid integer" in lines[0] or "vocabulary" in lines[0]
    assert out == ""  # nothing was trained or printed


def test_list_names_every_preset(run_cli):
    code, out, _ = run_cli("list")
    assert code == 0
    assert [line.split()[0] for line in out.strip().splitlines()] == list(PRESETS)


def test_run_prints_the_notebooks_output(run_cli):
    code, out, _ = run_cli("run", "two-char", "--epochs", "3", "-q")
    assert code == 0
    assert "AB -> C" in out and "XY -> Z" in out
    assert "Model Accuracy:" in out and "['A', 'B'] -> " in out
    assert "Summary" in out and "two-char" in out


def test_verbose_prints_the_epoch_log(run_cli):
    code, out, _ = run_cli("run", "one-char", "--epochs", "2", "-v")
    assert code == 0
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and " - loss: " in out


def test_console_script_is_installed():
    r = subprocess.run(["lstmlab", "run", "x"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown experiment 'x'" in r.stderr
    assert "Traceback" not in r.stderr
