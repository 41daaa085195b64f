"""Independent float64 NumPy implementation of Keras's LSTM → Dense(softmax), written
from the equations (not from lstmlab's code), for the tests to compare against."""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def hard_sigmoid(z):
    return np.clip(0.2 * z + 0.5, 0.0, 1.0)


def to64(params):
    return {k: {kk: np.asarray(vv, np.float64) for kk, vv in v.items()} for k, v in params.items()}


def lstm_forward(params, x, mask=None, h=None, c=None, act=sigmoid):
    """x (B, T, F) → logits (B, V), final (h, c). Masked steps keep h and c."""
    p = to64(params)
    W, U, b = p["lstm"]["kernel"], p["lstm"]["recurrent_kernel"], p["lstm"]["bias"]
    n = U.shape[0]
    B, T, _ = x.shape
    h = np.zeros((B, n)) if h is None else np.array(h, np.float64)
    c = np.zeros((B, n)) if c is None else np.array(c, np.float64)
    for t in range(T):
        z = x[:, t].astype(np.float64) @ W + h @ U + b
        i = act(z[:, :n])
        f = act(z[:, n:2 * n])
        g = np.tanh(z[:, 2 * n:3 * n])
        o = act(z[:, 3 * n:])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        if mask is not None:
            m = mask[:, t][:, None]
            h_new = np.where(m, h_new, h)
            c_new = np.where(m, c_new, c)
        h, c = h_new, c_new
    logits = h @ p["dense"]["kernel"] + p["dense"]["bias"]
    return logits, (h, c)


def softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def mean_xent(params, x, y, mask=None, act=sigmoid):
    logits, _ = lstm_forward(params, x, mask, act=act)
    p = softmax(logits)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def lstm_gates(params, x, mask=None, h=None, c=None, act=sigmoid):
    """Like lstm_forward for one sequence x (T, F), but every step's gates:
    dict of i, f, g, o, c, h, each (T, U); i, f, g, o NaN at masked steps."""
    p = to64(params)
    W, U, b = p["lstm"]["kernel"], p["lstm"]["recurrent_kernel"], p["lstm"]["bias"]
    n = U.shape[0]
    h = np.zeros(n) if h is None else np.array(h, np.float64)
    c = np.zeros(n) if c is None else np.array(c, np.float64)
    out = {k: [] for k in "ifgoch"}
    for t in range(len(x)):
        if mask is not None and not mask[t]:
            for k in "ifgo":
                out[k].append(np.full(n, np.nan))
        else:
            z = x[t].astype(np.float64) @ W + h @ U + b
            i, f = act(z[:n]), act(z[n:2 * n])
            g, o = np.tanh(z[2 * n:3 * n]), act(z[3 * n:])
            c = f * c + i * g
            h = o * np.tanh(c)
            for k, v in zip("ifgo", (i, f, g, o)):
                out[k].append(v)
        out["c"].append(c)
        out["h"].append(h)
    probs = softmax(h @ p["dense"]["kernel"] + p["dense"]["bias"])
    return {k: np.array(v) for k, v in out.items()}, probs, (h, c)


def reference_cell(cell, p, x, mask=None, outputs=False, act=sigmoid):
    """float64 NumPy from Keras 3's equations (lstm.py, gru.py, simple_rnn.py) for any of
    lstmlab's cells: the final h, or with ``outputs`` every step's h (B, T, U) — a masked
    step repeats the last one. ``act``: the recurrent activation."""
    q = {k: np.asarray(a, np.float64) for k, a in p.items()}
    u = q["recurrent_kernel"].shape[0]
    h = np.zeros((x.shape[0], u))
    c = np.zeros_like(h)
    seen = []
    for t in range(x.shape[1]):
        xt = x[:, t].astype(np.float64)
        new_c = c
        if cell == "gru":
            xz, xr, xh = np.split(xt @ q["kernel"] + q["bias"][0], 3, axis=-1)
            rz, rr, rh = np.split(h @ q["recurrent_kernel"] + q["bias"][1], 3, axis=-1)
            z, r = act(xz + rz), act(xr + rr)
            new = z * h + (1 - z) * np.tanh(xh + r * rh)
        elif cell == "gru-reset-before":  # Keras's reset_after=False: r before the product
            xz, xr, xh = np.split(xt @ q["kernel"] + q["bias"], 3, axis=-1)
            R = q["recurrent_kernel"]
            z = act(xz + h @ R[:, :u])
            r = act(xr + h @ R[:, u:2 * u])
            new = z * h + (1 - z) * np.tanh(xh + (r * h) @ R[:, 2 * u:])
        elif cell == "lstm":
            zi, zf, zg, zo = np.split(xt @ q["kernel"] + h @ q["recurrent_kernel"] + q["bias"],
                                      4, axis=-1)
            new_c = act(zf) * c + act(zi) * np.tanh(zg)
            new = act(zo) * np.tanh(new_c)
        else:
            new = np.tanh(xt @ q["kernel"] + q["bias"] + h @ q["recurrent_kernel"])
        keep = np.ones((len(h), 1), bool) if mask is None else mask[:, t, None]
        h, c = np.where(keep, new, h), np.where(keep, new_c, c)
        seen.append(h)
    return np.stack(seen, 1) if outputs else h


def reference_stack(cell, layer_params, x, mask=None, mask_above=True):
    """A stack as Keras runs a Sequential of return_sequences=True layers: each layer reads
    the whole output sequence below; final h of every layer. ``mask_above`` False: the
    upper layers ignore the mask (the negative control)."""
    finals = []
    for k, p in enumerate(layer_params):
        x = reference_cell(cell, p, x, mask if k == 0 or mask_above else None, outputs=True)
        finals.append(x[:, -1])
    return finals
