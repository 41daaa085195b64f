"""Training speed: per preset (one seed), many seeds in one program, and the whole
``lstmlab run``. lstmlab's compile seconds are the first (cold) run's, its training
seconds the median of several runs (the later runs reuse the compiled programs); when
Keras 3 is installed (``pip install -e ".[compare]"``) Keras 3 on the JAX backend trains
the same experiment in the same process, and the ratio is printed.

    python benchmarks/bench.py                         # Keras on timestep-window only
    python benchmarks/bench.py --keras all             # Keras on every preset (~5 minutes)
    python benchmarks/bench.py timestep-window --repeats 5 --many 100 --no-full-run
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from lstmlab import PRESETS, experiments, train


def lstmlab_times(cfg, repeats):
    ds = experiments.prepare(cfg)
    spec = experiments.spec_of(cfg, len(ds.patterns), len(ds.vocab))
    order = None if ds.order is None else ds.order.reshape(-1)
    train._PROGRAMS.clear()  # compile from cold (a process keeps its compiled programs)
    runs = [train.fit(spec, train.replica_keys(cfg.seed, cfg.seeds), ds.x, ds.patterns.y,
                      ds.mask, order) for _ in range(repeats)]
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
    layers += [keras.layers.LSTM(cfg.units, stateful=cfg.stateful),
               keras.layers.Dense(len(ds.vocab), activation="softmax")]
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
    ap.add_argument("presets", nargs="*", default=list(PRESETS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keras", nargs="*", default=["timestep-window"],
                    help="presets to train with Keras too ('all', or none to skip)")
    ap.add_argument("--many", type=int, default=100,
                    help="seeds of timestep-window trained in one program (0 to skip)")
    ap.add_argument("--no-full-run", action="store_true",
                    help="skip timing the whole `lstmlab run` (every preset, 10 seeds)")
    args = ap.parse_args()
    try:
        import importlib.util
        has_keras = importlib.util.find_spec("keras") is not None
    except ImportError:
        has_keras = False
    keras_for = list(PRESETS) if args.keras == ["all"] else args.keras
    print(f"{'preset':16} {'compile s':>10} {'train s':>9} {'keras s':>9} {'ratio':>7}")
    keras_s = {}
    for name in args.presets:
        cfg = PRESETS[name].replace(seeds=1)
        c, t = lstmlab_times(cfg, args.repeats)
        k = keras_s[name] = keras_time(cfg) if has_keras and name in keras_for else None
        ks = f"{k:9.2f} {k / t:6.0f}x" if k is not None else f"{'-':>9} {'-':>7}"
        print(f"{name:16} {c:10.2f} {t:9.3f} {ks}", flush=True)

    if args.many:
        cfg = PRESETS["timestep-window"].replace(seeds=args.many)
        c, t = lstmlab_times(cfg, args.repeats)
        line = (f"\ntimestep-window, {args.many} seeds in one program: compile {c:.2f} s, "
                f"training {t:.2f} s ({1000 * t / args.many:.1f} ms per seed)")
        if keras_s.get("timestep-window"):
            k = keras_s["timestep-window"] * args.many
            line += f"; Keras, {args.many} x one seed (extrapolated): {k:.0f} s, {k / t:.0f}x"
        print(line, flush=True)

    if not args.no_full_run:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "lstmlab", "run", "-q", "--out", out],
                           check=True, stdout=subprocess.DEVNULL)
            print(f"\nlstmlab run (every preset, 10 seeds, start-up and compilation "
                  f"included): {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
