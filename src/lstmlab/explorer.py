"""The explorer: one self-contained HTML page in which a trained model runs (plain
JavaScript, float32 weights embedded), shows its gates per keystroke, resets and generates.

The page needs no network and no server: weights are base64 in a JSON block, the script
and the styles are inline (``assets/explorer.js``, ``assets/explorer.css``), so it
opens from disk, can be mailed, and shows in a notebook inside an ``iframe srcdoc``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import numpy as np

from .cells import CELLS, layer_keys, layered
from .data import show
from .errors import ModelError
from .files import atomic_write

MAX_SEQUENCE = 20_000  # the page marks predictions against the training sequence up to this
MATCH_SYMBOLS = 20_000  # LSTMVis's match searches at most this much text (its h embedded)
MATCH_SCALE = 127       # h ∈ (−1, 1) embedded as int8 q = round(127 h); the page reads q/127
def _floats(a) -> str:
    return base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode("ascii")


def _how(i) -> str:
    """How the model reads its input, in a sentence (its cell's state named: h and c for
    the LSTM, h for the GRU and the SimpleRNN)."""
    w = f"{i.window} symbol{'s' if i.window > 1 else ''}"
    names = layered(CELLS[i.cell].state, i.layers)
    both = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    zero = " = ".join(names) + " = 0"
    verb = "carries" if len(names) == 1 else "carry"
    if i.stateful:
        return (f"Stateful: after each keystroke it reads the last {w} from the state the "
                f"previous keystroke left, so {both} {verb} over from keystroke to keystroke; "
                f"Reset state sets {'it' if len(names) == 1 else 'them'} to zero (Keras's "
                f"reset_states()). Below each symbol: how many symbols it has read since the "
                f"reset.")
    if i.variable_length:
        passes = "passes" if len(names) == 1 else "pass"
        pad = (f"masked: {both} {passes} through unchanged (grey)" if i.mask
               else "not masked: read as zeros")
        return (f"Variable length: each prediction starts from {zero} and reads up to the "
                f"last {w}, padded in front (∅), the padding {pad}.")
    if i.framing == "features":
        return (f"Window as features: each prediction starts from {zero} and reads the "
                f"last {w} at once, as one time step (one column per keystroke).")
    return (f"Window as time steps: each prediction starts from {zero} and reads the last "
            f"{w}, one per time step (one sub-column per step).")


def match_data(model, text: str | None) -> dict | None:
    """What LSTMVis's match in the page searches: the text (``text``, else the training
    sequence; at most MATCH_SYMBOLS) and the last layer's h after each of its symbols,
    int8 (q = round(127 h); −128 where no window ends yet). None without a text."""
    i = model.info
    text = (i.sequence if text is None else text)[:MATCH_SYMBOLS]
    if len(text) <= i.window:
        return None
    name = layered(CELLS[i.cell].state, i.layers)[-len(CELLS[i.cell].state)]
    trace = model.trace(text)
    h = np.full((len(text), i.sizes[-1]), -128, np.int8)
    last = trace.quantities[name][:, -1, :]
    h[trace.positions] = np.where(np.isfinite(last), np.round(np.nan_to_num(last) *
                                                              MATCH_SCALE), -128)
    return {"text": text, "name": name, "layer": i.layers, "scale": MATCH_SCALE,
            "h": base64.b64encode(h.tobytes()).decode("ascii")}


def model_data(model, settings=(), match_text: str | None = None) -> dict:
    """What the page needs of one model: vocabulary, shape, settings and float32 weights."""
    i = model.info
    p = model.params
    cell = CELLS[i.cell]
    state = layered(cell.state, i.layers)
    known = i.accuracy is not None and math.isfinite(i.accuracy)
    acc = f"{100 * i.accuracy:.2f}%" if known else ""
    # a text model is measured by its loss (char-rnn's figure), a window model by accuracy
    measured = (("validation loss" if i.val_loss else "training loss",
                 f"{i.loss:.4f} nats per symbol") if i.loss is not None
                and math.isfinite(i.loss) else ("accuracy", acc or "not recorded"))
    rows = [("experiment", i.experiment or "(custom)"), ("replica", str(i.replica)),
            measured,
            ("window", f"{i.window} as {i.framing}"), ("encoding", i.encoding),
            ("units", " → ".join(map(str, i.sizes)) if isinstance(i.units, tuple) else
             str(i.units) + (f" × {i.layers} layers" if i.layers > 1 else "")),
            ("cell", cell.keras_layer), ("activation", i.activation),
            ("stateful", "yes" if i.stateful else "no")]
    if i.variable_length:
        rows.append(("variable length", "masked" if i.mask else "not masked"))
    rows += [(str(k), str(v)) for k, v in settings]
    rows.append(("vocabulary", f"{len(i.vocab)} symbols: {show(''.join(i.vocab[:40]))}"
                               f"{'…' if len(i.vocab) > 40 else ''}"))
    return {
        "title": f"{i.experiment or 'model'} · replica {i.replica}",
        "vocab": list(i.vocab), "labels": [show(s) for s in i.vocab],
        "units": i.sizes[-1], "window": i.window, "framing": i.framing, "encoding": i.encoding,
        "mask": i.mask, "stateful": i.stateful, "variable_length": i.variable_length,
        "activation": i.activation, "accuracy": i.accuracy if known else None,
        "settings": rows,
        "how": _how(i),
        "sequence": i.sequence if len(i.sequence) <= MAX_SEQUENCE else "",
        "cell": cell.name, "gates": list(layered(cell.trace._fields, i.layers)),
        "state": list(state), "output": state[-len(cell.state)],  # the last layer's h
        "gate_text": _legend(cell, i.layers),
        "layers": [_layer_data(cell, p[key], k, i.layers)
                   for k, key in enumerate(layer_keys(cell, i.layers))],
        "dense": {k: _floats(p["dense"][k]) for k in ("kernel", "bias")},
        "match": match_data(model, match_text),
    }


def _layer_data(cell, p, k: int, layers: int) -> dict:
    """Layer k's weights and the page's names of what its step computes and carries, in the
    cell's order (``cells.layered``: layer 1's are the cell's own)."""
    def own(names):
        return list(layered(names, layers)[k * len(names):(k + 1) * len(names)])
    return {"weights": {w: _floats(p[w]) for w in cell.weights}, "units": cell.units(p),
            "gates": own(cell.trace._fields), "state": own(cell.state)}


