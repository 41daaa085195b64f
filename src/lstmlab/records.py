"""Run directories: every experiment's record, models and arrays, and the run-wide files.

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

import csv
import errno
import io
import json
import math
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
import numpy as np

from . import data
from .artifacts import Model, ModelError
from .budget import MAX_KEPT_PATTERNS, MAX_STATE_STEPS, kept_index
from .cells import CELLS
from .config import PRESETS, Config
from .datasets import Dataset, build_dataset, build_text, generation_starts, validate
from .results import Result, TextResult, is_text
from .files import atomic_write, dumps, make_temp_dir, read_bytes
from .errors import RecordError

RECORD, ARRAYS, SEQUENCES = "record.json", "arrays.npz", "sequences"
TEXT_HISTORY = "text-history.csv"  # stream experiments' losses per epoch
MAX_RECORD_BYTES = 64 * 2**20  # a record.json is read whole; 10,000 seeds fit in a few MiB
RECORD_VERSION = 3
INLINE_SEQUENCE = 200  # longer sequences are kept once, in sequences/<sha256>.txt




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


def summary(res: Result | TextResult) -> dict:
    """Statistics over seeds of every metric of an experiment: accuracies with
    stats.summarize (bounded, share at 100%), the loss with stats.describe; a stream
    experiment's losses (nats and bits per symbol) with stats.describe."""
    from .stats import CI_METHOD, describe, share_interval, summarize
    if is_text(res):
        out = {"ci_method": "95% CI over seeds: Student t (losses have no bound)",
               "best_val_loss": describe(res.best_val),
               "best_val_bits": describe(res.best_val / math.log(2)),
               "final_train_loss": describe(res.history[:, -1, 0]),
               "best_epoch": [int(e) + 1 for e in res.best_epoch],
               "chars_per_s": res.chars_per_s}
        if res.diverged:
            out["diverged"] = {str(r): epoch for r, epoch in res.diverged.items()}
        return out
    out = {"ci_method": CI_METHOD, "accuracy": summarize(res.accuracy),
           "loss": describe(res.loss)}
    if res.probe is not None:
        out["probe_accuracy"] = summarize(res.probe_accuracy)
    for start in res.generated:
        ok = res.generation_ok(start)
        out.setdefault("generation", {})[start] = {
            "share": float(ok.mean()), "ci95": list(share_interval(int(ok.sum()), len(ok)))}
    if res.order_diff is not None:
        out["order_test"] = {"max_abs_difference": res.order_diff[0],
                             "gradient_scale": res.order_diff[1]}
    if res.diverged:
        out["diverged"] = {str(r): epoch for r, epoch in res.diverged.items()}
    if res.collapsed:
        out["collapsed"] = {str(r): answer for r, answer in res.collapsed.items()}
    return out


def short_sequence(seq: str) -> str | dict:
    """A sequence as records and config.json hold it: inline when short, else its length,
    sha256 and the file (under the run directory) that keeps it once."""
    if len(seq) <= INLINE_SEQUENCE:
        return seq
    sha = data.sha256(seq)
    return {"length": len(seq), "sha256": sha, "file": f"{SEQUENCES}/{sha}.txt"}


def config_json(run_dir: Path, cfg: Config) -> dict:
    """``cfg`` as JSON, a long sequence replaced by a reference to its one stored copy."""
    out = asdict(cfg)
    out["sequence"] = ref = short_sequence(cfg.sequence)
    if isinstance(ref, dict) and not (run_dir / ref["file"]).exists():
        atomic_write(run_dir / ref["file"], cfg.sequence)
    return out


def read_sequence(run_dir: Path, ref) -> str:
    """A sequence as config_json stored it (inline, or its file checked against its sha)."""
    if isinstance(ref, str):
        return ref
    if not (isinstance(ref, dict) and isinstance(ref.get("file"), str)
            and isinstance(ref.get("sha256"), str) and "/" in ref["file"]
            and ".." not in ref["file"]):
        raise ValueError("the sequence is neither a string nor a reference to its file")
    text = read_bytes(run_dir / ref["file"], data.MAX_TEXT_BYTES, "stored sequence") \
        .decode("utf-8")
    if data.sha256(text) != ref["sha256"]:
        raise ValueError(f"{ref['file']} does not match its sha256")
    return text


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


def save_result(run_dir: Path, res: Result | TextResult, models: bool = True) -> None:
    """Write one experiment's directory (assembled aside, then renamed into place), with a
    model directory per replica unless ``models`` is False (a sweep of many points)."""
    final = run_dir / res.config.name
    tmp = make_temp_dir(run_dir, f".{res.config.name}.")
    (tmp / PARTIAL).touch()  # a killed run's leftover is known by this, not by its name
    try:
        if is_text(res):
            _write_text(tmp, run_dir, res, models)
        else:
            _write_windows(tmp, run_dir, res, models)
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
    if res.config.streams:  # its training is saved: its checkpoint is no longer needed
        checkpoint(run_dir, res.config).unlink(missing_ok=True)


