"""Measurements of trained models, in one place and made once: what the findings and the
report read of an experiment's models beyond its training record — the stateful model's
counting share, the variable-length model's accuracy on every pattern, the unit claims'
strongest |r| (trained and untrained, the same seeds), the line unit of a text model and
the report's unit study. Each is computed on first use (:func:`of`) and kept on the result
(``res.analyses``, name → JSON-able dict), which the experiment's record stores when it is
saved with its models (:func:`everything`), so that ``lstmlab report`` reads them instead
of running the models again (it computes only what a record lacks)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .config import UNIT_THRESHOLD

# -- the stateful model: counting or reading --------------------------------------------

COUNTING_PROBES = ("KQXEMC", "ZZZZZZ")  # read after a reset, with random ones (counting)
COUNTING_RANDOM = 18


def counting_probes(seq: str, seed: int = 0) -> list[str]:
    """Strings read after a reset by the counting probe: the fixed ones that belong to
    ``seq``'s symbols and random ones of the same length (a generator of their own)."""
    symbols = sorted(set(seq))
    rng = np.random.RandomState(seed + 2_000_003)
    length = len(COUNTING_PROBES[0])
    fixed = [p for p in COUNTING_PROBES if set(p) <= set(symbols)]
    return fixed + ["".join(rng.choice(symbols, length)) for _ in range(COUNTING_RANDOM)]


def counting_share(res) -> dict | None:
    """Per seed of a stateful model of window 1: after a reset it reads each probe string
    symbol by symbol (KQXEMC, ZZZZZZ and random ones); at step j a counting model answers
    the successor of the sequence's j-th symbol (B, C, D … for A–Z) whatever it read, a
    reading model the successor of what it read. Among the steps where the two differ,
    the share answered by counting (``share``), and how many probes (``probes``). None
    without models or for another window."""
    c, seq = res.config, res.config.sequence
    if res.params is None or c.window != 1 or not c.stateful or len(seq) < 8:
        return None
    from . import data, evaluate
    from .programs import device
    vocab = res.dataset.vocab
    probes = counting_probes(seq, c.seed)
    idx = np.stack([vocab.encode(p) for p in probes])                  # (P, L)
    x = np.stack([data.model_inputs(i[:, None], len(vocab), c.encoding, c.framing,
                                    c.mask)[0] for i in idx])          # (P, L, 1, F)
    probs = evaluate.texts_probabilities(res.params, device(x), None, True,
                                         c.activation)                 # (S, P, L, V)
    answer = np.asarray(probs).argmax(-1)
    count = vocab.encode(seq[1:idx.shape[1] + 1])                     # (L,)
    nxt = {s: seq[seq.index(s) + 1] for s in set(seq[:-1])}
    read = np.array([[vocab.index[nxt[s]] if s in nxt else -1 for s in p] for p in probes])
    tells = read != count                                              # (P, L)
    return {"share": (answer == count)[:, tells].mean(-1), "probes": len(probes)}


def all_pattern_accuracy(res) -> dict | None:
    """Per seed of a variable-length model: accuracy on every distinct pattern its data
    can hold (``accuracy``; for A–Z and 1–5 letters all 114, each also drawn for
    training), and how many patterns that is (``patterns``)."""
    c = res.config
    if res.params is None or not c.samples:
        return None
    import jax

    from . import data, evaluate
    vocab = res.dataset.vocab
    pats = data.all_subsequences(vocab.encode(c.sequence), c.window)
    x, mask = data.model_inputs(pats.x, len(vocab), c.encoding, c.framing, c.mask)
    probs = jax.vmap(lambda p: evaluate.probabilities(p, x, mask, c.activation))(res.params)
    return {"accuracy": np.mean(np.asarray(probs).argmax(-1) == pats.y, -1),
            "patterns": len(pats)}


# -- the unit claims: trained against the same seeds untrained ----------------------------

def _strongest(params, x, mask, carry, activation, cell, layers, track) -> np.ndarray:
    """Per seed of ``params`` (leading axis): the largest |r| of any unit's any quantity
    (after each prediction's last step; the LSTM's c as tanh(c)) with ``track``, over the
    inputs ``x`` (P, N, S, F) — P texts, each read from a reset (``carry``: a stateful
    model carries its state along a text) or window by window."""
    import jax

    from . import evaluate, units
    from .cells import CELLS
    gates = {k: np.asarray(v) for k, v in   # (R, P, N, S, U) each; on the host at once
             evaluate.traces(params, x, mask, carry, activation).items()}
    out = []
    for r in range(len(jax.tree.leaves(params)[0])):
        trace = units.Quantities({k: v[r].reshape(-1, *v.shape[-2:])
                                  for k, v in gates.items()})
        out.append(units.strongest(units.activations(trace, CELLS[cell], layers), track))
    return np.array(out)


