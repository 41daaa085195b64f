// Keras's GRU with reset_after=False (Keras 2's default) in the explorer page: the equations
// of lstmlab.cells.GRUResetBefore.step — one bias, r applied to h before the recurrent product.
"use strict";
(window.LSTMLAB_CELLS = window.LSTMLAB_CELLS || {})["gru-reset-before"] = {
  // (h), x → the step's trace {z, r, hh, h}; gate order z, r, h̃
  step(net, state, x) {
    const U = net.U, U3 = 3 * U, R = net.w.recurrent_kernel;
    const zx = net.affine(x, [], net.w.kernel, null, net.w.bias, U3);
    const t = { z: new Float32Array(U), r: new Float32Array(U), hh: new Float32Array(U),
                h: new Float32Array(U) };
    const zr = new Float64Array(2 * U), rh = new Float64Array(U);  // h R[:, :2U], (r h) R[:, 2U:]
    for (let k = 0; k < U; k++) {
      const v = state.h[k];
      if (v === 0) continue;
      for (let j = 0; j < 2 * U; j++) zr[j] += v * R[k * U3 + j];
    }
    for (let u = 0; u < U; u++) {
      t.z[u] = net.act(Math.fround(zx[u]) + Math.fround(zr[u]));
      t.r[u] = net.act(Math.fround(zx[U + u]) + Math.fround(zr[U + u]));
    }
    for (let k = 0; k < U; k++) {
      const v = Math.fround(t.r[k] * state.h[k]);
      if (v === 0) continue;
      for (let j = 0; j < U; j++) rh[j] += v * R[k * U3 + 2 * U + j];
    }
    for (let u = 0; u < U; u++) {
      t.hh[u] = Math.tanh(Math.fround(zx[2 * U + u]) + Math.fround(rh[u]));
      t.h[u] = t.z[u] * state.h[u] + (1 - t.z[u]) * t.hh[u];
    }
    return t;
  },
  // the step backwards: given ∂/∂h after it, ∂/∂x and ∂/∂h before it
  back(net, prev, x, t, dh) {
    const U = net.U, U3 = 3 * U, R = net.w.recurrent_kernel;
    const dxv = new Float64Array(U3), dh0 = new Float64Array(U), ah = new Float64Array(U);
    for (let u = 0; u < U; u++) {
      dh0[u] = dh[u] * t.z[u];
      ah[u] = dh[u] * (1 - t.z[u]) * (1 - t.hh[u] * t.hh[u]);
    }
    const drh = new Float64Array(U), dzr = new Float64Array(2 * U);  // ∂/∂(r h), ∂/∂(z, r)
    for (let k = 0; k < U; k++) for (let j = 0; j < U; j++) drh[k] += R[k * U3 + 2 * U + j] * ah[j];
    for (let u = 0; u < U; u++) {
      dzr[u] = dh[u] * (prev.h[u] - t.hh[u]) * net.dact(t.z[u]);
      dzr[U + u] = drh[u] * prev.h[u] * net.dact(t.r[u]);
      dh0[u] += drh[u] * t.r[u];
      dxv[u] = dzr[u]; dxv[U + u] = dzr[U + u]; dxv[2 * U + u] = ah[u];
    }
    for (let k = 0; k < U; k++) {
      let sum = 0;
      for (let j = 0; j < 2 * U; j++) sum += R[k * U3 + j] * dzr[j];
      dh0[k] += sum;
    }
    return { dx: net.backAffine(dxv, net.w.kernel, x.length), dh: dh0 };
  },
};
