// The GRU's step in the explorer page: the equations of lstmlab.cells.GRU.step (Keras 3's
// reset_after=True): bias row 0 is the input bias, row 1 the recurrent bias.
"use strict";
(window.LSTMLAB_CELLS = window.LSTMLAB_CELLS || {}).gru = {
  // (h), x → the step's trace {z, r, hh, h}; gate order z, r, h̃
  step(net, state, x) {
    const U = net.U, U3 = 3 * U, b = net.w.bias;
    const zx = net.affine(x, [], net.w.kernel, null, b.subarray(0, U3), U3);
    const zh = net.affine([], state.h, null, net.w.recurrent_kernel, b.subarray(U3), U3);
    const t = { z: new Float32Array(U), r: new Float32Array(U), hh: new Float32Array(U),
                h: new Float32Array(U) };
    for (let u = 0; u < U; u++) {
      t.z[u] = net.act(Math.fround(zx[u]) + Math.fround(zh[u]));
      t.r[u] = net.act(Math.fround(zx[U + u]) + Math.fround(zh[U + u]));
      t.hh[u] = Math.tanh(Math.fround(zx[2 * U + u]) + t.r[u] * Math.fround(zh[2 * U + u]));
      t.h[u] = t.z[u] * state.h[u] + (1 - t.z[u]) * t.hh[u];
    }
    return t;
  },
  // the step backwards: given ∂/∂h after it, ∂/∂x and ∂/∂h before it
  back(net, prev, x, t, dh) {
    const U = net.U, U3 = 3 * U, b = net.w.bias;
    const zh = net.affine([], prev.h, null, net.w.recurrent_kernel, b.subarray(U3), U3);
    const dxv = new Float64Array(U3), drv = new Float64Array(U3), dh0 = new Float64Array(U);
    for (let u = 0; u < U; u++) {
      const ah = dh[u] * (1 - t.z[u]) * (1 - t.hh[u] * t.hh[u]);
      const az = dh[u] * (prev.h[u] - t.hh[u]) * net.dact(t.z[u]);
      const ar = ah * Math.fround(zh[2 * U + u]) * net.dact(t.r[u]);
      dh0[u] = dh[u] * t.z[u];
      dxv[u] = az; dxv[U + u] = ar; dxv[2 * U + u] = ah;
      drv[u] = az; drv[U + u] = ar; drv[2 * U + u] = ah * t.r[u];
    }
    const rec = net.backAffine(drv, net.w.recurrent_kernel, U);
    for (let u = 0; u < U; u++) dh0[u] += rec[u];
    return { dx: net.backAffine(dxv, net.w.kernel, x.length), dh: dh0 };
  },
};
