"""Findings that settle themselves: when a finding is inconclusive, train more seeds of the
experiments it rests on — in rounds, each round one compiled program per experiment — until
its verdict is conclusive, a cap is reached, or the cap could not make it conclusive.

Looking again after every round would make a 95% interval too optimistic, so the design is
fixed in advance: at most ``len(plan)`` looks at the seed counts of ``plan``, and every
interval at every look (the first included) at level 1 − 0.05 / looks — a Bonferroni split
of α over the planned looks, so that each claim's verdict keeps its 95% guarantee however
many looks it took. The design is kept in the records it grew (``Result.looks``): seeds
gathered by looking are judged at that level whenever they are judged again. Looks taken
by hand count too: a record grown from an earlier one (``--force`` with more seeds) keeps
the seed counts it was judged at (``Result.taken``), and the findings are judged with the
split over the planned looks and the looks taken together (:func:`strictest`). A round is
skipped for a finding that even the most favourable truth its interval allows would
rarely make conclusive by the cap (``findings.futile``, conditional power): stopping for
futility never makes a wrong verdict likelier. Replica r of a seed is the same whatever the number of replicas trained
with it, so a round keeps the earlier seeds' models and trains only the new ones where that
holds bit for bit (its kind's ``extends``), and trains all of them again otherwise.
"""

from __future__ import annotations

from typing import Callable

from . import findings
from .config import Config
from .kinds import ExperimentResult as Result

LOOKS = (10, 20, 50, 100, 200)  # the seed counts a finding may be looked at
ALPHA = 0.05
FEWEST = 2  # a finding needs two seeds: with fewer every claim is "not run"


def plan(start: int, cap: int) -> list[int]:
    """The planned looks: the run's seeds, then every LOOKS count above them up to
    ``cap``, and the cap itself; the run's seeds alone when fewer than FEWEST (nothing can
    be judged, so nothing can settle)."""
    if start < FEWEST:
        return [start]
    return sorted({start} | {n for n in LOOKS if start < n <= cap} | ({cap} if cap > start
                                                                       else set()))


def level(looks: list[int] | None) -> float:
    """The confidence level of every interval when a finding may be looked at
    ``len(looks)`` times (Bonferroni); 95% without a design."""
    return 1 - ALPHA / len(looks or [0])


class Taken(list):
    """Looks taken at a record grown by hand (not a settling plan: nothing is planned, and
    config.json's ``settle_looks`` does not keep it — the records do)."""


def taken(res: Result) -> Taken:
    """The looks at ``res``'s seeds: its planned design with the seed counts it was
    judged at before (by hand or by settling) and its own."""
    return Taken(sorted({*(res.looks or ()), *res.taken, res.config.seeds}))


def strictest(results: list[Result], looks: list[int] | None = None) -> list[int] | None:
    """The design to judge ``results`` by: the one with the most looks among this run's
    (``looks``), those kept in the records settling grew, and the looks taken at a record
    grown by hand; None if there is none (one look at every record's seeds)."""
    designs = [list(d) for d in [looks, *(r.looks for r in results)] if d]
    designs += [t for r in results if r.taken for t in [taken(r)] if len(t) > 1]
    return max(designs, key=len) if designs else None


def design(looks: list[int]) -> str:
    """The design in one sentence, for the terminal and the report."""
    if len(looks) == 1 and looks[0] < FEWEST:
        return (f"Nothing could be settled: a finding needs {FEWEST} seeds or more, and "
                f"{looks[0]} was asked for.")
    if len(looks) == 1:
        return (f"Nothing could be settled: --max-seeds is not above the {looks[0]} seeds "
                f"asked for, so every finding is looked at once, at 95%.")
    if isinstance(looks, Taken):
        return (f"These seeds were judged before, at {', '.join(map(str, looks[:-1]))} "
                f"seeds: every interval is at {100 * level(looks):.4g}% — 95% split over "
                f"the {len(looks)} looks taken (Bonferroni; a 95% guarantee when the looks "
                f"were planned before any verdict was seen — settling plans them).")
    return (f"Inconclusive findings are settled by training more seeds in rounds (planned "
            f"looks at {', '.join(map(str, looks))} seeds; a round that could not make a "
            f"finding conclusive by {looks[-1]} is skipped); every interval is at "
            f"{100 * level(looks):.4g}% — 95% split over the {len(looks)} planned looks "
            f"(Bonferroni) — so each claim's verdict keeps its 95% guarantee despite the "
            f"repeated looks.")


def settle(results: list[Result], looks: list[int],
           train: Callable[[list[Config]], list[Result]]) -> tuple[list[Result], list]:
    """Train more seeds (``train(configs)`` → their results) for the experiments of every
    inconclusive finding measured with the tutorial's settings, a planned look at a time,
    until none is inconclusive or worth another look. Returns every result (the settled
    ones replaced) and the final findings."""
    lvl = level(strictest(results, looks))
    by = {r.config.name: r for r in results}
    while True:
        found = findings.from_results(list(by.values()), lvl)
        more: dict[str, int] = {}
        for f in found:
            # only the tutorial's claims as the tutorial sets them up: a verdict measured
            # with other settings (say 3 epochs) is flagged as such, not worth more seeds
            # a claim about units is a description of the models: judged at the seeds
            # the run has (settling it doubled the main job)
            if not findings.BY_ID[f.id].settles:
                continue
            if f.verdict != findings.INCONCLUSIVE or any(
                    findings.changed_settings(by[n].config, findings.BY_ID[f.id].reads)
                    for n in f.experiments):
                continue
            if findings.futile(f, looks[-1]):
                continue  # even the favourable truth would rarely decide it by the cap
            for name in f.experiments:
                nxt = next((n for n in looks if n > by[name].config.seeds), None)
                if nxt is not None:
                    more[name] = max(more.get(name, 0), nxt)
        if not more:
            return list(by.values()), found
        grown = False
        for res in train([by[name].config.replace(seeds=n) for name, n in more.items()]):
            grown |= res.config.seeds > by[res.config.name].config.seeds
            by[res.config.name] = res
        if not grown:  # nothing more was trained (an interrupted round): stop looking
            return list(by.values()), found
