"""One experiment's record as files, the pieces every kind of experiment shares: the names
of its files, its settings as JSON (a long sequence kept once, by its sha256), its arrays
written and read through ``files`` (atomic, bounded), and the checks a kind's loader makes
of what it reads. The kinds (``lstmlab.kinds``) write and read their own records with
these; ``records`` keeps the run directory's lifecycle and run-wide files."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import data
from .config import Config
from .files import atomic_write, dumps, read_bytes

RECORD, ARRAYS, SEQUENCES = "record.json", "arrays.npz", "sequences"
MAX_RECORD_BYTES = 64 * 2**20  # a record.json is read whole; 10,000 seeds fit in a few MiB
MAX_ARRAYS_BYTES = 16 * 2**30  # arrays.npz: far above what budget lets a record keep
RECORD_VERSION = 3
INLINE_SEQUENCE = 200  # longer sequences are kept once, in sequences/<sha256>.txt


# -- what a kept picture or page was drawn from --------------------------------------------

DRAWN = ".drawn.json"  # in a run directory: each kept plot's and page's key (file → key)


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of lstmlab's code and assets and of matplotlib's version: a drawing made by
    other code is not reused."""
    from importlib.metadata import version
    h = hashlib.blake2b(version("matplotlib").encode(), digest_size=16)
    root = Path(__file__).parent
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".js", ".css",
                                                                  ".html")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def record_digest(exp_dir: Path) -> str | None:
    """What an experiment's pictures are drawn from: its record and arrays as saved, and
    the code that draws (None when it has no complete record). Read once per version of
    the files (the report and the explorer pages both ask)."""
    try:
        seen = tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in
                     (os.stat(exp_dir / RECORD), os.stat(exp_dir / ARRAYS)))
    except OSError:
        return None
    return _digest(str(exp_dir), seen)


