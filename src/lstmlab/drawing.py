"""A run's report pictures drawn ahead: while later experiments train, a background process
draws the pictures of each experiment saved so far into the run directory and keeps them
with the key of the record they were drawn from (``document.pictures``), so that the report
at the end reads them instead of drawing (~0.13 s each in matplotlib, 33 in the main job).

Why a process, not a thread: drawing is Python, and on a thread it takes turns with the
run's own Python (the GIL) and slowed the run down (docs/speed.md). The process runs at the
lowest CPU priority, so it draws with what training leaves idle. The report is the same
either way: a picture is read back only under its record's digest, so one drawn from a
record saved again since (settling grew it) is drawn again by the report; a picture the
process did not get to, or a process that failed to start or died, leaves the report to
draw it, as before. It never runs JAX: a kind whose pictures need a model run
(``pictures_ahead`` False) is left to the report.

Protocol: one experiment name per line on the process's stdin; a line "." means "draw
what is asked, then leave"; an end of input without it means the parent is gone (it
stopped or failed): leave. A stopped run ends the process at once (SIGTERM)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DONE = "."
# At the end, what is left is waited for at most this long; then the process is ended and
# the report draws the rest itself. At its low priority, other work on the machine can
# starve it: it must never hold the run (with a core to itself it draws ~8 pictures/s).
FINISH_S = 3.0


class Ahead:
    """The parent's side: ``saved(result, more)`` after each experiment is saved (``more``:
    another is still to train after it); ``finish()`` before the report is written (waits
    until what was asked is drawn); ``stop()`` when the run ends without a report. Its
    process starts when an experiment is saved with another still to train (drawing the
    last one ahead would only make the report wait for the process to start), and from
    then on draws every one saved."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._proc: subprocess.Popen | None = None
        self._broken = False

    def saved(self, res, more: bool) -> None:
        if res.kind.pictures_ahead and (more or self._proc is not None):
            self._send(res.config.name)

    def _send(self, line: str) -> None:
        if self._broken:
            return
        try:
            if self._proc is None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "lstmlab.drawing", str(self.run_dir)],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
        except (OSError, ValueError):  # could not start, or it is gone: the report draws
            self._broken = True

    def finish(self) -> None:
        """Wait until every picture asked for is drawn, at most FINISH_S; then end it (the
        report draws what it did not)."""
        if self._proc is not None:
            self._send(DONE)
            self._end(FINISH_S)

    def stop(self) -> None:
        """End the process now, without drawing what is left (a file it was writing is
        removed: atomic_write; what it drew before is whole and kept)."""
        if self._proc is not None:
            self._end(0.0)

    def _end(self, timeout: float) -> None:
        proc, self._broken = self._proc, True
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()  # SystemExit there: a file being written is removed
            try:
                proc.wait(2.0)
            except subprocess.TimeoutExpired:  # starved even for that: its leftover
                proc.kill()                    # temporary file is cleaned by the next run
                proc.wait()
        self._proc = None  # (interrupted while waiting, stop() still ends it)


def draw(run_dir: Path, name: str) -> None:
    """The pictures of experiment ``name`` of ``run_dir`` (those not kept from its record
    as it is now), drawn, written and kept."""
    from . import document, measure, record_io, records, report
    exp_dir = run_dir / name
    key = record_io.record_digest(exp_dir)
    if key is None:
        return
    res = records.load_result(exp_dir)
    if not res.kind.pictures_ahead or record_io.record_digest(exp_dir) != key:
        return  # saved again while it was read: its next line draws it
    study = measure.kept_study(res, make=False)  # as kept: nothing here may run a model
    document.pictures(run_dir, report.experiment_blocks(res, {}, study, key), read=False)


def serve(run_dir: Path, lines) -> int:
    """Draw each experiment named in ``lines`` until the line DONE (0) or their end (1:
    the run stopped; what is left is left)."""
    for line in lines:
        name = line.rstrip("\n")
        if name == DONE:
            return 0
        try:
            draw(run_dir, name)
        except Exception:  # noqa: BLE001 — whatever fails here, the report draws it
            pass
    return 1


def main(argv: list[str]) -> int:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this ends:
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))  # with SIGTERM, as an exception
    # (a file being written is removed, not left half-written)
    try:
        os.nice(19)  # only what training leaves idle
    except (AttributeError, OSError):
        pass
    sys.stdin.reconfigure(encoding="utf-8")  # the parent writes UTF-8 (a name is the user's)
    return serve(Path(argv[0]), sys.stdin)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
