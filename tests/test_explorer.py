"""Model.trace against an independent float64 reference, and the explorer page as a file
(self-contained, escaped, small). The page in a real browser: test_browser.py."""

import re

import numpy as np
import pytest
from kinds import KINDS, make, text_for
from reference import hard_sigmoid, lstm_gates, sigmoid

import lstmlab
from lstmlab import data, explorer


def reference_trace(model, text):
    """Every prediction's gates and probabilities, from the equations in float64."""
    i, V = model.info, len(model.info.vocab)
    idx = model.vocab.encode(text)
    act = hard_sigmoid if i.activation == "hard_sigmoid" else sigmoid
    out, state = [], (None, None)
    for t in range(len(idx)):
        if i.variable_length and not i.stateful:
            win = data.pad_front([idx[:t + 1]], i.window)
        elif t + 1 >= i.window:
            win = idx[None, t + 1 - i.window:t + 1]
        else:
            continue
        x, mask = data.model_inputs(win, V, i.encoding, i.framing, i.mask)
        h, c = state if i.stateful else (None, None)
        gates, probs, state = lstm_gates(model.params, x[0], None if mask is None else mask[0],
                                         h, c, act)
        out.append((gates, probs))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in KINDS if KINDS[k].get("cell", "lstm") == "lstm"
                                  and KINDS[k].get("layers", 1) == 1])
def test_trace_matches_the_equations(kind):  # other cells and stacks: tests/test_cells.py
    m = make(kind, seed=3)
    text = text_for(m, 8, seed=4)
    t = m.trace(text)
    ref = reference_trace(m, text)
    assert len(ref) == len(t.positions) > 0
    n_steps = 1 if m.info.framing == "features" else m.info.window
    assert t.i.shape == (len(ref), n_steps, m.info.units)
    assert t.probs.shape == (len(ref), len(m.info.vocab))
    for n, (gates, probs) in enumerate(ref):
        for k in "ifgoch":
            np.testing.assert_allclose(getattr(t, k)[n], gates[k], atol=1e-5, rtol=0)
        np.testing.assert_allclose(t.probs[n], probs, atol=1e-6, rtol=0)
    # the probabilities after each position are what predict_proba says of that prefix
    for n, pos in enumerate(t.positions):
        p = m.predict_proba(text[:pos + 1])
        np.testing.assert_allclose([p[s] for s in m.info.vocab], t.probs[n], atol=1e-6)


def test_trace_carries_state_only_for_stateful_models():
    s = make("stateful", seed=5)
    t = s.trace("ABCK")
    alone = s.trace("K")
    assert t.since_reset.tolist() == [1, 2, 3, 4]
    # negative control: "K" after "ABC" is read from another state than "K" after a reset
    assert np.abs(t.probs[-1] - alone.probs[0]).max() > 1e-3
    w = make("timesteps", seed=5)
    a, b = w.trace("XYZABC"), w.trace("ABC")
    np.testing.assert_array_equal(a.probs[-1], b.probs[0])  # a window model forgets


def test_trace_of_masked_padding():
    m = make("variable-length", seed=2)
    t = m.trace("AB")
    assert t.mask[0].tolist() == [False] * 4 + [True]
    assert t.windows[1].tolist() == [-1, -1, -1, 0, 1]
    assert np.isnan(t.i[0, :4]).all() and not np.isnan(t.i[0, 4]).any()
    assert (t.c[0, :4] == 0).all()  # the state before the first real step is the zero state
    u = make("variable-unmasked", seed=2).trace("AB")
    assert u.mask.all() and not np.isnan(u.i).any()  # unmasked padding is read as zeros


def test_trace_errors_are_one_line():
    m = make("timesteps")
    with pytest.raises(lstmlab.DataError, match="window of 3"):
        m.trace("AB")
    with pytest.raises(lstmlab.DataError):
        m.trace("AB?")


def embedded(page: str) -> dict:
    import json
    block = re.search(r'<script type="application/json" id="lstmlab-data">(.*?)</script>',
                      page, re.S).group(1)
    return json.loads(block)


def test_page_is_self_contained_and_small():
    m = make("stateful", units=50)
    page = explorer.page(m)
    assert len(page.encode()) <= 300_000, len(page.encode())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    assert "<link" not in page and "import(" not in page
    d = embedded(page)
    w = np.frombuffer(__import__("base64").b64decode(d["models"][0]["layers"][0]["weights"]
                                                     ["recurrent_kernel"]), "<f4")
    np.testing.assert_array_equal(w.reshape(50, 200), m.params["lstm"]["recurrent_kernel"])


def test_page_escapes_user_symbols():
    m = make("unicode", sequence='</script><script>alert("x")&\'')
    page = explorer.page(m, text="</")
    assert page.count("<script") == 3 and page.count("</script>") == 3  # data, cell, page
    d = embedded(page)
    assert d["models"][0]["vocab"] == list(dict.fromkeys('</script><script>alert("x")&\''))
    assert d["initial"] == "</"


def test_compare_needs_the_same_vocabulary():
    with pytest.raises(lstmlab.ModelError, match="different vocabularies"):
        explorer.page(make("timesteps"), make("unicode"))
    with pytest.raises(lstmlab.DataError):
        explorer.page(make("timesteps"), text="a?")
    page = explorer.page(make("stateful"), make("timesteps"))
    assert [m["stateful"] for m in embedded(page)["models"]] == [True, False]


