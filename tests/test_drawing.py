"""The report's pictures drawn ahead in a background process while later experiments
train (lstmlab.drawing): the same pictures as the report draws, read back only under the
key of the record they were drawn from, and a process that is never waited for long."""

import io
import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from lstmlab import drawing, job, record_io, records


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run of two experiments (the first drawn ahead while the second trained),
    and a copy whose pictures the report drew itself."""
    root = tmp_path_factory.mktemp("drawing")
    ahead = root / "ahead"
    job.reproduce(["one-char", "stateful"], out=ahead, seeds=2, epochs=3, settle=False,
                  quiet=True)
    alone = root / "alone"
    shutil.copytree(ahead, alone)
    shutil.rmtree(alone / "plots")
    (alone / record_io.DRAWN).unlink()
    from lstmlab import cli
    argv, sys.argv = sys.argv, ["lstmlab", "report", str(alone)]
    try:
        cli.entry()  # returns when the command succeeds (exits 2 on an error)
    finally:
        sys.argv = argv
    assert len(list((alone / "plots").glob("*.png"))) == 7
    return ahead, alone


def _pngs(run_dir):
    return {p.name: p.read_bytes() for p in (run_dir / "plots").glob("*.png")}


def test_pictures_drawn_ahead_are_those_the_report_draws(finished):
    ahead, alone = finished
    assert _pngs(ahead) == _pngs(alone) and len(_pngs(ahead)) == 7
    kept = record_io.drawn(ahead)
    for name in _pngs(ahead):  # each kept under the digest of its experiment's record
        exp = "one-char" if name.startswith("one-char") else "stateful"
        assert kept[f"plots/{name}"] == record_io.record_digest(ahead / exp)


def test_the_process_draws_an_experiment_and_the_report_reads_it(finished, tmp_path):
    """A real process, asked for one experiment: its pictures written and kept, byte for
    byte the report's; the report then reads them (a kept picture is not drawn again)."""
    _, alone = finished
    run = tmp_path / "run"
    shutil.copytree(alone, run)
    shutil.rmtree(run / "plots")
    (run / record_io.DRAWN).unlink()
    res = records.load_result(run / "one-char")
    a = drawing.Ahead(run)
    a.saved(res, True)
    a.finish()
    got = _pngs(run)
    assert set(got) == {"one-char-curves.png", "one-char-accuracy.png",
                        "one-char-saturation.png"}
    assert all(got[n] == _pngs(alone)[n] for n in got)
    kept = record_io.drawn(run)
    assert set(kept) == {f"plots/{n}" for n in got}


def test_a_picture_of_an_older_record_is_drawn_again(finished, tmp_path, run_cli):
    """Negative control of reading back: a picture kept from the record as it was is
    replaced once the record changes (a settling round saved it again), and kept while it
    does not."""
    _, alone = finished
    run = tmp_path / "run"
    shutil.copytree(alone, run)
    curves = run / "plots" / "one-char-curves.png"
    curves.write_bytes(b"not the picture")  # kept under the record's key: read as it is
    assert run_cli("report", str(run))[0] == 0
    assert curves.read_bytes() == b"not the picture"
    record = run / "one-char" / "record.json"
    rec = json.loads(record.read_text())
    rec["compile_s"] = rec["compile_s"] + 1.0  # the record saved again, another digest
    record.write_text(json.dumps(rec))
    assert run_cli("report", str(run))[0] == 0
    assert curves.read_bytes() == _pngs(alone)["one-char-curves.png"]


def _result(name="one-char", ahead=True):
    return SimpleNamespace(config=SimpleNamespace(name=name),
                           kind=SimpleNamespace(pictures_ahead=ahead))


class _Pipe(io.StringIO):
    def close(self):
        self.lines = self.getvalue().splitlines()  # what was sent before the end of input
        super().close()


class _Process:
    """subprocess.Popen's stand-in: what it was sent, whether it was waited for; ``busy``:
    it does not end by itself (drawing for longer than it is waited for)."""
    started, busy = [], False

    def __init__(self, args, **kw):
        self.args, self.stdin, self.waited, self.terminated = args, _Pipe(), False, False
        self.waits = []
        _Process.started.append(self)

    def terminate(self):
        self.terminated = True

    def kill(self):
        raise AssertionError("a terminated process leaves through Python: no kill")

    def wait(self, timeout=None):
        assert self.stdin.closed  # its input ended before it is waited for
        self.waits.append(timeout)
        if not self.terminated and (self.busy or timeout == 0):
            raise subprocess.TimeoutExpired("drawing", timeout)
        self.lines, self.waited = self.stdin.lines, True


