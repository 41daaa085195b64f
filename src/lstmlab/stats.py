"""Statistics over seeds: intervals that hold what they say, and the multiple-comparison
procedures of the findings and the sweeps. Light at import (numpy only): scipy.stats is
imported where it is used, so that ``lstmlab list`` stays fast.

- A share of seeds (a yes/no per seed): the exact Clopper–Pearson interval (scipy's
  ``binomtest(...).proportion_ci(method="exact")``): never of zero width, and its coverage
  is at least its level for every true share and every number of seeds.
- A mean of values bounded in [lo, hi] (accuracies, shares, censored epochs): the
  betting interval of Waudby-Smith & Ramdas (2024, "Estimating means of bounded random
  variables by betting", JRSS B, hedged capital with the predictable plug-in bet). It is
  valid for *any* distribution on the bounded range at every number of seeds — a
  t-interval is not (92% of seeds at 1.0 and 8% at 0.6 made a t-interval claim a mean
  above 0.97 in 45% of runs at its 99% level). The price is width near the bounds: it
  cannot rule out a small mass of seeds at the far end that it has not seen.
- A loss (unbounded): the Student-t interval, approximate (it assumes near-normal means).
"""

from __future__ import annotations

import numpy as np

GRID = 4001  # candidate means tested by the betting interval (resolution 1/4000 of the range)


def share_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a share ``successes / n``."""
    if n == 0:
        return (float("nan"), float("nan"))
    lo, hi = share_intervals(np.array([int(successes)]), int(n), level)
    return (float(lo[0]), float(hi[0]))


def share_intervals(successes: np.ndarray, n: int, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`share_interval` of every count in ``successes`` (an array) out of ``n``."""
    # the beta quantiles of scipy.special, not scipy.stats's binomtest (the same numbers:
    # tested against it; scipy.stats takes about a second to import)
    from scipy.special import betaincinv
    k, a = np.asarray(successes, np.float64), 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k == 0, 0.0, betaincinv(np.maximum(k, 1), n - k + 1, a / 2))
        hi = np.where(k == n, 1.0, betaincinv(k + 1, np.maximum(n - k, 1), 1 - a / 2))
    return lo, hi


def mean_interval(values, level: float = 0.95, low: float = 0.0, high: float = 1.0
                  ) -> tuple[float, float]:
    """Betting confidence interval for the mean of ``values`` that lie in [low, high]
    (the last axis; leading axes are independent samples, returned as arrays).

    Written here because neither scipy nor another well-kept library we depend on has it.
    For each candidate mean m on a grid, two bettors stake on "the mean is above m" and
    "below m" with the predictable plug-in bet λ_t = sqrt(2 log(2/α) / (n σ̂²_{t−1})),
    truncated to c/m and c/(1 − m) (c = 3/4) so that their capital stays positive; m is
    outside the interval when the hedged capital max(K⁺, K⁻)/2 reaches 1/α (Ville's
    inequality makes that happen with probability ≤ α when m is the true mean). The grid
    ends are rounded outward, so the interval is never narrower than the exact one."""
    x = (np.asarray(values, np.float64) - low) / (high - low)
    if not np.all(np.isfinite(x)):  # a NaN would compare false everywhere: [0, 1] silently
        raise ValueError("values must be finite (a NaN or an infinity has no place in a "
                         "bounded mean)")
    if x.shape[-1] < 1:
        return (float("nan"), float("nan"))
    if np.any(x < -1e-12) or np.any(x > 1 + 1e-12):
        raise ValueError(f"values must lie in [{low}, {high}]")
    x = np.clip(x, 0.0, 1.0)
    n, alpha, c = x.shape[-1], 1.0 - level, 0.75
    m = np.linspace(0.0, 1.0, GRID)
    # running mean and variance estimates, each from the values before step t (σ̂²_{t−1})
    t = np.arange(1, n + 1)
    mu = (0.5 + np.cumsum(x, -1)) / (t + 1)
    var = (0.25 + np.cumsum((x - mu) ** 2, -1)) / (t + 1)
    var_prev = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), var[..., :-1]], -1)
    lam = np.sqrt(2 * np.log(2 / alpha) / (n * var_prev))
    with np.errstate(divide="ignore"):
        cap_up, cap_down = c / m, c / (1 - m)
    log_up = np.zeros(x.shape[:-1] + (GRID,))
    log_down = np.zeros_like(log_up)
    for i in range(n):
        xi, li = x[..., i, None], lam[..., i, None]
        log_up += np.log1p(np.minimum(li, cap_up) * (xi - m))
        log_down += np.log1p(-np.minimum(li, cap_down) * (xi - m))
    kept = np.maximum(log_up, log_down) + np.log(0.5) < np.log(1 / alpha)
    step = 1.0 / (GRID - 1)
    first = np.argmax(kept, -1)
    last = GRID - 1 - np.argmax(kept[..., ::-1], -1)
    lo = np.clip(m[first] - step, 0.0, 1.0) * (high - low) + low
    hi = np.clip(m[last] + step, 0.0, 1.0) * (high - low) + low
    if np.ndim(lo) == 0:
        return (float(lo), float(hi))
    return lo, hi