UNIT_STRINGS, UNIT_SEED = 20, 3_000_017  # random strings read after a reset


def counter_unit(res) -> dict | None:
    """Per seed of a stateful model of window 1, ``trained`` and ``untrained`` (before
    training): the strongest |r| of a unit with the steps since the reset while it reads
    20 random strings of the sequence's length, each after a reset (on the sequence itself
    the step count is the alphabet position; on random strings the two part)."""
    c = res.config
    if res.params is None or c.window != 1 or not c.stateful:
        return None
    from . import data
    vocab = res.dataset.vocab
    rng = np.random.RandomState(UNIT_SEED)
    idx = rng.randint(len(vocab), size=(UNIT_STRINGS, len(c.sequence)))
    x = np.stack([data.model_inputs(i[:, None], len(vocab), c.encoding, c.framing,
                                    False)[0] for i in idx])          # (P, L, 1, F)
    track = np.tile(np.arange(1, idx.shape[1] + 1), UNIT_STRINGS).astype(float)
    args = (x, None, True, c.activation, c.cell, c.layers, track)
    return {"trained": _strongest(res.params, *args),
            "untrained": _strongest(res.kind.initial_weights(res), *args)}


def position_unit(res) -> dict | None:
    """Per seed of a window model, ``trained`` and ``untrained``: the strongest |r| of a
    unit with the alphabet position of the last symbol of each training window."""
    c = res.config
    if res.params is None or c.stateful or c.samples:
        return None
    from . import units
    from .artifacts import Model
    from .cells import CELLS

    def strongest(model) -> float:
        # the model reads the sequence as the unit study does (Model.trace: the program the
        # study compiles for these windows, one fewer per experiment); its windows are the
        # training windows and the one ending at the last symbol, which has no target
        tr = model.trace(c.sequence)
        trace = units.Quantities({k: v[:-1] for k, v in tr.quantities.items()})
        return units.strongest(units.activations(trace, CELLS[c.cell], c.layers),
                               tr.windows[:-1, -1].astype(float))
    models = [res.model(r) for r in range(c.seeds)]
    initial = res.kind.initial_weights(res)
    return {"trained": np.array([strongest(m) for m in models]),
            "untrained": np.array([strongest(Model(res.replica_params(r, initial), m.info))
                                   for r, m in enumerate(models)])}


def line_unit(res) -> dict | None:
    """Per seed of a text model, ``trained`` and ``untrained`` (its weights before
    training): the strongest |r| of a unit with the position in the line, on its
    validation text. (Kept as "line_unit_paired": records made before the untrained
    control kept "line_unit", measured again where their models are.)"""
    c = res.config
    if res.params is None:
        return None
    text = res.kind.analysed_text(c)

    def strongest(model) -> float:
        f = model.units(text)
        line = f[f["track"].str.split(" = ").map(lambda t: "line position" in t)]
        return float(line["r"].abs().max()) if len(line) else 0.0
    return {"trained": np.array([strongest(res.model(k)) for k in range(c.seeds)]),
            "untrained": np.array([strongest(res.untrained_model(k))
                                   for k in range(c.seeds)])}


# -- the report's unit study --------------------------------------------------------------

def study(res, text: str | None = None, tracks: dict | None = None,
          threshold: float = UNIT_THRESHOLD, frames: bool = True):
    """What the units of every seed's model of ``res`` learned, reading ``text`` (default
    its kind's ``analysed_text``; ``tracks``: the user's, one value per symbol; ``frames``:
    with each seed's correlations as a frame); the seeds whose training diverged are left
    out (None when every one did). Computed anew: :func:`kept_study` is the report's, made
    once."""
    from . import units
    kept = [r for r in range(res.config.seeds) if res.sound[r]]  # not diverged
    if not kept:
        return None
    return units.study(res.config.name, [res.model(r) for r in kept],
                       res.kind.analysed_text(res.config) if text is None else text, tracks,
                       threshold, kept, frames)


