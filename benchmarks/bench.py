"""Training speed: per preset (one seed), many seeds in one program, and the whole
``lstmlab run``. lstmlab's compile seconds are the first (cold) run's, its training
seconds the median of several runs (the later runs reuse the compiled programs); when
Keras 3 is installed (``pip install -e ".[compare]"``) Keras 3 on the JAX backend trains
the same experiment in the same process, and the ratio is printed.

    python benchmarks/bench.py                         # Keras on timestep-window only
    python benchmarks/bench.py --keras all             # Keras on every preset (~5 minutes)
    python benchmarks/bench.py timestep-window --repeats 5 --many 100 --no-full-run
    python benchmarks/bench.py --json figures.json     # also write every figure as JSON
    python benchmarks/bench.py timestep-window --cells lstm gru rnn --many 0 --no-full-run
                                                       # cells and depth side by side

The full run (``--no-settle``: every preset, 10 seeds; and the default, which settles
inconclusive findings with more seeds) is timed twice in fresh processes with a fresh
compilation cache: the first run compiles everything, the second loads it from the cache;
with its CPU seconds, which bound the wall time from below on this many cores. Then the
``--no-settle`` run in this process is broken down into import, data, compile (training
and evaluation programs), train, evaluate, measure (the models' measurements the findings
and the report read, made once before saving), save, other, judge and report (the explorer
pages and the report). The many-seeds figure trains in groups of ``train.MAX_GROUP``
(the default) and in one group per core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from lstmlab import PRESETS, experiments, programs, train
from lstmlab.kinds import windows
from lstmlab.kinds.windows import spec_of
from lstmlab.config import MAIN_RUN
from lstmlab.cells import CELLS


def lstmlab_times(cfg, repeats, workers=None):
    ds = experiments.prepare(cfg)
    spec = spec_of(cfg, len(ds.patterns), len(ds.vocab))
    order = None if ds.order is None else ds.order.reshape(-1)
    programs._PROGRAMS.clear()  # compile from cold (a process keeps its compiled programs)
    runs = [train.fit(spec, train.replica_keys(cfg.seed, cfg.seeds), ds.x, ds.patterns.y,
                      ds.mask, order, workers=workers) for _ in range(repeats)]
    return runs[0].compile_s, statistics.median(r.train_s for r in runs)


def keras_time(cfg):
    """Keras 3 as the tutorial uses it; fit() compiles inside, so this includes it."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    ds = experiments.prepare(cfg)
    x, y = ds.x, keras.utils.to_categorical(ds.patterns.y, len(ds.vocab))
    batch = cfg.batch_size or len(x)
    keras.utils.set_random_seed(cfg.seed)
    if cfg.stateful:
        inp = keras.Input(batch_shape=(batch,) + x.shape[1:])
    else:
        inp = keras.Input(x.shape[1:])
    layers = [inp]
    if ds.mask is not None and not ds.mask.all():
        layers.append(keras.layers.Masking(0.0))  # Keras masks by value
    cell = CELLS[cfg.cell]
    layers += [getattr(keras.layers, cell.keras_layer)(cfg.units, stateful=cfg.stateful,
                                                       return_sequences=k < cfg.layers - 1,
                                                       **cell.keras_config)
               for k in range(cfg.layers)]
    layers.append(keras.layers.Dense(len(ds.vocab), activation="softmax"))
    net = keras.Sequential(layers)
    net.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    t0 = time.perf_counter()
    if cfg.stateful:  # the tutorial's loop: one epoch at a time, reset after each
        for _ in range(cfg.epochs):
            net.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0)
            for layer in net.layers:
                if hasattr(layer, "reset_states"):
                    layer.reset_states()
    else:
        net.fit(x, y, epochs=cfg.epochs, batch_size=batch, shuffle=cfg.shuffle, verbose=0)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("presets", nargs="*", default=list(MAIN_RUN))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keras", nargs="*", default=["timestep-window"],
                    help="presets to train with Keras too ('all', or none to skip)")
    ap.add_argument("--many", type=int, default=100,
                    help="seeds of timestep-window trained in one program (0 to skip)")
    ap.add_argument("--no-full-run", action="store_true",
                    help="skip timing the whole `lstmlab run` (--no-settle and default)")
    ap.add_argument("--cells", nargs="*", default=["lstm", "gru", "rnn"],
                    help="cells trained side by side on --cells-preset, one seed, with Keras "
                         "when installed (none to skip)")
    ap.add_argument("--cells-preset", default="timestep-window")
    ap.add_argument("--cells-layers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--json", help="also write every figure to this JSON file")
    ap.add_argument("--breakdown", action="store_true",
                    help="only where the main job's time goes (breakdown(): two fresh "
                         "processes sharing a fresh compilation cache)")
    ap.add_argument("--breakdown-in", help=argparse.SUPPRESS)  # breakdown()'s subprocess
    args = ap.parse_args()
    if args.breakdown_in:
        print(json.dumps(breakdown_here(args.breakdown_in)))
        return
    if args.breakdown:
        breakdown()
        return
    try:
        import importlib.util
        has_keras = importlib.util.find_spec("keras") is not None
    except ImportError:
        has_keras = False
    keras_for = list(MAIN_RUN) if args.keras == ["all"] else args.keras
    figures = {"machine": machine(), "presets": {}}
    print(" · ".join(f"{k} {v}" for k, v in figures["machine"].items() if v))
    print(f"{'preset':18} {'compile s':>10} {'train s':>9} {'keras s':>9} {'ratio':>7}")
    keras_s = {}
    for name in args.presets:
        cfg = PRESETS[name].replace(seeds=1)
        c, t = lstmlab_times(cfg, args.repeats)
        k = keras_s[name] = keras_time(cfg) if has_keras and name in keras_for else None
        figures["presets"][name] = {"compile_s": c, "train_s": t, "keras_train_s": k}
        ks = f"{k:9.2f} {k / t:6.0f}x" if k is not None else f"{'-':>9} {'-':>7}"
        print(f"{name:18} {c:10.2f} {t:9.3f} {ks}", flush=True)

    if args.cells:
        figures["cells"] = cells_side_by_side(args, has_keras)

    if args.many:
        cfg = PRESETS["timestep-window"].replace(seeds=args.many)
        c, t = lstmlab_times(cfg, args.repeats)
        cores = os.cpu_count() or 1
        c1, t1 = lstmlab_times(cfg, args.repeats, workers=cores)  # one group per core
        figures["many"] = {"seeds": args.many, "compile_s": c, "train_s": t,
                           "group": train.group_size(args.many), "one_group_per_core":
                           {"groups": cores, "compile_s": c1, "train_s": t1}}
        line = (f"\ntimestep-window, {args.many} seeds in groups of "
                f"{train.group_size(args.many)} (one compiled program): compile {c:.2f} s, "
                f"training {t:.2f} s ({1000 * t / args.many:.1f} ms per seed); in one group "
                f"per core ({cores} of {-(-args.many // cores)}): compile {c1:.2f} s, training "
                f"{t1:.2f} s ({1000 * t1 / args.many:.1f} ms per seed)")
        if keras_s.get("timestep-window"):
            k = keras_s["timestep-window"] * args.many
            line += f"; Keras, {args.many} x one seed (extrapolated): {k:.0f} s, {k / t:.0f}x"
        print(line, flush=True)

    if not args.no_full_run:
        figures["full_run"] = full_runs()
        figures["breakdown_s"] = breakdown()
        if has_keras:
            figures["end_to_end"] = end_to_end()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