@lru_cache(maxsize=256)
def _digest(exp_dir: str, seen: tuple) -> str | None:
    h = hashlib.blake2b(code_digest().encode(), digest_size=16)
    for name in (RECORD, ARRAYS):
        try:
            with open(Path(exp_dir) / name, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            return None
    return h.hexdigest()


def is_kept(out_dir: Path, name: str, key: str | None, kept: dict[str, str]) -> bool:
    """Is ``out_dir / name`` kept, drawn from ``key`` (``kept``: :func:`drawn`'s)?"""
    return key is not None and kept.get(name) == key and (out_dir / name).is_file()


def drawn(out_dir: Path) -> dict[str, str]:
    """The keys of the pictures and pages kept in ``out_dir`` (none when unreadable)."""
    try:
        got = json.loads(read_bytes(out_dir / DRAWN, MAX_RECORD_BYTES, DRAWN))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in got.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(got, dict) else {}


def keep_drawn(out_dir: Path, keys: dict[str, str | None]) -> None:
    """Record ``keys`` (file → key; None forgets the file's) in ``out_dir``'s index."""
    kept = drawn(out_dir)
    for k, v in keys.items():
        kept.pop(k, None) if v is None else kept.__setitem__(k, v)
    atomic_write(out_dir / DRAWN, dumps(kept))


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


def record_base(run_dir: Path, res, models: bool) -> dict:
    """What every kind's record.json holds: its format, settings, whether its models were
    kept, vocabulary, seconds, the per-seed numbers and summary, the measurements."""
    return {"format_version": RECORD_VERSION, "config": config_json(run_dir, res.config),
            "models": models, "vocab": list(res.dataset.vocab.symbols),
            "compile_s": res.compile_s, "train_s": res.train_s,
            "summary": res.summary(), "seeds": res.per_seed(strings=True),
            "analyses": res.analyses, "looks_taken": list(res.taken)}


def write_record(exp_dir: Path, record: dict) -> None:
    atomic_write(exp_dir / RECORD, dumps(record))


def write_arrays(exp_dir: Path, **arrays) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(exp_dir / ARRAYS, buf.getvalue())


def read_arrays(exp_dir: Path) -> dict[str, np.ndarray]:
    """An experiment's arrays.npz (bounded; no pickles)."""
    raw = read_bytes(exp_dir / ARRAYS, MAX_ARRAYS_BYTES, ARRAYS)
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def read_record(exp_dir: Path) -> dict:
    """An experiment's record.json as a dict (errors: OSError, ValueError)."""
    record = json.loads(read_bytes(exp_dir / RECORD, MAX_RECORD_BYTES, RECORD))
    check(isinstance(record, dict), "record.json is not an object")
    return record


def record_config(exp_dir: Path, record: dict) -> Config:
    """The settings of a record, checked: its format version, its name, its vocabulary
    (its kind validates them together when it loads the rest)."""
    version = record.get("format_version", 1)  # lstmlab 0.1's first records had none
    check(version != 1 and version != 2, "trained before lstmlab's training was "
          "Keras-exact (record versions 1 and 2: optax's Adam and loss)")
    check(version == RECORD_VERSION, f"record format version {version!r}; this "
          f"lstmlab reads version {RECORD_VERSION}")
    raw = dict(record["config"])
    raw["sequence"] = read_sequence(exp_dir.parent, raw.get("sequence"))
    cfg = Config(**raw)
    check(cfg.name == exp_dir.name, f"the record is of experiment {cfg.name!r}")
    vocab = data.Vocab(tuple(record["vocab"]))
    check(vocab == data.Vocab.from_sequence(cfg.sequence),
          "the vocabulary does not match the sequence")
    check(number(record["compile_s"]) and number(record["train_s"]),
          "compile_s and train_s must be numbers")
    return cfg


def number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check(ok: bool, what: str) -> None:
    """ValueError(``what``) unless ``ok``: a loader's every check of what it read."""
    if not ok:
        raise ValueError(what)


def shaped(arrays: dict, name: str, shape: tuple, kind: str) -> np.ndarray:
    """``arrays[name]`` with exactly ``shape`` and dtype kind ('i' integer, 'f' float,
    'b' boolean)."""
    check(name in arrays, f"the array {name!r} is missing")
    a = arrays[name]
    check(a.shape == shape and a.dtype.kind == kind,
          f"the array {name!r} has shape {a.shape} ({a.dtype}), expected {shape} "
          f"({dict(i='integer', f='float', b='boolean')[kind]})")
    return a


def models_flag(record: dict) -> bool:
    has = record.get("models", True)  # the first version-3 records had no key
    check(isinstance(has, bool), "models must be true or false")
    return has


def looks_ok(looks) -> bool:
    """A settling design as stored: a non-empty list of positive seed counts."""
    return isinstance(looks, list) and bool(looks) and all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in looks)


def looks_taken(record: dict) -> tuple[int, ...]:
    """The seed counts at which the experiments this record grew from were judged (none in
    records made before they were kept)."""
    got = record.get("looks_taken") or []
    check(got == [] or looks_ok(got), "looks_taken must be a list of seed counts")
    return tuple(got)


def analyses(record: dict) -> dict:
    """The measurements a record keeps (measure.of's; none in records made before them)."""
    got = record.get("analyses") or {}
    check(isinstance(got, dict) and all(isinstance(k, str) for k in got),
          "analyses must be an object of measurements")
    return got


def stacked(models: list):
    """The parameters of models, one per replica, stacked on a leading replica axis."""
    import jax
    return jax.tree.map(lambda *a: np.stack(a), *[m.params for m in models]) \
        if models else None


def matching(models: list, cfg: Config, vocab, **more) -> None:
    """Every loaded model is of ``cfg`` (vocabulary, cell, units, layers, and ``more``:
    ModelInfo fields with their values)."""
    for m in models:
        check(m.info.vocab == vocab.symbols and m.info.units == cfg.units
              and m.info.cell == cfg.cell and m.info.layers == cfg.layers
              and all(getattr(m.info, k) == v for k, v in more.items()),
              f"model {m.info.replica} does not match the configuration")
