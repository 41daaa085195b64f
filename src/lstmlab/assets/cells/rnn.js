// The SimpleRNN's step in the explorer page: the equation of lstmlab.cells.SimpleRNN.step.
"use strict";
(window.LSTMLAB_CELLS = window.LSTMLAB_CELLS || {}).rnn = {
  // (h), x → the step's trace {h}: h = tanh(x K + b + h R)
  step(net, state, x) {
    const U = net.U;
    const z = net.affine(x, state.h, net.w.kernel, net.w.recurrent_kernel, net.w.bias, U);
    const t = { h: new Float32Array(U) };
    for (let u = 0; u < U; u++) t.h[u] = Math.tanh(Math.fround(z[u]));
    return t;
  },
  // the step backwards: given ∂/∂h after it, ∂/∂x and ∂/∂h before it
  back(net, prev, x, t, dh) {
    const U = net.U, da = new Float64Array(U);
    for (let u = 0; u < U; u++) da[u] = dh[u] * (1 - t.h[u] * t.h[u]);
    return { dx: net.backAffine(da, net.w.kernel, x.length),
             dh: net.backAffine(da, net.w.recurrent_kernel, U) };
  },
};
