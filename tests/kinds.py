"""Small models of every kind the explorer must handle, with fresh random weights (no
training: the numbers only have to be the same on both sides, and random weights make
every gate move)."""

import jax
import jax.numpy as jnp
import numpy as np

from lstmlab import data, model
from lstmlab.artifacts import Model, ModelInfo
from lstmlab.cells import CELLS, stack_shapes

ALPHABET = data.ALPHABET
UNICODE = "жёлтый ёж, «μ» & <b>\n"  # Cyrillic, Greek, space, newline, markup characters

KINDS = {  # name: ModelInfo fields besides the vocabulary
    "timesteps": dict(window=3, framing="timesteps", encoding="scaled"),
    "features": dict(window=3, framing="features", encoding="scaled"),
    "onehot": dict(window=2, framing="timesteps", encoding="onehot"),
    "stateful": dict(window=1, framing="timesteps", encoding="scaled", stateful=True),
    "stateful-window": dict(window=2, framing="features", encoding="onehot", stateful=True),
    "variable-length": dict(window=5, framing="timesteps", encoding="scaled",
                            variable_length=True),
    "variable-unmasked": dict(window=5, framing="timesteps", encoding="scaled",
                              variable_length=True, mask=False),
    "unicode": dict(window=2, framing="timesteps", encoding="onehot", sequence=UNICODE),
    "hard-sigmoid": dict(window=3, framing="timesteps", encoding="scaled",
                         activation="hard_sigmoid"),
    "gru": dict(window=3, framing="timesteps", encoding="onehot", cell="gru"),
    "gru-stateful": dict(window=1, framing="timesteps", encoding="scaled", stateful=True,
                         cell="gru"),
    "rnn": dict(window=3, framing="timesteps", encoding="scaled", cell="rnn"),
    "rnn-variable-length": dict(window=5, framing="timesteps", encoding="scaled",
                                variable_length=True, cell="rnn"),
    "gru-reset-before": dict(window=3, framing="timesteps", encoding="onehot",
                             cell="gru-reset-before"),
    "lstm-2-layers-stateful": dict(window=1, framing="timesteps", encoding="scaled",
                                   stateful=True, layers=2),
    "gru-3-layers-variable-length": dict(window=5, framing="timesteps", encoding="scaled",
                                         variable_length=True, cell="gru", layers=3),
    # stacks of different sizes per layer (tapering, and narrow then wide)
    "lstm-tapering-stateful": dict(window=1, framing="timesteps", encoding="scaled",
                                   stateful=True, layers=2, units=(8, 5)),
    "gru-3-sizes-variable-length": dict(window=5, framing="timesteps", encoding="onehot",
                                        variable_length=True, cell="gru", layers=3,
                                        units=(4, 7, 5)),
}


def make(kind: str, seed: int = 0, units: int = 6, sequence: str | None = None) -> Model:
    """A model of ``kind`` with weights drawn from ``seed`` (normal, std 0.8)."""
    fields = dict(KINDS[kind])
    seq = fields.pop("sequence", ALPHABET)
    seq = sequence or seq
    vocab = tuple(dict.fromkeys(seq))
    units = fields.pop("units", units)
    info = ModelInfo(vocab=vocab, units=units, activation=fields.pop("activation", "sigmoid"),
                     mask=fields.pop("mask", True), stateful=fields.pop("stateful", False),
                     variable_length=fields.pop("variable_length", False),
                     experiment=kind, sequence=seq, accuracy=0.5, **fields)
    rng = np.random.default_rng(seed)
    f, u, v = info.n_features, info.sizes[-1], len(vocab)
    draw = lambda *shape: rng.normal(0, 0.8, shape).astype(np.float32)  # noqa: E731
    cell = CELLS[info.cell]
    params = {key: {k: draw(*shape) for k, shape in shapes.items()}
              for key, shapes in stack_shapes(cell, f, units, info.layers).items()}
    params["dense"] = {"kernel": draw(u, v), "bias": draw(v)}
    return Model(params, info)


def text_for(model: Model, n: int = 9, seed: int = 1) -> str:
    """A random text of ``n`` of the model's symbols."""
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(model.info.vocab), n))


def random_params(cell, layers, seed, n_features=3, units=5, vocab=7):
    """A stack's parameters in lstmlab's layout, every array (biases too) drawn normal
    with std 0.7, so that every term of the equations shows."""
    p = model.init_params(jax.random.PRNGKey(seed), n_features, units, vocab, cell=cell,
                          layers=layers)
    rng = np.random.default_rng(seed)
    return {key: {k: jnp.asarray(rng.normal(0, 0.7, a.shape), jnp.float32)
                  for k, a in q.items()} for key, q in p.items()}  # non-zero biases
