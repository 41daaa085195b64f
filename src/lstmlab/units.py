"""What the units learned: tracks of the text a model reads, every unit's correlation
with each (Karpathy, Johnson & Fei-Fei 2015: line position, quotes, brackets), gate
saturation (their Fig. 3), ablation, and connectivity — how strongly each prediction
depends on each earlier input (Distill, "Memorization in RNNs", 2019).

Functions over a model's parameters and what :meth:`lstmlab.artifacts.Model.trace` gives
(``Model.units``, ``saturation``, ``ablate`` and ``connectivity`` call them); LSTMVis's
span match is the page's (``assets/explorer.js``), checked against :func:`match` here.
Units are numbered from 0 within their layer; layers from 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from . import evaluate
from .cells import CELLS, cell_of, layer_keys, layered, layers_of, sizes_of
from .config import UNIT_THRESHOLD
from .errors import DataError
from .programs import device

from .tracks import (TRACKS, checked_tracks, read_track,  # noqa: F401  (units.TRACKS, …)
                     text_tracks, tracks_at)

THRESHOLD = UNIT_THRESHOLD
SATURATED = (0.1, 0.9)  # a gate below / above: left / right saturated (Karpathy et al.)
MAX_CONNECTIVITY = 2000  # symbols: the matrix is N × N and N backward passes
TOP_MATCHES = 50


# -- what each unit computes -----------------------------------------------------------

class Quantities(NamedTuple):
    """What :func:`activations` reads of a trace: the traced quantities by name, each
    (N, S, U) (a :class:`lstmlab.artifacts.Trace` has them too)."""
    quantities: dict


def activations(trace, cell, layers: int) -> list[tuple[int, str, np.ndarray]]:
    """(layer, quantity, (N, U)) after the last step of each prediction, every traced
    quantity of every layer; an unbounded one (the LSTM's c) read as tanh of it."""
    out = []
    names = cell.trace._fields
    for k in range(layers):
        for name, full in zip(names, layered(names, layers)[k * len(names):]):
            a = trace.quantities[full][:, -1, :]
            out.append((k + 1, name, np.tanh(a) if name in cell.unbounded else a))
    return out


def quantity_words(cell, name: str) -> str:
    return f"tanh({name})" if name in cell.unbounded else name


def correlations(acts, tracks: dict[str, np.ndarray]) -> pd.DataFrame:
    """Pearson's r of every unit's every quantity with every track, over the predictions:
    columns track, layer, quantity, unit, r (a constant track or unit gives no row)."""
    return _frame(_correlated(acts, tracks))


def _frame(c: Correlated) -> pd.DataFrame:
    if not len(c.names):
        return pd.DataFrame(columns=["track", "layer", "quantity", "unit", "r"])
    m, k = np.nonzero(np.isfinite(c.r))  # unit by unit, each unit's tracks in order
    return pd.DataFrame({"track": c.names[k], "layer": c.layer[m], "quantity": c.quantity[m],
                         "unit": c.unit[m], "r": c.r[m, k]})


class Correlated(NamedTuple):
    """Every unit's every quantity against every track, as arrays: ``names`` (K,) of the
    tracks, ``layer``, ``quantity`` and ``unit`` (M,) of the rows (layer by layer, quantity
    by quantity, unit by unit) and ``r`` (M, K), NaN where a unit never changes."""
    names: np.ndarray
    layer: np.ndarray
    quantity: np.ndarray
    unit: np.ndarray
    r: np.ndarray


def _correlated(acts, tracks: dict[str, np.ndarray]) -> Correlated:
    # tracks equal up to scale and shift on this text cannot be told apart: one row,
    # named by all of them ("since reset = symbol index" when reading A–Z from a reset)
    names, cols = [], []
    for k, v in tracks.items():
        if np.std(v) == 0:
            continue
        z = (v - v.mean()) / v.std()
        same = next((j for j, c in enumerate(cols) if np.allclose(c, z, atol=1e-9)), None)
        if same is None:
            names.append(k)
            cols.append(z)
        else:
            names[same] += f" = {k}"
    if not names or not acts:
        return Correlated(np.array(names, dtype=object), np.zeros(0, np.int64),
                          np.zeros(0, object), np.zeros(0, np.int64),
                          np.zeros((0, len(names))))
    tz = np.stack(cols, 1)                                             # (N, K)
    return Correlated(
        np.array(names, dtype=object),
        np.concatenate([np.full(a.shape[1], layer, np.int64) for layer, _, a in acts]),
        np.concatenate([np.full(a.shape[1], q, object) for _, q, a in acts]),
        np.concatenate([np.arange(a.shape[1], dtype=np.int64) for _, _, a in acts]),
        np.concatenate([_pearson(a, tz) for _, _, a in acts]))


def _pearson(a, tz) -> np.ndarray:
    """r (U, K) of activations ``a`` (N, U) with standardised tracks ``tz`` (N, K); NaN
    for a unit that never changes (it tracks nothing)."""
    a = np.array(a, np.float64)
    bad = ~np.isfinite(a).all(0)  # a diverged model's unit tracks nothing either
    a[:, bad] = 0
    sd = a.std(0)
    r = ((a - a.mean(0)) / np.where(sd > 0, sd, 1)).T @ tz / len(a)
    r[(sd <= 1e-7) | bad] = np.nan
    return r


def strongest(acts, track: np.ndarray) -> float:
    """The largest |r| of any unit's any quantity in ``acts`` with one ``track`` (0 for a
    constant one)."""
    if np.std(track) == 0:
        return 0.0
    tz = ((track - track.mean()) / track.std())[:, None]
    found = [np.abs(r[np.isfinite(r)]) for r in (_pearson(a, tz) for _, _, a in acts)]
    return max((float(f.max()) for f in found if f.size), default=0.0)


def best(frame: pd.DataFrame, top: int = 1) -> pd.DataFrame:
    """The ``top`` units by |r| of each track (tracks in the order they first appear)."""
    if frame.empty:
        return frame
    f = frame.assign(strength=frame["r"].abs()).sort_values(
        ["strength", "layer", "unit"], ascending=[False, True, True], kind="stable")
    f = f.groupby("track", sort=False).head(top)
    order = {t: k for k, t in enumerate(dict.fromkeys(frame["track"]))}
    return (f.sort_values(["track", "strength"], key=lambda s: s.map(order) if s.name ==
                          "track" else -s, kind="stable")
            .drop(columns="strength").reset_index(drop=True))


def strongest_per_track(c: Correlated) -> list[tuple[str, float, int, str, int]]:
    """(track, r, layer, quantity, unit) of each track's strongest unit in ``c``, as
    :func:`best` picks it from the frame of ``c`` (by |r|, then the lower layer, then the
    lower unit, then the earlier row; tracks in the order they first appear) — on the
    arrays: a unit study makes one frame per seed otherwise, most of its time."""
    ok = np.isfinite(c.r)                                              # (M, K)
    if not ok.any():
        return []
    first = ok.argmax(0)
    out = []
    for k in sorted(np.nonzero(ok.any(0))[0], key=lambda k: (first[k], k)):
        m = np.nonzero(ok[:, k])[0]
        pick = m[np.lexsort((m, c.unit[m], c.layer[m], -np.abs(c.r[m, k])))[0]]
        out.append((c.names[k], float(c.r[pick, k]), int(c.layer[pick]), c.quantity[pick],
                    int(c.unit[pick])))
    return out


def across_seeds(seeds_correlated: list[Correlated], threshold: float = THRESHOLD,
                 seeds: list[int] | None = None) -> pd.DataFrame:
    """Per track, over the seeds' correlations: the strongest unit (its seed —
    ``seeds[k]`` for the k-th, default k —, layer, quantity, unit and r), how many seeds
    have a unit with |r| ≥ ``threshold``, and the median over seeds of each seed's
    strongest |r| (0 for a seed where the track has none); the highest median first."""
    n = len(seeds_correlated)
    groups: dict[str, list] = {}  # tracks in the order they first appear, seed by seed
    for seed, c in zip(range(n) if seeds is None else seeds, seeds_correlated):
        for track, r, layer, q, unit in strongest_per_track(c):
            groups.setdefault(track, []).append((seed, r, layer, q, unit))
    if not groups:
        return pd.DataFrame(columns=["track", "r", "seed", "layer", "quantity", "unit",
                                     "seeds", "of", "median |r|"])
    rows = []
    for track, g in groups.items():
        strength = np.abs([r for _, r, *_ in g])
        seed, r, layer, q, unit = g[int(np.argmax(strength))]
        rows.append({"track": track, "r": r, "seed": int(seed), "layer": layer,
                     "quantity": q, "unit": unit, "seeds": int((strength >= threshold).sum()),
                     "of": n, "median |r|": float(np.median(np.r_[strength,
                                                                 np.zeros(n - len(g))]))})
    return pd.DataFrame(rows).sort_values("median |r|", ascending=False,
                                          kind="stable").reset_index(drop=True)


def saturation(trace, cell, layers: int) -> pd.DataFrame:
    """Per gate unit, the share of the predictions' last steps at which the gate is below
    0.1 (left-saturated) and above 0.9 (right-saturated): layer, gate, unit, left, right."""
    lo, hi = SATURATED
    rows = []
    for layer, q, a in activations(trace, cell, layers):
        if q in cell.gates:
            rows.append(pd.DataFrame({"layer": layer, "gate": q, "unit": np.arange(a.shape[1]),
                                      "left": (a < lo).mean(0), "right": (a > hi).mean(0)}))
    if not rows:
        return pd.DataFrame(columns=["layer", "gate", "unit", "left", "right"])
    return pd.concat(rows, ignore_index=True)


# -- ablation ---------------------------------------------------------------------------

def unit_list(units, sizes: tuple[int, ...]) -> list[tuple[int, int]]:
    """``units`` as (layer, unit) pairs: an int is a unit of layer 1, a pair names its
    layer; a DataError names one that the model (of these layers' ``sizes``) does not
    have."""
    if isinstance(units, pd.DataFrame):
        units = list(zip(units["layer"].astype(int), units["unit"].astype(int)))
    if isinstance(units, (int, np.integer)) or (isinstance(units, tuple) and len(units) == 2
                                                and all(isinstance(v, (int, np.integer))
                                                        for v in units)):
        units = [units]
    def whole(v) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    out, layers = [], len(sizes)
    for u in units if isinstance(units, (list, tuple, np.ndarray)) else [units]:
        pair = (1, u) if whole(u) else tuple(u) if isinstance(u, (list, tuple)) else ()
        if len(pair) != 2 or not all(map(whole, pair)) or \
                not (1 <= pair[0] <= layers and 0 <= pair[1] < sizes[pair[0] - 1]):
            widths = "" if len(set(sizes)) == 1 else " (units per layer: " + ", ".join(
                f"layer {k + 1} {s}" for k, s in enumerate(sizes)) + ")"
            raise DataError(f"unit {u!r} is not allowed; allowed: a unit from 0 to "
                            f"{sizes[0] - 1}, or (layer, unit) with a layer from 1 to "
                            f"{layers}{widths}")
        out.append((int(pair[0]), int(pair[1])))
    return out


def ablate(params, units) -> dict:
    """``params`` with each unit's output h made invisible downstream: its rows of its
    layer's recurrent kernel and of what reads the layer (the next layer's kernel or the
    Dense kernel) set to 0. Every prediction is then that of the model with the unit's h
    (and c, which only h reads) held at 0 — done on the weights so that the ablated model
    is an ordinary model (saved, exported, shown in the page)."""
    c = cell_of(params)
    layers = layers_of(params)
    keys = layer_keys(c, layers)
    out = jax.tree.map(lambda a: np.array(a, np.float32), params)
    for layer, unit in unit_list(units, sizes_of(params)):
        out[keys[layer - 1]]["recurrent_kernel"][unit] = 0.0
        reader = keys[layer] if layer < layers else "dense"
        out[reader]["kernel"][unit] = 0.0
    return out


def effect(probs, probs_ablated, targets, tracks: dict[str, np.ndarray]) -> pd.DataFrame:
    """What an ablation changed: loss (nats per symbol) and accuracy before and after,
    over every prediction with a known next symbol and where each track is high (a 0/1
    track: 1; another: above its median)."""
    known = targets >= 0
    p, q, y = probs[known], probs_ablated[known], targets[known]
    n = np.arange(len(y))
    ll, lq = -np.log(np.maximum(p[n, y], 1e-30)), -np.log(np.maximum(q[n, y], 1e-30))
    hp, hq = p.argmax(-1) == y, q.argmax(-1) == y
    parts = {"all": np.ones(len(y), bool)}
    for name, t in tracks.items():
        t = t[known]
        if np.std(t) > 0:
            binary = set(np.unique(t)) <= {0.0, 1.0}
            parts[f"{name} high"] = t == 1 if binary else t > np.median(t)
    rows = [{"where": k, "symbols": int(m.sum()), "loss": ll[m].mean(),
             "loss ablated": lq[m].mean(), "accuracy": hp[m].mean(),
             "accuracy ablated": hq[m].mean()} for k, m in parts.items() if m.any()]
    return pd.DataFrame(rows)


# -- connectivity -----------------------------------------------------------------------

@partial(jax.jit, static_argnames=("length", "carry", "activation"))
def _connectivity(params, x, mask, targets, where, length, carry, activation):
    n = x.shape[0]

    def logp(x):
        probs, _ = evaluate.trace(params, x, mask, carry, activation)
        # a prediction with no symbol after it (the text's last): its most likely one
        # (in this program, not another: Model.connectivity then runs nothing else)
        t = jnp.where(targets >= 0, targets, jnp.argmax(probs, -1))
        return jnp.log(jnp.maximum(probs[jnp.arange(n), t], 1e-30))

    _, vjp = jax.vjp(logp, x)
    slot = jnp.where(where >= 0, where, length).reshape(-1)         # padding → a spare row

    def row(e):
        (g,) = vjp(e)                                                  # (N, S, F)
        per = g.reshape(n * where.shape[1], -1)                        # a row per symbol read
        acc = jnp.zeros((length + 1, per.shape[1])).at[slot].add(per)
        return jnp.sqrt(jnp.sum(acc[:length] ** 2, -1))

    return jax.lax.map(row, jnp.eye(n, dtype=x.dtype), batch_size=64)


def connectivity(params, x, mask, targets, where, length: int, carry: bool,
                 activation: str) -> np.ndarray:
    """|∂ log p(target_n) / ∂ input_s| for every prediction n and every symbol s of the
    text (N, L): the gradient of the log-probability of prediction n's target with
    respect to the encoding of the s-th symbol, summed over every place the model reads
    it, as a Euclidean norm (a target of -1: the prediction's most likely symbol). ``x``
    (N, S, F) and ``mask`` as Model.trace builds them;
    ``where`` (N, W): the text position each window slot reads (-1: padding)."""
    return np.asarray(_connectivity(params, device(x), None if mask is None else
                                    device(mask), device(targets), device(where), length,
                                    carry, activation))


def by_distance(conn: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The mean connectivity at each distance d = n's last symbol − s (0: the symbol just
    read), over the predictions that reach back that far: (max distance + 1,)."""
    n, length = conn.shape
    d = positions[:, None] - np.arange(length)[None, :]
    ok = d >= 0
    sums = np.bincount(d[ok], conn[ok], minlength=positions.max() + 1)
    counts = np.bincount(d[ok], minlength=positions.max() + 1)
    return sums / np.maximum(counts, 1)


def reach(profile: np.ndarray, share: float = 0.9) -> int:
    """The distance within which ``share`` of the connectivity profile's mass lies."""
    total = profile.sum()
    if total <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(profile) / total, share))


