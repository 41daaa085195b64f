"""char-rnn's default training on a real text with lstmlab.charrnn: training and validation
loss per epoch (nats and bits per character), then a sample from the best-validation model.

    python benchmarks/text_quality.py                  # 5 epochs of tinyshakespeare
    python benchmarks/text_quality.py --epochs 30 --prime "ROMEO:" --temperature 0.8
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from lstmlab import charrnn, data, streams


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
    ap.add_argument("--text", default=str(here))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=123)  # char-rnn's default seed
    ap.add_argument("--prime", default="ROMEO:")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--length", type=int, default=500)
    args = ap.parse_args()
    text = Path(args.text).read_text(encoding="utf-8")
    vocab = data.Vocab.from_sequence(text)
    train, val = streams.split(vocab.encode(text), 0.05)
    spec = charrnn.TextSpec(vocab_size=len(vocab), epochs=args.epochs)
    t0 = time.perf_counter()

    def say(epoch, t, v):
        print(f"epoch {epoch + 1}: training {t:.4f}, validation {v:.4f} nats "
              f"({v / np.log(2):.3f} bits/char), {time.perf_counter() - t0:.0f} s", flush=True)

    out = charrnn.fit(spec, jax.random.PRNGKey(args.seed),
                      streams.layout(train, spec.streams, spec.seq_length),
                      streams.layout(val, spec.streams, spec.seq_length, "validation text"),
                      on_epoch=say)
    drawn = charrnn.sample(out["best"], jnp.asarray(vocab.encode(args.prime)),
                           jax.random.PRNGKey(3), args.temperature, args.length, len(vocab))
    print(args.prime + "".join(vocab.decode(np.asarray(drawn))))


if __name__ == "__main__":
    main()
