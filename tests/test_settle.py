"""Findings that settle themselves: planned looks, the Bonferroni level, rounds that train
more seeds only for inconclusive findings, the equivalence margin, and resuming."""

from types import SimpleNamespace

import numpy as np
import pytest

import jax

from lstmlab import engine, experiments, findings, settle, train
from lstmlab.kinds import windows
from lstmlab.config import PRESETS
from lstmlab.kinds.window_result import Result
from test_stats import mc_ceiling


def fake(name, per_replica, seeds):
    """A Result of preset ``name`` whose replica i has accuracy per_replica(i) (on 25
    patterns) — replica i the same however many are trained, as in lstmlab."""
    n = 100
    probs = np.zeros((seeds, n, 2), np.float32)
    for i in range(seeds):
        k = int(round(per_replica(i) * n))
        probs[i, :k, 0] = 1
        probs[i, k:, 1] = 1
    ds = SimpleNamespace(patterns=SimpleNamespace(y=np.zeros(n, int)))
    return Result(PRESETS[name].replace(seeds=seeds), ds, None, np.zeros((seeds, 3, 2)),
                  probs, 0.0, 0.0, finite=np.ones(seeds, bool))


def share(p):
    """Replica i within one-char's "about 84%" band unless i % 10 falls in the last
    (1 − p) of each ten: a share p of seeds in the band, the same for any seed count."""
    return lambda i: 0.84 if (i % 10) < round(10 * p) else 0.60


def run_settle(looks, p=0.8, per_replica=None):
    asked = []
    per_replica = per_replica or share(p)

    def train(cfgs):
        asked.append(sorted((c.name, c.seeds) for c in cfgs))
        return [fake(c.name, per_replica, c.seeds) for c in cfgs]

    results, found = settle.settle([fake("one-char", per_replica, looks[0])], looks, train)
    return asked, {r.config.name: r for r in results}, found[0]


def test_an_inconclusive_finding_is_settled_in_planned_rounds():
    # 8/10 in the band: inconclusive at 99%; 16/20 still (lower bound 0.49); 40/50 supported
    asked, results, f = run_settle(settle.plan(10, 200))
    assert asked == [[("one-char", 20)], [("one-char", 50)]]
    assert f.id == "one-char-84" and f.verdict == findings.SUPPORTED and f.seeds == 50
    assert f.level == pytest.approx(0.99) and "99% CI" in f.measurement
    assert results["one-char"].config.seeds == 50


def test_a_finding_the_cap_could_not_settle_is_not_grown():
    # 50/100 at 99% (CI 37–63%) with a cap of 120: even a truth of 63% would make 20 more
    # seeds decide it in under 10% of runs — futile, nothing trains
    asked, _, f = run_settle(settle.plan(100, 120), p=0.5)
    assert asked == [] and f.verdict == findings.INCONCLUSIVE and f.seeds == 100
    assert findings.futile(f, 120)
    # negative controls: 5/10 is not futile by 200 (its interval allows a truth that 190
    # more seeds would decide; the old 1/√n projection of the estimate called it futile),
    # and it is settled to the cap, staying inconclusive (the truth is exactly one half)
    asked, _, f = run_settle(settle.plan(10, 200), p=0.5)
    assert [a[0][1] for a in asked] == [20, 50, 100, 200]
    assert f.verdict == findings.INCONCLUSIVE and f.seeds == 200


def settled_verdicts(p, sims, cap=200, seed=0):
    """The verdicts of ``sims`` settled runs of one-char's share claim whose seeds are in
    the band with probability ``p`` (replica i the same in every round, as in lstmlab)."""
    rng, got = np.random.default_rng(seed), []
    for _ in range(sims):
        inside = rng.random(cap) < p
        _, _, f = run_settle(settle.plan(10, cap),
                             per_replica=lambda i: 0.84 if inside[i] else 0.60)
        got.append((f.verdict, f.seeds))
    return got