def cells_side_by_side(args, has_keras: bool) -> list[dict]:
    """Per seed, each cell and depth on one preset: lstmlab's training seconds, Keras 3's
    (the same experiment, one after the other in this process) and their ratio, and each
    against the one-layer LSTM's."""
    print(f"\n{args.cells_preset}, one seed, per cell and depth:")
    print(f"{'cell':18} {'layers':>6} {'compile s':>10} {'train s':>9} {'vs lstm':>8} "
          f"{'keras s':>9} {'ratio':>7}")
    rows, base = [], None
    for layers in args.cells_layers:
        for cell in args.cells:
            cfg = PRESETS[args.cells_preset].replace(seeds=1, cell=cell, layers=layers)
            c, t = lstmlab_times(cfg, args.repeats)
            k = keras_time(cfg) if has_keras else None
            base = base or t
            rows.append({"cell": cell, "layers": layers, "compile_s": c, "train_s": t,
                         "keras_train_s": k})
            ks = f"{k:9.2f} {k / t:6.0f}x" if k is not None else f"{'-':>9} {'-':>7}"
            print(f"{cell:18} {layers:6d} {c:10.2f} {t:9.3f} {t / base:7.2f}x {ks}",
                  flush=True)
    return rows


def machine() -> dict:
    """The machine, the date and the versions the figures were measured with."""
    from datetime import datetime, timezone
    from importlib import metadata
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for pkg in ("lstmlab", "jax", "jaxlib", "optax", "numpy", "keras"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu,
            "cores": os.cpu_count(), "python": platform.python_version(), **versions}


