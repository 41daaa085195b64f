"""Run directories: their lifecycle (new, claimed, locked, cleaned, loaded) and the
run-wide files; each experiment's record is written and read by its kind
(``ExperimentResult.write``, ``Kind.load``) with ``record_io``.

Layout of ``runs/<UTC timestamp>/`` (or ``--out DIR``)::

    config.json  results.json  history.csv  predictions.csv  report.md  report.html  plots/
    text-history.csv              stream experiments' training and validation loss per
                                  epoch, in nats and bits per symbol
    <experiment>/record.json      settings and per-seed results; written last, so its
                                  presence means the experiment finished
    <experiment>/arrays.npz       patterns, probabilities, histories (allow_pickle=False);
                                  beyond MAX_KEPT_PATTERNS patterns, an evenly spaced sample
                                  of them (kept) and each seed's accuracy and loss (measured)
    <experiment>/<replica>/       a model directory (model.safetensors + model.json); a
                                  stream experiment's is the best-validation model, and
                                  <experiment>/last/<replica>/ the model after the last epoch
    .checkpoints/<experiment>.<settings sha>.npz
                                  a stream experiment's training after its last finished
                                  epoch (resumed from; removed when the experiment is saved)

Every file is written atomically; an experiment directory is assembled beside its final
place and renamed into it, so an interrupted run never leaves half an experiment.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import jax

from . import data, kinds, record_io
from .artifacts import ModelError
from .config import PRESETS, Config
from .errors import ConfigError, RecordError
from .files import atomic_write, csv_text, dumps, make_temp_dir, read_bytes
from .record_io import (ARRAYS, MAX_RECORD_BYTES, RECORD, config_json,  # noqa: F401
                        read_sequence)
from .kinds import ExperimentResult as Result

TEXT_HISTORY = "text-history.csv"  # stream experiments' losses per epoch
HISTORY_HEADER = ["experiment", "replica", "epoch", "loss", "accuracy"]
PREDICTIONS_HEADER = ["experiment", "replica", "set", "input", "target", "prediction",
                      "probability"]


def new_run_dir(root: str | Path = "runs") -> Path:
    """Create and return a new ``runs/<UTC timestamp>``; a second run in the same second
    gets ``…Z-2`` (mkdir fails rather than share a directory another process made)."""
    root = Path(root)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            path = root / (stamp if n == 1 else f"{stamp}-{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as e:
        raise RecordError(f"cannot write to {root}: {e.strerror or e}") from None
    raise RecordError(f"cannot find a free run directory name under {root}")


def ensure_writable(run_dir: Path) -> None:
    """Create ``run_dir`` and prove a file can be written there, or raise RecordError."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=run_dir, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RecordError(f"cannot write to {run_dir}: {e.strerror or e}") from None


@contextmanager
def lock(run_dir: Path):
    """Hold ``run_dir`` for this process (an exclusive flock on the directory itself,
    released when the process ends, even by SIGKILL, and leaving no file behind), or raise
    RecordError if another process holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RecordError(f"{run_dir} is in use by another lstmlab run; wait for it "
                                  f"or choose another --out") from None
            raise
        yield
    finally:
        os.close(fd)


MARKER = ".lstmlab"     # {"kind": "run" | "sweep"}: lstmlab made this directory
PARTIAL = ".lstmlab-partial"  # inside an experiment directory being assembled


def claim(run_dir: Path, kind: str) -> None:
    """Make ``run_dir`` lstmlab's ``kind`` of directory (a run or a sweep), or raise: a
    directory that holds anything lstmlab did not write is refused, and so is one of the
    other kind — nothing of the user's is ever replaced. Directories made before the
    marker existed are recognised by their run files' contents. Call under the lock."""
    marker = run_dir / MARKER
    have = None
    if marker.is_file():
        try:
            have = json.loads(read_bytes(marker, 2**16, MARKER))["kind"]
        except (OSError, ValueError, KeyError, TypeError):
            raise RecordError(f"{marker}: unusable ({MARKER} must hold the directory's "
                              f"kind)") from None
    else:
        have = _made_before_markers(run_dir)
        user = sorted(p.name for p in run_dir.iterdir()
                      if not p.name.startswith(".write-test."))
        if have is None and user:
            raise RecordError(f"{run_dir} is not empty and was not made by lstmlab (no "
                              f"{MARKER} file; it holds {user[0]!r}"
                              + (f" and {len(user) - 1} more" if len(user) > 1 else "")
                              + "): choose a new or empty directory for --out")
    if have is not None and have != kind:
        raise RecordError(f"{run_dir} is an lstmlab {have} directory; a {kind} cannot share "
                          f"it: choose another --out")
    if not marker.is_file():
        atomic_write(marker, dumps({"kind": kind}))