def _legend(cell, layers: int) -> dict[str, str]:
    """Words for each row of the page: the cell's, each further layer's prefixed."""
    names = layered(cell.trace._fields, layers)
    if layers == 1:
        return dict(cell.legend)
    per = len(cell.trace._fields)
    return {n: f"layer {k // per + 1} of {layers}: {cell.legend[cell.trace._fields[k % per]]}"
            for k, n in enumerate(names)}


def training_rows(config: dict) -> list[tuple[str, str]]:
    """How a model was trained, from its experiment's settings (``Config`` as a dict, as
    record.json holds them), as header rows of the page."""
    c = config
    rows = [("epochs", str(c.get("epochs"))),
            ("batch size", "all" if c.get("batch_size") is None else str(c.get("batch_size"))),
            ("optimizer", f"{c.get('optimizer')}, lr {c.get('lr'):g}"),
            ("seeds trained", str(c.get("seeds")))]
    if c.get("streams"):  # char-rnn's training: streams, not batches of samples
        rows[1] = ("streams", f"{c.get('streams')} × {c.get('seq_length')} steps per batch, "
                   f"state carried without gradient, reset each epoch")
        return rows
    if c.get("stateful") and (c.get("bptt", 1) > 1 or c.get("random_start")
                              or c.get("reset_prob")):
        rows.append(("stateful training", f"bptt {c.get('bptt')}, random start "
                     f"{'yes' if c.get('random_start') else 'no'}, reset probability "
                     f"{c.get('reset_prob'):g}"))
    return rows


