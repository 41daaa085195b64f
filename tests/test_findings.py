import numpy as np
import pytest
from scipy import stats

from lstmlab import evaluate, findings
from lstmlab.findings import INCONCLUSIVE, NOT_RUN, NOT_SUPPORTED, SUPPORTED


def test_t_interval_on_a_known_sample():
    lo, hi = evaluate.t_interval([0.80, 0.84, 0.88])
    half = 4.302652729911275 * 0.04 / np.sqrt(3)  # t(0.975, 2) · s / √n
    assert lo == pytest.approx(0.84 - half, abs=1e-9)
    assert hi == pytest.approx(0.84 + half, abs=1e-9)
    assert evaluate.t_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)


def test_wilson_interval_on_known_counts():
    # Wilson, z = 1.959964: 10/10 → [0.7225, 1]; 0/10 → [0, 0.2775]; 5/10 → [0.2366, 0.7634]
    assert evaluate.wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-4)
    assert evaluate.wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-4)
    assert evaluate.wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-4)
    for n in (12, 24, 100):  # exact ends at 0/n and n/n (computed, they missed by 1e-17)
        assert evaluate.wilson_interval(0, n)[0] == 0.0
        assert evaluate.wilson_interval(n, n)[1] == 1.0
        assert 0.0 < evaluate.wilson_interval(1, n)[0] and evaluate.wilson_interval(n - 1, n)[1] < 1


def test_summarize():
    s = evaluate.summarize([1.0, 0.9, 1.0, 0.8])
    assert s["mean"] == pytest.approx(0.925) and s["min"] == 0.8 and s["max"] == 1.0
    assert s["sd"] == pytest.approx(np.std([1, 0.9, 1, 0.8], ddof=1))
    assert s["share_100"] == 0.5 and s["n"] == 4
    lo, hi = evaluate.t_interval([1.0, 0.9, 1.0, 0.8])
    assert hi > 1 and s["ci95"] == [lo, 1.0]  # clipped: a mean accuracy cannot pass 100%


def test_losses_are_described_not_summarized_as_accuracies():
    losses = [1.66, 1.9, 2.4, 0.95]
    d = evaluate.describe(losses)
    lo, hi = evaluate.t_interval(losses)
    assert d["ci95"] == [lo, hi] and hi > 1.0 and lo < hi  # not clipped to [0, 1]
    assert "share_100" not in d
    assert evaluate.summarize([1.0, 0.5])["ci95"][1] == 1.0  # accuracies are


def test_welch_interval_matches_scipy():
    rng = np.random.default_rng(2283)
    a, b = rng.random(10), rng.random(8)
    lo, hi = findings.welch_interval(a, b)
    r = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (lo, hi) == pytest.approx((r.low, r.high), rel=1e-9)


def verdict(claim_index, **kw):
    return findings.judge(**kw)[claim_index].verdict


def acc(values):
    return {"one-char": np.array(values)}


def test_claim_one_char_about_84():
    assert verdict(0, accuracy=acc([0.84, 0.80, 0.88, 0.84, 0.82, 0.86])) == SUPPORTED
    assert verdict(0, accuracy=acc([0.60, 0.62, 0.64, 0.60])) == NOT_SUPPORTED
    assert verdict(0, accuracy=acc([0.70, 0.95, 0.80, 0.90])) == INCONCLUSIVE
    assert verdict(0, accuracy={}) == NOT_RUN


def test_claim_feature_window_lift():
    one = np.array([0.80, 0.84, 0.82, 0.80, 0.84])
    assert verdict(1, accuracy={"one-char": one, "feature-window": one + 0.1}) == SUPPORTED
    assert verdict(1, accuracy={"one-char": one, "feature-window": one - 0.1}) == NOT_SUPPORTED
    assert verdict(1, accuracy={"one-char": one,
                                "feature-window": one[::-1] + 0.001}) == INCONCLUSIVE
    assert verdict(1, accuracy={"one-char": one}) == NOT_RUN


def test_claim_timestep_window_100():
    t = "timestep-window"
    assert verdict(2, accuracy={t: np.ones(10)}) == SUPPORTED
    assert verdict(2, accuracy={t: np.full(10, 0.9)}) == NOT_SUPPORTED
    assert verdict(2, accuracy={t: np.array([1, 1, 0.9, 1, 0.95])}) == INCONCLUSIVE


def test_claim_context_within_batch():
    assert verdict(3, accuracy={}, order=(1e-8, 1.0)) == NOT_SUPPORTED
    assert verdict(3, accuracy={}, order=(0.5, 1.0)) == SUPPORTED
    assert verdict(3, accuracy={}, order=(1e-4, 1.0)) == INCONCLUSIVE
    assert verdict(3, accuracy={}) == NOT_RUN


