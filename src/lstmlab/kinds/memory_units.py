"""What a memory task's units hold: each task's tracks (one number per step of a sequence:
markers seen, steps since the first marker, the first marked number, the running sum, …),
every unit's correlation with each over fresh test sequences, the strongest per seed —
trained and, as the control, the same replica's weights before training. Measured once
when the experiment is trained and kept in its record (``analyses["memory_units"]``)."""

from __future__ import annotations

import jax
import numpy as np

from .. import model
from .memory_tasks import DELIMITER, ORDER_DISTRACTORS, batch

STUDIED = 200        # test sequences the units are read on
STUDY_STREAM = 2**21  # their key: fold_in(PRNGKey(seed), this)


def tracks(task: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """The tracks of sequences x (B, steps, features): name → (B, steps), each the value
    after reading that step."""
    b, steps = x.shape[:2]
    t = np.broadcast_to(np.arange(steps), (b, steps))
    if task == "adding":
        numbers, marker = x[..., 0], x[..., 1]
        seen = np.cumsum(marker, 1)
        first = np.argmax(marker, 1)[:, None]
        held = np.where(seen >= 1, numbers[np.arange(b), first[:, 0]][:, None], 0.0)
        return {"markers seen": seen, "steps since the first marker":
                np.where(seen >= 1, t - first, 0), "the first marked number": held,
                "running sum of marked numbers": np.cumsum(numbers * marker, 1)}
    s = x.argmax(-1)
    if task == "copy":
        delim = np.argmax(s == DELIMITER, 1)[:, None]
        return {"steps since the start": t.astype(float),
                "steps since the delimiter": np.where(t >= delim, t - delim, 0),
                "the first symbol, held": np.broadcast_to(s[:, :1], (b, steps))
                .astype(float)}
    relevant = s >= ORDER_DISTRACTORS + 2
    seen = np.cumsum(relevant, 1)
    first = np.argmax(relevant, 1)
    first_y = (s[np.arange(b), first] == ORDER_DISTRACTORS + 3).astype(float)
    return {"relevant symbols seen": seen.astype(float),
            "the first was Y (once seen)": np.where(seen >= 1, 2 * first_y[:, None] - 1, 0.0),
            "steps since the start": t.astype(float)}


def events(task: str, x: np.ndarray) -> np.ndarray:
    """The steps that matter in one sequence x (steps, features): adding's markers, copy's
    delimiter, temporal order's X and Y."""
    if task == "adding":
        return np.flatnonzero(x[:, 1] == 1)
    s = x.argmax(-1)
    return np.flatnonzero(s == DELIMITER) if task == "copy" else \
        np.flatnonzero(s >= ORDER_DISTRACTORS + 2)


def study_sequences(spec, seed: int, n: int = STUDIED) -> np.ndarray:
    """The sequences the units are read on (the first ``n``)."""
    x, _, _ = batch(spec.task, jax.random.fold_in(jax.random.PRNGKey(seed), STUDY_STREAM),
                    STUDIED, spec.lag)
    return np.asarray(x)[:n]


def at_work(spec, params, seed: int, held: dict) -> tuple[np.ndarray, dict]:
    """One study sequence and, per track, (the track, the unit ``held`` names for it) over
    its steps: what the report draws."""
    x = study_sequences(spec, seed, 1)
    trace = model.rnn(params, x, activation=spec.activation, gates=True)[1]
    out = {}
    for name, track in tracks(spec.task, x).items():
        unit = held[name]["unit"]
        if not unit:
            continue
        q, k = unit.rstrip("]").split("[")
        out[name] = (track[0], np.asarray(trace[q])[:, 0, int(k)])
    return x[0], out


def _strongest(trace: dict, track: np.ndarray) -> tuple[float, str]:
    """The largest |r| of any unit of any traced quantity with ``track`` (B, steps), and
    where (quantity and unit)."""
    y = track.T.reshape(-1).astype(np.float64)  # trace is (steps, B, U)
    y = y - y.mean()
    best, where = 0.0, ""
    for name, a in trace.items():
        a = np.asarray(a, np.float64).reshape(-1, a.shape[-1])
        a = a - a.mean(0)
        denom = np.sqrt((a * a).sum(0) * (y @ y))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(denom > 0, (y @ a) / denom, 0.0)
        k = int(np.argmax(np.abs(r)))
        if abs(r[k]) > best:
            best, where = float(abs(r[k])), f"{name}[{k}]"
    return best, where


def study(spec, params, initial, seed: int) -> dict:
    """Per track: the strongest |r| of every replica (trained, and its initial weights),
    and replica 0's unit. ``params`` / ``initial``: replicas first."""
    x = study_sequences(spec, seed)
    tr = tracks(spec.task, x)
    out = {name: {"trained": [], "untrained": [], "unit": ""} for name in tr}
    run = jax.jit(lambda p: model.rnn(p, x, activation=spec.activation, gates=True)[1])
    for which, tree in (("trained", params), ("untrained", initial)):
        for r in range(len(jax.tree.leaves(tree)[0])):
            trace = run(jax.tree.map(lambda a: a[r], tree))
            for name, track in tr.items():
                v, where = _strongest(trace, track)
                out[name][which].append(v)
                if which == "trained" and r == 0:
                    out[name]["unit"] = where
    return out