def study_record(s) -> dict:
    """What a report shows of a units.Study, as JSON-able data (a record keeps it; the
    per-seed correlations are ``lstmlab units``'s, not kept): the text by its sha256."""
    from .data import sha256
    return {"experiment": s.experiment, "text_sha256": sha256(s.text), "cell": s.cell,
            "threshold": s.threshold, "table": s.table.to_dict("records"),
            "table_columns": list(s.table.columns),
            "saturation": s.saturation.to_dict("records"),
            "saturation_columns": list(s.saturation.columns),
            "shown": [[t, label, [float(v) for v in values]] for t, label, values in s.shown],
            "profile": None if s.profile is None else [float(v) for v in s.profile],
            "reach": s.reach}


def study_from(rec: dict, text: str):
    """A units.Study read back from :func:`study_record` for ``text`` (None when it was
    made on another text: then it is made again)."""
    import pandas as pd

    from . import units
    from .data import sha256
    if rec.get("text_sha256") != sha256(text):
        return None
    nan = lambda v: np.nan if v is None else v  # noqa: E731  (JSON's null)
    return units.Study(rec["experiment"], text, rec["cell"], rec["threshold"],
                       pd.DataFrame(rec["table"], columns=rec["table_columns"]), [],
                       pd.DataFrame(rec["saturation"], columns=rec["saturation_columns"]),
                       [(t, label, np.array([nan(v) for v in values], float))
                        for t, label, values in rec["shown"]],
                       None if rec["profile"] is None else
                       np.array([nan(v) for v in rec["profile"]], float), rec["reach"])


def _study_record(res) -> dict | None:
    s = study(res, frames=False)  # a record keeps no seed's correlations
    return None if s is None else study_record(s)


def kept_study(res, make: bool = True):
    """The report's study of ``res`` (its default text and threshold), made once; with
    ``make`` False only as its record keeps it (None otherwise: no model is run)."""
    text = res.kind.analysed_text(res.config)
    rec = _kept(res, "units") if make else res.analyses.get("units")
    got = None if rec is None else study_from(rec, text)
    if make and got is None and rec is not None and res.params is not None:
        res.analyses.pop("units")  # kept of another text: made again
        rec = _kept(res, "units")
        got = None if rec is None else study_from(rec, text)
    return got


def studies(results, step=None) -> dict:
    """The report's study of every experiment of ``results`` that kept its models
    (experiment name → units.Study); ``step(words)`` is told each one that must be made."""
    out = {}
    for r in results:
        if r.params is None and "units" not in r.analyses:
            continue
        if step is not None and "units" not in r.analyses:
            step(f"what the units of {r.config.name} learned")
        if (s := kept_study(r)) is not None:
            out[r.config.name] = s
    return out


# -- made once, kept --------------------------------------------------------------------

MEASURES: dict[str, Callable] = {
    "counting_share": counting_share, "all_pattern_accuracy": all_pattern_accuracy,
    "counter_unit": counter_unit, "position_unit": position_unit, "line_unit_paired": line_unit,
    "units": _study_record,
}


def _kept(res, name: str):
    """Measurement ``name`` of ``res`` as kept (JSON-able): from ``res.analyses`` (measured
    earlier or read from its record), else measured now and kept. None where it does not
    apply (not one of its kind's ``measures``, or the result has no models)."""
    if name not in res.kind.measures:
        return None
    if name not in res.analyses:
        if res.params is None:
            return None
        res.analyses[name] = jsonable(MEASURES[name](res))
    return res.analyses[name]


def of(res, name: str) -> dict | None:
    """A findings' measurement ``name`` of ``res`` (made once: :func:`_kept`) with its
    per-seed lists as float arrays (JSON's null a NaN)."""
    got = _kept(res, name)
    if got is None:
        return None
    return {k: np.array([np.nan if x is None else x for x in v], float)
            if isinstance(v, list) else v for k, v in got.items()}


def everything(res) -> None:
    """Every measurement of ``res`` made and kept (before its record is saved); the
    findings' need two seeds or more (a claim is judged over seeds), the report's study
    one."""
    for name in res.kind.measures:
        if name == "units" or res.config.seeds > 1:
            _kept(res, name)


def let_go(res) -> None:
    """Drop what only these measurements read — the weights before training — from a
    result nothing will measure (a sweep's: it holds every point's result while it runs)."""
    if getattr(res, "initial", None) is not None:
        res.initial = None


def jsonable(value):
    """A measurement as a record keeps it: numpy arrays as lists, numpy numbers as
    Python's."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