def test_a_share_of_70_percent_is_supported_within_the_cap_and_one_half_rarely():
    """Power (the issue's bar: ≥ 80% of settled runs at a share of 0.7 by 200 seeds; it
    was 0.80 at p = 0.7 with the 1/√n futility rule and 0.59 at p = 0.65) and the level
    at the boundary: at exactly one half, "supported" (or "not supported") in at most
    2.5% of settled runs, Monte-Carlo error allowed — the Bonferroni split over five looks
    pays for every look."""
    strong = settled_verdicts(0.7, 200, seed=1)
    assert sum(v == findings.SUPPORTED for v, _ in strong) / 200 >= 0.9
    assert max(n for _, n in strong) <= 200
    mid = settled_verdicts(0.65, 100, seed=2)
    assert sum(v == findings.SUPPORTED for v, _ in mid) / 100 >= 0.8
    half = settled_verdicts(0.5, 300, seed=3)
    for wrong in (findings.SUPPORTED, findings.NOT_SUPPORTED):
        assert sum(v == wrong for v, _ in half) / 300 <= mc_ceiling(0.025, 300)


def test_a_conclusive_finding_trains_nothing_more():
    asked, _, f = run_settle(settle.plan(10, 200), p=1.0)
    assert asked == [] and f.verdict == findings.SUPPORTED and f.seeds == 10


def test_the_plan_and_its_level():
    assert settle.plan(10, 200) == [10, 20, 50, 100, 200]
    assert settle.plan(10, 60) == [10, 20, 50, 60]
    assert settle.plan(10, 10) == [10]
    assert settle.level([10, 20, 50, 100, 200]) == pytest.approx(0.99)
    assert settle.level(None) == pytest.approx(0.95)
    assert "Bonferroni" in settle.design([10, 20])
    grown = fake("one-char", share(0.8), 20)
    grown.looks = (10, 20, 50)
    assert settle.strictest([grown]) == [10, 20, 50]
    assert settle.strictest([grown], [10, 20, 50, 100, 200]) == [10, 20, 50, 100, 200]
    assert settle.strictest([fake("one-char", share(0.8), 10)]) is None
    by_hand = fake("one-char", share(0.8), 30)
    by_hand.taken = (10, 20)   # grown by hand: judged at 10 and 20 seeds before
    assert settle.strictest([by_hand]) == [10, 20, 30]
    assert "judged before, at 10, 20 seeds" in settle.design(settle.Taken([10, 20, 30]))
    assert "planned looks at 10, 20, 30" in settle.design([10, 20, 30])
    assert settle.level([10, 20, 30]) == pytest.approx(1 - 0.05 / 3)
    # one seed: nothing can be judged, so no looks are planned or announced
    assert settle.plan(1, 200) == [1]
    assert "needs 2 seeds or more" in settle.design([1])


def test_findings_measured_with_other_settings_are_not_settled():
    calls = []
    res = [fake("one-char", share(0.8), 10)]
    res[0].config = res[0].config.replace(epochs=3)  # not the tutorial's one-char
    settle.settle(res, settle.plan(10, 200), lambda cfgs: calls.append(cfgs) or [])
    assert calls == []


@pytest.mark.slow
def test_a_settled_run_resumes_without_training(run_cli, tmp_path, monkeypatch):
    out = tmp_path / "run"
    args = ["run", "one-char", "--seeds", "2", "--max-seeds", "10", "-q", "--out", out]
    code, text, err = run_cli(*args)
    assert code == 0, err
    assert "Bonferroni" in text and "seeds" in text
    assert "with 10 seeds" in text  # 2 seeds leave the finding inconclusive: one round
    trained = []
    real = engine.run_experiment
    monkeypatch.setattr(engine, "run_experiment",
                        lambda cfg, **kw: trained.append(cfg.name) or real(cfg, **kw))
    assert run_cli(*args)[0] == 0
    assert trained == []  # the settled records answer the same request
    code, _, err = run_cli("run", "one-char", "--epochs", "3", "--seeds", "2", "-q",
                           "--max-seeds", "0", "--out", tmp_path / "x")
    assert code == 2 and "max seeds 0" in err


@pytest.mark.slow
def test_settling_may_reach_an_experiment_of_an_earlier_run_in_the_directory(run_cli, tmp_path):
    out = tmp_path / "run"
    small = ["--seeds", "2", "--max-seeds", "10", "-q", "--out", out]
    assert run_cli("run", "batch-state", "--no-settle", *small)[0] == 0
    # the batch-context finding needs batch-state too
    code, text, err = run_cli("run", "batch-state-shuffled", *small)
    assert code == 0, err
    assert "settling: batch-state with 10 seeds" in text


