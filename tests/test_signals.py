"""Ctrl-C and SIGTERM during training: the run stops cleanly between training chunks,
keeps every finished experiment, says how to resume, and exits 130 / 143 — no crash.
(Raised asynchronously inside JAX, the interrupt once left worker threads running
compiled code while the interpreter exited: a segmentation fault, exit 139.)"""

import json
import signal
import subprocess
import sys
import time

import pytest


def run_and_signal(tmp_path, sig):
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "lstmlab", "run", "one-char", "variable-length",
                          "--seeds", "4", "--epochs", "2000", "--window", "4", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (out / "one-char" / "record.json").exists():  # one-char finished:
        assert p.poll() is None and time.time() < deadline, p.communicate()
        time.sleep(0.1)
    time.sleep(1.5)  # ... variable-length is compiling or training
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=120)
    return p.returncode, stdout, stderr, out


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_cleanly(tmp_path, sig, code):
    rc, stdout, stderr, out = run_and_signal(tmp_path, sig)
    assert rc == code, stderr
    assert "Traceback" not in stderr and "Segmentation" not in stderr
    assert f"interrupted ({sig.name}); 1 finished experiment(s) kept" in stderr
    assert "resume with: lstmlab run one-char variable-length" in stderr
    assert (out / "one-char" / "record.json").is_file()
    assert not (out / "variable-length").exists()
    # no temporary file left; one-char's pictures may have been drawn ahead, each whole
    assert {p.name for p in out.rglob(".*")} <= {".lstmlab", ".drawn.json"}
    if (out / ".drawn.json").exists():
        for name in json.loads((out / ".drawn.json").read_text()):
            assert name.startswith("plots/one-char-")
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(json.loads((out / "results.json").read_text())) == {"one-char"}


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_report_is_written_names_the_report_command(
        run_cli, tmp_path, monkeypatch, sig, code):
    import os

    from lstmlab import report
    monkeypatch.setattr(report, "write", lambda *a, **k: (os.kill(os.getpid(), sig),
                                                          time.sleep(5)))
    out = tmp_path / "run"
    rc, text, err = run_cli("run", "one-char", "--seeds", "2", "--epochs", "2", "-q",
                            "--no-settle", "--out", out)
    assert rc == code
    assert f"interrupted ({sig.name}) while writing the report; every experiment is kept " \
           f"in {out}; write the report with: lstmlab report {out}" in err
    assert (out / "one-char" / "record.json").is_file() and (out / "findings.json").is_file()


def test_sigterm_between_settling_rounds_names_the_resume_command(run_cli, tmp_path,
                                                                   monkeypatch):
    import os

    from lstmlab import settle
    monkeypatch.setattr(settle, "settle", lambda *a: (os.kill(os.getpid(), signal.SIGTERM),
                                                      time.sleep(5)))
    out = tmp_path / "run"
    rc, text, err = run_cli("run", "one-char", "--seeds", "2", "--epochs", "2", "-q",
                            "--out", out)
    assert rc == 143
    assert "interrupted (SIGTERM); 1 finished experiment(s) kept" in err
    assert f"resume with: lstmlab run one-char --seeds 2 --epochs 2 -q --out {out}" in err
