"""The tutorial's claims, each tested by a measurement with a 95% CI and judged by a rule
written here — never typed in. A claim whose experiment was not run is "not run".

Every rule has the same shape: the claim is *supported* when the whole confidence
interval lies on the claim's side of a threshold, *not supported* when the whole interval
lies on the other side, and *inconclusive* when the interval straddles it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import ALPHABET, show
from .evaluate import at_100, t_interval, wilson_interval
from .experiments import PRESETS

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_RUN = (
    "supported", "not supported", "inconclusive", "not run")

ONE_CHAR_CLAIM, ONE_CHAR_TOLERANCE = 0.84, 0.05  # "about 84%": within ±5 points
MIN_LIFT = 0.0          # feature window vs one char: the lift's CI must clear zero
LIFT_MARGIN = 0.01      # ... and a lift wholly inside ±1 point is "no meaningful lift"
FULL_ACCURACY = 0.97    # "reaches 100%": mean accuracy above 97% (< 1 pattern in 23 wrong)
ROUNDING = 1e-5         # order test: difference / gradient scale below this is rounding
CONTEXT = 1e-3          # ... above this, the order of samples really matters
MAJORITY = 0.5          # a share of seeds: more / fewer than half
PROBE_GOOD = 0.9        # variable-length probe: predicts the next letter 90% of the time


@dataclass
class Finding:
    claim: str
    measurement: str
    verdict: str
    experiments: tuple[str, ...] = ()  # the presets whose results it rests on
    seeds: int = 0                     # the fewest seeds among them (0: not run)


def above(lo: float, hi: float, threshold: float) -> str:
    """Supported if the interval is above the threshold, not if below, else inconclusive."""
    if lo > threshold:
        return SUPPORTED
    if hi < threshold:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def lift_verdict(lo: float, hi: float) -> tuple[str, str]:
    """A lift claim: supported when the interval clears zero and reaches past the
    practical-equivalence margin; not supported when it lies below zero, or wholly inside
    ±LIFT_MARGIN (then with the words "no meaningful lift"); else inconclusive."""
    if lo > MIN_LIFT and hi > LIFT_MARGIN:
        return SUPPORTED, ""
    if -LIFT_MARGIN < lo and hi < LIFT_MARGIN:
        return NOT_SUPPORTED, (f"; inside the ±{100 * LIFT_MARGIN:g}-point margin: no "
                               f"meaningful lift")
    if hi < MIN_LIFT:
        return NOT_SUPPORTED, ""
    return INCONCLUSIVE, ""


def within(lo: float, hi: float, centre: float, tol: float) -> str:
    """Supported if the interval lies inside centre ± tol, not if wholly outside it."""
    if centre - tol <= lo and hi <= centre + tol:
        return SUPPORTED
    if hi < centre - tol or lo > centre + tol:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def order_verdict(diff: float, scale: float) -> tuple[str, str]:
    """The within-batch order test's verdict on "the LSTM uses context across the samples
    of a batch", and one plain sentence of what the numbers mean."""
    rel = diff / max(scale, 1e-30)
    if rel < ROUNDING:
        return NOT_SUPPORTED, ("This is rounding-level: a stateless LSTM processes each "
                               "sample of a batch from a zero state, independently of the "
                               "others, so it does not use context across the samples of a "
                               "batch.")
    if rel > CONTEXT:
        return SUPPORTED, ("This is far above rounding: the order of the samples changes "
                           "the gradient, so the samples of a batch are not independent.")
    return INCONCLUSIVE, ("This is above float32 rounding but small: the test cannot tell "
                          "whether the samples of a batch interact.")


def welch_interval(a, b, level: float = 0.95) -> tuple[float, float]:
    """Welch t-interval (95% unless ``level``) for mean(a) - mean(b)."""
    from scipy.special import stdtrit  # not scipy.stats: 1 s to import
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    d = a.mean() - b.mean()
    if va + vb == 0:
        return (d, d)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = stdtrit(df, (1 + level) / 2) * np.sqrt(va + vb)
    return (float(d - half), float(d + half))


def _ci(values, level: float) -> tuple[float, float, str]:
    """A per-seed metric in [0, 1]: its t-interval at ``level`` (clipped to [0, 1]) and
    the mean with it in words."""
    v = np.asarray(values, np.float64)
    lo, hi = t_interval(v, level)
    lo, hi = max(0.0, lo), min(1.0, hi)
    return lo, hi, (f"{100 * v.mean():.1f}% ({_pct(level)} CI {100 * lo:.1f}–{100 * hi:.1f}, "
                    f"n={len(v)})")


def _pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def _share(ok: np.ndarray, level: float = 0.95) -> tuple[float, float, str]:
    lo, hi = wilson_interval(int(ok.sum()), len(ok), level)
    return lo, hi, (f"{int(ok.sum())}/{len(ok)} seeds ({_pct(level)} CI {100 * lo:.0f}–"
                    f"{100 * hi:.0f}%)")