def test_claim_stateful_generation():
    yes, no = np.ones(10, bool), np.zeros(10, bool)
    half = np.array([True] * 5 + [False] * 5)
    assert verdict(4, accuracy={}, generation={"A": yes, "K": no}) == SUPPORTED
    assert verdict(4, accuracy={}, generation={"A": no, "K": no}) == NOT_SUPPORTED
    assert verdict(4, accuracy={}, generation={"A": yes, "K": yes}) == NOT_SUPPORTED
    assert verdict(4, accuracy={}, generation={"A": half, "K": no}) == INCONCLUSIVE
    assert verdict(4, accuracy={}) == NOT_RUN


def test_claim_variable_length_probe():
    v = "variable-length"
    assert verdict(8, accuracy={}, probe={v: np.array([0.95, 1, 0.95, 1, 0.95])}) == SUPPORTED
    assert verdict(8, accuracy={}, probe={v: np.array([0.5, 0.6, 0.55])}) == NOT_SUPPORTED
    assert verdict(8, accuracy={}, probe={v: np.array([0.8, 1.0, 0.85, 0.95])}) == INCONCLUSIVE
    assert verdict(8, accuracy={}) == NOT_RUN


def test_claim_random_starts_continue_from_k():
    yes, no = np.ones(10, bool), np.zeros(10, bool)
    half = np.array([True] * 5 + [False] * 5)
    assert verdict(5, accuracy={}, any_start=("K", yes)) == SUPPORTED
    assert verdict(5, accuracy={}, any_start=("K", no)) == NOT_SUPPORTED
    assert verdict(5, accuracy={}, any_start=("K", half)) == INCONCLUSIVE
    assert verdict(5, accuracy={}) == NOT_RUN


def test_claim_bptt_reaches_100_sooner():
    one = np.array([90, 100, 80, 95, 85])
    assert verdict(6, accuracy={}, epochs_to_full={"stateful": one,
                                                   "stateful-bptt": one - 40}) == SUPPORTED
    assert verdict(6, accuracy={}, epochs_to_full={"stateful": one,
                                                   "stateful-bptt": one + 40}) == NOT_SUPPORTED
    assert verdict(6, accuracy={}, epochs_to_full={
        "stateful": one, "stateful-bptt": one[::-1] + 1}) == INCONCLUSIVE
    assert verdict(6, accuracy={}, epochs_to_full={"stateful": one}) == NOT_RUN


def test_claim_the_stateful_model_counts_steps():
    assert verdict(7, accuracy={}, counting=np.array([1.0, 0.96, 1.0, 0.92])) == SUPPORTED
    assert verdict(7, accuracy={}, counting=np.array([0.0, 0.04, 0.0, 0.08])) == NOT_SUPPORTED
    assert verdict(7, accuracy={}, counting=np.array([0.2, 0.9, 0.5, 0.6])) == INCONCLUSIVE
    assert verdict(7, accuracy={}) == NOT_RUN


def test_epochs_to_full_counts_a_seed_that_never_gets_there_as_epochs_plus_one():
    from types import SimpleNamespace
    h = np.zeros((3, 5, 2))
    h[0, 2:, 1] = 1.0   # 100% from epoch 3
    h[1, 0:, 1] = 1.0   # from epoch 1
    h[2, :, 1] = 0.96   # never
    np.testing.assert_array_equal(findings.epochs_to_full(SimpleNamespace(history=h)),
                                  [3, 1, 6])


def test_the_counting_probe_tells_a_counting_model_from_a_reading_one():
    import lstmlab
    counting = findings.counting_share(lstmlab.run("stateful", seeds=2))
    assert counting is not None and np.all(counting > 0.9)   # the tutorial's model counts
    reading = findings.counting_share(lstmlab.run("stateful-any-start", seeds=2))
    assert np.all(reading < 0.1)                              # negative control: it reads


def test_findings_say_when_a_run_departs_from_the_tutorials_settings():
    import lstmlab
    res = lstmlab.run("one-char", seeds=2, epochs=2)
    first = findings.from_results([res])[0]
    assert first.verdict != NOT_RUN and "not the tutorial's settings: one-char epochs=2" in \
        first.measurement
    # other sequences test nothing about the alphabet: the claim is not run
    other = lstmlab.run("one-char", seeds=2, epochs=2, sequence="abcdef")
    assert findings.from_results([other])[0].verdict == NOT_RUN


def test_intervals_match_scipy_stats_on_random_samples():
    from scipy import stats
    rng = np.random.default_rng(11)
    for _ in range(20):
        v = rng.random(rng.integers(2, 40))
        lo, hi = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
        assert evaluate.t_interval(v) == pytest.approx((lo, hi), rel=1e-12)
        n = int(rng.integers(1, 200))
        k = int(rng.integers(0, n + 1))
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert evaluate.wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
