"""How a claim's verdict is reached and kept: the words of a verdict, a Judgement (the
verdict with its measurement and interval), a Finding (a claim's judgement as the outputs
show it), a Claim (a row: id, text, experiments, measure, judge), and the rules every
claim shares — an interval wholly on one side of a threshold decides, one that straddles
it is inconclusive (:func:`decide`, :func:`share_judgement`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from . import stats

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_RUN = (
    "supported", "not supported", "inconclusive", "not run")

ABOUT_84, ABOUT = 0.84, 0.05  # "about 84%": within ±5 points, ±1 pattern of one-char's 25
MAJORITY = 0.5         # a share of seeds: more / fewer than half
PROBE_GOOD = 0.9       # variable-length: a seed predicts ≥ 90% of the patterns


@dataclass
class Judgement:
    """What a rule concluded from the data: the verdict, the interval it rests on (and the
    estimate inside it), the method in words, the number of seeds, and a sentence."""

    verdict: str
    estimate: float
    interval: tuple[float, float]
    method: str
    seeds: int
    measurement: str
    table: tuple | None = None  # (header, rows) the report shows with the finding
    shares: tuple = ()          # the shares of seeds it rests on, each its own interval
                                # (Share): findings.json, and what settling projects


@dataclass
class Finding:
    id: str
    claim: str
    measurement: str
    verdict: str
    experiments: tuple[str, ...] = ()  # the presets whose results it rests on
    seeds: int = 0                     # the seeds the verdict used (0: not run)
    level: float = 0.95
    estimate: float | None = None
    interval: tuple[float, float] | None = None
    method: str = ""
    table: tuple | None = field(default=None, repr=False)
    shares: tuple = ()
    shaped_on: int | None = None  # the base seed it was judged on, when that seed's runs
                                  # shaped the claim (an exploration, not a confirmation)

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("table")
        return out


@dataclass(frozen=True)
class Share:
    """One share of seeds a verdict rests on: what it counts, successes of seeds, and its
    exact interval (at the finding's level)."""

    what: str
    successes: int
    seeds: int
    interval: tuple[float, float]


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    experiments: tuple[str, ...]
    measure: Callable[[dict], Any]          # results by name → data, or None
    judge: Callable[[Any, float], Judgement]
    needs: str                              # what "not run" asks for
    reads: tuple[str, ...] = ()             # settings its measurement reads besides training
    any_text: bool = False                  # about a text of the user's, not A–Z
    settles: bool = True                    # an inconclusive verdict earns more seeds


def _pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def decide(lo: float, hi: float, threshold: float) -> str:
    """Supported if the interval is above the threshold, not if below, else inconclusive."""
    if lo > threshold:
        return SUPPORTED
    if hi < threshold:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def share_judgement(ok, level: float, what: str, threshold: float | None = MAJORITY
                    ) -> Judgement:
    """A share of seeds (``ok`` per seed) against ``threshold``, by its exact interval;
    ``threshold`` None leaves the threshold out of the words (a claim that states it once
    for several shares)."""
    ok = np.asarray(ok, bool)
    lo, hi = stats.share_interval(int(ok.sum()), len(ok), level)
    words = (f"{what}: {int(ok.sum())}/{len(ok)} seeds ({_pct(level)} CI "
             f"{stats.interval_text(lo, hi, 0, '%')})")
    if threshold is not None:
        words += f"; threshold: more than {100 * threshold:.0f}% of seeds"
    return Judgement(decide(lo, hi, MAJORITY if threshold is None else threshold),
                     float(ok.mean()), (lo, hi), "exact Clopper–Pearson", len(ok), words,
                     shares=(Share(what, int(ok.sum()), len(ok), (lo, hi)),))
