"""The explorer in a browser: page size of a 50-unit model, and the time one keystroke
takes to update the page of a 256-unit model with a 100-symbol vocabulary (headless
Chromium via Playwright, the browser's own clock). With ``--screenshot FILE``: the README's
picture (stateful against one-char, trained as the tutorial trains them, after ABC, reset,
K). ``--json`` prints the figures as JSON.

    python benchmarks/explorer_bench.py [--screenshot docs/explorer.png] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench import machine  # noqa: E402

import lstmlab  # noqa: E402
from lstmlab import explorer  # noqa: E402
from lstmlab.artifacts import Model, ModelInfo  # noqa: E402


def random_model(units: int, vocab: str, seed: int = 0, layers: int = 1) -> Model:
    info = ModelInfo(vocab=tuple(vocab), window=1, framing="timesteps", encoding="onehot",
                     mask=True, units=units, activation="sigmoid", stateful=True,
                     variable_length=False, experiment="random", sequence=vocab,
                     layers=layers)
    rng = np.random.default_rng(seed)
    draw = lambda *s: rng.normal(0, 0.3, s).astype(np.float32)  # noqa: E731
    return Model(_nested({k: draw(*shape) for k, shape in info.shapes().items()}), info)


def _nested(flat: dict) -> dict:
    out = {}
    for key, a in flat.items():
        layer, name = key.split("/")
        out.setdefault(layer, {})[name] = a
    return out


def keystrokes(page, vocab: str, n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ms = [page.evaluate("s => { const t = performance.now(); lstmlab.type(s); "
                        "document.body.offsetHeight; return performance.now() - t; }",
                        vocab[k]) for k in rng.integers(0, len(vocab), n)]
    return {"median": statistics.median(ms), "max": max(ms), "n": len(ms)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--screenshot", help="write the README's screenshot here")
    ap.add_argument("--keystrokes", type=int, default=60)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp())
    out = {"machine": machine()}
    stateful = lstmlab.run("stateful", seeds=1).model(0)       # LSTM(50), as the tutorial
    one_char = lstmlab.run("one-char", seeds=1).model(0)
    out["page_bytes_50_units"] = len(explorer.page(stateful).encode())
    vocab = "".join(chr(c) for c in range(0x21, 0x21 + 100))   # 100 symbols
    big = random_model(256, vocab)
    big_path = explorer.write(tmp / "big.html", big, text="")
    out["page_bytes_256_units_100_symbols"] = big_path.stat().st_size
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(big_path.as_uri())
        out["keystroke_ms_256_units"] = keystrokes(page, vocab, args.keystrokes)
        # a character model's size: 2 × LSTM(128), 65 symbols, after 300 symbols typed
        text_vocab = vocab[:65]
        text_path = explorer.write(tmp / "text.html", random_model(128, text_vocab, 1, 2),
                                   text="")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(text_path.as_uri())
        keystrokes(page, text_vocab, 300, seed=1)
        out["keystroke_ms_2x128_units_after_300"] = keystrokes(page, text_vocab,
                                                                args.keystrokes, seed=2)
        if args.screenshot:
            path = explorer.write(tmp / "shot.html", stateful, one_char, text="ABC")
            page = browser.new_page(viewport={"width": 1400, "height": 1050})
            page.goto(path.as_uri())
            page.locator("#reset").click()
            page.keyboard.type("K")
            page.locator("details").evaluate("d => d.open = false")
            page.screenshot(path=args.screenshot)
            out["screenshot"] = args.screenshot
        browser.close()
    if args.json:
        print(json.dumps(out, indent=2))
        return
    m = out["machine"]
    print(f"{m['date']} · {m['cpu']} · {m['cores']} cores · chromium {shutil.which('chromium')}")
    print(f"explorer page, stateful LSTM(50), 26 symbols: {out['page_bytes_50_units'] / 1e3:.0f} kB")
    print(f"explorer page, LSTM(256), 100 symbols: "
          f"{out['page_bytes_256_units_100_symbols'] / 1e3:.0f} kB")
    k = out["keystroke_ms_256_units"]
    print(f"one keystroke, LSTM(256), 100 symbols: median {k['median']:.1f} ms, "
          f"max {k['max']:.1f} ms over {k['n']}")
    k = out["keystroke_ms_2x128_units_after_300"]
    print(f"one keystroke, 2 × LSTM(128), 65 symbols, after 300 typed: median "
          f"{k['median']:.1f} ms, max {k['max']:.1f} ms over {k['n']}")


if __name__ == "__main__":
    main()
