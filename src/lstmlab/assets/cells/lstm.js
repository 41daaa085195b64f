// The LSTM's step in the explorer page: the equations of lstmlab.cells.LSTM.step, in
// float32 storage with float64 sums (as XLA's CPU dot). A cell's page step is one such
// file, registered under the cell's name; explorer.js runs it.
"use strict";
(window.LSTMLAB_CELLS = window.LSTMLAB_CELLS || {}).lstm = {
  // (h, c), x → the step's trace {i, f, g, o, c, h}; z = x K + h R + b, gate order i, f, g, o
  step(net, state, x) {
    const U = net.U, z = net.affine(x, state.h, net.w.kernel, net.w.recurrent_kernel,
                                      net.w.bias, 4 * U);
    const t = { i: new Float32Array(U), f: new Float32Array(U), g: new Float32Array(U),
                o: new Float32Array(U), c: new Float32Array(U), h: new Float32Array(U) };
    for (let u = 0; u < U; u++) {
      t.i[u] = net.act(Math.fround(z[u]));
      t.f[u] = net.act(Math.fround(z[U + u]));
      t.g[u] = Math.tanh(Math.fround(z[2 * U + u]));
      t.o[u] = net.act(Math.fround(z[3 * U + u]));
      t.c[u] = t.f[u] * state.c[u] + t.i[u] * t.g[u];
      t.h[u] = t.o[u] * Math.tanh(t.c[u]);
    }
    return t;
  },
  // the step backwards: given ∂/∂h and ∂/∂c after it, ∂/∂x and ∂/∂(h, c) before it
  // (prev: the state before the step, t: its trace)
  back(net, prev, x, t, dh, dc) {
    const U = net.U, dz = new Float64Array(4 * U), dcPrev = new Float64Array(U);
    for (let u = 0; u < U; u++) {
      const tc = Math.tanh(t.c[u]), dcu = dc[u] + dh[u] * t.o[u] * (1 - tc * tc);
      dz[u] = dcu * t.g[u] * net.dact(t.i[u]);
      dz[U + u] = dcu * prev.c[u] * net.dact(t.f[u]);
      dz[2 * U + u] = dcu * t.i[u] * (1 - t.g[u] * t.g[u]);
      dz[3 * U + u] = dh[u] * tc * net.dact(t.o[u]);
      dcPrev[u] = dcu * t.f[u];
    }
    return { dx: net.backAffine(dz, net.w.kernel, x.length),
             dh: net.backAffine(dz, net.w.recurrent_kernel, U), dc: dcPrev };
  },
};