def judge(accuracy: dict, probe: dict | None = None, order: tuple | None = None,
          generation: dict | None = None, any_start: tuple | None = None,
          epochs_to_full: dict | None = None, counting: np.ndarray | None = None,
          level: float = 0.95) -> list[Finding]:
    """The claims, from per-seed numbers keyed by experiment name:
    ``accuracy[name]`` per-seed accuracies; ``probe[name]`` per-seed probe accuracies;
    ``order`` (max difference, gradient scale) of batch-state's order test;
    ``generation`` {"A": per-seed bool, "K": per-seed bool} of the stateful experiment;
    ``any_start`` (start, per-seed bool) of stateful-any-start's generation from its second
    start; ``epochs_to_full[name]`` per-seed first epoch at 100% training accuracy (the
    epochs + 1 where never) for stateful and stateful-bptt; ``counting`` per seed of the
    tutorial's stateful model, the share of symbols that, read alone after a reset, are
    answered with the successor of the first symbol instead of their own. Every interval
    is at ``level`` (raised by a sequential design that looks several times: settle)."""
    probe = probe or {}
    epochs_to_full = epochs_to_full or {}
    out = []

    def missing(claim, *names):
        out.append(Finding(claim, f"needs {', '.join(names)}", NOT_RUN))

    claim = "One char → one char reaches about 84%."
    if "one-char" in accuracy and len(accuracy["one-char"]) > 1:
        lo, hi, txt = _ci(accuracy["one-char"], level)
        out.append(Finding(claim, f"one-char accuracy {txt}; claim band 84% ± 5",
                           within(lo, hi, ONE_CHAR_CLAIM, ONE_CHAR_TOLERANCE), ("one-char",)))
    else:
        missing(claim, "one-char (≥ 2 seeds)")

    claim = "A three-char feature window gives a small lift over one char."
    if {"one-char", "feature-window"} <= accuracy.keys() and \
            min(len(accuracy["one-char"]), len(accuracy["feature-window"])) > 1:
        lo, hi = welch_interval(accuracy["feature-window"], accuracy["one-char"], level)
        d = np.mean(accuracy["feature-window"]) - np.mean(accuracy["one-char"])
        verdict, note = lift_verdict(lo, hi)
        out.append(Finding(claim, f"feature-window − one-char = {100 * d:+.1f} points "
                           f"({_pct(level)} Welch CI {100 * lo:+.1f} to {100 * hi:+.1f})"
                           + note, verdict, ("feature-window", "one-char")))
    else:
        missing(claim, "one-char and feature-window (≥ 2 seeds)")

    claim = "A three-char time-step window reaches 100%."
    if "timestep-window" in accuracy and len(accuracy["timestep-window"]) > 1:
        lo, hi, txt = _ci(accuracy["timestep-window"], level)
        full = int(np.sum(at_100(accuracy["timestep-window"])))
        out.append(Finding(claim, f"timestep-window accuracy {txt}; {full}/"
                           f"{len(accuracy['timestep-window'])} seeds at 100%",
                           above(lo, hi, FULL_ACCURACY), ("timestep-window",)))
    else:
        missing(claim, "timestep-window (≥ 2 seeds)")

    claim = "The LSTM uses context across the samples of a batch."
    if order is not None:
        rel = order[0] / max(order[1], 1e-30)
        verdict = order_verdict(*order)[0]
        out.append(Finding(claim, f"batch-state: gradient with samples in order vs "
                           f"shuffled differs by {order[0]:.1e} (relative {rel:.1e}; "
                           f"rounding below {ROUNDING:g})", verdict, ("batch-state",)))
    else:
        missing(claim, "batch-state with the order test")

    claim = "The stateful LSTM generates the alphabet from A but not from K."
    if generation and len(generation) == 2:
        (a_name, a_ok), (k_name, k_ok) = generation.items()
        alo, ahi, a_txt = _share(np.asarray(a_ok), level)
        klo, khi, k_txt = _share(np.asarray(k_ok), level)
        from_a = above(alo, ahi, MAJORITY)
        not_from_k = above(1 - khi, 1 - klo, MAJORITY)
        verdict = SUPPORTED if from_a == not_from_k == SUPPORTED else \
            NOT_SUPPORTED if NOT_SUPPORTED in (from_a, not_from_k) else INCONCLUSIVE
        out.append(Finding(claim, f"continues the sequence from {show(a_name)}: {a_txt}; "
                           f"from {show(k_name)}: {k_txt}", verdict, ("stateful",)))
    else:
        missing(claim, "stateful with two generation starts")

    claim = ("Trained with random starts, the stateful model continues the sequence from K "
             "as well.")
    if any_start is not None:
        start, ok = any_start
        lo, hi, txt = _share(np.asarray(ok), level)
        out.append(Finding(claim, f"stateful-any-start continues the sequence from "
                           f"{show(start)}: {txt}; threshold: more than half the seeds",
                           above(lo, hi, MAJORITY), ("stateful-any-start",)))
    else:
        missing(claim, "stateful-any-start with two generation starts")

    claim = "Truncated BPTT over 5 batches reaches 100% in fewer epochs than over 1 batch."
    if {"stateful", "stateful-bptt"} <= epochs_to_full.keys() and \
            min(len(epochs_to_full["stateful"]), len(epochs_to_full["stateful-bptt"])) > 1:
        one, five = epochs_to_full["stateful"], epochs_to_full["stateful-bptt"]
        lo, hi = welch_interval(one, five, level)
        out.append(Finding(claim, f"epochs to 100% training accuracy: BPTT 1 "
                           f"{np.mean(one):.0f}, BPTT 5 {np.mean(five):.0f}; difference "
                           f"{np.mean(one) - np.mean(five):+.0f} ({_pct(level)} Welch CI {lo:+.0f} to "
                           f"{hi:+.0f}; a seed that never gets there counts as epochs + 1)",
                           above(lo, hi, 0.0), ("stateful", "stateful-bptt")))
    else:
        missing(claim, "stateful and stateful-bptt (≥ 2 seeds)")

    claim = ("The tutorial's stateful model counts steps since the reset rather than "
             "reading its input.")
    if counting is not None and len(counting) > 1:
        lo, hi, txt = _ci(counting, level)
        out.append(Finding(claim, f"each symbol read alone after a reset: answered with the "
                           f"successor of the sequence's first symbol (counting) in "
                           f"{txt} of the symbols, averaged over seeds; threshold 50%",
                           above(lo, hi, MAJORITY), ("stateful",)))
    else:
        missing(claim, "stateful (≥ 2 seeds, with its models)")

    claim = "The variable-length model predicts the next letter of fresh subsequences."
    if "variable-length" in probe and len(probe["variable-length"]) > 1:
        lo, hi, txt = _ci(probe["variable-length"], level)
        out.append(Finding(claim, f"probe accuracy {txt}; threshold "
                           f"{100 * PROBE_GOOD:.0f}%", above(lo, hi, PROBE_GOOD),
                           ("variable-length",)))
    else:
        missing(claim, "variable-length (≥ 2 seeds)")
    return out


