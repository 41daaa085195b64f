import hashlib
import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load as st_load, save as st_save

import lstmlab
from lstmlab import artifacts, data


@pytest.fixture(scope="module")
def trained():
    """One tiny trained result per kind of model: window, stateful, variable-length."""
    return {
        "window": lstmlab.run("timestep-window", seeds=2, epochs=5),
        "stateful": lstmlab.run("stateful", seeds=1, epochs=5),
        "variable": lstmlab.run("variable-length", seeds=1, epochs=2, samples=50),
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind, inputs", [
    ("window", ["ABC", "XYZAB", "KLM"]),
    ("stateful", ["A", "ABC", "K", "QRSTU"]),
    ("variable", ["A", "QR", "BCDEF", "ABCDEFGH"]),
])
def test_save_load_gives_bitwise_identical_predictions(trained, kind, inputs, tmp_path):
    model = trained[kind].model(0)
    model.save(tmp_path / "m")
    again = lstmlab.load(tmp_path / "m")
    assert again.info == model.info
    for text in inputs:
        a, b = model.predict_proba(text), again.predict_proba(text)
        assert list(a) == list(b) and list(a.values()) == list(b.values())
    start = inputs[0]
    assert again.generate(start, 8) == model.generate(start, 8)


def test_predict_and_best(trained):
    res = trained["window"]
    best = res.best()
    assert best.info.accuracy == res.accuracy.max()
    proba = best.predict_proba("ABC")
    assert set(proba) == set(data.ALPHABET) and abs(sum(proba.values()) - 1) < 1e-5
    assert best.predict("ABC") == next(iter(proba))
    assert list(proba.values()) == sorted(proba.values(), reverse=True)


def test_stateful_prediction_equals_the_evaluation_path(trained):
    """Reading a prefix of the sequence from a reset = Keras-style stateful evaluation."""
    res = trained["stateful"]
    model = res.model(0)
    for n in (1, 2, 7, 25):
        p = model.predict_proba(data.ALPHABET[:n])
        want = res.probs[0, n - 1]
        got = np.array([p[s] for s in data.ALPHABET])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # generation feeds back the argmax: it follows the evaluation as long as it is right
    gen = model.generate("A", 25)
    for i in range(1, 26):
        if gen[:i] != data.ALPHABET[:i]:
            break
        assert gen[i] == data.ALPHABET[int(res.probs[0, i - 1].argmax())]


def saved(trained, tmp_path):
    path = tmp_path / "m"
    trained["window"].model(0).save(path)
    return path


def rewrite_params(path, arrays):
    blob = st_save(arrays)
    (path / "model.safetensors").write_bytes(blob)
    meta = json.loads((path / "model.json").read_text())
    meta["params_sha256"] = hashlib.sha256(blob).hexdigest()
    (path / "model.json").write_text(json.dumps(meta))