def paired_difference_interval(a, b, level: float = 0.95, bound: float = 1.0
                               ) -> tuple[float, float, int]:
    """Interval for the mean of a − b over seeds paired by replica (replica r of both
    experiments: the same key), each value in [0, bound]; differences lie in [−bound,
    bound]. Pairs are independent across replicas whatever the two experiments share, so
    the interval is valid; it uses the first min(len(a), len(b)) pairs. Returns (low,
    high, pairs)."""
    n = min(len(a), len(b))
    d = np.asarray(a, np.float64)[:n] - np.asarray(b, np.float64)[:n]
    lo, hi = mean_interval(d, level, -bound, bound)
    return lo, hi, n


def t_interval(values, level=0.95) -> tuple[float, float]:
    """Student-t interval for the mean of ``values`` (n − 1 degrees of freedom); an
    approximation that assumes near-normal means (for losses, which have no bound)."""
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite (a NaN or an infinity has no t-interval)")
    if len(v) < 2 or np.all(v == v[0]):
        # one value, or all equal: no spread to make an interval from — NaN, said by the
        # printers ("all seeds equal"), rather than an interval of zero width
        return (float("nan"), float("nan"))
    # scipy.special's t quantile, not scipy.stats (1 s to import; the same numbers)
    from scipy.special import stdtrit
    half = stdtrit(len(v) - 1, (1 + level) / 2) * v.std(ddof=1) / np.sqrt(len(v))
    return (float(v.mean() - half), float(v.mean() + half))


def holm(pvalues, alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down procedure: which hypotheses are rejected with family-wise error
    ≤ ``alpha`` (those whose :func:`holm_adjusted` p-value is ≤ ``alpha``)."""
    return holm_adjusted(pvalues) <= alpha  # a NaN p-value rejects nothing


def holm_adjusted(pvalues) -> np.ndarray:
    """Holm-adjusted p-values: the smallest family-wise level at which each hypothesis is
    rejected by Holm's step-down procedure (the running maximum of (m − rank)·p over the
    sorted p-values, capped at 1; a NaN stays NaN and stops the steps after it). Written
    here because scipy has only the false-discovery procedures and statsmodels is not a
    dependency."""
    p = np.asarray(pvalues, np.float64)
    out, running = np.full(len(p), np.nan), 0.0
    for rank, i in enumerate(np.argsort(p)):  # NaNs sort last
        if np.isnan(p[i]):
            break
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


# What the tables say about their intervals (one level per table, said with the numbers).
CI_METHOD = ("95% CI over seeds: betting interval for mean accuracies (valid for any "
             "distribution of values in [0, 1]), exact Clopper–Pearson for shares of seeds")


def describe(values) -> dict:
    """n, mean, sd, min, max and the 95% t-interval of a per-seed metric (a loss: no bounds)."""
    v = np.asarray(values, np.float64)
    # a diverged seed's loss (NaN, inf) has no interval; the printers say it diverged
    lo, hi = t_interval(v) if np.all(np.isfinite(v)) else (float("nan"), float("nan"))
    return {"n": len(v), "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "ci95": [lo, hi]}


def interval_text(lo: float, hi: float, digits: int = 1, unit: str = "") -> str:
    """The one way an interval (or a range) of shares is printed: as percentages,
    "80.1–87.2" + ``unit``."""
    return f"{100 * lo:.{digits}f}–{100 * hi:.{digits}f}{unit}"


def loss_text(values, fmt: str = ".3f") -> str:
    """Per-seed losses as "1.683" (one seed), "1.683 [1.671–1.695]" (mean, 95% t CI) or
    "1.683 (all 3 seeds equal)"; ``fmt``: each number's format (".3g" for a squared
    error near 0)."""
    d = describe(values)
    if d["n"] > 1 and d["sd"] == 0:
        return f"{d['mean']:{fmt}} (all {d['n']} seeds equal)"
    return f"{d['mean']:{fmt}}" + (f" [{d['ci95'][0]:{fmt}}–{d['ci95'][1]:{fmt}}]"
                                   if d["n"] > 1 else "")


def with_interval(s: dict, digits: int = 1, unit: str = "") -> str:
    """A summary's mean with its interval in brackets, "84.0 [80.1–87.2]" (one seed: the
    mean alone — one value has no interval)."""
    mean = f"{100 * s['mean']:.{digits}f}{unit}"
    return mean if s["n"] < 2 else f"{mean} [{interval_text(*s['ci95'], 1)}]"


# "100%" is an accuracy within this of 1: a mean of 0/1 over n ≤ 1.6e7 patterns that
# misses one is 1/n ≥ 6e-8 below 1 (float32's step under 1), so it never counts as 100%.
AT_100_TOLERANCE = 3e-8


def at_100(values) -> np.ndarray:
    """Per seed (and epoch): did the accuracy reach 100%? (the one rule for "100%")"""
    return np.asarray(values) >= 1.0 - AT_100_TOLERANCE


def summarize(values) -> dict:
    """:func:`describe` of a per-seed accuracy in [0, 1], its interval the betting one
    (valid for bounded values, never of zero width), and the share of seeds at 100% with
    its exact interval."""
    s = describe(values)
    full = int(np.sum(at_100(values)))
    ci = list(mean_interval(np.clip(values, 0, 1))) if s["n"] > 1 else [float("nan")] * 2
    return {**s, "ci95": ci, "share_100": full / s["n"],
            "share_100_ci95": list(share_interval(full, s["n"]))}
