"""The LSTM layer over a whole sequence with its backward written by hand, as cuDNN and
oneDNN shape it: the input projection of all steps is one product before the scan, the
forward scan keeps every step's gates, and the backward scan only
carries the state's gradient back through time; the weight gradients are then one large
product over all S × B steps each (xᵀ·dz, h_prevᵀ·dz), and the input's gradient one more.
Autodiff of ``lax.scan`` instead adds up a small (B × U)ᵀ·(B × 4U) product at every step,
which leaves a 2-core CPU mostly idle. Written here because neither JAX nor optax nor flax
ships a fused recurrent layer for the CPU.

Same numbers as the model's LSTM (``cells.LSTM.step`` with the sigmoid recurrent
activation), the gradients those of ``jax.grad`` up to float32 rounding
(tests/test_text.py); used by the stream kind's training (``model.sequence(...,
fused=True)``) where a layer is an unmasked sigmoid LSTM and no trace is asked for.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _forward(K, R, bias, xs, h0, c0):
    """xs (S, B, F) from (h0, c0) → outputs hs (S, B, U), the final (h, c), and what the
    backward needs: every step's gates, the previous c, tanh(c) and the previous h."""
    zx = (xs.reshape(-1, xs.shape[-1]) @ K).reshape(*xs.shape[:2], -1) + bias  # (S, B, 4U)

    def body(state, zx_t):
        h, c = state
        z = zx_t + h @ R                                                # (B, 4U)
        zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
        i, f, g, o = jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jnp.tanh(zg), \
            jax.nn.sigmoid(zo)
        c_new = f * c + i * g
        tc = jnp.tanh(c_new)
        h_new = o * tc
        return (h_new, c_new), (h_new, (i, f, g, o, c, tc, h))
    (h, c), (hs, saved) = jax.lax.scan(body, (h0, c0), zx)
    return (hs, h, c), saved


@jax.custom_vjp
def lstm_sequence(K, R, bias, xs, h0, c0):
    """An LSTM layer (Keras's gate order i, f, g, o) over xs (S, B, F), time first, from
    (h0, c0): (hs (S, B, U), h, c)."""
    return _forward(K, R, bias, xs, h0, c0)[0]


def _fwd(K, R, bias, xs, h0, c0):
    out, saved = _forward(K, R, bias, xs, h0, c0)
    return out, (K, R, xs, saved)


def _bwd(res, cotangents):
    K, R, xs, (i, f, g, o, c_prev, tc, h_prev) = res
    d_hs, d_h, d_c = cotangents

    def body(carry, step):
        dh_next, dc_next = carry
        dh_out, i, f, g, o, c_prev, tc = step
        dh = dh_out + dh_next
        dc = dc_next + dh * o * (1 - tc * tc)
        dz = jnp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                              dc * i * (1 - g * g), dh * tc * o * (1 - o)], axis=-1)
        return (dz @ R.T, dc * f), dz                                   # dz (B, 4U)
    (dh0, dc0), dz = jax.lax.scan(body, (d_h, d_c), (d_hs, i, f, g, o, c_prev, tc),
                                  reverse=True)
    flat = dz.reshape(-1, dz.shape[-1])                                 # (S·B, 4U)
    dK = xs.reshape(-1, xs.shape[-1]).T @ flat
    dR = h_prev.reshape(-1, h_prev.shape[-1]).T @ flat
    return dK, dR, flat.sum(0), (flat @ K.T).reshape(xs.shape), dh0, dc0


lstm_sequence.defvjp(_fwd, _bwd)


def layer(p, x, state):
    """The model's layer call: x (B, T, F), state (h, c) → ((h, c), outputs (B, T, U))."""
    hs, h, c = lstm_sequence(p["kernel"], p["recurrent_kernel"], p["bias"],
                             jnp.swapaxes(x, 0, 1), *state)
    return (h, c), jnp.swapaxes(hs, 0, 1)