# -- LSTMVis's match ---------------------------------------------------------------------

def hypothesis(h: np.ndarray, start: int, stop: int, threshold: float) -> np.ndarray:
    """The units on (h ≥ threshold) at every step of the span [start, stop) of ``h``
    (L, U): LSTMVis's hypothesis for that span."""
    return np.nonzero((h[start:stop] >= threshold).all(0))[0]


def match(h: np.ndarray, units: np.ndarray, threshold: float, length: int,
          min_length: int = 1, max_length: int | None = None, top: int = TOP_MATCHES
          ) -> list[tuple[int, int, float]]:
    """LSTMVis's match: the spans of ``h`` (L, U) where the hypothesis ``units`` are on
    together, ranked. A candidate is a maximal run of steps at which at least half of
    the units are on; its score is the mean share of the units on over it (the overlap).
    Kept: lengths in [min_length, max_length] (default 2 × the selection's ``length``);
    ranked by score, then nearness to ``length``, then position; the first ``top``.
    Returns (start, stop, score). The page runs the same rule (a browser test compares)."""
    if len(units) == 0:
        return []
    max_length = 2 * length if max_length is None else max_length
    count = (h[:, units] >= threshold).sum(1)                         # (L,) units on
    on = 2 * count >= len(units)
    edges = np.diff(np.r_[0, on.astype(int), 0])
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    # one division of two integers: the page computes the very same double
    out = [(int(a), int(b), int(count[a:b].sum()) / ((b - a) * len(units)))
           for a, b in zip(starts, stops) if min_length <= b - a <= max_length]
    out.sort(key=lambda m: (-m[2], abs(m[1] - m[0] - length), m[0]))
    return out[:top]


