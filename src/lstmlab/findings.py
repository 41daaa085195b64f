"""The tutorial's claims as rows of data, each judged by a measurement over seeds and a
rule written here — never typed in. A claim whose experiments were not run is "not run".

A claim is a :class:`Claim`: an id, its text, the experiments it rests on, ``measure``
(the experiments' results → the per-seed data it needs, or None) and ``judge`` (that
data and a confidence level → a :class:`Judgement`). Every rule has the same shape: the
claim is *supported* when the whole interval lies on the claim's side of its threshold,
*not supported* when the whole interval lies on the other side, and *inconclusive* when
it straddles. The intervals are those of :mod:`lstmlab.stats`: exact (Clopper–Pearson)
for shares of seeds, betting intervals valid for bounded values for means, so a verdict's
guarantee holds for any distribution over seeds, per claim (there is no family-wise
control across the claims).
"""

from __future__ import annotations

import numpy as np

from . import config, measure, stats
from .data import ALPHABET, show
from .config import PRESETS, UNIT_THRESHOLD
from .verdicts import (  # noqa: F401  (findings.SUPPORTED, … as before)
    ABOUT, ABOUT_84, INCONCLUSIVE, LIFT_MARGIN, MAJORITY, NOT_RUN, NOT_SUPPORTED, PROBE_GOOD,
    SMALL_LIFT, SUPPORTED, Claim, Finding, Judgement, _pct, decide, decide_lift,
    share_judgement)


# -- measurements ---------------------------------------------------------------------


def correct(res) -> np.ndarray:
    """Per seed and training pattern: predicted right? (S, N)"""
    return res.probs.argmax(-1) == res.patterns.y


def positions(res) -> np.ndarray:
    """The sequence position each training pattern predicts (window patterns: i + w)."""
    index = np.arange(len(res.dataset.patterns)) if res.kept is None else res.kept
    return index + res.config.window