def _write_text(tmp: Path, run_dir: Path, res: TextResult, models: bool) -> None:
    """A stream experiment's files: best and last models, history, best epochs, record."""
    if models:
        for r in range(res.config.seeds):
            res.model(r).save(tmp / str(r))
            res.model(r, last=True).save(tmp / "last" / str(r))
    buf = io.BytesIO()
    np.savez(buf, history=res.history, best_epoch=res.best_epoch,
             finite=res.params_finite())
    atomic_write(tmp / ARRAYS, buf.getvalue())
    record = {"format_version": RECORD_VERSION, "config": config_json(run_dir, res.config),
              "models": models, "vocab": list(res.dataset.vocab.symbols),
              "compile_s": res.compile_s, "train_s": res.train_s,
              "trained_epochs": res.trained_epochs, "samples": res.samples,
              "summary": summary(res), "seeds": res.per_seed(strings=True),
              "analyses": res.analyses}
    atomic_write(tmp / RECORD, dumps(record))


def _write_windows(tmp: Path, run_dir: Path, res: Result, models: bool) -> None:
    """A window experiment's files: models, arrays (patterns, probabilities, histories,
    probes, states), record."""
    if models:
        for r in range(res.config.seeds):
            res.model(r).save(tmp / str(r))
    kept, pats, probs = res.readable()
    arrays = {"x": pats.x, "y": pats.y, "probs": probs, "history": res.history,
              "finite": res.params_finite()}
    if kept is not None:
        arrays.update(kept=kept, measured=np.stack([res.accuracy, res.loss], 1))
    if res.probe is not None:
        arrays.update(probe_x=res.probe.x, probe_y=res.probe.y, probe_probs=res.probe_probs)
    if res.states is not None:
        arrays["states"] = res.states
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(tmp / ARRAYS, buf.getvalue())
    record = {"format_version": RECORD_VERSION, "config": config_json(run_dir, res.config),
              "models": models, "asked_seeds": res.asked_seeds,
              "settle_looks": None if res.looks is None else list(res.looks),
              "vocab": list(res.dataset.vocab.symbols),
              "compile_s": res.compile_s, "train_s": res.train_s,
              "generated": res.generated, "order_diff": res.order_diff,
              "summary": summary(res), "seeds": res.per_seed(strings=True),
              "analyses": res.analyses}
    atomic_write(tmp / RECORD, dumps(record))


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _shape(arrays: dict, name: str, shape: tuple, kind: str) -> np.ndarray:
    """``arrays[name]`` with exactly ``shape`` and dtype kind ('i' integer, 'f' float,
    'b' boolean)."""
    _check(name in arrays, f"the array {name!r} is missing")
    a = arrays[name]
    _check(a.shape == shape and a.dtype.kind == kind,
           f"the array {name!r} has shape {a.shape} ({a.dtype}), expected {shape} "
           f"({dict(i='integer', f='float', b='boolean')[kind]})")
    return a