def test_notebook_display():
    m = make("onehot")
    shown = m._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"") and "<script" not in shown  # escaped
    assert "&lt;script" in shown
    assert make("onehot", units=1100)._repr_html_() is None  # 20 MB of weights: text repr
    e = lstmlab.explore(m, compare=make("timesteps"))
    assert len(embedded(e.html())["models"]) == 2


@pytest.mark.slow
def test_run_writes_explorers_and_explore_command(run_cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_cli("run", "stateful", "one-char", "--seeds", "1", "--epochs", "3",
                              "--no-settle", "--quiet", "--out", out)
    assert code == 0
    assert f"Explorer of the stateful model (type, reset, watch the gates): " \
           f"{out / 'explore-stateful.html'}" in stdout
    for name in ("stateful", "one-char"):
        page = (out / f"explore-{name}.html").read_text()
        d = embedded(page)["models"][0]
        assert d["title"] == f"{name} · replica 0"
        assert ["epochs", "3"] in d["settings"]  # the run's settings in the header
        assert f"href='explore-{name}.html'" in (out / "report.html").read_text()
        assert f"](explore-{name}.html)" in (out / "report.md").read_text()
    (out / "explore-one-char.html").unlink()
    assert run_cli("report", out)[0] == 0  # rebuilding the report writes them again
    assert (out / "explore-one-char.html").is_file()

    code, stdout, _ = run_cli("explore", out, "--experiment", "stateful", "--compare",
                              "one-char", "--text", "AB")
    path = out / "explore-stateful-vs-one-char.html"
    assert code == 0 and stdout.strip() == f"Wrote {path}"
    d = embedded(path.read_text())
    assert [m["title"] for m in d["models"]] == ["stateful · replica 0", "one-char · replica 0"]
    assert d["initial"] == "AB"
    model = lstmlab.load(out / "stateful" / "0")
    w = np.frombuffer(__import__("base64").b64decode(
        d["models"][0]["layers"][0]["weights"]["kernel"]), "<f4")
    np.testing.assert_array_equal(w, np.asarray(model.params["lstm"]["kernel"]).ravel())
    code, stdout, _ = run_cli("explore", out / "one-char" / "0", "--out", tmp_path / "e.html")
    assert code == 0 and (tmp_path / "e.html").is_file()
    # a typed page or a named file replaces nothing without --force; the run's own default
    # page is written again
    own = (out / "explore-stateful.html").read_bytes()
    code, _, err = run_cli("explore", out, "--experiment", "stateful", "--text", "KLM")
    assert code == 2 and "explore-stateful.html exists; add --force" in err
    assert (out / "explore-stateful.html").read_bytes() == own
    code, _, err = run_cli("explore", out / "one-char" / "0", "--out", tmp_path / "e.html")
    assert code == 2 and "exists; add --force" in err
    assert run_cli("explore", out, "--experiment", "stateful")[0] == 0
    assert run_cli("explore", out, "--experiment", "stateful", "--text", "KLM",
                   "--force")[0] == 0
    assert embedded((out / "explore-stateful.html").read_text())["initial"] == "KLM"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A run directory with a stateful and a one-char model (trained 2 epochs)."""
    import sys
    from lstmlab import cli
    out = tmp_path_factory.mktemp("explore") / "run"
    argv, sys.argv = sys.argv, ["lstmlab", "run", "stateful", "one-char", "--seeds", "1",
                                "--epochs", "2", "--no-settle", "--quiet", "--out", str(out)]
    try:
        cli.entry()
    except SystemExit as e:
        assert e.code in (0, None)
    finally:
        sys.argv = argv
    return out


@pytest.mark.parametrize("args, message", [
    ([], "is a run directory with 2 experiments; choose one with --experiment NAME "
         "(one-char, stateful)"),
    (["--experiment", "nope"], "has no experiment 'nope'; it has: one-char, stateful"),
    (["--experiment", "stateful", "--compare", "one-char/x"], "expected EXPERIMENT or "
                                                              "EXPERIMENT/REPLICA"),
    (["--experiment", "stateful", "--compare", "UNICODE"], "different vocabularies"),
    (["--experiment", "stateful", "--text", "AB?"], "'?'"),
    (["--experiment", "stateful", "--replica", "4"], "no such model directory"),
    (["--experiment", "stateful", "--out", "MISSING/e.html"], "does not exist"),
])
def test_explore_bad_input_is_one_line(run_cli, small_run, tmp_path, args, message):
    out = small_run
    make("unicode").save(tmp_path / "unicode")
    before = sorted(p.name for p in out.iterdir())
    args = [str(tmp_path / "unicode") if a == "UNICODE" else
            a.replace("MISSING", str(tmp_path / "missing")) for a in args]
    code, stdout, stderr = run_cli("explore", out, *args)
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == before  # nothing written
    assert not (tmp_path / "missing").exists()
    assert run_cli("explore", tmp_path / "missing")[0] == 2


def test_page_of_a_diverged_model_is_valid_json():
    import dataclasses
    m = make("timesteps")
    m.info = dataclasses.replace(m.info, accuracy=float("nan"))
    m.params["dense"]["bias"] = m.params["dense"]["bias"].at[0].set(np.nan)
    d = embedded(explorer.page(m))["models"][0]  # NaN is no JSON: the page would not parse
    assert d["accuracy"] is None and ["accuracy", "not recorded"] in d["settings"]
