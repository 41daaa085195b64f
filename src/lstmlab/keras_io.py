"""Keras models in and out: a Keras ``Sequential`` of [Masking] → LSTM (or GRU, SimpleRNN;
one or more) → Dense(softmax)
is read into lstmlab parameters and model settings, and built back, with the same weights
(``get_weights()`` order, see :func:`lstmlab.model.keras_weights`). ``artifacts.Model``
wraps these as ``Model.from_keras`` / ``Model.to_keras``.

Keras is optional (``pip install -e ".[keras]"``) and imported only here, with the JAX
backend unless the user chose another.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import data, model
from .cells import CELLS
from .errors import KerasError



INSTALL = 'pip install -e ".[keras]"'
SUFFIXES = (".keras", ".h5")
# Keras's Masking(0) masks by value, lstmlab by position: with the scaled encoding the code
# of the first symbol is 0 too, so the two models would differ on every input holding it.
NO_SCALED_MASK = ("a masked model with the scaled encoding has no exact Keras equivalent: "
                  "Keras's Masking(0) also masks the first symbol (code 0); use the onehot "
                  "encoding, or no masking")


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras's own default is TensorFlow
    try:
        import keras
    except ImportError:
        raise KerasError(f"Keras is not installed; install it with: {INSTALL}") from None
    return keras


def _load(path: Path):
    keras = _keras()
    if not path.is_file():
        raise KerasError(f"{path}: no such Keras model file")
    if path.suffix not in SUFFIXES:
        raise KerasError(f"{path}: a Keras model file ends in {' or '.join(SUFFIXES)}")
    # Keras says "File not found" of a file that is there but is no archive: say what it is
    import zipfile
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise KerasError(f"{path}: not a .keras file (a .keras file is a zip archive, as "
                         f"model.save('m.keras') writes it)")
    if path.suffix == ".h5" and path.read_bytes()[:8] != b"\x89HDF\r\n\x1a\n":
        raise KerasError(f"{path}: not an HDF5 file (a legacy .h5 model file is one)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many kinds for a file it cannot read
        first = (str(e).strip().splitlines() or [e.__class__.__name__])[0][:200]
        raise KerasError(f"{path}: cannot read the Keras model ({first})") from None


def _keras2_file(path: Path) -> bool:
    """Was this .h5 file written by Keras 2 (its root attribute ``keras_version``)? There
    ``hard_sigmoid`` meant clip(0.2x + 0.5, 0, 1) — lstmlab's hard_sigmoid — not Keras 3's."""
    if path.suffix != ".h5":
        return False
    try:
        import h5py
        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version", b"")
    except (ImportError, OSError):
        return False
    version = version.decode() if isinstance(version, bytes) else str(version)
    return version.startswith("2.")


def _cell(layer):
    """The lstmlab cell a Keras recurrent layer is, or None (its class and the settings
    that make it that cell: a GRU's reset_after)."""
    cfg = layer.get_config()
    for c in CELLS.values():
        # a setting the file does not name is off: Keras 2.0's GRU config had no
        # reset_after, and it computed the reset before the product
        if type(layer).__name__ == c.keras_layer and all(
                cfg.get(k, False) == v for k, v in c.keras_config.items()):
            return c
    return None


def _layers(net, keras2: bool = False) -> tuple:
    """(masking, recurrent layers, dense, their cell) of a supported model, or a KerasError
    naming what is not. ``keras2``: the model comes from a Keras 2 file, whose
    hard_sigmoid lstmlab has."""
    # a functional model lists its InputLayer; one that is a chain of the same layers is
    # the same model as a Sequential one
    layers = [layer for layer in getattr(net, "layers", [])
              if type(layer).__name__ != "InputLayer"]
    kinds = [type(layer).__name__ for layer in layers]
    masking = layers.pop(0) if kinds[:1] == ["Masking"] else None
    names = [type(layer).__name__ for layer in layers]
    known = dict.fromkeys(c.keras_layer for c in CELLS.values())
    if len(names) < 2 or names[-1] != "Dense" or any(n not in known for n in names[:-1]):
        raise KerasError(f"unsupported Keras model: layers {' → '.join(kinds) or 'none'}; "
                         f"lstmlab reads [Masking →] {'|'.join(known)} (one or more, the "
                         f"same kind) → Dense(softmax)")
    *stack, dense = layers
    cells = [_cell(layer) for layer in stack]
    cell = cells[0]
    cfgs, dcfg = [layer.get_config() for layer in stack], dense.get_config()
    problems = []
    if len({c for c in cells}) > 1:
        # the cell is one per stack: the parameters name it (lstm, lstm_1, …) and the
        # state, trace and page are laid out from it
        problems.append("recurrent layers of different cells (lstmlab stacks one cell, of "
                        "any sizes: " + " → ".join(f"{n}({c.get('units')})" for n, c
                                                   in zip(names, cfgs)) + ")")
    if len({bool(c.get("stateful")) for c in cfgs}) > 1:
        problems.append("some recurrent layers stateful, others not")
    for k, (layer_name, cfg) in enumerate(zip(names, cfgs)):
        last = k == len(cfgs) - 1
        at = f"{layer_name} {k + 1}: " if len(cfgs) > 1 else ""
        if bool(cfg.get("return_sequences")) == last:
            problems.append(f"{at}return_sequences={last} (lstmlab: True below the last "
                            f"recurrent layer, False on it)")
        if cfg.get("go_backwards"):
            problems.append(f"{at}go_backwards=True")
        if not cfg.get("use_bias", True):
            problems.append(f"{at}a layer without bias")
        if cfg.get("activation") != "tanh":
            problems.append(f"{at}{layer_name} activation {cfg.get('activation')!r} "
                            f"(lstmlab: tanh)")
        if "recurrent_activation" in cfg and cfg.get("recurrent_activation") not in (
                ("sigmoid", "hard_sigmoid") if keras2 else ("sigmoid",)):
            problems.append(f"{at}recurrent_activation {cfg.get('recurrent_activation')!r} "
                            f"(lstmlab reads sigmoid; Keras 3's hard_sigmoid is x/6 + 1/2, "
                            f"not Keras 2's)")
    if len({c.get("recurrent_activation") for c in cfgs}) > 1:
        problems.append("recurrent layers with different recurrent activations")
    if not dcfg.get("use_bias", True):
        problems.append("a layer without bias")
    if dcfg.get("activation") != "softmax":
        problems.append(f"Dense activation {dcfg.get('activation')!r} (lstmlab: softmax)")
    if masking is not None and masking.get_config().get("mask_value") != 0.0:
        problems.append(f"mask_value {masking.get_config().get('mask_value')!r} (lstmlab: 0)")
    if problems:
        raise KerasError(f"unsupported Keras model: {'; '.join(dict.fromkeys(problems))}")
    return masking, stack, dense, cell


def read(model_or_path, sequence: str | None = None, vocab=None,
         framing: str | None = None, window: int | None = None) -> tuple[dict, dict]:
    """A Keras model (or a ``.keras`` / legacy ``.h5`` file of one) as lstmlab parameters
    and the fields of its ``ModelInfo``.

    Units, recurrent activation, masking and statefulness are read from the model; the
    vocabulary comes from ``sequence`` (its symbols in order of first appearance, as
    lstmlab and the tutorial build it) or ``vocab``. The input's shape (steps, features)
    decides framing, encoding and window: one feature per step is the scaled encoding,
    one per symbol one-hot; a single step of several symbols is the features framing
    (``framing`` chooses where the shape allows both, ``window`` where the steps are not
    fixed)."""
    if framing not in (None, *data.FRAMINGS):
        raise KerasError(f"framing {framing!r} is not allowed; allowed: "
                         f"{', '.join(data.FRAMINGS)}")
    from_file = isinstance(model_or_path, (str, Path))
    net = _load(Path(model_or_path)) if from_file else model_or_path
    masking, stack, dense, cell = _layers(net, from_file and
                                          _keras2_file(Path(model_or_path)))
    first = stack[0]  # every layer has the same settings but its size (_layers checks)
    if sequence is None and vocab is None:
        raise KerasError("give the vocabulary: the sequence the model was trained on "
                         "(--sequence) — Keras models do not store it")
    symbols = tuple(vocab) if vocab is not None else data.Vocab.from_sequence(sequence).symbols
    v = len(symbols)
    sizes = tuple(layer.get_config()["units"] for layer in stack)
    units = sizes[0] if len(set(sizes)) == 1 else sizes
    if dense.get_config()["units"] != v:
        raise KerasError(f"the model predicts {dense.get_config()['units']} symbols but the "
                         f"vocabulary has {v} ({data.quoted(''.join(symbols))})")
    kernel = first.get_weights()[0]  # (features, gates·units)
    n_features = kernel.shape[0]
    steps = net.inputs[0].shape[1] if getattr(net, "inputs", None) else None
    per_symbol, encoding = (v, "onehot") if n_features % v == 0 else (1, "scaled")
    if masking is not None and encoding == "scaled":
        raise KerasError(NO_SCALED_MASK)
    symbols_per_step = n_features // per_symbol
    if symbols_per_step > 1 and framing == "timesteps":
        raise KerasError(f"the model reads {symbols_per_step} symbols in one step: that is "
                         f"the features framing, not timesteps")
    if symbols_per_step == 1 and framing == "features" and steps not in (None, 1):
        raise KerasError(f"--framing features does not match the model: it reads {steps} "
                         f"steps of one symbol each (the timesteps framing); leave --framing "
                         f"out")
    if symbols_per_step > 1 or framing == "features":
        framing, win = "features", symbols_per_step
        if steps not in (None, 1):
            raise KerasError(f"unsupported Keras model: {steps} steps of {symbols_per_step} "
                             f"symbols each; lstmlab reads a window as steps or as features")
    else:
        framing, win = "timesteps", steps or window
    if window is not None and window != win:
        raise KerasError(f"window {window} does not match the model, which reads {win}")
    if not win:
        raise KerasError("the model's input has no fixed number of steps: give --window")
    batch = net.inputs[0].shape[0] if getattr(net, "inputs", None) else None
    if first.get_config().get("stateful") and batch not in (None, 1):
        raise KerasError(f"unsupported Keras model: a stateful {cell.keras_layer} with batch "
                         f"size {batch} "
                         f"carries {batch} parallel streams; an lstmlab model reads one "
                         f"stream (rebuild the model with batch size 1 and its weights)")
    info = dict(vocab=symbols, window=int(win), framing=framing, encoding=encoding,
                mask=masking is not None, units=units,
                activation=first.get_config().get("recurrent_activation", "sigmoid"),
                cell=cell.name, layers=len(stack),
                stateful=bool(first.get_config().get("stateful")),
                variable_length=masking is not None, experiment="keras",
                sequence=sequence or "")
    weights = [w for layer in stack + [dense] for w in layer.get_weights()]
    return model.from_keras_weights(weights, cell.name), info


def check_activation(activation: str) -> None:
    """KerasError unless Keras 3 has this recurrent activation (sigmoid)."""
    if activation != "sigmoid":
        raise KerasError(f"recurrent activation {activation!r} has no Keras 3 equivalent "
                         f"(Keras 3's hard_sigmoid is x/6 + 1/2, not Keras 2's 0.2x + 1/2)")


def recurrent_layers(keras, cell, sizes, last_sequences: bool = False,
                     stateful: bool = False) -> list:
    """The stack as Keras layers: ``cell``'s layer of each size, return_sequences=True
    below the last (and on the last with ``last_sequences``)."""
    return [getattr(keras.layers, cell.keras_layer)(
        u, stateful=stateful, return_sequences=k < len(sizes) - 1 or last_sequences,
        **cell.keras_config) for k, u in enumerate(sizes)]


def build(params, info):
    """A Keras model with these weights for a model described by ``info`` (a ModelInfo):
    [Masking(0) →] the cell's layer, ``layers`` times (return_sequences=True below the
    last) → Dense(softmax); a stateful model's layers are ``stateful=True`` with batch
    shape (1, steps, features)."""
    keras = _keras()
    i = info
    check_activation(i.activation)
    if i.mask and i.variable_length and i.encoding == "scaled":
        raise KerasError(NO_SCALED_MASK)
    shape = (1 if i.framing == "features" else i.window, i.n_features)
    inp = keras.Input(batch_shape=(1,) + shape) if i.stateful else keras.Input(shape)
    cell = CELLS[i.cell]
    layers = [inp] + ([keras.layers.Masking(0.0)] if i.mask and i.variable_length else []) \
        + recurrent_layers(keras, cell, i.sizes, stateful=i.stateful) \
        + [keras.layers.Dense(len(i.vocab), activation="softmax")]
    net = keras.Sequential(layers)
    net.set_weights(model.keras_weights(params))
    return net


def save(net, path) -> Path:
    """Save a Keras model as ``.keras`` (or legacy ``.h5``), written aside, then renamed."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise KerasError(f"{path}: choose a file name ending in {' or '.join(SUFFIXES)}")
    if not path.parent.is_dir():
        raise KerasError(f"{path.parent}: no such directory")
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    import logging
    logging.getLogger("absl").setLevel(logging.ERROR)  # Keras's "HDF5 is legacy" notice
    try:
        net.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