def test_a_round_that_trains_nothing_ends_settling():
    calls = []
    results, found = settle.settle([fake("one-char", share(0.8), 10)], settle.plan(10, 200),
                                   lambda cfgs: calls.append(1) or [])
    assert calls == [1] and found[0].verdict == findings.INCONCLUSIVE


def _arrays(res):
    """Every per-replica output of a Result, by name (parameters as numpy)."""
    out = {"history": res.history, "probs": res.probs,
           **{f"param{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves(res.params))}}
    if res.probe_probs is not None:
        out["probe_probs"] = res.probe_probs
    if res.states is not None:
        out["states"] = res.states
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name,settings", [
    ("stateful", dict(epochs=6, units=8)),                      # generation, state heatmap
    ("one-char", dict(epochs=8, units=4, order_test=True)),     # order test
    ("variable-length", dict(epochs=2, samples=40, units=4)),   # masked, probe
])
def test_more_seeds_train_only_the_new_replicas_with_the_numbers_of_training_all(
        name, settings, monkeypatch):
    few = experiments.run(name, seeds=3, **settings)
    together = experiments.run(name, seeds=8, **settings)
    trained = []
    real = train.fit
    monkeypatch.setattr(train, "fit", lambda spec, keys, *a, **kw:
                        trained.append(len(keys)) or real(spec, keys, *a, **kw))
    grown = experiments.run(name, seeds=8, prior=few, **settings)
    assert trained == [5]  # replicas 3 … 7 only
    assert grown.config == together.config
    want, got = _arrays(together), _arrays(grown)
    assert want.keys() == got.keys()
    for k in want:  # the same numbers, bit for bit, as all eight trained at once
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert grown.generated == together.generated and grown.order_diff == together.order_diff
    # negative control: a prior of other settings is not extended — all eight train again
    other = experiments.run(name, seeds=3, seed=8, **settings)
    assert not windows.extends(other, together.config)
    trained.clear()
    again = experiments.run(name, seeds=8, prior=other, **settings)
    assert trained == [8]
    np.testing.assert_array_equal(again.probs, together.probs)
    assert not np.array_equal(other.probs, together.probs[:3])  # the seed matters


@pytest.mark.slow
def test_batches_of_several_samples_train_all_replicas_again():
    """Why extends() asks for one sample per update: with a batch of 25 samples, the
    replicas' parameters differ in the last bits with the number trained beside them."""
    settings = dict(epochs=20)
    few = experiments.run("batch-state", seeds=4, **settings)
    together = experiments.run("batch-state", seeds=10, **settings)
    assert not windows.extends(few, together.config)
    a = np.concatenate([np.ravel(np.asarray(p)[:4]) for p in jax.tree.leaves(together.params)])
    b = np.concatenate([np.ravel(p) for p in jax.tree.leaves(few.params)])
    assert not np.array_equal(a, b)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    one = experiments.run("one-char", seeds=4, **settings)  # one sample per update: extends
    assert windows.extends(one, one.config.replace(seeds=10))


@pytest.mark.slow
def test_more_seeds_with_force_keeps_the_seeds_a_directory_holds(run_cli, tmp_path):
    small = ["run", "one-char", "--epochs", "3", "-q", "--no-settle"]
    assert run_cli(*small, "--seeds", "2", "--out", tmp_path / "a")[0] == 0
    code, _, err = run_cli(*small, "--seeds", "4", "--force", "--out", tmp_path / "a")
    assert code == 0 and "keeping its 2 seeds and training 2 more (--force)" in err
    assert run_cli(*small, "--seeds", "4", "--out", tmp_path / "b")[0] == 0
    a, b = (np.load(tmp_path / d / "one-char" / "arrays.npz") for d in "ab")
    for k in ("probs", "history"):  # grown to 4 = trained as 4
        np.testing.assert_array_equal(a[k], b[k])
    # the look taken by hand at 2 seeds is kept and counted: 95% split over two looks;
    # the same 4 seeds trained at once were looked at once (negative control)
    import json
    grown, once = (json.loads((tmp_path / d / "findings.json").read_text()) for d in "ab")
    assert json.loads((tmp_path / "a" / "one-char" / "record.json").read_text()
                      )["looks_taken"] == [2]
    assert grown["findings"][0]["level"] == pytest.approx(0.975)
    assert "judged before, at 2 seeds" in grown["design"]
    assert once["findings"][0]["level"] == pytest.approx(0.95) and once["design"] is None
    code, text, _ = run_cli("report", tmp_path / "a", "--json")
    assert code == 0 and json.loads(text)["findings"][0]["level"] == pytest.approx(0.975)
    # other settings are still replaced, as before
    code, _, err = run_cli(*small, "--seeds", "4", "--lr", "0.01", "--force",
                           "--out", tmp_path / "a")
    assert code == 0 and "replacing it (--force)" in err


