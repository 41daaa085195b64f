"""A sweep end to end: ``lstmlab sweep timestep-window --units 1,2,4,8,16,32,64 --seeds
100`` (700 trainings) in a fresh process, with compile, training and wall seconds; then
Keras 3 (when installed) trains one seed of each point in this process, and its time for
the 700 trainings is extrapolated (100 × each point's single run; Keras's figure includes
its own tracing inside fit()).

    python benchmarks/sweep_bench.py                 # the 700 trainings, Keras too
    python benchmarks/sweep_bench.py --no-keras --ray
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench import keras_time  # noqa: E402  (the same Keras training as the main benchmark)

from lstmlab import PRESETS  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", default="1,2,4,8,16,32,64")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--ray", action="store_true", help="the sweep on a local Ray cluster")
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    units = [int(u) for u in args.units.split(",")]
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {platform.processor() or platform.machine()}"
          f" · {__import__('os').cpu_count()} cores · python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as cache:
        cmd = [sys.executable, "-m", "lstmlab", "sweep", "timestep-window", "--units",
               args.units, "--seeds", str(args.seeds), "-q", "--out", tmp] + \
            (["--ray"] if args.ray else [])
        # a fresh compilation cache: every program is compiled, as on a first sweep
        env = {**__import__("os").environ, "LSTMLAB_CACHE_DIR": cache}
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        wall = time.perf_counter() - t0
        csv = pd.read_csv(Path(tmp) / "sweep.csv")
    points = csv.groupby("units")[["compile_s", "train_s"]].first()
    print(f"\nlstmlab sweep timestep-window --units {args.units} --seeds {args.seeds}"
          f"{' --ray' if args.ray else ''}  ({len(units) * args.seeds} trainings)")
    print(f"{'units':>6} {'compile s':>10} {'train s':>9} {'keras 1 seed s':>15}")
    keras_s = {}
    has_keras = not args.no_keras and importlib.util.find_spec("keras") is not None
    for u in units:
        k = keras_s[u] = keras_time(PRESETS["timestep-window"].replace(units=u, seeds=1)) \
            if has_keras else None
        print(f"{u:6d} {points.compile_s[u]:10.2f} {points.train_s[u]:9.2f} "
              f"{'-' if k is None else f'{k:.2f}':>15}", flush=True)
    compile_s, train_s = points.compile_s.sum(), points.train_s.sum()
    print(f"\ncompile {compile_s:.1f} s + training {train_s:.1f} s; wall {wall:.1f} s "
          f"(start-up, evaluation, records, sweep.csv and report included)")
    figures = {"date": f"{datetime.now(timezone.utc):%Y-%m-%d}", "units": units,
               "seeds": args.seeds, "ray": args.ray, "compile_s": compile_s,
               "train_s": train_s, "wall_s": wall}
    if has_keras:
        keras_total = sum(args.seeds * k for k in keras_s.values())
        figures["keras_extrapolated_s"] = keras_total
        print(f"Keras 3, {len(units) * args.seeds} trainings extrapolated from one per point: "
              f"{keras_total:.0f} s ({keras_total / 3600:.2f} h), {keras_total / wall:.0f}× "
              f"lstmlab's wall time")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