def file_name(experiment: str, replica: int = 0, compare: str | None = None) -> str:
    """The explorer page's name in a run directory: explore-E[-R][-vs-E2[-R2]].html."""
    name = f"explore-{experiment}" + (f"-{replica}" if replica else "")
    return name + (f"-vs-{compare}" if compare else "") + ".html"


def for_run(run_dir, results) -> dict[str, str]:
    """Write the explorer of replica 0 of every experiment whose models a run holds (one
    page each, beside report.html); returns experiment name → file name. A page kept from
    the same record and code is not made again (its match data are traced: seconds)."""
    from . import record_io
    run_dir, out, keys = Path(run_dir), {}, {}
    kept = record_io.drawn(run_dir)
    for r in results:
        if r.params is None or not r.kind.explores:  # saved without its models (a sweep's
            continue                                  # point), or not a symbol model
        name = file_name(r.config.name)
        out[r.config.name] = name
        key = record_io.record_digest(run_dir / r.config.name)
        if record_io.is_kept(run_dir, name, key, kept):
            continue
        # the match searches the text its kind studies (a text model's validation text;
        # a long training text is not kept with its model)
        model, text = r.model(0), r.kind.analysed_text(r.config)
        write(run_dir / name, model, settings=training_rows(asdict(r.config)),
              match_text=None if text == model.info.sequence else text)
        keys[name] = key
    if keys:
        record_io.keep_drawn(run_dir, keys)
    return out


def _json_in_script(obj) -> str:
    """JSON that cannot close its <script> element or open a comment, whatever it holds."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text("utf-8")


def check_pair(model, compare) -> None:
    """Both are models (lstmlab.Model), and two side by side read the same keystrokes:
    they need the same vocabulary."""
    from .artifacts import Model
    for what, m in (("model", model), ("compare", compare)):
        if not (isinstance(m, Model) or what == "compare" and m is None):
            raise ModelError(f"{what} {m!r} is not allowed; allowed: an lstmlab.Model (e.g. "
                             f"lstmlab.load(path), result.model(0))"
                             + (" or None" if what == "compare" else ""))
    if compare is not None and tuple(compare.info.vocab) != tuple(model.info.vocab):
        raise ModelError(f"the two models have different vocabularies ({len(model.info.vocab)} "
                         f"and {len(compare.info.vocab)} symbols: "
                         f"{show(''.join(model.info.vocab[:12]))}… and "
                         f"{show(''.join(compare.info.vocab[:12]))}…); compare models "
                         f"trained on the same sequence")


def page(model, compare=None, text: str | None = None, settings=(),
         compare_settings=(), match_text: str | None = None) -> str:
    """The explorer page of ``model`` (and ``compare`` beside it) as one HTML string;
    ``text``: what is typed when the page opens (default: how the sequence begins);
    ``match_text``: what LSTMVis's match searches (default: the training sequence)."""
    check_pair(model, compare)
    if match_text is not None:
        model.vocab.encode(match_text)  # a symbol outside the vocabulary: one line
    models = [model_data(model, settings, match_text)]
    if compare is not None:
        models.append(model_data(compare, compare_settings, match_text))
    if text is None:
        seq = model.info.sequence or "".join(model.info.vocab)
        text = "".join(s for s in seq[:max(3, model.info.window + 2)] if s in model.info.vocab)
    elif text:
        model.vocab.encode(text)  # a symbol outside the vocabulary: a one-line DataError
    names = " vs ".join(m["title"] for m in models)
    payload = {"models": models, "initial": text}
    cell_scripts = "".join(f"<script>{_asset('cells/' + name + '.js')}</script>"
                           for name in dict.fromkeys(m["cell"] for m in models))
    words = {k: v for m in models for k, v in m["gate_text"].items()}  # both cells' rows
    legend = "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in words.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lstmlab explorer: {html.escape(names)}</title>
