"""One seed end to end, as a user starts it: the whole process of `lstmlab run
timestep-window --seeds 1` (the user's compilation cache warm: its programs were compiled
by an earlier run) beside a Keras 3 user's whole script for the same experiment (import,
build, fit, predict), in fresh processes, alternated round by round so that both see the
same machine; and `lstmlab list`.

    python benchmarks/one_seed.py --rounds 3
    python benchmarks/one_seed.py --rounds 3 --before /path/to/old/src:/path/to/old/deps

``--before`` adds a second lstmlab, run with that PYTHONPATH (an older checkout's src, or
other versions of its dependencies installed with ``pip install --target``), alternated
with this one.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

# The Keras user's script: the tutorial's timestep-window model, as its notebook builds it
KERAS_SCRIPT = """
import os
os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np
import keras
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
w = 3
x = np.array([[alphabet.index(c) for c in alphabet[i:i + w]] for i in range(26 - w)])
y = np.array([alphabet.index(alphabet[i + w]) for i in range(26 - w)])
x = (x / 26.0).reshape(-1, w, 1)
keras.utils.set_random_seed(7)
net = keras.Sequential([keras.Input((w, 1)), keras.layers.LSTM(32),
                        keras.layers.Dense(26, activation="softmax")])
net.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
net.fit(x, keras.utils.to_categorical(y, 26), epochs=500, batch_size=1, verbose=0)
print(net.evaluate(x, keras.utils.to_categorical(y, 26), verbose=0))
"""


def wall(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def lstmlab_cmd(out: str) -> list[str]:
    return [sys.executable, "-m", "lstmlab", "run", "timestep-window", "--seeds", "1", "-q",
            "--out", out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", help="PYTHONPATH of a second lstmlab to alternate with")
    ap.add_argument("--no-keras", action="store_true")
    args = ap.parse_args()
    here = dict(os.environ)
    sides = {"lstmlab": here}
    if args.before:
        sides = {"before": {**here, "PYTHONPATH": args.before}, "after": here}
    times: dict[str, list[float]] = {k: [] for k in [*sides, "keras", "list"]}
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in sides.items():  # each side's programs in the cache (not timed)
            wall(lstmlab_cmd(os.path.join(tmp, f"warm-{name}")), env)
        for r in range(args.rounds):
            for name, env in sides.items():
                times[name].append(wall(lstmlab_cmd(os.path.join(tmp, f"{name}-{r}")), env))
            times["list"].append(wall([sys.executable, "-m", "lstmlab", "list"]))
            if not args.no_keras:
                times["keras"].append(wall([sys.executable, "-c", KERAS_SCRIPT]))
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"{args.rounds} rounds alternated (seconds, each round's then the median)")
    for name, t in times.items():
        if t:
            print(f"  {name:8s} " + " / ".join(f"{v:.2f}" for v in t)
                  + f"   median {statistics.median(t):.2f}")
    if times["keras"]:
        k = statistics.median(times["keras"])
        for name in sides:
            print(f"  Keras script / {name}: {k / statistics.median(times[name]):.1f}x")


if __name__ == "__main__":
    main()