def test_the_process_starts_only_when_an_experiment_is_left_to_train(monkeypatch, tmp_path):
    _Process.started = []
    monkeypatch.setattr(drawing.subprocess, "Popen", _Process)
    a = drawing.Ahead(tmp_path)
    a.saved(_result("last"), False)  # the last one: the report draws it, nothing started
    a.saved(_result("memory", ahead=False), True)  # pictures that run a model: not here
    assert _Process.started == []
    a.saved(_result("one-char"), True)  # another still to train: drawn meanwhile
    a.saved(_result("stateful"), False)  # and, once started, every one saved
    assert len(_Process.started) == 1
    p = _Process.started[0]
    assert p.args[1:3] == ["-m", "lstmlab.drawing"] and p.args[3] == str(tmp_path)
    a.finish()
    assert p.waited and p.lines == ["one-char", "stateful", drawing.DONE]
    assert not p.terminated
    a.saved(_result("more"), True)  # finished: nothing more is sent or started
    assert len(_Process.started) == 1


def test_the_end_waits_for_what_is_left_only_so_long(monkeypatch, tmp_path):
    """A process that is still drawing (starved at its low priority) is ended after
    FINISH_S: the report draws the rest; one that is done is not ended."""
    _Process.started = []
    monkeypatch.setattr(drawing.subprocess, "Popen", _Process)
    monkeypatch.setattr(_Process, "busy", True)
    a = drawing.Ahead(tmp_path)
    a.saved(_result("one-char"), True)
    a.finish()
    p = _Process.started[0]
    assert p.terminated and p.waits[0] == drawing.FINISH_S and p.lines[-1] == drawing.DONE
    monkeypatch.setattr(_Process, "busy", False)
    b = drawing.Ahead(tmp_path)
    b.saved(_result("one-char"), True)
    b.finish()
    assert not _Process.started[1].terminated


def test_a_stopped_run_ends_the_process_at_once(monkeypatch, tmp_path):
    _Process.started = []
    monkeypatch.setattr(drawing.subprocess, "Popen", _Process)
    a = drawing.Ahead(tmp_path)
    a.saved(_result("one-char"), True)
    a.stop()
    p = _Process.started[0]
    assert p.terminated and p.waited and p.lines == ["one-char"]  # no DONE
    a.stop()  # once


def test_a_stopped_process_leaves_no_half_written_file(tmp_path):
    """The real process, ended while it draws: whatever it wrote is whole (a picture it
    was writing is removed), and it ends at once."""
    code = ("import os, sys, time; from lstmlab import drawing, files\n"
            "def slow(run_dir, name):\n"
            "    files.atomic_write(run_dir / 'done.txt', 'whole')\n"
            "    os.fsync = lambda fd: (print('writing', flush=True), time.sleep(60))\n"
            "    files.atomic_write(run_dir / 'picture.png', b'half')\n"
            "drawing.draw = slow\n"
            "sys.exit(drawing.main([sys.argv[1]]))\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    p.stdin.write("one-char\n")
    p.stdin.flush()
    assert p.stdout.readline() == "writing\n"  # its temporary file is there now
    p.terminate()
    assert p.wait(30) == 1  # SystemExit(1): it left through Python, not killed
    assert sorted(f.name for f in tmp_path.iterdir()) == ["done.txt"]


def test_a_process_that_cannot_start_leaves_the_pictures_to_the_report(monkeypatch, tmp_path):
    def fails(*a, **k):
        raise OSError("no such file")
    monkeypatch.setattr(drawing.subprocess, "Popen", fails)
    a = drawing.Ahead(tmp_path)
    a.saved(_result(), True)  # no error: the report draws them
    a.saved(_result("stateful"), True)
    a.finish()
    a.stop()


def test_the_process_draws_until_told_to_leave(monkeypatch, tmp_path):
    asked = []

    def draw(run_dir, name):
        asked.append(name)
        if name == "broken":
            raise ValueError("a damaged record")  # the report says it; drawing goes on
    monkeypatch.setattr(drawing, "draw", draw)
    assert drawing.serve(tmp_path, io.StringIO("a\nbroken\nb\n.\nc\n")) == 0
    assert asked == ["a", "broken", "b"]  # nothing after "."
    asked.clear()
    assert drawing.serve(tmp_path, io.StringIO("a\n")) == 1  # the run stopped: leave
    assert asked == ["a"]