<style>{_asset("explorer.css")}</style></head>
<body>
<h1>lstmlab explorer: {html.escape(names)}</h1>
<div class="controls">
  <div><label for="field">Type</label> <input id="field" autocomplete="off"
       placeholder="type symbols…" aria-label="type symbols">
    <button id="backspace" title="remove the last symbol or reset">⌫ Backspace</button>
    <button id="reset" title="Keras's reset_states(): h and c set to zero">↺ Reset state</button>
    <button id="clear">Clear</button>
    <button id="generate">Generate</button> <input id="count" type="number" min="1" max="1000"
       value="10" style="width:4em" aria-label="symbols to generate"> <span>symbols,</span>
    <label for="temperature">temperature</label> <input id="temperature" type="range" min="0"
       max="2" step="0.1" value="0"> <span id="temperature-value">0.0</span>
    <span>(0: the most likely symbol, as <code>lstmlab generate</code>)</span></div>
  <div id="keys" aria-label="the model's vocabulary"></div>
  <div>Input: <span id="typed"></span></div>
  <div id="message" role="status"></div>
</div>
<details open><summary>What the units do: silence them, match a span</summary>
<p>Click a unit's row in any heatmap to silence it (its h and c held at 0 for everything
it feeds, as <code>model.ablate</code>); click again to let it speak. Select symbols of
the input with the mouse (or give the span below and press Match): the units whose h is at least θ at every step of it (LSTMVis's
hypothesis), and the spans of the text where at least half of them are on together,
ranked by the share on (then nearness in length), top 50.</p>
<div class="unit-tools">From symbol <input id="span-from" type="number" min="1" value="1"
  style="width:4em" aria-label="first symbol of the span"> to <input id="span-to"
  type="number" min="1" value="1" style="width:4em" aria-label="last symbol of the span">
  θ <input id="theta" type="number" min="-1" max="1" step="0.05" value="0.5"
  style="width:4em" aria-label="threshold"> lengths <input id="len-min" type="number" min="1"
  value="1" style="width:4em" aria-label="shortest match"> to <input id="len-max"
  type="number" min="1" value="" placeholder="2×" style="width:4em"
  aria-label="longest match"> <button id="match">Match</button>
  <button id="unablate">Let every unit speak</button>
  <button id="connectivity" title="how strongly the last prediction depends on each symbol read">Connectivity</button></div>
</details>
<details open><summary>What the rows show</summary>
<p>One column per symbol typed, aligned with the input. Heatmaps: units top to bottom,
the LSTM's steps left to right; hover a cell for its value.</p>
<dl class="legend">{legend}</dl>
<div class="scale">−1 <canvas id="scale" width="200" height="12"></canvas> +1
(blue negative, white 0, red positive; c beyond ±1 takes the end colour; grey: a masked
padding step). Under the heatmaps: the top next-symbol probabilities, and the prediction,
✓ or ✗ where the training sequence says what follows the window.</div>
</details>
<div id="panels"></div>
<script type="application/json" id="lstmlab-data">{_json_in_script(payload)}</script>
{cell_scripts}<script>{_asset("explorer.js")}</script>
</body></html>
"""


def write(path, model, compare=None, **kw) -> Path:
    """Write the explorer page to ``path`` (atomically) and return the path."""
    path = Path(path)
    atomic_write(path, page(model, compare, **kw).encode("utf-8"))
    return path


class Explorer:
    """A model's explorer as a displayable object: Jupyter shows the page in an iframe."""

    def __init__(self, model, compare=None, text: str | None = None, height: int = 720):
        check_pair(model, compare)
        self.model, self.compare, self.text, self.height = model, compare, text, height

    def html(self) -> str:
        return page(self.model, self.compare, self.text)

    def save(self, path) -> Path:
        return write(path, self.model, self.compare, text=self.text)

    def _repr_html_(self) -> str:
        # srcdoc keeps the page's script and ids apart from the notebook's own
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                f'style="width:100%;height:{self.height}px;border:1px solid #ddd" '
                f'sandbox="allow-scripts"></iframe>')


def explore(model, compare=None, text: str | None = None) -> Explorer:
    """The explorer of ``model`` (``lstmlab.explore``), ``compare`` beside it: display it in
    a notebook, or ``.save("explorer.html")``."""
    return Explorer(model, compare, text)