def from_results(results, level: float = 0.95) -> list[Finding]:
    """The findings of a list of experiments.Result (a run, fresh or from records).
    The claims are about the alphabet: experiments on other sequences do not count."""
    by = {r.config.name: r for r in results if r.config.sequence == ALPHABET}
    acc = {n: r.accuracy for n, r in by.items()}
    probe = {n: r.probe_accuracy for n, r in by.items() if r.probe is not None}
    order = by["batch-state"].order_diff if "batch-state" in by else None
    gen = None
    if "stateful" in by and len(by["stateful"].generated) == 2:
        gen = {s: by["stateful"].generation_ok(s) for s in by["stateful"].generated}
    any_start = None
    if "stateful-any-start" in by and len(by["stateful-any-start"].generated) == 2:
        start = list(by["stateful-any-start"].generated)[1]
        any_start = (start, by["stateful-any-start"].generation_ok(start))
    to_full = {n: epochs_to_full(by[n]) for n in ("stateful", "stateful-bptt") if n in by}
    counting = counting_share(by["stateful"]) if "stateful" in by else None
    found = judge(acc, probe, order, gen, any_start, to_full, counting, level)
    for f in found:
        f.seeds = min((by[n].config.seeds for n in f.experiments if n in by), default=0)
    # A verdict is about the run as made: say so where it departs from the tutorial's settings.
    for f in found:
        changes = [f"{name} {changed_settings(by[name].config)}" for name in f.experiments
                   if changed_settings(by[name].config)]
        if changes:
            f.measurement += f" — not the tutorial's settings: {'; '.join(changes)}"
    return found


def epochs_to_full(res) -> np.ndarray:
    """Per seed, the first epoch (1-based) whose training accuracy is 100%; epochs + 1 for
    a seed that never gets there."""
    full = res.history[:, :, 1] >= 1.0 - 1e-6
    return np.where(full.any(1), full.argmax(1) + 1, full.shape[1] + 1)


def counting_share(res) -> np.ndarray | None:
    """Per seed of a stateful model of window 1: read each symbol alone after a reset;
    among the symbols whose own successor differs from the first symbol's successor, the
    share answered with the first symbol's successor (the model counts one step since the
    reset, whatever it read). None without models or for another window."""
    c, seq = res.config, res.config.sequence
    if res.params is None or c.window != 1 or len(seq) < 3:
        return None
    import jax

    from . import data, evaluate
    vocab = res.dataset.vocab
    symbols = [s for s in dict.fromkeys(seq[1:-1]) if seq[seq.index(s) + 1] != seq[1]]
    x, _ = data.model_inputs(vocab.encode("".join(symbols))[:, None], len(vocab),
                             c.encoding, c.framing, c.mask)
    probs = np.asarray(jax.vmap(lambda p: evaluate.probabilities(p, x, None, c.activation))(
        res.params))                                           # (S, symbols, V)
    return np.mean(probs.argmax(-1) == vocab.index[seq[1]], axis=1)


def changed_settings(cfg) -> str:
    """The settings of ``cfg`` that differ from its preset (seed and seeds aside)."""
    preset = PRESETS.get(cfg.name)
    if preset is None:
        return "(not a preset)"
    return ", ".join(f"{k}={v}" for k, v in vars(cfg).items()
                     if k not in ("seed", "seeds") and v != getattr(preset, k))