def corrupt_truncate(path):
    blob = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(blob[:len(blob) // 2])


def corrupt_truncate_rehash(path):
    blob = (path / "model.safetensors").read_bytes()[:100]
    (path / "model.safetensors").write_bytes(blob)
    meta = json.loads((path / "model.json").read_text())
    meta["params_sha256"] = hashlib.sha256(blob).hexdigest()
    (path / "model.json").write_text(json.dumps(meta))


def corrupt_flip_byte(path):
    blob = bytearray((path / "model.safetensors").read_bytes())
    blob[-5] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(blob))


def corrupt_missing_key(path):
    arrays = st_load((path / "model.safetensors").read_bytes())
    del arrays["dense/bias"]
    rewrite_params(path, arrays)


def corrupt_wrong_shape(path):
    arrays = st_load((path / "model.safetensors").read_bytes())
    arrays["lstm/kernel"] = np.zeros((2, 5), np.float32)
    rewrite_params(path, arrays)


def corrupt_version(path):
    meta = json.loads((path / "model.json").read_text())
    meta["format_version"] = 99
    (path / "model.json").write_text(json.dumps(meta))


def corrupt_activation(path):
    meta = json.loads((path / "model.json").read_text())
    meta["activation"] = "relu"
    (path / "model.json").write_text(json.dumps(meta))


def corrupt_json(path):
    (path / "model.json").write_text("{not json")


def corrupt_remove_params(path):
    (path / "model.safetensors").unlink()


def corrupt_remove_dir(path):
    shutil.rmtree(path)


def corrupt_nan(path):
    arrays = st_load((path / "model.safetensors").read_bytes())
    arrays["lstm/recurrent_kernel"][0, 3] = np.nan
    rewrite_params(path, arrays)


def corrupt_inf(path):
    arrays = st_load((path / "model.safetensors").read_bytes())
    arrays["dense/bias"][1] = -np.inf
    rewrite_params(path, arrays)


def corrupt_urandom(path):
    (path / "model.safetensors").unlink()
    (path / "model.safetensors").symlink_to("/dev/urandom")


def corrupt_huge_params(path):
    with open(path / "model.safetensors", "r+b") as f:
        f.truncate(2**30)  # sparse: nothing written, and refused before reading


def set_meta(key, value):
    def corrupt(path):
        meta = json.loads((path / "model.json").read_text())
        meta[key] = value
        (path / "model.json").write_text(json.dumps(meta))
    return corrupt


@pytest.mark.parametrize("corrupt, message", [
    (corrupt_truncate, "sha256"),
    (corrupt_truncate_rehash, "malformed"),
    (corrupt_flip_byte, "sha256"),
    (corrupt_missing_key, "'dense/bias' is missing"),
    (corrupt_wrong_shape, "'lstm/kernel' has shape (2, 5)"),
    (corrupt_version, "format version 99"),
    (corrupt_json, "cannot read"),
    (corrupt_activation, "activation 'relu' is not allowed; allowed: sigmoid, hard_sigmoid"),
    (corrupt_remove_params, "model.safetensors is missing"),
    (corrupt_remove_dir, "no such model directory"),
    (corrupt_nan, "'lstm/recurrent_kernel' holds NaN or infinite values"),
    (corrupt_inf, "'dense/bias' holds NaN or infinite values"),
    (corrupt_urandom, "not a regular file"),
    (corrupt_huge_params, "the limit for a model.safetensors"),
    (set_meta("window", 1e11), "window 100000000000.0 is not allowed; allowed: an integer "
                               "from 1 to 100000"),
    (set_meta("window", 10**11), "window 100000000000 is not allowed; allowed: an integer "
                                 "from 1 to 100000"),
    (set_meta("units", 10**9), "units 1000000000 is not allowed; allowed: an integer from 1 "
                               "to 8192"),
    (set_meta("sequence", 5), "sequence 5 is not allowed; allowed: a string"),
])
def test_corrupt_model_is_a_one_line_error(trained, tmp_path, run_cli, corrupt, message):
    path = saved(trained, tmp_path)
    corrupt(path)
    with pytest.raises(artifacts.ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lstmlab.load(path)
    code, out, err = run_cli("predict", path, "ABC")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message.split("'")[0] in err
    assert "Traceback" not in err


def test_no_pickle_anywhere():
    import pathlib
    src = pathlib.Path(lstmlab.__file__).parent
    for f in src.glob("*.py"):
        text = f.read_text()
        assert "import pickle" not in text and "allow_pickle=True" not in text, f


@pytest.mark.parametrize("text, error", [
    ("", "empty"),
    ("AB", "window of 3"),
    ("AB?C", "'?'"),
])
def test_bad_prediction_inputs(trained, text, error):
    with pytest.raises(lstmlab.DataError, match=error):
        trained["window"].model(0).predict(text)


def test_bad_generation_length(trained):
    with pytest.raises(lstmlab.DataError, match="length 0"):
        trained["stateful"].model(0).generate("A", 0)


@pytest.mark.slow
def test_custom_unicode_sequence_reaches_100_percent():
    res = lstmlab.run("timestep-window", sequence="αβγδεζηθικλμνξοπ", window=2, seeds=1,
                      epochs=500, seed=7)
    assert res.accuracy[0] == 1.0
    assert res.model(0).predict("αβ") == "γ"
    assert data.best_achievable(res.dataset.patterns) == 1.0


def test_ambiguous_sequence_best_achievable():
    # after "a": b, c, b, d → at best 2 of 4; after "b": a, a → 2 of 2; after "c": a → 1
    s = "abacabad"
    v = data.Vocab.from_sequence(s)
    assert data.best_achievable(data.windows(v.encode(s), 1)) == pytest.approx(5 / 7)
    # window 2 removes some ambiguity: ab→a, ba→c, ac→a, ca→b, ab→a, ba→d → 5 of 6
    assert data.best_achievable(data.windows(v.encode(s), 2)) == pytest.approx(5 / 6)


def test_a_model_is_not_saved_over_a_file(trained, tmp_path):
    f = tmp_path / "hostname"
    f.write_text("mine\n")
    model = next(iter(trained.values())).model(0)
    with pytest.raises(lstmlab.ModelError, match="is a file: a model is saved into a directory"):
        model.save(f)
    assert f.read_text() == "mine\n"
