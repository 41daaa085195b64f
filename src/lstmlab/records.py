"""Run directories: every experiment's record, models and arrays, and the run-wide files.

Layout of ``runs/<UTC timestamp>/`` (or ``--out DIR``)::

    config.json  results.json  history.csv  predictions.csv  report.md  report.html  plots/
    <experiment>/record.json      settings and per-seed results; written last, so its
                                  presence means the experiment finished
    <experiment>/arrays.npz       patterns, probabilities, histories (allow_pickle=False)
    <experiment>/<replica>/       a model directory (model.safetensors + model.json)

Every file is written atomically; an experiment directory is assembled beside its final
place and renamed into it, so an interrupted run never leaves half an experiment.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import jax
import numpy as np

from . import data
from .artifacts import Model, ModelError, atomic_write
from .experiments import PRESETS, Config, Dataset, Result, build_dataset

RECORD, ARRAYS = "record.json", "arrays.npz"


class RecordError(ValueError):
    """A run directory that cannot be written or read; the CLI prints it as one line."""


def new_run_dir(root: str | Path = "runs") -> Path:
    """``runs/<UTC timestamp>``."""
    return Path(root) / datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")


def ensure_writable(run_dir: Path) -> None:
    """Create ``run_dir`` and prove a file can be written there, or raise RecordError."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=run_dir, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RecordError(f"cannot write to {run_dir}: {e.strerror or e}") from None


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


def summary(res: Result) -> dict:
    """Statistics over seeds of every metric of an experiment (evaluate.summarize)."""
    from .evaluate import CI_METHOD, summarize, wilson_interval
    out = {"ci_method": CI_METHOD, "accuracy": summarize(res.accuracy),
           "loss": summarize(res.loss)}
    if res.probe is not None:
        out["probe_accuracy"] = summarize(res.probe_accuracy)
    for start in res.generated:
        ok = res.generation_ok(start)
        out.setdefault("generation", {})[start] = {
            "share": float(ok.mean()), "ci95": list(wilson_interval(int(ok.sum()), len(ok)))}
    if res.order_diff is not None:
        out["order_test"] = {"max_abs_difference": res.order_diff[0],
                             "gradient_scale": res.order_diff[1]}
    return out


def per_seed(res: Result) -> list[dict]:
    """results.json's rows: one per replica."""
    rows = []
    for r in range(res.config.seeds):
        row = {"replica": r, "accuracy": float(res.accuracy[r]), "loss": float(res.loss[r]),
               "final_epoch_loss": float(res.history[r, -1, 0]),
               "compile_s": res.compile_s, "train_s": res.train_s}
        if res.probe is not None:
            row["probe_accuracy"] = float(res.probe_accuracy[r])
        for start, strings in res.generated.items():
            row.setdefault("generated", {})[start] = strings[r]
        rows.append(row)
    return rows


def save_result(run_dir: Path, res: Result) -> None:
    """Write one experiment's directory (assembled aside, then renamed into place)."""
    final = run_dir / res.config.name
    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=f".{res.config.name}."))
    try:
        for r in range(res.config.seeds):
            res.model(r).save(tmp / str(r))
        arrays = {"x": res.dataset.patterns.x, "y": res.dataset.patterns.y,
                  "probs": res.probs, "history": res.history}
        if res.probe is not None:
            arrays.update(probe_x=res.probe.x, probe_y=res.probe.y, probe_probs=res.probe_probs)
        if res.states is not None:
            arrays["states"] = res.states
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(tmp / ARRAYS, buf.getvalue())
        record = {"config": asdict(res.config), "vocab": list(res.dataset.vocab.symbols),
                  "compile_s": res.compile_s, "train_s": res.train_s,
                  "generated": res.generated, "order_diff": res.order_diff,
                  "summary": summary(res), "seeds": per_seed(res)}
        atomic_write(tmp / RECORD, json.dumps(record, indent=1, ensure_ascii=False))
        old = run_dir / f".{res.config.name}.old"
        shutil.rmtree(old, ignore_errors=True)  # left by a run killed mid-swap
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_result(exp_dir: Path) -> Result:
    """Rebuild a Result from an experiment directory, without training."""
    try:
        record = json.loads((exp_dir / RECORD).read_text(encoding="utf-8"))
        with np.load(exp_dir / ARRAYS, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        cfg = Config(**record["config"])
        models = [Model.load(exp_dir / str(r)) for r in range(cfg.seeds)]
    except (OSError, KeyError, TypeError, ValueError) as e:
        if isinstance(e, ModelError):
            raise RecordError(str(e)) from None
        raise RecordError(f"{exp_dir}: unreadable record ({e.__class__.__name__}: {e})") \
            from None
    vocab = data.Vocab(tuple(record["vocab"]))
    ds: Dataset = build_dataset(cfg, data.Patterns(arrays["x"], arrays["y"]), vocab)
    params = jax.tree.map(lambda *a: np.stack(a), *[m.params for m in models])
    res = Result(cfg, ds, params, arrays["history"], arrays["probs"], record["compile_s"],
                 record["train_s"], generated=record["generated"],
                 order_diff=None if record["order_diff"] is None else tuple(record["order_diff"]),
                 states=arrays.get("states"), cached=True)
    if "probe_x" in arrays:
        res.probe = data.Patterns(arrays["probe_x"], arrays["probe_y"])
        res.probe_probs = arrays["probe_probs"]
    return res


def in_order(results) -> list[Result]:
    """Results in preset order, then other names alphabetically."""
    rank = {n: i for i, n in enumerate(PRESETS)}
    return sorted(results, key=lambda r: (rank.get(r.config.name, len(rank)), r.config.name))


def load_run(run_dir: Path, must_exist: bool = False) -> list[Result]:
    """Every finished experiment of a run directory, in order: none for a new one, unless
    ``must_exist``, which asks for an existing run with at least one finished experiment."""
    if (must_exist or run_dir.exists()) and not run_dir.is_dir():
        raise RecordError(f"{run_dir}: no such run directory")
    results = in_order(load_result(p.parent) for p in run_dir.glob(f"*/{RECORD}"))
    if must_exist and not results:
        raise RecordError(f"{run_dir}: no finished experiment in this run directory")
    return results


def _csv(header: list[str], rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_run_files(run_dir: Path, results: list[Result], pending: list[Config] = ()) -> None:
    """config.json, results.json, history.csv and predictions.csv for the whole run."""
    configs = {r.config.name: asdict(r.config) for r in results}
    configs.update({c.name: asdict(c) for c in pending if c.name not in configs})
    atomic_write(run_dir / "config.json", json.dumps(
        {"experiments": configs, **environment()}, indent=1, ensure_ascii=False))
    atomic_write(run_dir / "results.json", json.dumps(
        {r.config.name: {"summary": summary(r), "seeds": per_seed(r), "cached": r.cached}
         for r in results}, indent=1, ensure_ascii=False))
    hist = []
    for r in results:
        for s in range(r.config.seeds):
            for e, (loss, acc) in enumerate(r.history[s]):
                hist.append((r.config.name, s, e + 1, f"{loss:.6g}", f"{acc:.6g}"))
    atomic_write(run_dir / "history.csv",
                 _csv(["experiment", "replica", "epoch", "loss", "accuracy"], hist))
    preds = []
    for r in results:
        sets = [("train", r.dataset.patterns, r.probs)]
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
