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
};
