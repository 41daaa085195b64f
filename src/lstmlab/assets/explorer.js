// lstmlab explorer: the trained model runs in this page (float32 weights; each cell's step
// in assets/cells/<cell>.js, the equations of lstmlab.cells), one column per typed symbol.
// Written by hand because no library runs a Keras-semantics recurrent cell from embedded
// weights without a network or a build step.
// Everything shown is set with textContent (never innerHTML): vocabularies are user data.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("lstmlab-data").textContent);
  const TOP_K = 5;

  // -- the model ---------------------------------------------------------------------------
  function floats(b64) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let k = 0; k < bin.length; k++) bytes[k] = bin.charCodeAt(k);
    return new Float32Array(bytes.buffer);  // written little-endian by lstmlab.explore
  }
  const sigmoid = (x) => 1 / (1 + Math.exp(-x));
  const hardSigmoid = (x) => Math.min(1, Math.max(0, 0.2 * x + 0.5));

  class Net {
    constructor(m) {
      this.m = m;
      this.V = m.vocab.length; this.U = m.units; this.W = m.window;
      this.per = m.encoding === "scaled" ? 1 : this.V;           // features per symbol
      this.S = m.framing === "features" ? 1 : this.W;            // LSTM steps per window
      this.F = this.per * (m.framing === "features" ? this.W : 1);
      // each layer's cell arrays by their Keras names (row-major) and its names on the page
      // (from lstmlab.cells.layered), then the Dense layer's; a layer is this net seen with
      // its own weights (the cells' steps read net.w)
      // (a layer's U is its own: a stack may taper; the net's U is the last layer's)
      this.layers = m.layers.map((l) => Object.assign(Object.create(this), {
        w: Object.fromEntries(Object.entries(l.weights).map(([k, v]) => [k, floats(v)])),
        gates: l.gates, state: l.state, U: l.units }));
      this.sizeOf = {};  // each traced name → its layer's units
      m.layers.forEach((l) => l.gates.forEach((g) => { this.sizeOf[g] = l.units; }));
      this.D = floats(m.dense.kernel);      // (U, V)
      this.E = floats(m.dense.bias);        // (V)
      this.cellGates = m.layers[0].gates;   // layer 1's names are the cell's own
      this.cellState = m.layers[0].state;
      this.act = m.activation === "hard_sigmoid" ? hardSigmoid : sigmoid;
      this.index = new Map(m.vocab.map((s, k) => [s, k]));
      this.cellStep = window.LSTMLAB_CELLS[m.cell];
      this.original = this.layers.map((l) => Object.fromEntries(
        Object.entries(l.w).map(([k, v]) => [k, v.slice()])));
      this.originalD = this.D.slice();
      this.ablated = new Set();  // "layer/unit", layers from 1
    }
    // silence units as lstmlab.units.ablate does: each one's rows of its layer's recurrent
    // kernel and of what reads the layer (the next layer's kernel, or Dense's) set to 0
    setAblated(units) {
      this.ablated = new Set(units);
      this.layers.forEach((l, k) => {
        for (const [name, v] of Object.entries(this.original[k])) l.w[name] = v.slice();
      });
      this.D = this.originalD.slice();
      const zeroRow = (a, u, rows) => { const cols = a.length / rows; a.fill(0, u * cols, (u + 1) * cols); };
      for (const key of this.ablated) {
        const [layer, u] = key.split("/").map(Number);
        const rows = this.layers[layer - 1].U;  // both arrays have a row per unit of the layer
        zeroRow(this.layers[layer - 1].w.recurrent_kernel, u, rows);
        zeroRow(layer < this.layers.length ? this.layers[layer].w.kernel : this.D, u, rows);
      }
    }
    // the state after a reset: zeros for each of the cell's state arrays (m.state)
    zero() {
      return Object.fromEntries(this.m.state.map((k) => [k, new Float32Array(this.sizeOf[k])]));
    }

    // z = b + x K + h R for a cell's ``cols`` columns (K (F, cols), R (U, cols)), summed in
    // float64; the cells' steps share it
    affine(x, h, K, R, b, cols) {
      const z = new Float64Array(cols);
      for (let j = 0; j < cols; j++) z[j] = b[j];
      for (let k = 0; k < x.length; k++) {
        const v = x[k];
        if (v === 0) continue;  // one-hot input: one row of K per symbol
        const row = k * cols;
        for (let j = 0; j < cols; j++) z[j] += v * K[row + j];
      }
      for (let k = 0; k < h.length; k++) {
        const v = h[k];
        if (v === 0) continue;
        const row = k * cols;
        for (let j = 0; j < cols; j++) z[j] += v * R[row + j];
      }
      return z;
    }

    // Mᵀ-free backwards of affine: out[k] = Σ_j M[k, j] d[j] for the ``rows`` rows of M
    // (rows × d.length, row-major): ∂/∂x of x M from ∂/∂(x M)
    backAffine(d, M, rows) {
      const cols = d.length, out = new Float64Array(rows);
      for (let k = 0; k < rows; k++) {
        let sum = 0;
        const row = k * cols;
        for (let j = 0; j < cols; j++) sum += M[row + j] * d[j];
        out[k] = sum;
      }
      return out;
    }
    // the gate activation's derivative from its output y
    dact(y) {
      return this.m.activation === "hard_sigmoid" ? (y > 0 && y < 1 ? 0.2 : 0) : y * (1 - y);
    }

    // one symbol (-1: padding) → its features, as lstmlab.data.encode
    symbolFeatures(k, out, at) {
      if (k < 0) return;  // padding: zeros (scaled) or the zero vector (onehot)
      if (this.per === 1) out[at] = Math.fround(k / this.V);
      else out[at + k] = 1;
    }
    // a window (W indices) → S steps of F features, and which steps are real
    encode(win) {
      const xs = [], real = [];
      if (this.m.framing === "features") {
        const x = new Float32Array(this.F);
        win.forEach((k, t) => this.symbolFeatures(k, x, t * this.per));
        xs.push(x); real.push(true);  // under features framing the one step is always real
      } else {
        for (const k of win) {
          const x = new Float32Array(this.F);
          this.symbolFeatures(k, x, 0);
          xs.push(x); real.push(!(this.m.mask && k < 0));
        }
      }
      return { xs, real };
    }
    probs(h) {
      const V = this.V, U = this.U, logits = new Float64Array(V);
      for (let v = 0; v < V; v++) logits[v] = this.E[v];
      for (let u = 0; u < U; u++) {
        const a = h[u];
        if (a === 0) continue;
        for (let v = 0; v < V; v++) logits[v] += a * this.D[u * V + v];
      }
      let top = -Infinity;
      for (let v = 0; v < V; v++) { logits[v] = Math.fround(logits[v]); top = Math.max(top, logits[v]); }
      let sum = 0;
      for (let v = 0; v < V; v++) { logits[v] = Math.exp(logits[v] - top); sum += logits[v]; }
      const p = new Float32Array(V);
      for (let v = 0; v < V; v++) p[v] = logits[v] / sum;
      return p;
    }
    // read one window from ``state``: the steps' gates, the state after, the probabilities
    read(state, win) {
      const { xs, real } = this.encode(win), steps = [], names = this.m.state;
      for (let s = 0; s < xs.length; s++) {
        if (real[s]) {  // layer by layer, each reading the output of the one below
          const t = {};
          let x = xs[s];
          for (const layer of this.layers) {
            const own = Object.fromEntries(this.cellState.map((k, i) => [k, state[layer.state[i]]]));
            const out = this.cellStep.step(layer, own, x);
            this.cellGates.forEach((k, i) => { t[layer.gates[i]] = out[k]; });
            x = out[this.cellState[0]];
          }
          state = Object.fromEntries(names.map((k) => [k, t[k]]));
          steps.push(t);
        } else {  // masked padding: the state passes through unchanged, nothing else is made
          steps.push(Object.fromEntries(this.m.gates.map((k) => [k, names.includes(k)
            ? state[k] : new Float32Array(this.sizeOf[k]).fill(NaN)])));
        }
      }
      return { state, steps, real, probs: this.probs(state[this.m.output]) };
    }
  }

  // -- helpers -----------------------------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // diverging scale −1 (blue) … 0 (white) … +1 (red); values beyond ±1 take the end colour
  function colour(v) {
    if (Number.isNaN(v)) return "#d6d6d6";
    const t = Math.max(-1, Math.min(1, v));
    const a = Math.abs(t);
    const [r, g, b] = t >= 0 ? [178, 24, 43] : [33, 102, 172];
    const mix = (x) => Math.round(255 + (x - 255) * a);
    return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
  }
  // a symbol of the match text as the page shows symbols (invisible ones visibly)
  const LABEL = new Map(DATA.models[0].vocab.map((s, k) => [s, DATA.models[0].labels[k]]));
  const show = (s) => LABEL.get(s) || s;
  function argmax(p) {
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
    return best;  // the first of equal maxima, as numpy.argmax
  }
  let rngState = 0x2545f491;
  function random() {  // mulberry32: reproducible sampling within a page
    rngState = (rngState + 0x6d2b79f5) | 0;
    let t = rngState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  const tooltip = el("div", "tooltip");
  document.body.appendChild(tooltip);

  // -- one model's panel: its columns follow the shared list of events ------------------
  class Panel {
    constructor(m, root) {
      this.m = m; this.net = new Net(m); this.cols = [];
      const U = Math.max(...m.layers.map((l) => l.units));
      this.cellH = Math.max(1, Math.min(8, Math.floor(120 / U)));  // px per unit
      this.colW = Math.max(44, this.net.S * 10);                   // px per symbol
      this.root = root;
      const head = el("div", "panel-head");
      head.appendChild(el("h2", "", m.title));
      const dl = el("dl", "settings");
      for (const [k, v] of m.settings) { dl.appendChild(el("dt", "", k)); dl.appendChild(el("dd", "", v)); }
      head.appendChild(dl);
      head.appendChild(el("p", "kind", m.how));
      this.ablatedView = el("p", "ablated");
      this.matchView = el("div", "match-view");
      head.appendChild(this.ablatedView);
      head.appendChild(this.matchView);
      root.appendChild(head);
      this.scroll = el("div", "timeline");
      const labels = el("div", "col labels");
      labels.appendChild(el("div", "sym", "input"));
      const conn = labels.appendChild(el("div", "conn", "connectivity"));
      conn.title = "Connectivity: how strongly the last prediction depends on each symbol " +
        "read (|∂ log p / ∂ input|, red the strongest); press Connectivity";
      labels.appendChild(el("div", "reads", m.stateful ? "since reset" : "window reads"));
      labels.appendChild(el("div", "pred", "prediction"));
      labels.appendChild(el("div", "topk", `top ${Math.min(TOP_K, this.net.V)}`));
      for (const g of m.gates) {  // the cell's traced quantities, top to bottom
        const l = el("div", "gate-label", g);
        l.style.height = this.net.sizeOf[g] * this.cellH + "px";
        l.title = m.gate_text[g];
        labels.appendChild(l);
      }
      this.scroll.appendChild(labels);
      root.appendChild(this.scroll);
    }

    // what a new symbol continues: the state (a stateful model: the last column's, zero
    // after a reset), the last W symbols read (since the reset, for a stateful model) and
    // the last column's count of symbols read. Walks back at most W symbols: a keystroke
    // costs the same however long the input is.
    context() {
      const stateful = this.m.stateful, recent = [];
      let state = this.net.zero(), count = 0, seen = false;
      for (let j = this.cols.length - 1; j >= 0 && recent.length < this.net.W; j--) {
        const c = this.cols[j];
        if (c.kind === "reset") { if (stateful) break; continue; }  // no state to reset
        if (!seen) { seen = true; count = c.since; if (stateful && c.state) state = c.state; }
        recent.unshift(c.k);
      }
      return { state, recent, count };
    }

    push(ev) {
      const t0 = performance.now();
      let col;
      if (ev.kind === "reset") {
        col = { kind: "reset" };
      } else {
        const { state, recent, count } = this.context();
        recent.push(ev.k);
        const W = this.net.W;
        col = { kind: "sym", k: ev.k, position: ev.position,
                since: this.m.stateful ? count + 1 : Math.min(count + 1, W) };
        let win = null;
        if (recent.length >= W) win = recent.slice(-W);
        else if (this.m.variable_length && !this.m.stateful) {
          win = Array(W - recent.length).fill(-1).concat(recent);
        }
        if (win) {
          const r = this.net.read(this.m.stateful ? state : this.net.zero(), win);
          Object.assign(col, { window: win, steps: r.steps, real: r.real, probs: r.probs,
                               state: r.state });
          col.expected = this.expected(recent.slice(-W));
        }
      }
      this.cols.push(col);
      this.scroll.appendChild(this.render(col));
      this.scroll.scrollLeft = this.scroll.scrollWidth;
      return performance.now() - t0;
    }
    pop() {
      if (!this.cols.length) return;
      this.cols.pop();
      this.scroll.removeChild(this.scroll.lastChild);
    }

    // what the training sequence says follows this window (a set of symbols; empty: unknown)
    expected(win) {
      const seq = this.m.sequence, text = win.map((k) => this.m.vocab[k]).join("");
      const out = new Set();
      if (!seq || !text) return out;
      for (let at = seq.indexOf(text); at >= 0; at = seq.indexOf(text, at + 1)) {
        const next = seq.codePointAt(at + text.length);  // one symbol may be two UTF-16 units
        if (next !== undefined) out.add(String.fromCodePoint(next));
      }
      return out;
    }

    label(k) { return k < 0 ? "∅" : this.m.labels[k]; }

    render(col) {
      const div = el("div", "col");
      if (col.kind === "reset") {
        div.className = "col reset";
        div.appendChild(el("div", "sym", "↺"));
        div.title = this.m.stateful ? `Reset state: ${this.m.state.join(", ")} set to zero`
          : "Reset state: nothing to reset, this model starts every window from zero";
        return div;
      }
      div.style.width = this.colW + "px";
      div.appendChild(el("div", "sym", this.label(col.k)));
      col.connView = div.appendChild(el("div", "conn"));
      if (!col.probs) {
        div.appendChild(el("div", "reads", `${col.since}/${this.net.W}`));
        const wait = el("div", "pred waiting", "…");
        wait.title = `reads ${this.net.W} symbols before its first prediction`;
        div.appendChild(wait);
        return div;
      }
      div.appendChild(this.reads(col));
      const order = Array.from(col.probs.keys()).sort((a, b) => col.probs[b] - col.probs[a] || a - b);
      const top = el("div", "topk");
      for (const k of order.slice(0, TOP_K)) {
        const row = el("div", "bar");
        row.appendChild(el("span", "bar-label", this.label(k)));
        const fill = el("span", "bar-fill");
        fill.style.width = (100 * col.probs[k]).toFixed(1) + "%";
        row.appendChild(fill);
        row.title = `P(${this.label(k)}) = ${col.probs[k].toFixed(4)}`;
        top.appendChild(row);
      }
      div.appendChild(top);
      const best = argmax(col.probs), sym = this.m.vocab[best];
      const pred = el("div", "pred", this.label(best));
      if (col.expected.size) {
        const ok = col.expected.has(sym);
        pred.classList.add(ok ? "right" : "wrong");
        pred.textContent += ok ? " ✓" : " ✗";
        pred.title = ok ? "what the training sequence says comes next"
          : `the training sequence says ${Array.from(col.expected).map((s) => this.label(this.m.vocab.indexOf(s))).join(" or ")}`;
      } else {
        pred.title = "this window does not occur in the training sequence";
      }
      div.insertBefore(pred, top);
      const S = col.steps.length, cw = this.colW / S;
      for (const g of this.m.gates) {
        const U = this.net.sizeOf[g];
        const cv = el("canvas", "heat");
        cv.width = this.colW; cv.height = U * this.cellH;
        cv.dataset.gate = g;
        const ctx = cv.getContext("2d");
        for (let s = 0; s < S; s++) {
          const a = col.steps[s][g];
          for (let u = 0; u < U; u++) {  // a masked step is grey in every row, h and c too
            ctx.fillStyle = colour(col.real[s] ? a[u] : NaN);
            ctx.fillRect(s * cw, u * this.cellH, Math.ceil(cw), this.cellH);
          }
        }
        cv.addEventListener("mousemove", (e) => this.hover(e, cv, col, g));
        cv.addEventListener("click", (e) => {
          const u = Math.min(U - 1, Math.floor((e.clientY - cv.getBoundingClientRect().top) / this.cellH));
          this.toggle(this.layerOf(g), u);
        });
        cv.addEventListener("mouseleave", () => { tooltip.style.display = "none"; });
        div.appendChild(cv);
      }
      return div;
    }

    // what a column's model reads: the count since the reset (stateful); else the window,
    // one symbol over each step's sub-column of the heatmaps (all in one step's width when
    // the window is the features of one step), the whole window in the tooltip
    reads(col) {
      if (this.m.stateful) return el("div", "reads", String(col.since));
      const row = el("div", "reads"), S = this.net.S;
      const syms = col.window.map((k) => this.label(k));
      row.title = `the window read: ${syms.join(" ")}`;
      if (S === 1) { row.textContent = syms.join(""); return row; }
      row.classList.add("steps");
      for (const sym of syms) {
        const step = el("span", "", sym);
        step.style.width = this.colW / S + "px";
        row.appendChild(step);
      }
      return row;
    }

    hover(e, cv, col, g) {
      const r = cv.getBoundingClientRect();
      const S = col.steps.length;
      const s = Math.min(S - 1, Math.floor((e.clientX - r.left) / (r.width / S)));
      const u = Math.min(this.net.sizeOf[g] - 1, Math.floor((e.clientY - r.top) / this.cellH));
      const v = col.steps[s][g][u];
      const reads = this.net.S === 1 ? col.window.map((k) => this.label(k)).join("")
        : this.label(col.window[s]);
      tooltip.textContent = `${g} · unit ${u} · step ${s + 1}/${S} (reads ${reads}): ` +
        (col.real[s] ? v.toFixed(4) : "masked padding" + (this.m.state.includes(g)
          ? ` (skipped: ${g} passes through, ${v.toFixed(4)})` : ""));
      tooltip.style.display = "block";
      tooltip.style.left = e.pageX + 12 + "px";
      tooltip.style.top = e.pageY + 12 + "px";
    }

    layerOf(g) { return 1 + this.m.layers.findIndex((l) => l.gates.includes(g)); }

    // Connectivity (Distill, "Memorization in RNNs"): |∂ log p(the most likely symbol) /
    // ∂ input| of the last prediction for every symbol it depends on (a stateful model:
    // everything since the reset; a window model: its window), by backpropagation through
    // the columns' recorded steps — lstmlab.Model.connectivity's last row.
    // Returns [[position, value], …] of the symbols read, oldest first.
    connectivity() {
      const sym = this.cols.filter((c) => c.kind === "sym" || c.kind === "reset");
      let end = sym.length - 1;
      while (end >= 0 && !(sym[end].kind === "sym" && sym[end].probs)) end--;
      if (end < 0) return [];
      let start = end;
      if (this.m.stateful) while (start > 0 && sym[start - 1].kind === "sym") start--;
      const chain = sym.slice(start, end + 1).filter((c) => c.probs);
      const net = this.net, U = net.U, names = this.m.state, W = net.W;
      // forward record: per step its input, the state before it and its trace
      const steps = [];
      let state = net.zero();
      for (const c of chain) {
        const { xs } = net.encode(c.window);
        c.steps.forEach((t, s) => {
          steps.push({ x: xs[s], real: c.real[s], before: state, t, col: c, s });
          if (c.real[s]) state = Object.fromEntries(names.map((k) => [k, t[k]]));
        });
      }
      const last = chain[chain.length - 1], p = last.probs, top = argmax(p);
      const d = {};
      for (const k of names) d[k] = new Float64Array(net.sizeOf[k]);
      const V = net.V, out = this.m.output;
      for (let u = 0; u < U; u++) {
        let sum = 0;
        for (let v = 0; v < V; v++) sum += net.D[u * V + v] * ((v === top ? 1 : 0) - p[v]);
        d[out][u] = sum;
      }
      const grads = new Map();  // text position → ∂ log p / ∂ its features
      for (let j = steps.length - 1; j >= 0; j--) {
        const st = steps[j];
        if (!st.real) continue;  // a masked step passes the state (and its gradient) on
        let below = null;
        for (let k = net.layers.length - 1; k >= 0; k--) {
          const layer = net.layers[k], own = {}, t = {}, dIn = {};
          net.cellState.forEach((n, i) => { own[n] = st.before[layer.state[i]]; });
          net.cellGates.forEach((n, i) => { t[n] = st.t[layer.gates[i]]; });
          const hName = layer.state[0];
          if (below) for (let u = 0; u < below.length; u++) d[hName][u] += below[u];
          const x = k === 0 ? st.x : st.t[net.layers[k - 1].state[0]];
          net.cellState.forEach((n, i) => { dIn[n] = d[layer.state[i]]; });
          const r = net.cellStep.back(layer, own, x, t, dIn.h, dIn.c);
          d[hName] = r.dh;
          if (r.dc) d[layer.state[1]] = r.dc;
          below = r.dx;
        }
        // the bottom layer's ∂/∂x: one symbol per step, or the window's symbols side by side
        const per = net.per, first = st.col.position - W + 1;
        const blocks = this.m.framing === "features" ? W : 1;
        for (let b = 0; b < blocks; b++) {
          const slot = this.m.framing === "features" ? b : st.s;
          if (st.col.window[slot] < 0) continue;  // padding is no symbol
          const pos = first + slot;
          if (!grads.has(pos)) grads.set(pos, new Float64Array(per));
          const g = grads.get(pos);
          for (let f = 0; f < per; f++) g[f] += below[b * per + f];
        }
      }
      return Array.from(grads.entries()).sort((a, b) => a[0] - b[0])
        .map(([pos, g]) => [pos, Math.sqrt(g.reduce((a, v) => a + v * v, 0))]);
    }
    showConnectivity() {
      const found = this.connectivity(), by = new Map(found);
      const top = Math.max(1e-12, ...found.map(([, v]) => v));
      for (const c of this.cols) {
        if (!c.connView) continue;
        const v = c.kind === "sym" ? by.get(c.position) : undefined;
        c.connView.style.background = v === undefined ? "" : colour(v / top);
        c.connView.title = v === undefined ? "the last prediction does not read this symbol"
          : `|∂ log p / ∂ input| = ${v.toPrecision(3)}`;
      }
      return found;
    }

    // silence or free a unit, then read every event again with the new weights
    toggle(layer, unit) {
      const key = `${layer}/${unit}`, now = new Set(this.net.ablated);
      if (now.has(key)) now.delete(key); else now.add(key);
      this.ablate(Array.from(now));
    }
    ablate(keys) {
      this.net.setAblated(keys);
      this.replay();
      this.ablatedView.textContent = keys.length ? "silenced: " + keys.map((k) => {
        const [l, u] = k.split("/");
        return this.m.layers.length > 1 ? `layer ${l} unit ${u}` : `unit ${u}`;
      }).join(", ") : "";
    }
    replay() {
      while (this.cols.length) this.pop();
      for (const ev of events) this.push(ev);
    }

    // LSTMVis: the units (of the match layer's h) at least θ at every step of the span of
    // symbols [from, to] (1-based, typed symbols), and the text's spans where they are on
    hypothesis(from, to, theta) {
      const cols = this.cols.filter((c) => c.kind === "sym");
      const span = cols.slice(from - 1, to);
      if (!span.length || span.some((c) => !c.state)) return null;
      const name = this.m.match ? this.m.match.name : this.m.output, out = [];
      for (let u = 0; u < this.m.units; u++) {
        if (span.every((c) => c.state[name][u] >= theta)) out.push(u);
      }
      return out;
    }
    corpus() {
      if (!this.m.match) return null;
      if (!this.q) {
        const bin = atob(this.m.match.h);
        this.q = new Int8Array(bin.length);
        for (let k = 0; k < bin.length; k++) this.q[k] = (bin.charCodeAt(k) << 24) >> 24;
        this.symbols = Array.from(this.m.match.text);
      }
      return this.q;
    }
    // the ranking of lstmlab.units.match: maximal runs where at least half of the units
    // are on; score = (units on, summed over the run) / (length × units); by score, then
    // nearness to the selection's length, then position; lengths in [minLen, maxLen]
    match(units, theta, length, minLen, maxLen, top = 50) {
      const q = this.corpus(), U = this.m.units, L = q.length / U, scale = this.m.match.scale;
      const count = new Int32Array(L), out = [];
      for (let t = 0; t < L; t++) {
        let n = 0;
        for (const u of units) if (q[t * U + u] / scale >= theta) n++;
        count[t] = n;
      }
      for (let t = 0; t < L;) {
        if (2 * count[t] < units.length || !units.length) { t++; continue; }
        let end = t, sum = 0;
        while (end < L && 2 * count[end] >= units.length) sum += count[end++];
        const len = end - t;
        if (len >= minLen && len <= maxLen) out.push([t, end, sum / (len * units.length)]);
        t = end;
      }
      out.sort((a, b) => b[2] - a[2] || Math.abs(a[1] - a[0] - length) - Math.abs(b[1] - b[0] - length) || a[0] - b[0]);
      return out.slice(0, top);
    }
    showMatches(units, found) {
      const box = this.matchView;
      box.textContent = "";
      if (!this.m.match) { box.textContent = "no text to match in (the page holds none)"; return; }
      if (units === null) { box.textContent = "select a span of symbols the model has read"; return; }
      box.appendChild(el("p", "", units.length ? `${units.length} unit(s) on across the span: ${units.join(", ")}; ${found.length} match(es)` : "no unit is on across the whole span: lower θ or shorten the span"));
      const list = el("ol", "matches");
      for (const [a, b, score] of found) {
        const li = el("li");
        li.appendChild(el("span", "before", this.symbols.slice(Math.max(0, a - 12), a).map(show).join("")));
        li.appendChild(el("mark", "", this.symbols.slice(a, b).map(show).join("")));
        li.appendChild(el("span", "after", this.symbols.slice(b, b + 12).map(show).join("")));
        li.title = `symbols ${a}–${b - 1}, share on ${score.toFixed(3)}`;
        list.appendChild(li);
      }
      box.appendChild(list);
    }

    // columns as plain numbers, for tests and the console
    columns() {
      return this.cols.filter((c) => c.kind === "sym" && c.probs).map((c) => ({
        position: c.position, since_reset: c.since, window: c.window, real: c.real,
        probs: Array.from(c.probs),
        gates: Object.fromEntries(this.m.gates.map((g) => [g, c.steps.map((s) => Array.from(s[g]))])),
      }));
    }
  }

  // -- the page ----------------------------------------------------------------------------
  const first = DATA.models[0];
  const events = [];  // {kind: "sym", k, position} | {kind: "reset"}
  const panelsRoot = document.getElementById("panels");
  if (DATA.models.length > 1) panelsRoot.classList.add("two");
  const panels = DATA.models.map((m) => {
    const root = el("section", "panel");
    panelsRoot.appendChild(root);
    return new Panel(m, root);
  });
  panels.forEach((p) => p.scroll.addEventListener("scroll", () => {
    for (const q of panels) if (q !== p && q.scroll.scrollLeft !== p.scroll.scrollLeft) q.scroll.scrollLeft = p.scroll.scrollLeft;
  }));
  const message = document.getElementById("message");
  const typed = document.getElementById("typed");
  let lastMs = 0;

  function say(text) { message.textContent = text; }
  let symbols = 0;  // symbols typed (resets are events too): the next one's position
  // the input line and the counts follow each event: a keystroke costs the same however
  // long the input already is
  function push(ev) {
    events.push(ev);
    if (ev.kind === "sym") symbols++;
    lastMs = Math.max(...panels.map((p) => p.push(ev)));
    typed.appendChild(ev.kind === "reset" ? el("span", "mark", "↺") : el("span", "", first.labels[ev.k]));
  }
  function typeSymbol(s) {
    const k = first.vocab.indexOf(s);
    if (k < 0) { say(`${JSON.stringify(s)} is not in this model's vocabulary`); return false; }
    push({ kind: "sym", k, position: symbols });
    say("");
    return true;
  }
  function type(text) { for (const s of Array.from(text)) typeSymbol(s); }
  function backspace() {
    if (!events.length) return;
    if (events.pop().kind === "sym") symbols--;
    panels.forEach((p) => p.pop());
    typed.removeChild(typed.lastChild);
  }
  function reset() {
    if (events.length && events[events.length - 1].kind === "reset") return;
    push({ kind: "reset" });
    say(panels.some((p) => p.m.stateful) ? "state reset: the next symbol is read from a zero state" : "");
  }
  function clear() { while (events.length) backspace(); say(""); }
  function generate(n, temperature) {
    for (let j = 0; j < n; j++) {
      const last = panels[0].cols[panels[0].cols.length - 1];
      if (!last || !last.probs) { say(`type at least ${panels[0].net.W} symbols first`); return; }
      let k;
      if (!(temperature > 0)) k = argmax(last.probs);
      else {  // sample from p^(1/T), renormalised
        const w = Array.from(last.probs, (p) => Math.pow(p, 1 / temperature));
        let r = random() * w.reduce((a, b) => a + b, 0);
        for (k = 0; k < w.length - 1 && r >= w[k]; k++) r -= w[k];
      }
      push({ kind: "sym", k, position: symbols });
    }
  }

  // keyboard of the vocabulary
  const keys = document.getElementById("keys");
  first.vocab.forEach((s, k) => {
    const b = el("button", "key", first.labels[k]);
    b.title = `type ${JSON.stringify(s)}`;
    b.addEventListener("click", () => { typeSymbol(s); field.focus(); });
    keys.appendChild(b);
  });
  const field = document.getElementById("field");
  field.addEventListener("input", () => { type(field.value); field.value = ""; });
  field.addEventListener("keydown", (e) => {
    if (e.key === "Backspace" && !field.value) { backspace(); e.preventDefault(); }
    else if (e.key === "Enter" && first.vocab.includes("\n")) { typeSymbol("\n"); e.preventDefault(); }
    else if (e.key === "Tab" && first.vocab.includes("\t")) { typeSymbol("\t"); e.preventDefault(); }
  });
  // after a click the keyboard types again (buttons keep no focus)
  const then = (f) => () => { f(); field.focus(); };
  document.getElementById("backspace").addEventListener("click", then(backspace));
  document.getElementById("clear").addEventListener("click", then(clear));
  const resetButton = document.getElementById("reset");
  resetButton.addEventListener("click", then(reset));
  if (!panels.some((p) => p.m.stateful)) {
    resetButton.disabled = true;
    resetButton.title = "a window model starts every window from a zero state: there is no state to reset";
  }
  const temp = document.getElementById("temperature"), tempOut = document.getElementById("temperature-value");
  temp.addEventListener("input", () => { tempOut.textContent = Number(temp.value).toFixed(1); });
  document.getElementById("generate").addEventListener("click", then(() =>
    generate(Math.max(1, Math.min(1000, parseInt(document.getElementById("count").value, 10) || 1)),
             Number(temp.value))));

  function matchAll() {
    const num = (id) => Number(document.getElementById(id).value);
    const from = num("span-from"), to = num("span-to"), theta = num("theta");
    const length = to - from + 1;
    const minLen = num("len-min") || 1, maxLen = num("len-max") || 2 * length;
    const t0 = performance.now();
    const out = panels.map((p) => {
      const units = p.hypothesis(from, to, theta);
      const found = units && p.m.match ? p.match(units, theta, length, minLen, maxLen) : [];
      p.showMatches(units, found);
      return { units, matches: found };
    });
    matchMs = performance.now() - t0;
    return out;
  }
  let matchMs = 0;
  document.getElementById("match").addEventListener("click", then(matchAll));
  // selecting symbols of the input with the mouse chooses the span and matches it
  typed.addEventListener("mouseup", () => {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed) return;
    const symbolOf = (node) => {  // the typed symbol (1-based) a selection end lies in
      const span = node.nodeType === 1 ? node : node.parentElement;
      if (!span || span.parentElement !== typed || span.classList.contains("mark")) return null;
      let k = 0;
      for (const c of typed.children) {
        if (!c.classList.contains("mark")) k++;
        if (c === span) return k;
      }
      return null;
    };
    const a = symbolOf(sel.anchorNode), b = symbolOf(sel.focusNode);
    if (a === null || b === null) return;
    document.getElementById("span-from").value = Math.min(a, b);
    document.getElementById("span-to").value = Math.max(a, b);
    matchAll();
  });
  document.getElementById("connectivity").addEventListener("click", then(() =>
    panels.forEach((p) => p.showConnectivity())));
  document.getElementById("unablate").addEventListener("click", then(() =>
    panels.forEach((p) => p.ablate([]))));

  // legend: the colour scale
  const legend = document.getElementById("scale");
  const lctx = legend.getContext("2d");
  for (let x = 0; x < legend.width; x++) {
    lctx.fillStyle = colour(2 * x / (legend.width - 1) - 1);
    lctx.fillRect(x, 0, 1, legend.height);
  }

  window.lstmlab = {
    type, backspace, reset, clear, generate,
    text: () => events.filter((e) => e.kind === "sym").map((e) => first.vocab[e.k]).join(""),
    columns: (panel = 0) => panels[panel].columns(),
    lastUpdateMs: () => lastMs,
    ablate: (units, panel = 0) => panels[panel].ablate(units.map(([l, u]) => `${l}/${u}`)),
    toggle: (layer, unit, panel = 0) => panels[panel].toggle(layer, unit),
    ablated: (panel = 0) => Array.from(panels[panel].net.ablated),
    match: (from, to, theta, minLen, maxLen) => {
      const set = (id, v) => { document.getElementById(id).value = v === undefined ? "" : v; };
      set("span-from", from); set("span-to", to); set("theta", theta);
      set("len-min", minLen); set("len-max", maxLen);
      return matchAll();
    },
    matchMs: () => matchMs,
    connectivity: (panel = 0) => panels[panel].showConnectivity(),
    corpus: (panel = 0) => { const q = panels[panel].corpus(); return q && Array.from(q); },
  };
  type(DATA.initial);
  const n = Array.from(DATA.initial).length;  // the span to match: the last symbols typed
  document.getElementById("span-from").value = Math.max(1, n - 2);
  document.getElementById("span-to").value = Math.max(1, n);
  field.focus();
})();
