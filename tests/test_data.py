import numpy as np
import pytest

import lstmlab
from lstmlab import data

AZ = data.ALPHABET


def vocab_seq():
    v = data.Vocab.from_sequence(AZ)
    return v, v.encode(AZ)


def test_two_char_windows_are_the_notebooks_24_pairs():
    v, s = vocab_seq()
    p = data.windows(s, 2)
    pairs = [f"{''.join(v.decode(x))} -> {v.symbols[y]}" for x, y in zip(p.x, p.y)]
    assert len(pairs) == 24
    assert pairs[0] == "AB -> C" and pairs[1] == "BC -> D" and pairs[-1] == "XY -> Z"
    assert pairs == [f"{AZ[i]}{AZ[i + 1]} -> {AZ[i + 2]}" for i in range(24)]


def test_three_char_windows():
    v, s = vocab_seq()
    p = data.windows(s, 3)
    assert p.x.shape == (23, 3)
    np.testing.assert_array_equal(p.x[0], [0, 1, 2])
    assert p.y[0] == 3 and p.y[-1] == 25


@pytest.mark.parametrize("n", [0, 26, 27, -1])
def test_impossible_window(n):
    _, s = vocab_seq()
    with pytest.raises(lstmlab.DataError, match="window"):
        data.windows(s, n)


def test_framings_and_encodings_shapes_and_values():
    _, s = vocab_seq()
    p = data.windows(s, 3)
    ts = data.encode(p.x, 26, "scaled", "timesteps")
    ft = data.encode(p.x, 26, "scaled", "features")
    assert ts.shape == (23, 3, 1) and ft.shape == (23, 1, 3)
    np.testing.assert_allclose(ts[1, :, 0], np.array([1, 2, 3]) / 26, rtol=1e-7)
    np.testing.assert_allclose(ft[1, 0], np.array([1, 2, 3]) / 26, rtol=1e-7)
    oh = data.encode(p.x, 26, "onehot", "timesteps")
    ohf = data.encode(p.x, 26, "onehot", "features")
    assert oh.shape == (23, 3, 26) and ohf.shape == (23, 1, 78)
    assert oh[5, 2].argmax() == 7 and oh[5].sum() == 3
    # features framing concatenates the three one-hot vectors in order
    np.testing.assert_array_equal(ohf[5, 0], oh[5].reshape(-1))


def test_padding_encodes_as_zero():
    x = data.pad_front([np.array([3, 4]), np.array([1, 2, 3, 4, 5, 6])], 5)
    np.testing.assert_array_equal(x, [[-1, -1, -1, 3, 4], [2, 3, 4, 5, 6]])
    sc = data.encode(x, 26, "scaled", "timesteps")
    oh = data.encode(x, 26, "onehot", "timesteps")
    assert np.all(sc[0, :3] == 0) and np.all(oh[0, :3] == 0) and oh[0, 3, 3] == 1
    np.testing.assert_array_equal(data.step_mask(x, "timesteps")[0], [0, 0, 0, 1, 1])


def test_unknown_symbol_is_named():
    v, _ = vocab_seq()
    with pytest.raises(lstmlab.DataError, match="'a'.*'é'|'a', 'é'"):
        v.encode("ABaé")


def test_stream_layout_order():
    # batch k holds the k-th sample of each of the b contiguous streams
    np.testing.assert_array_equal(data.stream_layout(6, 2), [[0, 3], [1, 4], [2, 5]])
    lay = data.stream_layout(25, 5)
    assert lay.shape == (5, 5)
    np.testing.assert_array_equal(lay[:, 1], [5, 6, 7, 8, 9])   # stream 1 is samples 5..9
    np.testing.assert_array_equal(lay[1], [1, 6, 11, 16, 21])  # batch 1 continues batch 0
    np.testing.assert_array_equal(data.stream_layout(4, 1), [[0], [1], [2], [3]])


def test_stream_layout_error_names_both_numbers():
    with pytest.raises(lstmlab.DataError, match=r"25 samples.*batches of 4"):
        data.stream_layout(25, 4)


def test_variable_length_generator_is_the_tutorials():
    v, s = vocab_seq()
    p = data.random_subsequences(s, 1000, 5, np.random.RandomState(7))
    # the tutorial's own loop, with the global numpy generator
    np.random.seed(7)
    for i in range(1000):
        start = np.random.randint(len(AZ) - 2)
        end = np.random.randint(start, min(start + 5, len(AZ) - 1))
        assert "".join(v.decode(p.x[i])) == AZ[start:end + 1]
        assert p.y[i] == end + 1
    lengths = (p.x != data.PAD).sum(1)
    assert lengths.min() == 1 and lengths.max() == 5
    assert set(np.unique(lengths)) == {1, 2, 3, 4, 5}
    assert p.y.min() >= 1 and p.y.max() <= 25
    # every input is a run of consecutive letters, padded at the front only
    for x, y in zip(p.x, p.y):
        real = x[x != data.PAD]
        assert np.all(x[:5 - len(real)] == data.PAD)
        np.testing.assert_array_equal(np.diff(np.append(real, y)), 1)


def test_one_display_rule_for_invisible_symbols():
    from lstmlab.data import quoted, show
    assert show("a\x00b") == "a\\x00b"               # escaped once
    assert quoted("\x00") == "'\\x00'"                # not '\\\\x00' (repr of the escape)
    assert show("e\u0301a") == "e\u25cc\u0301a"        # a combining mark on a dotted circle
    assert show(" \n\t") == "·⏎⇥" and show("\u200d") == "\\u200d"
    assert show("ABC") == "ABC" and show("👨🏽") == "👨🏽"   # printable ones as they are


@pytest.mark.slow
def test_listings_and_predictions_show_symbols_once(run_cli, tmp_path):
    seq = "a\x00b\u200dc\u0301d" * 3
    code, text, err = run_cli("run", "one-char", "--sequence", seq, "--seeds", "2",
                              "--epochs", "2", "--no-settle", "--out", tmp_path / "r")
    assert code == 0, err
    assert "['\\x00'] -> " in text and "\\\\x00" not in text and "'\\u200d'" in text
    code, text, err = run_cli("predict", tmp_path / "r", "--experiment", "one-char", "a")
    assert code == 0 and "\\\\x" not in text and text.startswith("a -> ")
