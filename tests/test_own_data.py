
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import lstmlab


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "model"
    lstmlab.run("timestep-window", seeds=1, epochs=2).model(0).save(path)
    return path


@pytest.mark.parametrize("content, error", [
    (b"\xff\xfe\x00bad", "not UTF-8"),
    (b"", "is empty"),
    (b"aaaaaaa", "at least 2 different symbols"),
])
def test_bad_text_files(run_cli, tmp_path, content, error):
    f = tmp_path / "t.txt"
    f.write_bytes(content)
    code, out, err = run_cli("run", "one-char", "--text-file", str(f),
                             "--out", str(tmp_path / "run"), "-q")
    assert code == 2 and error in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # nothing written


def test_missing_text_file(run_cli, tmp_path):
    code, _, err = run_cli("run", "--text-file", str(tmp_path / "x.txt"))
    assert code == 2 and "x.txt" in err and "Traceback" not in err


@pytest.mark.slow
def test_text_file_with_repeats_reports_best_achievable(run_cli, tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("abacabad", encoding="utf-8")
    code, out, err = run_cli("run", "one-char", "--text-file", str(f),
                             "--epochs", "2", "--seeds", "1", "-q", "--out",
                             str(tmp_path / "run"))
    assert code == 0, err
    assert "Best achievable accuracy on these patterns: 71.43%" in out


@pytest.mark.slow
def test_large_vocabulary_defaults_to_onehot(run_cli, tmp_path):
    seq = "".join(chr(0x3b1 + i) for i in range(25)) + "".join(chr(0x430 + i) for i in range(10))
    code, out, err = run_cli("run", "one-char", "--sequence", seq,
                             "--epochs", "1", "--seeds", "1", "-q", "--out",
                             str(tmp_path / "run"))
    assert code == 0, err
    assert lstmlab.load(tmp_path / "run" / "one-char" / "0").info.encoding == "onehot"


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
small_int = st.one_of(st.integers(-3, 40), st.just(2**40))


@pytest.mark.slow
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["predict", "generate", "run"]), inputs=st.lists(text, max_size=3),
       number=small_int, start=text, option=st.sampled_from(
           ["--window", "--units", "--batch-size", "--epochs", "--length", "--seeds", "--seed",
            "--start"]))
def test_cli_fuzz_never_tracebacks(run_cli, tmp_path, model_dir, command, inputs,
                                   number, start, option):
    if command == "predict":
        args = ["predict", str(model_dir), *inputs, "--top", str(number)]
    elif command == "generate":
        args = ["generate", str(model_dir), "--start", start, "--length", str(number)]
    else:
        # a random sequence and one random option; training kept to 1 epoch, 1 seed
        args = ["run", "one-char", "--sequence", start, "--epochs", "1", "--seeds", "1",
                "-q", "--out", str(tmp_path / "fuzz-run")]
        if option == "--start":
            args += [option, "".join(inputs)]
        elif option not in ("--epochs", "--seeds"):
            args += [option, str(number)]
    code, out, err = run_cli(*args)
    assert code in (0, 2), (args, code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("lstmlab: error:")