def _wall(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def _timed(cmd: list[str], env) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the process and its threads) of cmd."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _wall(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def full_runs() -> dict:
    """`lstmlab run --no-settle` (every preset, 10 seeds) and the default `lstmlab run`
    (settling inconclusive findings with more seeds), each twice in fresh processes sharing
    a fresh compilation cache: the first compiles, the second loads. With the CPU seconds:
    wall time cannot fall below CPU seconds / cores."""
    out = {}
    cores = os.cpu_count() or 1
    print()
    for label, extra in (("no_settle", ["--no-settle"]), ("default", [])):
        out[label] = {}
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "LSTMLAB_CACHE_DIR": os.path.join(tmp, "cache")}
            for which in ("first", "second"):
                wall, cpu = _timed([sys.executable, "-m", "lstmlab", "run", "-q", *extra,
                                    "--out", os.path.join(tmp, which)], env)
                out[label][which] = {"wall_s": wall, "cpu_s": cpu}
        f, s = out[label]["first"], out[label]["second"]
        print(f"lstmlab run {' '.join(extra) or '(default: settles)':18} first run "
              f"{f['wall_s']:.1f} s ({f['cpu_s']:.0f} CPU-s: at least {f['cpu_s'] / cores:.0f} s "
              f"on {cores} cores), second {s['wall_s']:.1f} s ({s['cpu_s']:.0f} CPU-s: at least "
              f"{s['cpu_s'] / cores:.0f} s; compiled programs from the cache)", flush=True)
    return out


def breakdown() -> dict:
    """Where the time of `lstmlab run --no-settle` goes — import, data, compile, train,
    evaluate, measure, save, other, judge, report — in two fresh processes sharing a fresh compilation
    cache (first run: every program compiled; second: loaded)."""
    out = {}
    with tempfile.TemporaryDirectory() as cache_dir:
        for which in ("first", "second"):
            t = json.loads(subprocess.run(
                [sys.executable, __file__, "--breakdown-in", cache_dir], check=True,
                capture_output=True, text=True).stdout.splitlines()[-1])
            rest = sum(v for k, v in t.items() if k not in ("compile", "train"))
            print(f"breakdown of lstmlab run --no-settle, {which} (s): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in t.items())
                  + f"; neither compilation nor training: {rest:.2f} (each experiment "
                  f"compiled when it trains, not ahead)")
            out[which] = t
    return out


