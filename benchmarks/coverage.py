"""How conservative the findings' intervals are: the coverage of the betting interval for a
bounded mean (stats.mean_interval) and of the exact share interval (stats.share_interval)
at their nominal level, by simulation over distributions where the truth is known, and the
interval's mean width beside the t-interval's (which does not hold its level on these).

    python benchmarks/coverage.py [--sims 2000] [--level 0.95]

Prints one row per (distribution, seeds): coverage and mean width of each interval.
"""

import argparse

import numpy as np

from lstmlab import stats

# distributions of per-seed values on [0, 1] (name, sampler(rng, shape), true mean)
DISTRIBUTIONS = [
    ("uniform", lambda rng, s: rng.random(s), 0.5),
    ("beta(8,2)", lambda rng, s: rng.beta(8, 2, s), 0.8),
    ("92% at 1, 8% at 0.6", lambda rng, s: np.where(rng.random(s) < 0.92, 1.0, 0.6), 0.968),
    ("accuracy of 25 patterns, p = 0.84", lambda rng, s: rng.binomial(25, 0.84, s) / 25,
     0.84),
    ("difference of two, in [-1, 1] (rescaled)",
     lambda rng, s: (rng.binomial(23, 0.85, s) - rng.binomial(23, 0.84, s)) / 46 + 0.5,
     0.5 + 0.01 * 23 / 46),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--level", type=float, default=0.95)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"nominal {args.level:.0%}, {args.sims} simulated runs per row")
    print(f"{'distribution':44} {'seeds':>5} {'betting cover':>13} {'width':>6} "
          f"{'t cover':>8} {'width':>6}")
    for name, draw, mean in DISTRIBUTIONS:
        for n in (10, 20, 50):
            x = draw(rng, (args.sims, n))
            lo, hi = stats.mean_interval(x, args.level)
            t = np.array([stats.t_interval(row, args.level) if np.ptp(row) else
                          (row[0], row[0]) for row in x])
            print(f"{name:44} {n:5d} {np.mean((lo <= mean) & (mean <= hi)):13.4f} "
                  f"{np.mean(hi - lo):6.3f} "
                  f"{np.mean((t[:, 0] <= mean) & (mean <= t[:, 1])):8.4f} "
                  f"{np.mean(t[:, 1] - t[:, 0]):6.3f}")
    print("\nexact share interval (Clopper–Pearson): coverage by true share")
    for p in (0.5, 0.7, 0.9):
        for n in (10, 20, 50):
            k = rng.binomial(n, p, args.sims)
            lo, hi = stats.share_intervals(k, n, args.level)
            print(f"share {p:.1f} {n:5d} {np.mean((lo <= p) & (p <= hi)):13.4f} "
                  f"{np.mean(hi - lo):6.3f}")


if __name__ == "__main__":
    main()
