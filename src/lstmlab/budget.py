"""What a run may take of the machine, estimated before anything is allocated or written:
its memory (a share of what is available), its disk (a share of what is free) and how much
of an experiment's predictions a record keeps — so that a typo asks for an error, not for
terabytes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from .cells import CELLS, param_count
from .config import Config
from .errors import ConfigError, RecordError

MAX_STATE_STEPS = 200  # stateful: the state trajectory a record keeps for the heatmap
# A record keeps every pattern's probabilities up to this many patterns, else this many,
# evenly spaced, with each seed's accuracy and loss over all: a person reads a few
# thousand predictions, and a long text's full table is hundreds of megabytes per seed.
MAX_KEPT_PATTERNS = 2000


def kept_index(n: int) -> np.ndarray | None:
    """The patterns a record keeps of ``n``: None (all), or MAX_KEPT_PATTERNS evenly
    spaced indices from the first to the last."""
    if n <= MAX_KEPT_PATTERNS:
        return None
    return np.round(np.linspace(0, n - 1, MAX_KEPT_PATTERNS)).astype(np.int64)


GiB = 2**30
MEMORY_SHARE = 0.8  # of the available memory, the most a run's estimate may ask for


def available_memory() -> int:
    """Bytes this process can still allocate: MemAvailable on Linux, else physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_estimate(cfg: Config, n_samples: int, n_features: int, vocab_size: int) -> int:
    """A rough upper estimate of the bytes a run needs: per replica the parameters, Adam's
    two moments, the gradient and the compiled step's temporaries (≈ 8 copies of the
    parameters) and the LSTM activations of a batch; the encoded data; the probability
    tables of the evaluation (float32 throughout)."""
    u, v, f = cfg.units, vocab_size, n_features
    steps = 1 if cfg.framing == "features" else cfg.window
    params = param_count(CELLS[cfg.cell], f, u, v, cfg.layers)
    batch = cfg.batch_size or n_samples
    per_replica = 8 * params + 3 * batch * steps * 6 * sum(cfg.sizes) + 2 * n_samples * v
    return 4 * (cfg.seeds * per_replica + n_samples * steps * f + cfg.seeds * cfg.epochs * 2)


def check_memory(cfg: Config, n_samples: int, n_features: int, vocab_size: int) -> None:
    """ConfigError naming the estimate and the limit when the run cannot fit in memory."""
    need, have = memory_estimate(cfg, n_samples, n_features, vocab_size), available_memory()
    if need > MEMORY_SHARE * have:
        model = cfg.stack_text(" layers")
        raise ConfigError(f"this run needs about {need / GiB:.1f} GiB of memory ({cfg.seeds} "
                          f"seeds × {model}, {n_samples} samples of {n_features} "
                          f"feature(s)); a run may use {MEMORY_SHARE:.0%} of the "
                          f"{have / GiB:.1f} GiB available ({MEMORY_SHARE * have / GiB:.1f} "
                          f"GiB): use fewer seeds, units, layers or samples")


DISK_SHARE = 0.9  # of the free space, the most a run's estimate may ask for
LARGE_WRITE = GiB  # bytes from which a run says aloud what it will write


def disk_estimate(cfg: Config, ds, models: bool = True) -> int:
    """A rough upper estimate of the bytes a window experiment's record takes (``ds``:
    its datasets.Dataset): the models (float32 parameters), arrays.npz (the kept
    probabilities, patterns, histories, probe, states), its rows of predictions.csv and
    history.csv, the report's figures, and the sequence's one stored copy."""
    n, v, s = len(ds.patterns), len(ds.vocab), cfg.seeds
    k = min(n, MAX_KEPT_PATTERNS) + cfg.probe
    f = ds.x.shape[-1]
    u = cfg.units
    params = param_count(CELLS[cfg.cell], f, u, v, cfg.layers)
    size = s * (params * 4 + 4096) if models else 0
    size += 4 * s * k * v + 8 * k * (cfg.window + 1) + 8 * s * cfg.epochs
    size += 4 * len(CELLS[cfg.cell].state) * sum(cfg.sizes) * MAX_STATE_STEPS \
        if cfg.stateful else 0
    size += s * k * (48 + 8 * cfg.window) + s * cfg.epochs * 40
    return size + 4 * len(cfg.sequence) + 2**20


def check_disk(run_dir: Path, sizes: list[int], warn=lambda line: None) -> None:
    """RecordError naming the estimate and the free space when experiments of these
    estimated ``sizes`` (their kinds' ``disk_bytes``) cannot be written to ``run_dir``'s
    file system; ``warn`` hears the estimate when it is large."""
    need = sum(sizes)
    try:
        free = shutil.disk_usage(run_dir).free
    except OSError:
        return
    if need > DISK_SHARE * free:
        raise RecordError(f"this run writes about {_size(need)} of records to {run_dir} "
                          f"({len(sizes)} experiment(s)); a run may use {DISK_SHARE:.0%} of "
                          f"the {_size(free)} free there: free some space, use fewer seeds "
                          f"or choose another --out")
    if need >= LARGE_WRITE:
        warn(f"this run writes about {_size(need)} of records to {run_dir} ({_size(free)} "
             f"free there)")


def _size(n: int) -> str:
    """Bytes in words: 1.5 GiB, 12.0 MiB, 3.2 KiB."""
    for unit, scale in (("GiB", GiB), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1024:.1f} KiB"