def test_claims_about_units_are_judged_but_never_settled(monkeypatch):
    """A claim with settles=False earns no seeds however inconclusive (the unit claims:
    settling them took the main job from 3 to 4.5 minutes); the same data with the claim
    settling trains (the first test's positive control)."""
    import dataclasses
    assert not any(findings.BY_ID[c].settles for c in ("counter-unit", "position-unit",
                                                       "line-unit"))
    monkeypatch.setitem(findings.BY_ID, "one-char-84", dataclasses.replace(
        findings.BY_ID["one-char-84"], settles=False))
    asked, _, f = run_settle(settle.plan(10, 200))
    assert asked == [] and f.verdict == findings.INCONCLUSIVE and f.seeds == 10


def window_fake(name, wrong, seeds):
    """A result of window preset ``name`` whose replica i gets the first wrong[i] of the
    targets D–Z (the ones one-char and feature-window both predict) wrong."""
    from lstmlab import data
    w = PRESETS[name].window
    y = np.arange(w, 26)
    probs = np.zeros((seeds, len(y), 26), np.float32)
    probs[:, np.arange(len(y)), y] = 1
    for i in range(seeds):
        rows = np.arange(3, 3 + wrong[i]) - w
        probs[i, rows, y[rows]], probs[i, rows, 0] = 0, 1
    pats = data.Patterns(np.zeros((len(y), w), int), y)
    return SimpleNamespace(config=PRESETS[name].replace(seeds=seeds),
                           dataset=SimpleNamespace(patterns=pats), patterns=pats, probs=probs,
                           kept=None, accuracy=(probs.argmax(-1) == y).mean(-1), looks=None,
                           taken=())


def settled_lifts(lift_points, sims, seed):
    """The verdicts of ``sims`` settled runs of the lift claim where feature-window gets
    ``lift_points`` more of the 23 shared targets right on average, per seed the
    difference in patterns round(N(lift, 1.1)) — the spread of the main job's seeds
    (4.8 points, in steps of 4.3: one pattern of 23)."""
    rng, got = np.random.default_rng(seed), []
    for _ in range(sims):
        one = rng.integers(2, 7, 200)
        fw = np.clip(one - np.round(rng.normal(lift_points / 100 * 23, 1.1, 200)), 0, 20)
        wrong = {"one-char": one, "feature-window": fw.astype(int)}

        def train(cfgs):
            return [window_fake(c.name, wrong[c.name], c.seeds) for c in cfgs]
        _, found = settle.settle(train([PRESETS[n].replace(seeds=10) for n in wrong]),
                                 settle.plan(10, 200), train)
        f = next(f for f in found if f.id == "feature-window-lift")
        got.append((f.verdict, f.seeds))
    return got


def test_a_five_point_lift_is_supported_within_the_cap_and_none_is_refuted():
    """The lift claim is decidable inside the design (a mean lift on [−1, 1] was not:
    over 500 seeds to rule out none): a +5-point lift supported in ≥ 80% of settled runs
    by 200 seeds; no lift (a tie in ~40% of seeds, as on the main job) refuted, and never
    called supported."""
    real = settled_lifts(5.0, 100, 1)
    assert sum(v == findings.SUPPORTED for v, _ in real) / 100 >= 0.8
    none = settled_lifts(0.0, 100, 2)
    assert sum(v == findings.NOT_SUPPORTED for v, _ in none) / 100 >= 0.8
    assert not any(v == findings.SUPPORTED for v, _ in none)