def shared_targets(a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions both window experiments predict, and the index of each in a and b."""
    shared, ia, ib = np.intersect1d(positions(a), positions(b), return_indices=True)
    return shared, ia, ib


def epochs_to_full(res) -> np.ndarray:
    """Per seed, the first epoch (1-based) whose training accuracy is 100%; ``epochs``
    for a seed that never gets there — censored there (restricted mean survival time: the
    mean of min(T, epochs) compares censored times without inventing them)."""
    full = stats.at_100(res.history[:, :, 1])
    return np.where(full.any(1), full.argmax(1) + 1, full.shape[1])


# -- the claims -----------------------------------------------------------------------


def _one_char(by):
    r = by.get("one-char")
    return None if r is None or r.config.seeds < 2 else r.accuracy


def _judge_one_char(acc, level):
    near = np.abs(np.asarray(acc) - ABOUT_84) <= ABOUT + 1e-9
    j = share_judgement(near, level, "one-char seeds within 84% ± 5 points (79–89%: ±1 of "
                        "its 25 patterns, so 80, 84 or 88%)")
    values, counts = np.unique(np.round(100 * np.asarray(acc)).astype(int),
                               return_counts=True)
    j.measurement += ("; per-seed accuracies " + ", ".join(
        f"{v}% ×{k}" for v, k in zip(values, counts)) + f"; mean {100 * np.mean(acc):.1f}%")
    return j


def _lift(by):
    a, b = by.get("feature-window"), by.get("one-char")
    if a is None or b is None or min(a.config.seeds, b.config.seeds) < 2:
        return None
    shared, ia, ib = shared_targets(a, b)
    ca, cb = correct(a)[:, ia], correct(b)[:, ib]
    # every target either predicts, side by side ("—" where one does not predict it)
    seq = a.config.sequence
    share = {name: {int(p): f"{100 * ok.mean():.0f}%" for p, ok in zip(positions(r),
                                                                       correct(r).T)}
             for name, r in (("a", a), ("b", b))}
    rows = [[show(seq[p]), share["b"].get(p, "—"), share["a"].get(p, "—")]
            for p in sorted(share["a"].keys() | share["b"].keys())]
    only = [show(seq[p]) for p in sorted(share["b"].keys() - share["a"].keys())]
    return dict(fw=ca.mean(1), one=cb.mean(1), shared=len(shared), only=only, rows=rows,
                all_fw=a.accuracy, all_one=b.accuracy)


def _judge_lift(d, level):
    lo, hi, n = stats.paired_difference_interval(d["fw"], d["one"], level)
    diff = float(np.mean(d["fw"][:n] - d["one"][:n]))
    verdict = decide_lift(lo, hi)
    words = ""
    if verdict == NOT_SUPPORTED:
        words = ("; above +10 points: a large lift, not a small one" if lo > SMALL_LIFT else
                 "; within ±1 point: no meaningful lift" if lo > -LIFT_MARGIN else
                 "; below +1 point")
    elif verdict == INCONCLUSIVE:
        words = ("; the interval reaches past +1 point and below it" if lo <= LIFT_MARGIN
                 else "; the interval reaches past +10 points")
    all_diff = float(np.mean(d["all_fw"]) - np.mean(d["all_one"]))
    return Judgement(
        verdict, diff, (lo, hi), "betting interval of paired differences", n,
        f"on the {d['shared']} targets both predict: feature-window − one-char = "
        f"{100 * diff:+.2f} points ({_pct(level)} CI {100 * lo:+.1f} to {100 * hi:+.1f}, "
        f"{n} seeds paired by replica){words}. On all their targets (one-char also "
        f"predicts {', '.join(d['only'])}) the difference would be {100 * all_diff:+.2f} "
        f"points: not a comparison of the same patterns",
        table=(["target", "one-char: seeds right", "feature-window: seeds right"],
               d["rows"]))


def _timestep(by):
    r = by.get("timestep-window")
    return None if r is None or r.config.seeds < 2 else stats.at_100(r.accuracy)


def _order(by):
    a, b = by.get("batch-state"), by.get("batch-state-shuffled")
    if a is None or b is None or min(a.config.seeds, b.config.seeds) < 2:
        return None
    n = min(a.config.seeds, b.config.seeds)
    return a.accuracy[:n], b.accuracy[:n]


def _judge_order(d, level):
    ordered, shuffled = d
    better = ordered > shuffled + 1e-9
    j = share_judgement(better, level, "seeds (paired by replica: the same initial "
                        "weights) whose in-order training beats the same batch shuffled")
    j.measurement += (f"; mean accuracy in order {100 * ordered.mean():.1f}%, shuffled "
                      f"{100 * shuffled.mean():.1f}%; "
                      f"{int(np.sum(np.abs(ordered - shuffled) <= 1e-9))} ties")
    return j


def _generation(by):
    r = by.get("stateful")
    if r is None or len(r.generated) != 2:
        return None
    return {s: r.generation_ok(s) for s in r.generated}


def _judge_generation(gen, level):
    (a_name, a_ok), (k_name, k_ok) = gen.items()
    ja = share_judgement(a_ok, level, f"continues the sequence from {show(a_name)}", None)
    jk = share_judgement(~np.asarray(k_ok, bool), level,
                         f"does not continue it from {show(k_name)}", None)
    # both must hold (an intersection–union test: each at the level, so the pair is too)
    verdict = SUPPORTED if ja.verdict == jk.verdict == SUPPORTED else \
        NOT_SUPPORTED if NOT_SUPPORTED in (ja.verdict, jk.verdict) else INCONCLUSIVE
    return Judgement(verdict, min(ja.estimate, jk.estimate),
                     (min(ja.interval[0], jk.interval[0]), min(ja.interval[1], jk.interval[1])),
                     "exact Clopper–Pearson, both shares", ja.seeds,
                     f"{ja.measurement}; {jk.measurement}; each must be more than half")


def _any_start(by):
    r = by.get("stateful-any-start")
    if r is None or len(r.generated) != 2:
        return None
    start = list(r.generated)[1]
    return start, r.generation_ok(start), r.config.seed


def _judge_any_start(d, level):
    start, ok, seed = d
    j = share_judgement(ok, level, f"stateful-any-start continues the sequence from "
                        f"{show(start)}")
    j.measurement += (f"; base seed {seed}, not seed 7 whose replicas chose one-hot and "
                      f"random starts" if seed != 7 else
                      "; seed 7: the replicas that chose these settings")
    return j


def _bptt(by):
    a, b = by.get("stateful"), by.get("stateful-bptt")
    if a is None or b is None or min(a.config.seeds, b.config.seeds) < 2 \
            or a.config.epochs != b.config.epochs:
        return None
    return epochs_to_full(a), epochs_to_full(b), a.config.epochs


def _judge_bptt(d, level):
    one, five, epochs = d
    lo, hi, n = stats.paired_difference_interval(one, five, level, bound=epochs)
    diff = float(np.mean(one[:n] - five[:n]))
    never = int(np.sum(one == epochs) + np.sum(five == epochs))
    return Judgement(
        decide(lo, hi, 0.0), diff, (lo, hi), "betting interval of paired differences "
        "(restricted mean)", n,
        f"restricted mean epochs to 100% training accuracy (a seed that never gets there "
        f"counts as {epochs}, censored): BPTT 1 {np.mean(one[:n]):.0f}, BPTT 5 "
        f"{np.mean(five[:n]):.0f}; BPTT 1 − BPTT 5 = {diff:+.0f} ({_pct(level)} CI {lo:+.0f} "
        f"to {hi:+.0f}, {n} seeds paired by replica; {never} censored)")


def _counting(by):
    r = by.get("stateful")
    got = None if r is None or r.config.seeds < 2 else measure.of(r, "counting_share")
    return None if got is None else (got["share"], int(got["probes"]))


def _judge_counting(d, level):
    share, probes = d
    j = share_judgement(share > MAJORITY, level, "seeds that answer mostly by counting")
    j.measurement += (f" ({probes} strings of 6 symbols, KQXEMC, ZZZZZZ and random ones, "
                      f"each read after a reset; per seed, among the steps where counting "
                      f"and reading differ, the share answered B, C, D … by the count: "
                      f"mean {100 * share.mean():.0f}%)")
    return j


def _variable(by):
    r = by.get("variable-length")
    got = None if r is None or r.config.seeds < 2 else measure.of(r, "all_pattern_accuracy")
    return None if got is None else (got["accuracy"], int(got["patterns"]))


def _judge_variable(d, level):
    acc, n = d
    j = share_judgement(acc >= PROBE_GOOD - 1e-9, level,
                        f"seeds that predict ≥ {100 * PROBE_GOOD:.0f}% of all {n} patterns")
    j.measurement += f"; mean accuracy {100 * acc.mean():.1f}%"
    return j


def _counter_unit(by):
    r = by.get("stateful")
    got = None if r is None or r.config.seeds < 2 else measure.of(r, "counter_unit")
    return None if got is None else (got["trained"], got["untrained"])


def _judge_unit(d, level, what):
    """Did the training make a unit track it: in most seeds a unit reaches |r| ≥ θ, and in
    most seeds (paired by replica: the same initial weights) the trained model's strongest
    |r| beats its untrained weights' — an exact interval for each share, each at half the
    error (Bonferroni), so that any wrong verdict needs one of them to miss. Supported when
    both lie above one half; not supported when either lies below (no unit in most seeds,
    or the untrained weights track it as well: the input carries the quantity)."""
    trained, untrained = (np.asarray(x, float) for x in d)
    thr, each = UNIT_THRESHOLD, 1 - (1 - level) / 2
    k = int(np.sum(trained >= thr))
    lo, hi = stats.share_interval(k, len(trained), each)
    beats, differ = int(np.sum(trained > untrained)), int(np.sum(trained != untrained))
    blo, bhi = stats.share_interval(beats, differ, each) if differ else (0.0, 1.0)
    verdict = (NOT_SUPPORTED if hi < MAJORITY or bhi < MAJORITY else
               SUPPORTED if lo > MAJORITY and blo > MAJORITY else INCONCLUSIVE)
    words = (f"seeds with a unit whose |r| with {what} is ≥ {thr:g}: {k}/{len(trained)} "
             f"({_pct(each)} CI {stats.interval_text(lo, hi, 0, '%')}); seeds whose trained "
             f"model has a stronger such unit than its weights before training: {beats}/"
             f"{differ} where they differ ({_pct(each)} CI "
             f"{stats.interval_text(blo, bhi, 0, '%')}); each must be more than half "
             f"(Bonferroni: {_pct(each)} each); median strongest |r| trained "
             f"{np.median(trained):.2f}, untrained {np.median(untrained):.2f}")
    if bhi < MAJORITY:
        words += " — the untrained weights track it as well: not the training's doing"
    return Judgement(verdict, k / len(trained), (lo, hi),
                     "exact Clopper–Pearson, two shares (Bonferroni)", len(trained), words)


WINDOW_MODELS = ("one-char", "feature-window", "timestep-window")


def _position_unit(by):
    rs = [by.get(n) for n in WINDOW_MODELS]
    if any(r is None or r.config.seeds < 2 for r in rs):
        return None
    got = [measure.of(r, "position_unit") for r in rs]
    if any(g is None for g in got):
        return None
    got = [(g["trained"], g["untrained"]) for g in got]
    n = min(len(g[0]) for g in got)
    # a seed counts when every window model of that replica has such a unit
    return (np.min([g[0][:n] for g in got], 0), np.min([g[1][:n] for g in got], 0))


def _line_unit(by):
    r = by.get("char-rnn")
    got = None if r is None or r.config.seeds < 2 else measure.of(r, "line_unit")
    return None if got is None else (got["trained"], None)


def _judge_line(d, level):
    trained, _ = d
    j = share_judgement(trained >= UNIT_THRESHOLD, level, f"seeds with a unit whose |r| "
                        f"with the position in the line is ≥ {UNIT_THRESHOLD:g} (the "
                        f"validation text)")
    j.measurement += f"; median strongest |r| {np.median(trained):.2f}"
    return j


CLAIMS = [
    Claim("one-char-84", "One char → one char reaches about 84% (±5 points: ±1 of its 25 "
          "patterns) in most runs.", ("one-char",), _one_char, _judge_one_char,
          "one-char (≥ 2 seeds)"),
    Claim("feature-window-lift", "A three-char feature window gives a small lift (+1 to "
          "+10 points) over one char, on the patterns both predict.",
          ("feature-window", "one-char"), _lift, _judge_lift,
          "one-char and feature-window (≥ 2 seeds)", decide_lift),
    Claim("timestep-window-100", "A three-char time-step window reaches 100% in most runs.",
          ("timestep-window",), _timestep,
          lambda ok, level: share_judgement(ok, level, "timestep-window seeds at 100%"),
          "timestep-window (≥ 2 seeds)"),
    Claim("batch-context", "The LSTM uses context across the samples of a batch: all "
          "samples in one batch in sequence order train better than shuffled.",
          ("batch-state", "batch-state-shuffled"), _order, _judge_order,
          "batch-state and batch-state-shuffled (≥ 2 seeds)"),
    Claim("stateful-generation", "The stateful LSTM generates the alphabet from A but not "
          "from K.", ("stateful",), _generation, _judge_generation,
          "stateful with two generation starts", reads=("start", "length")),
    Claim("any-start", "Trained with one-hot codes and random starts, the stateful model "
          "continues the sequence from K as well.", ("stateful-any-start",), _any_start,
          _judge_any_start, "stateful-any-start with two generation starts",
          reads=("start", "length")),
    Claim("bptt-sooner", "Truncated BPTT over 5 batches reaches 100% in fewer epochs than "
          "over 1 batch.", ("stateful", "stateful-bptt"), _bptt, _judge_bptt,
          "stateful and stateful-bptt (≥ 2 seeds, the same epochs)",
          lambda lo, hi: decide(lo, hi, 0.0)),
    Claim("counting", "The tutorial's stateful model counts steps since the reset rather "
          "than reading its input.", ("stateful",), _counting, _judge_counting,
          "stateful (≥ 2 seeds, with its models)"),
    Claim("variable-length-all", "The variable-length model predicts the next letter of "
          "subsequences of 1–5 letters (all 114 scored; every one is also a training "
          "pattern, so this is not generalisation).", ("variable-length",), _variable,
          _judge_variable, "variable-length (≥ 2 seeds, with its models)"),
    Claim("counter-unit", f"Training gives the tutorial's stateful model a unit that tracks "
          f"the steps since the reset (|r| ≥ {UNIT_THRESHOLD:g} on random strings read after "
          f"a reset, stronger than before training).",
          ("stateful",), _counter_unit,
          lambda d, level: _judge_unit(d, level, "the steps since the reset"),
          "stateful (≥ 2 seeds, with its models)", settles=False),
    Claim("position-unit", f"Training makes the window models encode the last symbol's "
          f"alphabet position in a unit (|r| ≥ {UNIT_THRESHOLD:g} in one-char, "
          f"feature-window and timestep-window alike, stronger than before training).",
          WINDOW_MODELS, _position_unit,
          lambda d, level: _judge_unit(d, level, "the last symbol's alphabet position "
                                       "(in all three window models)"),
          "one-char, feature-window and timestep-window (≥ 2 seeds, with their models)",
          settles=False),
    Claim("line-unit", f"A text model (char-rnn) has a unit that tracks the position in the "
          f"line (|r| ≥ {UNIT_THRESHOLD:g}).", ("char-rnn",), _line_unit, _judge_line,
          "char-rnn on a text with lines (≥ 2 seeds, with its models)", any_text=True,
          settles=False),
]
BY_ID = {c.id: c for c in CLAIMS}


def from_results(results, level: float = 0.95) -> list[Finding]:
    """The findings of a list of results.Result (a run, fresh or from records), every
    interval at ``level``. The claims are about the alphabet: experiments on other
    sequences do not count."""
    by = {r.config.name: r for r in results if r.config.sequence == ALPHABET}
    elsewhere = {r.config.name for r in results} - set(by)
    every = {r.config.name: r for r in results}
    out = []
    for claim in CLAIMS:
        data = claim.measure(every if claim.any_text else by)
        if data is None:
            other = [n for n in claim.experiments if n in elsewhere and not claim.any_text]
            words = (f"{', '.join(other)} ran on another sequence: the tutorial's claims are "
                     f"about A–Z" if other else f"needs {claim.needs}")
            out.append(Finding(claim.id, claim.text, words, NOT_RUN, claim.experiments,
                               level=level))
            continue
        j = claim.judge(data, level)
        changes = [f"{n} {changed_settings(every[n].config, claim.reads)}"
                   for n in claim.experiments if changed_settings(every[n].config, claim.reads)]
        # a verdict is about the run as made: say so where it departs from the tutorial
        words = j.measurement + (f" — not the tutorial's settings: {'; '.join(changes)}"
                                 if changes else "")
        out.append(Finding(claim.id, claim.text, words, j.verdict, claim.experiments,
                           j.seeds, level, j.estimate, tuple(j.interval), j.method, j.table))
    return out


GUARANTEE = ("Each verdict's guarantee is per claim (no family-wise control across the "
             "claims): a share of seeds by its exact Clopper–Pearson interval, a mean of "
             "bounded values by a betting interval valid for any distribution of them.")


def level_words(found: list[Finding]) -> str:
    """The level of a findings table, in words (one level per table)."""
    return f"{_pct(found[0].level if found else 0.95)} intervals"


def projected(f: Finding, seeds: int) -> str:
    """The verdict ``f``'s claim would reach with ``seeds`` seeds if its estimate stayed
    and its interval narrowed as 1/√n (a share: its exact interval at that many seeds) — a
    guess used only to skip settling rounds that cannot help (stopping early for futility
    never makes a wrong verdict likelier)."""
    if f.interval is None or f.estimate is None or not f.seeds:
        return f.verdict
    if f.method.startswith("exact"):
        return BY_ID[f.id].decide(*stats.share_interval(round(f.estimate * seeds), seeds,
                                                        f.level))
    s = np.sqrt(f.seeds / seeds)
    lo = f.estimate - (f.estimate - f.interval[0]) * s
    hi = f.estimate + (f.interval[1] - f.estimate) * s
    return BY_ID[f.id].decide(lo, hi)


# Settings that change neither the training nor what a claim measures unless it reads them
# (Claim.reads): a run that changes only these is the tutorial's run.
NOT_TRAINING = ("seed", "seeds", "note") + config.NOT_TRAINING


def changed_settings(cfg, reads: tuple[str, ...] = ()) -> str:
    """The settings of ``cfg`` that differ from its preset and change its training or what
    a claim reads (``reads``)."""
    preset = PRESETS.get(cfg.name)
    if preset is None:
        return "(not a preset)"
    return ", ".join(f"{k}={v}" for k, v in vars(cfg).items()
                     if (k not in NOT_TRAINING or k in reads) and v != getattr(preset, k))
