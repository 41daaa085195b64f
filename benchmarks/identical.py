"""Bit-identity of every preset's numbers across a change: write a snapshot of each preset
(probabilities, histories, parameters, state heatmaps, probes, the trace of "ABCDE" and a
generation; 2 seeds, 12 epochs) and of a short char-rnn run (histories, best epochs, best
and last parameters, samples) with one checkout, then compare it with another's.

    PYTHONPATH=/path/to/old/src python benchmarks/identical.py snapshot before.npz
    python benchmarks/identical.py snapshot after.npz
    python benchmarks/identical.py compare before.npz after.npz
"""

import sys

import numpy as np


def snapshot(path: str) -> None:
    import jax
    import lstmlab
    out = {}
    from lstmlab.config import MAIN_RUN  # the window presets (char-rnn needs a long text)
    for name in MAIN_RUN:
        r = lstmlab.run(name, seeds=2, epochs=12)
        out[f"{name}/probs"], out[f"{name}/history"] = r.probs, r.history
        for i, leaf in enumerate(jax.tree.leaves(r.params)):
            out[f"{name}/p{i}"] = np.asarray(leaf)
        if r.states is not None:
            out[f"{name}/states"] = r.states
        if r.probe_probs is not None:
            out[f"{name}/probe"] = r.probe_probs
        m = r.model(0)
        t = m.trace("ABCDE")
        for k in "ifgoch":
            out[f"{name}/trace_{k}"] = getattr(t, k)
        start = "ABCDE"[:max(1, m.info.window)]
        out[f"{name}/gen"] = np.array([ord(c) for c in m.generate(start, 10)])
    # a short char-rnn run on a text made here (the package reads no downloaded data)
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog.\n"
                   for i in range(60))
    r = lstmlab.run("char-rnn", sequence=text, seeds=2, epochs=2, units=16, streams=4,
                    seq_length=20)
    out["char-rnn/history"], out["char-rnn/best_epoch"] = r.history, r.best_epoch
    for i, leaf in enumerate(jax.tree.leaves((r.params, r.last))):
        out[f"char-rnn/p{i}"] = np.asarray(leaf)
    out["char-rnn/samples"] = np.array([[ord(c) for c in s] for s in r.samples])
    np.savez(path, **out)
    print(f"{len(out)} arrays of {len(MAIN_RUN)} presets and a char-rnn run → {path}")


def compare(a_path: str, b_path: str) -> int:
    a, b = np.load(a_path), np.load(b_path)
    if a.files != b.files:
        print("different arrays:", sorted(set(a.files) ^ set(b.files)))
        return 1
    bad = [k for k in a.files if not np.array_equal(a[k], b[k], equal_nan=True)]
    print(f"{len(a.files)} arrays compared; {len(bad)} differ" + (f": {bad}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["snapshot"] and len(sys.argv) == 3:
        snapshot(sys.argv[2])
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
