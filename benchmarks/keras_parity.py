"""How far lstmlab's training is from Keras 3's: from identical weights on identical data
(no shuffling), the largest |parameter difference| after training, with lstmlab's default
(Keras's Adam and loss) and with optax's textbook Adam. Needs Keras (the test extra).

    python benchmarks/keras_parity.py              # the tests' cases (115–120 updates)
    python benchmarks/keras_parity.py --full       # also timestep-window as the tutorial
                                                   # trains it: LSTM(32), 11,500 updates

The last column is the control: lstmlab against itself with one input value moved by one
float32 ulp. Where it is as large as the Keras difference, the training has become chaotic
(after convergence Adam rescales rounding-size gradients into full steps) and no two float32
programs can agree there.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from lstmlab import PRESETS, experiments, model, train  # noqa: E402
from lstmlab.kinds.windows import spec_of  # noqa: E402

CASES = {
    "batch 1": PRESETS["timestep-window"].replace(units=8, epochs=5, shuffle=False),
    "partial last batch": PRESETS["timestep-window"].replace(units=8, epochs=20, batch_size=4,
                                                             shuffle=False),
    "masked variable-length": PRESETS["variable-length"].replace(
        units=8, epochs=2, samples=60, encoding="onehot", shuffle=False),
}


def parity(cfg, seed=3):
    ds = experiments.prepare(cfg)
    x, y, v = ds.x, ds.patterns.y, len(ds.vocab)
    batch = cfg.batch_size or len(y)
    key = train.replica_keys(seed, 1)
    start = model.init_params(jax.random.split(key[0])[0], x.shape[2], cfg.units, v)
    layers = [keras.Input(x.shape[1:])] + ([keras.layers.Masking(0.0)] if cfg.samples else [])
    net = keras.Sequential(layers + [keras.layers.LSTM(cfg.units),
                                     keras.layers.Dense(v, activation="softmax")])
    net.compile(loss="categorical_crossentropy", optimizer="adam")
    net.set_weights(model.keras_weights(start))
    net.fit(x, keras.utils.to_categorical(y, v), epochs=cfg.epochs, batch_size=batch,
            shuffle=False, verbose=0)
    def final(optimizer, inputs):
        spec = spec_of(cfg.replace(optimizer=optimizer), len(y), v)
        return model.keras_weights(jax.tree.map(lambda a: a[0],
                                                train.fit(spec, key, inputs, y, ds.mask).params))

    def distance(u, w):
        return max(float(np.abs(a - b).max()) for a, b in zip(u, w))

    ours = final("adam", x)
    nudged = x.copy()
    i = np.argwhere(nudged != 0)[0]
    nudged[tuple(i)] = np.nextafter(nudged[tuple(i)], np.float32(2))
    out = {"adam": distance(ours, net.get_weights()),
           "adam-optax": distance(final("adam-optax", x), net.get_weights()),
           "1 ulp": distance(ours, final("adam", nudged))}
    return cfg.epochs * -(-len(y) // batch), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    cases = dict(CASES)
    if args.full:
        cases["timestep-window, as the tutorial"] = PRESETS["timestep-window"].replace(
            shuffle=False)
    print(f"{'max |lstmlab - Keras|':34} {'updates':>8} {'Keras Adam':>11} {'optax Adam':>11}"
          f" {'1-ulp control':>14}")
    for name, cfg in cases.items():
        steps, d = parity(cfg)
        print(f"{name:34} {steps:8} {d['adam']:11.1e} {d['adam-optax']:11.1e} "
              f"{d['1 ulp']:14.1e}", flush=True)


if __name__ == "__main__":
    main()