def _made_before_markers(run_dir: Path) -> str | None:
    """"run" or "sweep" for a directory an earlier lstmlab wrote (its config.json or
    sweep.json as lstmlab writes them), else None."""
    for name, keys, kind in (("sweep.json", ("preset", "grid", "points"), "sweep"),
                             ("config.json", ("experiments", "versions"), "run")):
        try:
            info = json.loads(read_bytes(run_dir / name, MAX_RECORD_BYTES, name))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and all(k in info for k in keys):
            return kind
    return None


def clean_leftovers(run_dir: Path) -> None:
    """Remove what a killed run left behind, each recognised by what lstmlab wrote in it:
    experiment directories being assembled (holding PARTIAL), replaced ones (``.<name>.old``
    holding a record) and atomic_write's temporary files (``.<name>.<random>.tmp``) — in a
    directory that carries lstmlab's MARKER. Only call while holding the run's lock."""
    for p in run_dir.glob(".*"):
        if p.is_dir() and ((p / PARTIAL).is_file() or
                           p.name.endswith(".old") and (p / RECORD).is_file()):
            shutil.rmtree(p, ignore_errors=True)
    for p in list(run_dir.glob(".*.tmp")) + list(run_dir.glob("*/.*.tmp")) + \
            list(run_dir.glob("plots/.*.tmp")):
        if p.is_file():
            p.unlink(missing_ok=True)


def environment() -> dict:
    """Package and library versions and the machine, for config.json."""
    versions = {"python": platform.python_version()}
    for pkg in ("lstmlab", "jax", "jaxlib", "optax", "numpy", "scipy", "matplotlib",
                "safetensors", "click", "rich"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"versions": versions,
            "machine": {"platform": platform.platform(), "machine": platform.machine(),
                        "processor": platform.processor(), "cpus": os.cpu_count(),
                        "jax_devices": [str(d) for d in jax.devices()]},
            "command": sys.argv}


CHECKPOINTS = ".checkpoints"


def checkpoint(run_dir: Path, cfg: Config) -> Path:
    """Where a stream experiment's training keeps its last finished epoch: named by the
    experiment and a hash of all its settings but the number of epochs (the first k epochs
    of a longer training are the shorter one's: the schedule does not depend on the total),
    so other settings never resume it and more epochs do."""
    settings = {**asdict(cfg), "sequence": data.sha256(cfg.sequence), "note": "",
                "epochs": 0}
    sha = data.sha256(json.dumps(settings, sort_keys=True))[:16]
    return run_dir / CHECKPOINTS / f"{cfg.name}.{sha}.npz"


def other_checkpoints(run_dir: Path, cfg: Config) -> list[Path]:
    """Checkpoints of ``cfg``'s experiment with other settings: never used by this
    training, and never removed by it (they resume when their settings run again)."""
    mine = checkpoint(run_dir, cfg)
    return sorted(p for p in (run_dir / CHECKPOINTS).glob(f"{glob_escape(cfg.name)}.*.npz")
                  if p != mine)