# -- one experiment's models, studied together --------------------------------------------

SHOWN_SYMBOLS = 400   # the report colours this much of the text by the best units (a long
                      # text is never shown whole: records keep it once)
CONNECTIVITY_SYMBOLS = 300  # a stateful model's reach is measured over this many


@dataclass
class Study:
    """What the units of one experiment's models (one per seed) learned on one text:
    ``table`` (:func:`across_seeds`), each seed's correlations, the best seed's gate
    saturation, the activations of the strongest units over the start of the text (for
    colouring it) and, for a model that carries its state, its connectivity profile by
    distance (:func:`by_distance`) and the distance holding 90% of it."""

    experiment: str
    text: str
    cell: str
    threshold: float
    table: pd.DataFrame
    frames: list
    saturation: pd.DataFrame
    shown: list = field(default_factory=list)   # (track, label, values (≤ SHOWN_SYMBOLS,))
    profile: np.ndarray | None = None
    reach: int | None = None

    def rows(self) -> list[list[str]]:
        """The table as the terminal and the report print it."""
        c = CELLS[self.cell]
        return [
            [row["track"], f"{row['r']:+.2f}", str(row["layer"]), str(row["unit"]),
             quantity_words(c, row["quantity"]), f"{row['seeds']}/{row['of']}",
             f"{row['median |r|']:.2f}"] for row in self.table.to_dict("records")]

    HEADER = ["track", "r (strongest)", "layer", "unit", "quantity", "seeds with |r| ≥ θ",
              "median |r|"]