def breakdown_here(cache_dir: str) -> dict:
    """breakdown() in this (fresh) process, with the compilation cache in ``cache_dir``.
    Compile: the training programs' (fit's compile_s) and the evaluation programs'
    (tracing, lowering, compiling or loading them: the evaluation's first time less its
    time once they are compiled); evaluate: the evaluation once its programs are compiled;
    other: the run's remaining bookkeeping (records, CSV files, starting the programs)."""
    # this script imported lstmlab already: time the imports of a run in a fresh process
    t = {"import": float(subprocess.run(
        [sys.executable, "-c", "import time; t = time.perf_counter(); import lstmlab.cli, "
         "lstmlab.engine, lstmlab.console, lstmlab.report; print(time.perf_counter() - t)"],
        check=True, capture_output=True, text=True).stdout)}
    from pathlib import Path

    from lstmlab import cache, drawing, engine, findings, job, measure, records
    with tempfile.TemporaryDirectory() as tmp:
        cache.enable(Path(cache_dir))
        cfgs = [PRESETS[name] for name in MAIN_RUN]
        t0 = time.perf_counter()
        datasets = engine.prepare_all(cfgs)
        t["data"] = time.perf_counter() - t0
        spent = {"save": 0.0, "evaluate": 0.0, "measure": 0.0}
        real = {"save": records.save_result, "evaluate": windows._evaluated,
                "measure": measure.everything}

        def timed(part):
            def call(*a, **k):
                s0 = time.perf_counter()
                try:
                    return real[part](*a, **k)
                finally:
                    spent[part] += time.perf_counter() - s0
            return call
        records.save_result, windows._evaluated = timed("save"), timed("evaluate")
        measure.everything = timed("measure")  # the findings' and report's measurements
        try:
            t0 = time.perf_counter()
            # without compiling ahead, so that compile and the rest are separate times
            # (ahead, compilation runs under the other parts; the full runs above have it)
            # the report's pictures drawn in the background as lstmlab run draws them
            pictures = drawing.Ahead(Path(tmp))
            outcome = engine.execute(Path(tmp), cfgs, datasets, ahead=False,
                                     write_files=lambda done, every: records.write_run_files(
                                         Path(tmp), every, cfgs), saved=pictures.saved)
            total = time.perf_counter() - t0
        finally:
            records.save_result, windows._evaluated = real["save"], real["evaluate"]
            measure.everything = real["measure"]
        t0 = time.perf_counter()  # the evaluation again, its programs compiled
        for r in outcome.results:
            windows._evaluated(r.config, r.dataset, r.params, r.history, 0.0, 0.0)
        t["evaluate"] = time.perf_counter() - t0
        fit_compile = sum(r.compile_s for r in outcome.results)
        t["compile"] = fit_compile + spent["evaluate"] - t["evaluate"]
        t["train"] = sum(r.train_s for r in outcome.results)
        t["measure"] = spent["measure"]
        t["save"] = spent["save"]
        t["other"] = (total - fit_compile - t["train"] - spent["save"] - spent["evaluate"]
                      - spent["measure"])
        t0 = time.perf_counter()
        found = findings.from_results(outcome.everything)  # reads the kept measurements
        t["judge"] = time.perf_counter() - t0
        t0 = time.perf_counter()  # the explorer pages and the report, as lstmlab run
        job.write_pages(Path(tmp), job.Judged(outcome.everything, outcome.everything, found,
                                              "", pictures))
        t["report"] = time.perf_counter() - t0
    return t


def end_to_end() -> dict:
    """A Keras user's whole script (import, build, fit — the same training as keras_time)
    against the whole `lstmlab run timestep-window --seeds 1` (no compilation cache),
    each in a fresh process."""
    script = ("import sys; sys.path.insert(0, %r); from bench import keras_time; "
              "from lstmlab import PRESETS; "
              "keras_time(PRESETS['timestep-window'].replace(seeds=1))"
              % os.path.dirname(os.path.abspath(__file__)))
    keras_s = _wall([sys.executable, "-c", script])
    with tempfile.TemporaryDirectory() as tmp:
        ours = _wall([sys.executable, "-m", "lstmlab", "run", "timestep-window", "--seeds", "1",
                      "-q", "--no-cache", "--out", tmp])
    print(f"end to end, timestep-window, one seed, fresh processes: Keras 3 script "
          f"{keras_s:.1f} s (its tracing included), lstmlab run {ours:.1f} s: "
          f"{keras_s / ours:.1f}x")
    return {"keras_s": keras_s, "lstmlab_s": ours}


if __name__ == "__main__":
    main()