def load_result(exp_dir: Path) -> Result:
    """Rebuild a Result from an experiment directory, without training. Every field of the
    record and every array is checked against the configuration (RecordError naming the
    experiment and what is wrong)."""
    try:
        record = json.loads(read_bytes(exp_dir / RECORD, MAX_RECORD_BYTES, RECORD))
        _check(isinstance(record, dict), "record.json is not an object")
        version = record.get("format_version", 1)  # lstmlab 0.1's first records had none
        _check(version != 1 and version != 2, "trained before lstmlab's training was "
               "Keras-exact (record versions 1 and 2: optax's Adam and loss)")
        _check(version == RECORD_VERSION, f"record format version {version!r}; this "
               f"lstmlab reads version {RECORD_VERSION}")
        raw = dict(record["config"])
        raw["sequence"] = read_sequence(exp_dir.parent, raw.get("sequence"))
        cfg = Config(**raw)
        validate(cfg)
        _check(cfg.name == exp_dir.name, f"the record is of experiment {cfg.name!r}")
        vocab = data.Vocab(tuple(record["vocab"]))
        _check(vocab == data.Vocab.from_sequence(cfg.sequence),
               "the vocabulary does not match the sequence")
        _check(_number(record["compile_s"]) and _number(record["train_s"]),
               "compile_s and train_s must be numbers")
        if cfg.streams:
            return _load_text(exp_dir, record, cfg, vocab)
        gen = record["generated"]
        starts = generation_starts(cfg) if cfg.generate else []
        _check(isinstance(gen, dict) and list(gen) == starts and all(
            isinstance(v, list) and len(v) == cfg.seeds and all(isinstance(g, str) for g in v)
            for v in gen.values()),
            f"generated must map the starts {starts} to one string per seed")
        order = record["order_diff"]
        wants_order = cfg.order_test and not cfg.stateful
        _check(order is None and not wants_order or (
            wants_order and isinstance(order, list) and len(order) == 2
            and all(_number(o) for o in order)),
            "order_diff must be two numbers with the order test, null without")
        with np.load(exp_dir / ARRAYS, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        ds: Dataset = build_dataset(cfg)
        n, v, s = len(ds.patterns), len(vocab), cfg.seeds
        kept, measured = kept_index(n), None
        if kept is not None:
            _check(np.array_equal(_shape(arrays, "kept", kept.shape, "i"), kept),
                   f"the array 'kept' is not the {MAX_KEPT_PATTERNS} patterns a record keeps")
            measured = _shape(arrays, "measured", (s, 2), "f")
        pats = ds.patterns if kept is None else data.Patterns(ds.patterns.x[kept],
                                                              ds.patterns.y[kept])
        for name, want in (("x", pats.x), ("y", pats.y)):
            got = _shape(arrays, name, want.shape, "i")
            _check(np.array_equal(got, want), f"the array {name!r} is not the "
                   f"configuration's data")
        probs = _shape(arrays, "probs", (s, len(pats), v), "f")
        history = _shape(arrays, "history", (s, cfg.epochs, 2), "f")
        if cfg.probe:
            probe = data.Patterns(_shape(arrays, "probe_x", (cfg.probe, ds.patterns.x.shape[1]),
                                         "i"), _shape(arrays, "probe_y", (cfg.probe,), "i"))
            probe_probs = _shape(arrays, "probe_probs", (s, cfg.probe, v), "f")
        states = None
        if cfg.stateful:
            steps = min(MAX_STATE_STEPS, len(cfg.sequence) - cfg.window + 1)
            states = _shape(arrays, "states", (len(CELLS[cfg.cell].state) * cfg.layers, steps,
                                               cfg.units), "f")
        has_models = record.get("models", True)  # the first version-3 records had no key
        _check(isinstance(has_models, bool), "models must be true or false")
        finite = None if has_models else _shape(arrays, "finite", (s,), "b")
        asked = record.get("asked_seeds")  # settled to more seeds than the run asked for
        _check(asked is None or isinstance(asked, int) and not isinstance(asked, bool)
               and 1 <= asked < s, "asked_seeds must be null or fewer than the seeds")
        looks = record.get("settle_looks")
        _check(looks is None or _looks_ok(looks),
               "settle_looks must be null or a list of seed counts")
        models = [Model.load(exp_dir / str(r), check_finite=False)
                  for r in range(s if has_models else 0)]
        for m in models:
            _check(m.info.vocab == vocab.symbols and m.info.units == cfg.units
                   and m.info.cell == cfg.cell and m.info.layers == cfg.layers
                   and m.info.window == cfg.window, f"model {m.info.replica} does not "
                   f"match the configuration")
    except ModelError as e:
        raise RecordError(f"{exp_dir.name}: {e}") from None
    except (OSError, KeyError, TypeError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise RecordError(f"{exp_dir.name}: unusable record ({e.__class__.__name__}: "
                          f"{e})") from None
    params = jax.tree.map(lambda *a: np.stack(a), *[m.params for m in models]) \
        if models else None
    res = Result(cfg, ds, params, history, probs, record["compile_s"], record["train_s"],
                 generated=gen, order_diff=None if order is None else tuple(order),
                 states=states, cached=True, finite=finite, asked_seeds=asked,
                 looks=None if looks is None else tuple(looks), kept=kept,
                 measured=measured, analyses=_analyses(record))
    if cfg.probe:
        res.probe, res.probe_probs = probe, probe_probs
    return res


def _load_text(exp_dir: Path, record: dict, cfg: Config, vocab) -> TextResult:
    """The rest of load_result for a stream experiment (its errors are load_result's)."""
    with np.load(exp_dir / ARRAYS, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    s = cfg.seeds
    history = _shape(arrays, "history", (s, cfg.epochs, 2), "f")
    best_epoch = _shape(arrays, "best_epoch", (s,), "i")
    _check(bool(np.all((0 <= best_epoch) & (best_epoch < cfg.epochs))),
           "best_epoch must name epochs of the training")
    samples = record["samples"]
    _check(isinstance(samples, list) and len(samples) == s
           and all(isinstance(t, str) for t in samples), "samples must be one string per seed")
    has_models = record["models"]
    _check(isinstance(has_models, bool), "models must be true or false")
    finite = None if has_models else _shape(arrays, "finite", (s,), "b")
    kept = [[Model.load(exp_dir / where / str(r), check_finite=False) for r in range(s)]
            for where in (".", "last")] if has_models else [[], []]
    for m in kept[0] + kept[1]:
        _check(m.info.vocab == vocab.symbols and m.info.units == cfg.units
               and m.info.cell == cfg.cell and m.info.layers == cfg.layers
               and m.info.stateful and m.info.window == 1,
               f"model {m.info.replica} does not match the configuration")
    best, last = (jax.tree.map(lambda *a: np.stack(a), *[m.params for m in ms])
                  if ms else None for ms in kept)
    trained = record.get("trained_epochs")
    _check(trained is None or isinstance(trained, int) and not isinstance(trained, bool)
           and 0 <= trained <= cfg.epochs, "trained_epochs must be null or 0 to the epochs")
    return TextResult(cfg, build_text(cfg), best, last, history, best_epoch,
                      record["compile_s"], record["train_s"], samples, cached=True,
                      finite=finite, trained_epochs=trained, analyses=_analyses(record))


def keep_analyses(run_dir: Path, res) -> None:
    """Add what was measured of ``res``'s models since its record was written (a record
    made before the measurements were kept) to its record.json, so that it is measured
    once."""
    path = run_dir / res.config.name / RECORD
    record = _record(path.parent)
    if record is None or record.get("analyses") == res.analyses:
        return
    atomic_write(path, dumps({**record, "analyses": res.analyses}))


def _analyses(record: dict) -> dict:
    """The measurements a record keeps (measure.of's; none in records made before them)."""
    got = record.get("analyses") or {}
    _check(isinstance(got, dict) and all(isinstance(k, str) for k in got),
           "analyses must be an object of measurements")
    return got


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


def _csv(header: list[str], rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


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
        {r.config.name: {"summary": summary(r), "seeds": r.per_seed(strings=True),
                         "cached": r.cached} for r in results}))
    hist, text_hist = [], []
    for r in results:
        if is_text(r):
            for s in range(r.config.seeds):
                for e, (train, val) in enumerate(r.history[s]):
                    text_hist.append((r.config.name, s, e + 1, f"{train:.6g}", f"{val:.6g}",
                                      f"{train / math.log(2):.6g}", f"{val / math.log(2):.6g}"))
            continue
        for s in range(r.config.seeds):
            for e, (loss, acc) in enumerate(r.history[s]):
                hist.append((r.config.name, s, e + 1, f"{loss:.6g}", f"{acc:.6g}"))
    atomic_write(run_dir / "history.csv",
                 _csv(["experiment", "replica", "epoch", "loss", "accuracy"], hist))
    if text_hist:
        atomic_write(run_dir / TEXT_HISTORY,
                     _csv(["experiment", "replica", "epoch", "train_nats", "val_nats",
                           "train_bits", "val_bits"], text_hist))
    preds = []
    for r in results:
        if is_text(r):
            continue
        sets = [("train", *r.readable()[1:])]
        if r.probe is not None:
            sets.append(("probe", r.probe, r.probe_probs))
        vocab = r.dataset.vocab
        for name, pats, probs in sets:
            for s in range(r.config.seeds):
                k = probs[s].argmax(-1)
                for i in range(len(pats)):
                    preds.append((r.config.name, s, name, "".join(vocab.decode(pats.x[i])),
                                  vocab.symbols[pats.y[i]], vocab.symbols[k[i]],
                                  f"{probs[s, i, k[i]]:.6g}"))
    atomic_write(run_dir / "predictions.csv",
                 _csv(["experiment", "replica", "set", "input", "target", "prediction",
                       "probability"], preds))


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
        record = json.loads(read_bytes(exp_dir / RECORD, MAX_RECORD_BYTES, RECORD))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_config(exp_dir: Path) -> dict | None:
    """The settings an experiment of a run was trained with (its record.json's config, a
    dict), or None when the record cannot be read."""
    config = (_record(exp_dir) or {}).get("config")
    return config if isinstance(config, dict) else None


def _looks_ok(looks) -> bool:
    """A settling design as stored: a non-empty list of positive seed counts."""
    return isinstance(looks, list) and bool(looks) and all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in looks)


def settle_looks(run_dir: Path) -> list[int] | None:
    """The planned looks a run's findings were settled with (config.json), or None."""
    try:
        looks = json.loads(read_bytes(run_dir / "config.json", 64 * 2**20, "config.json")
                           ).get("settle_looks")
    except (OSError, ValueError, AttributeError):
        return None
    return looks if _looks_ok(looks) else None


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