def study(name: str, models: list, text: str, tracks: dict | None = None,
          threshold: float = THRESHOLD, seeds: list[int] | None = None,
          frames: bool = True) -> Study:
    """Every model of one experiment (the seeds; ``seeds``: their replica numbers, default
    0, 1, …) read ``text``: the correlations of each (as frames: ``frames``), the table
    across seeds, and the best seed's saturation, shown units and reach."""
    seeds = list(range(len(models))) if seeds is None else list(seeds)
    correlated, traces = [], []
    first = models[0]
    cell = CELLS[first.info.cell]
    for m in models:
        tr = m.trace(text)
        tr_tracks = tracks_at(tr, tracks)
        correlated.append(_correlated(activations(tr, cell, m.info.layers), tr_tracks))
        traces.append((tr, tr_tracks))
    table = across_seeds(correlated, threshold, seeds)
    best_seed = seeds.index(int(table["seed"].iloc[0])) if len(table) else 0
    tr, _ = traces[best_seed]
    sat = saturation(tr, cell, first.info.layers)
    shown = []
    acts = {(layer, q): a for layer, q, a in activations(tr, cell, first.info.layers)}
    for row in table.to_dict("records")[:3]:
        if row["seed"] != seeds[best_seed]:
            continue
        a = acts[(row["layer"], row["quantity"])][:SHOWN_SYMBOLS, row["unit"]]
        shown.append((row["track"], f"layer {row['layer']} unit {row['unit']} "
                      f"{quantity_words(cell, row['quantity'])}", np.asarray(a, float)))
    profile = reach_at = None
    if first.info.stateful:
        m = models[best_seed]
        part = text[:CONNECTIVITY_SYMBOLS]
        if len(part) > m.info.window:
            conn = m.connectivity(part)
            profile = by_distance(conn, m._reading(part)[1])
            reach_at = reach(profile)
    return Study(name, text, first.info.cell, threshold, table,
                 [_frame(c) for c in correlated] if frames else [], sat, shown, profile,
                 reach_at)
