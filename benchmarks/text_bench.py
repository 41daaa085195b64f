"""char-rnn's training speed on a real text, side by side in one run: characters per second
of lstmlab's char-rnn step (``lstmlab.kinds.charrnn.train_chunk``, as ``lstmlab run char-rnn``
trains: 2 × LSTM(128), 50 streams × 50 steps, RMSprop, clipping) for one model, for several
seeds in one program, and for the seeds as ``lstmlab run char-rnn`` trains them (a group per
core, the groups at once on threads of their own; summed), against a minimal hand-written
JAX loop of the same math (both layers inside one ``lax.scan`` over the 50 steps, as a
first JAX port would write it) and, when installed, PyTorch's ``nn.LSTM`` (oneDNN) doing
the same training (``pip install -e ".[bench]"``), one process with all cores, and one
process per seed with one core each; each row's ratio to PyTorch's one process.

    python benchmarks/text_bench.py                     # ../shared/data/tinyshakespeare.txt
    python benchmarks/text_bench.py --text FILE --batches 40 --seeds 4
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).parent))
from bench import machine  # noqa: E402

from lstmlab import data, model, replicas  # noqa: E402
from lstmlab.kinds import charrnn, stream_layout as streams  # noqa: E402
from lstmlab.kinds.streams import text_spec_of  # noqa: E402
from lstmlab.cells import CELLS  # noqa: E402
from lstmlab.config import PRESETS  # noqa: E402

def timed(fn, repeats: int) -> float:
    jax.block_until_ready(fn())  # compile (and warm)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def minimal_loop(spec, b):
    """The same math as a first JAX port writes it: one scan over the steps, both layers
    inside, one jitted update per batch in a scan over batches."""
    V, U = spec.vocab_size, spec.units
    k = jax.random.split(jax.random.PRNGKey(0), 6)
    g = jax.nn.initializers.glorot_uniform()
    p = {"w1": g(k[0], (V, 4 * U)), "r1": g(k[1], (U, 4 * U)), "b1": jnp.zeros(4 * U),
         "w2": g(k[2], (U, 4 * U)), "r2": g(k[3], (U, 4 * U)), "b2": jnp.zeros(4 * U),
         "wd": g(k[4], (U, V)), "bd": jnp.zeros(V)}
    tx = optax.chain(optax.clip(5.0), optax.rmsprop(2e-3, decay=0.95, eps_in_sqrt=False))

    def cell(x, h, c, w, r, bias):
        i, f, gg, o = jnp.split(x @ w + h @ r + bias, 4, -1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
        return jax.nn.sigmoid(o) * jnp.tanh(c), c

    def loss(p, state, xb, yb):
        def step(s, inp):
            h1, c1, h2, c2 = s
            x, y = inp
            h1, c1 = cell(jax.nn.one_hot(x, V), h1, c1, p["w1"], p["r1"], p["b1"])
            h2, c2 = cell(h1, h2, c2, p["w2"], p["r2"], p["b2"])
            logits = h2 @ p["wd"] + p["bd"]
            return (h1, c1, h2, c2), optax.softmax_cross_entropy_with_integer_labels(logits,
                                                                                    y).mean()
        state, losses = jax.lax.scan(step, state, (xb.T, yb.T))
        return losses.mean(), state

    @jax.jit
    def epoch(p, o, x, y):
        def upd(carry, batch):
            p, o, s = carry
            (l, s), gr = jax.value_and_grad(loss, has_aux=True)(p, s, *batch)
            u, o = tx.update(gr, o, p)
            return (optax.apply_updates(p, u), o, jax.lax.stop_gradient(s)), l
        z = jnp.zeros((x.shape[1], U))
        return jax.lax.scan(upd, (p, o, (z, z, z, z)), (x, y))

    o = tx.init(p)
    x, y = jnp.asarray(b.x), jnp.asarray(b.y)
    return lambda: epoch(p, o, x, y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
    ap.add_argument("--text", default=str(here))
    ap.add_argument("--batches", type=int, default=40, help="batches per timed pass")
    ap.add_argument("--seeds", type=int, default=4, help="seeds vmapped in one program")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_only:  # one of torch_processes' processes
        import torch
        torch.set_num_threads(1)
        text = Path(args.text).read_text(encoding="utf-8")
        vocab = data.Vocab.from_sequence(text)
        spec = text_spec_of(PRESETS["char-rnn"], len(vocab))
        full = streams.layout(streams.split(vocab.encode(text), 0.05)[0], spec.streams,
                              spec.seq_length)
        print(torch_chars_per_s(spec, streams.Batches(full.x[:args.batches],
                                                       full.y[:args.batches]), args.repeats))
        return
    m = machine()
    print(" · ".join(f"{k} {v}" for k, v in m.items() if v))
    text = Path(args.text).read_text(encoding="utf-8")
    vocab = data.Vocab.from_sequence(text)
    train, _ = streams.split(vocab.encode(text), 0.05)
    spec = text_spec_of(PRESETS["char-rnn"], len(vocab))
    full = streams.layout(train, spec.streams, spec.seq_length)
    b = streams.Batches(full.x[:args.batches], full.y[:args.batches])
    chars = b.chars
    U, V, L = spec.units, spec.vocab_size, spec.layers
    flops = charrnn.flops_per_char(spec)
    x, y, lr = jnp.asarray(b.x), jnp.asarray(b.y), jnp.float32(spec.lr)
    rows = []

    def lstmlab_pass(seeds, size):
        """The seeds in groups of ``size``, each group one call of the compiled program,
        the groups at once on threads of their own (as ``lstmlab run char-rnn`` trains
        them: replicas.per_group)."""
        keys = jax.random.split(jax.random.PRNGKey(1), seeds)
        params, opt = jax.vmap(lambda k: charrnn.init(spec, k))(keys)
        state = jax.vmap(lambda _: model.zero_state(x.shape[1], U, CELLS[spec.cell], L))(keys)
        groups = replicas.split((params, opt, state, keys), size, -(-seeds // size))
        step = charrnn.train_chunk.lower(spec, *groups[0][:3], lr, x, y, groups[0][3],
                                         0).compile()
        pool = ThreadPoolExecutor(len(groups))
        # donated buffers: every pass starts from copies
        return lambda: list(pool.map(lambda g: jax.block_until_ready(step(
            *jax.tree.map(jnp.array, g[:3]), lr, x, y, g[3], 0)), groups))
    t = timed(lstmlab_pass(1, 1), args.repeats)
    rows.append(("lstmlab char-rnn, 1 model", chars / t))
    t = timed(lstmlab_pass(args.seeds, args.seeds), args.repeats)
    rows.append((f"lstmlab char-rnn, {args.seeds} seeds in one program (summed)", args.seeds * chars / t))
    size = replicas.per_group(args.seeds)
    t = timed(lstmlab_pass(args.seeds, size), args.repeats)
    rows.append((f"lstmlab char-rnn, {args.seeds} seeds as it trains them: "
                 f"{-(-args.seeds // size)} groups of {size} at once (summed)",
                 args.seeds * chars / t))
    t = timed(minimal_loop(spec, b), args.repeats)
    rows.append(("minimal JAX loop (layers in one scan)", chars / t))
    has_torch = importlib.util.find_spec("torch") is not None
    rows.append((f"PyTorch nn.LSTM, 1 process ({os.cpu_count()} threads)",
                 torch_chars_per_s(spec, b, args.repeats) if has_torch else None))
    rows.append((f"PyTorch nn.LSTM, {os.cpu_count()} processes × 1 thread (summed)",
                 torch_processes(args, os.cpu_count()) if has_torch else None))
    print(f"\n{args.batches} batches of {spec.streams} streams × {spec.seq_length} steps, "
          f"{L} × LSTM({U}), {V} symbols; ≈ {flops / 1e6:.2f} MFLOP per character trained "
          f"(6 per parameter)")
    torch_one = rows[-2][1]
    for name, cps in rows:
        if cps is None:
            print(f"{name:75} not installed (pip install -e '.[bench]')")
        else:
            print(f"{name:75} {cps:10,.0f} chars/s  {cps * flops / 1e9:6.1f} GFLOP/s  "
                  f"epoch of this text {full.chars / cps:5.1f} s"
                  + (f"  {cps / torch_one:4.2f}x PyTorch's 1 process" if torch_one else ""))
    print(f"(cores: {os.cpu_count()}; compare the rows, not runs: the machine is shared)")


def torch_processes(args, n: int) -> float:
    """n PyTorch trainings at once, one thread each (PyTorch trains a seed per process):
    their chars/s summed."""
    import subprocess
    cmd = [sys.executable, __file__, "--torch-only", "--text", args.text, "--batches",
           str(args.batches), "--repeats", str(args.repeats)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}) for _ in range(n)]
    return sum(float(p.communicate()[0].split()[-1]) for p in procs)


def torch_chars_per_s(spec, b, repeats):
    import torch
    V, U = spec.vocab_size, spec.units
    net = torch.nn.LSTM(V, U, spec.layers, batch_first=True)
    head = torch.nn.Linear(U, V)
    ps = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.RMSprop(ps, lr=spec.lr, alpha=spec.decay_rate, eps=1e-8)
    x = torch.nn.functional.one_hot(torch.as_tensor(b.x).long(), V).float()
    y = torch.as_tensor(b.y).long()

    def epoch():
        state = None
        for k in range(len(x)):
            out, state = net(x[k], state)
            loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), y[k].reshape(-1))
            opt.zero_grad()
            loss.backward()
            for p in ps:
                p.grad.clamp_(-spec.grad_clip, spec.grad_clip)
            opt.step()
            state = tuple(s.detach() for s in state)
    epoch()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    return b.chars / float(np.median(times))


if __name__ == "__main__":
    main()
