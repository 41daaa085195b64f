"""char-rnn's quality side by side: the validation loss per epoch of PyTorch's ``nn.LSTM``
trained exactly as ``lstmlab run char-rnn`` trains (the same split, streams, batches,
initialisation distributions, clipping, RMSprop and learning-rate schedule), against an
lstmlab run of the same text and epochs (its text-history.csv).

    lstmlab run char-rnn --text-file ../shared/data/tinyshakespeare.txt --epochs 30 --out R
    python benchmarks/text_quality.py --epochs 30 --compare R      # needs .[bench] (torch)
    (add --split char-rnn to both for char-rnn's loader's split)
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench import machine  # noqa: E402

from lstmlab import data, experiments  # noqa: E402
from lstmlab.kinds.streams import text_spec_of  # noqa: E402
from lstmlab.config import PRESETS  # noqa: E402


def torch_history(text: str, epochs: int, seed: int, split: str = "contiguous"
                  ) -> list[tuple[float, float]]:
    """PyTorch's char-rnn with lstmlab's settings and Keras's initialisation distributions
    (glorot-uniform kernels, orthogonal recurrent kernels, zero biases but the forget
    gate's at 1 — torch's gate order i, f, g, o is Keras's): (train, validation) per epoch."""
    import torch
    torch.manual_seed(seed)
    vocab = data.Vocab.from_sequence(text)
    cfg = PRESETS["char-rnn"].replace(sequence=text, epochs=epochs, split=split)
    spec = text_spec_of(cfg, len(vocab))
    ds = experiments.prepare(cfg)
    V, U = spec.vocab_size, spec.units
    net = torch.nn.LSTM(V, U, spec.layers, batch_first=True)
    head = torch.nn.Linear(U, V)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("weight_ih"):
                torch.nn.init.xavier_uniform_(p)
            elif name.startswith("weight_hh"):
                w = torch.empty(U, 4 * U)  # Keras draws (U, 4U) orthogonal as a whole
                torch.nn.init.orthogonal_(w)
                p.copy_(w.T)
            else:
                p.zero_()
                if name.startswith("bias_ih"):
                    p[U:2 * U] = 1.0
        torch.nn.init.xavier_uniform_(head.weight)
        head.bias.zero_()
    ps = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.RMSprop(ps, lr=spec.lr, alpha=spec.decay_rate, eps=1e-8)

    def one_hot(a):
        return torch.nn.functional.one_hot(torch.as_tensor(a.astype(np.int64)), V).float()

    def loss(xb, yb, state):
        out, state = net(one_hot(xb), state)
        return torch.nn.functional.cross_entropy(head(out).reshape(-1, V),
                                                 torch.as_tensor(yb.astype(np.int64))
                                                 .reshape(-1)), state

    history = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for g in opt.param_groups:
            g["lr"] = spec.lr_at(epoch)
        state, train = None, []
        for xb, yb in zip(ds.train.x, ds.train.y):
            value, state = loss(xb, yb, state)
            opt.zero_grad()
            value.backward()
            for p in ps:
                p.grad.clamp_(-spec.grad_clip, spec.grad_clip)
            opt.step()
            state = tuple(s.detach() for s in state)
            train.append(value.item())
        with torch.no_grad():
            state, val = None, []
            for xb, yb in zip(ds.val.x, ds.val.y):
                value, state = loss(xb, yb, state)
                val.append(value.item())
        history.append((float(np.mean(train)), float(np.mean(val))))
        print(f"torch epoch {epoch + 1}: training {history[-1][0]:.4f}, validation "
              f"{history[-1][1]:.4f} nats, {time.perf_counter() - t0:.0f} s", flush=True)
    return history


def lstmlab_history(run_dir: Path) -> list[tuple[float, float]]:
    """Replica 0's (train, validation) per epoch from a run's text-history.csv."""
    with open(run_dir / "text-history.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["replica"] == "0"]
    return [(float(r["train_nats"]), float(r["val_nats"])) for r in rows]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
    ap.add_argument("--text", default=str(here))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--compare", type=Path, help="an lstmlab run directory of char-rnn")
    ap.add_argument("--split", default="contiguous", choices=("contiguous", "char-rnn"),
                    help="where validation is cut (lstmlab run char-rnn --split)")
    args = ap.parse_args()
    print(" · ".join(f"{k} {v}" for k, v in machine().items() if v), flush=True)
    theirs = torch_history(Path(args.text).read_text(encoding="utf-8"), args.epochs,
                           args.seed, args.split)
    ours = lstmlab_history(args.compare) if args.compare else []
    print("\nepoch   PyTorch val nats   lstmlab val nats   difference")
    for e in sorted({1, 5, 10, 30, args.epochs}):
        if e > args.epochs:
            continue
        t = theirs[e - 1][1]
        o = ours[e - 1][1] if e <= len(ours) else math.nan
        print(f"{e:5}   {t:16.4f}   {o:16.4f}   {o - t:+10.4f}")


if __name__ == "__main__":
    main()