def glob_escape(text: str) -> str:
    """``text`` matched literally by Path.glob (a point's name may hold [ or *)."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def save_result(run_dir: Path, res, models: bool = True) -> None:
    """Write one experiment's directory (assembled aside, then renamed into place; the
    result writes its own files), with a model directory per replica unless ``models`` is
    False (a sweep of many points)."""
    final = run_dir / res.config.name
    tmp = make_temp_dir(run_dir, f".{res.config.name}.")
    (tmp / PARTIAL).touch()  # a killed run's leftover is known by this, not by its name
    try:
        res.write(tmp, run_dir, models)
        old = run_dir / f".{res.config.name}.old"
        if old.is_dir() and (old / RECORD).is_file():
            shutil.rmtree(old, ignore_errors=True)  # left by a run killed mid-swap
        (tmp / PARTIAL).unlink()
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if res.kind.checkpointed:  # its training is saved: its checkpoint is no longer needed
        checkpoint(run_dir, res.config).unlink(missing_ok=True)


def load_result(exp_dir: Path):
    """Rebuild an experiment's result from its directory, without training (its kind reads
    the rest). Every field of the record and every array is checked against the
    configuration (RecordError naming the experiment and what is wrong)."""
    try:
        record = record_io.read_record(exp_dir)
        cfg = record_io.record_config(exp_dir, record)
        return kinds.of(cfg).load(exp_dir, record, cfg)
    except (ModelError, ConfigError) as e:
        raise RecordError(f"{exp_dir.name}: {e}") from None
    except (OSError, KeyError, TypeError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise RecordError(f"{exp_dir.name}: unusable record ({e.__class__.__name__}: "
                          f"{e})") from None


def keep_analyses(run_dir: Path, res) -> None:
    """Add what was measured of ``res``'s models since its record was written (a record
    made before the measurements were kept) to its record.json, so that it is measured
    once."""
    path = run_dir / res.config.name / RECORD
    record = _record(path.parent)
    if record is None or record.get("analyses") == res.analyses:
        return
    atomic_write(path, dumps({**record, "analyses": res.analyses}))


def headless(run_dir: Path) -> list[str]:
    """Experiment directories whose record.json is gone (what they hold says what they
    were: a replica's model or the arrays), by name."""
    if not run_dir.is_dir():
        return []
    return sorted(p.name for p in run_dir.iterdir() if p.is_dir()
                  and not p.name.startswith(".") and not (p / RECORD).exists()
                  and ((p / ARRAYS).is_file() or (p / "0" / "model.json").is_file()))


def left_out(run_dir: Path, results: list[Result]) -> set[str]:
    """The experiments of a run directory that ``results`` lack: records that could not be
    loaded, and experiment directories whose record is gone."""
    have = {r.config.name for r in results}
    return {p.parent.name for p in run_dir.glob(f"*/{RECORD}")
            if not p.parent.name.startswith(".")} - have | set(headless(run_dir))


def has_models(exp_dir: Path) -> bool | None:
    """Whether an experiment's record says its models were saved (None: no readable
    record)."""
    record = _record(exp_dir)
    return None if record is None else record.get("models", True)


def in_order(results) -> list[Result]:
    """Results in preset order, then other names in natural order (a sweep's points by
    their values: units=2 before units=16, lr=0.001 before lr=0.01)."""
    rank = {n: i for i, n in enumerate(PRESETS)}
    return sorted(results, key=lambda r: (rank.get(r.config.name, len(rank)),
                                          natural_key(r.config.name)))


_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


def natural_key(name: str) -> tuple:
    """A name split into text and numbers, the numbers compared as numbers."""
    return tuple((0, float(t), "") if i % 2 else (1, 0.0, t)
                 for i, t in enumerate(_NUMBER.split(name)))


def load_run(run_dir: Path, must_exist: bool = False) -> tuple[list[Result], list[str]]:
    """Every finished experiment of a run directory, in order, and one line per damaged
    one (which is left out): none for a new directory, unless ``must_exist``, which asks
    for an existing run with at least one finished experiment."""
    if (must_exist or run_dir.exists()) and not run_dir.is_dir():
        raise RecordError(f"{run_dir}: no such run directory")
    results, damaged = [], []
    for p in sorted(run_dir.glob(f"*/{RECORD}")):
        if p.parent.name.startswith("."):
            continue  # a directory being assembled, or left by a killed run
        try:
            results.append(load_result(p.parent))
        except RecordError as e:
            damaged.append(str(e))
    for name in headless(run_dir):
        damaged.append(f"{name}: its {RECORD} is missing")
    if must_exist and not results:
        raise RecordError(f"{run_dir}: no finished experiment in this run directory"
                          + (f" ({damaged[0]})" if damaged else ""))
    return in_order(results), damaged


def write_run_files(run_dir: Path, results: list[Result], pending: list[Config] = (),
                    settle_looks: list[int] | None = None, config: bool = True) -> None:
    """config.json, results.json, history.csv and predictions.csv for the whole run;
    ``settle_looks``: the planned looks of settling (the findings' design), if it ran.
    ``config`` False (``lstmlab report``): config.json, which records the run's command
    and machine, is left as the run wrote it."""
    configs = {r.config.name: config_json(run_dir, r.config) for r in results}
    configs.update({c.name: config_json(run_dir, c) for c in pending if c.name not in configs})
    if config or not (run_dir / "config.json").is_file():
        atomic_write(run_dir / "config.json", dumps({"experiments": configs,
                                                     "settle_looks": settle_looks,
                                                     **environment()}))
    atomic_write(run_dir / "results.json", dumps(
        {r.config.name: {"summary": r.summary(), "seeds": r.per_seed(strings=True),
                         "cached": r.cached} for r in results}))
    # each kind's rows of the run-wide CSVs (history.csv, predictions.csv, text-history.csv)
    # (rows as tuples, or as CSV text already)
    files: dict[str, list[str]] = {"history.csv": [csv_text([HISTORY_HEADER])],
                                   "predictions.csv": [csv_text([PREDICTIONS_HEADER])]}
    for r in results:
        for name, (header, rows) in r.run_files().items():
            files.setdefault(name, [csv_text([header])]).append(
                rows if isinstance(rows, str) else csv_text(rows))
    for name, parts in files.items():
        atomic_write(run_dir / name, "".join(parts))


FINDINGS = "findings.json"


def findings_json(found: list, design: str = "") -> dict:
    """The findings as data: per claim its id, text, measurement, estimate, interval with
    its method and level, seeds and verdict; and the settling design in words."""
    return {"design": design or None, "findings": [f.to_json() for f in found]}


def write_findings(run_dir: Path, found: list, design: str = "") -> None:
    atomic_write(run_dir / FINDINGS, dumps(findings_json(found, design)))


def _record(exp_dir: Path) -> dict | None:
    """An experiment's record.json as a dict, or None when it cannot be read."""
    try:
        return record_io.read_record(exp_dir)
    except (OSError, ValueError):
        return None


def record_config(exp_dir: Path) -> dict | None:
    """The settings an experiment of a run was trained with (its record.json's config, a
    dict), or None when the record cannot be read."""
    config = (_record(exp_dir) or {}).get("config")
    return config if isinstance(config, dict) else None


def settle_looks(run_dir: Path) -> list[int] | None:
    """The planned looks a run's findings were settled with (config.json), or None."""
    try:
        looks = json.loads(read_bytes(run_dir / "config.json", 64 * 2**20, "config.json")
                           ).get("settle_looks")
    except (OSError, ValueError, AttributeError):
        return None
    return looks if record_io.looks_ok(looks) else None


UNITS_CSV = "units.csv"


def write_units(out_dir: Path, studies: list) -> Path:
    """``units.csv`` in ``out_dir``: every correlation of every seed's units with every
    track (experiment, seed, track, layer, quantity, unit, r)."""
    import pandas as pd
    frames = [f.assign(experiment=s.experiment, seed=k)
              for s in studies for k, f in enumerate(s.frames)]
    cols = ["experiment", "seed", "track", "layer", "quantity", "unit", "r"]
    table = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(
        columns=cols)
    atomic_write(out_dir / UNITS_CSV, table.to_csv(index=False, float_format="%.6g"))
    return out_dir / UNITS_CSV
