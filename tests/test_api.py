"""The Python API checks its arguments as the CLI does: a wrong-typed value for any
parameter of a public function is one of lstmlab's errors, naming the value and what is
allowed — never a TypeError, AttributeError or IndexError from deep inside. Generated with
hypothesis; numpy numbers and collections are accepted where Python ones are."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import lstmlab
from lstmlab import ConfigError, DataError, KerasError, ModelError, findings

OURS = (ConfigError, DataError, ModelError, KerasError)
WRONG = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.binary(max_size=4),
                  st.lists(st.integers(-3, 3), max_size=3),
                  st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                  st.builds(object), st.complex_numbers(max_magnitude=2))
FAST = dict(seeds=2, epochs=1, units=2)
CHECK = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def trained():
    r = lstmlab.run("one-char", **FAST)
    return r, r.model(0)


@CHECK
@given(value=WRONG)
def test_run_refuses_a_wrong_experiment_or_setting(value):
    with pytest.raises(OURS):
        lstmlab.run(value, **FAST)
    for setting in ("units", "epochs", "lr", "seeds", "window", "sequence", "batch_size",
                    "shuffle", "framing"):
        if valid(setting, value):
            continue
        with pytest.raises(OURS):
            lstmlab.run("one-char", **{**FAST, setting: value})


def valid(setting, value) -> bool:
    """The generated values a setting does take (the rest must be refused)."""
    if setting == "shuffle":
        return isinstance(value, bool)
    if setting == "batch_size" and value is None:
        return True
    if setting == "units" and isinstance(value, list):  # one size per layer
        return per_layer(value)
    return setting == "lr" and isinstance(value, float) and np.isfinite(value) and value > 0


def per_layer(value) -> bool:
    """One size per layer: a non-empty list of sizes ≥ 1."""
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)


@CHECK
@given(value=st.one_of(WRONG, st.integers(-5, 5), st.text(max_size=3)))
def test_sweep_refuses_wrong_values_and_options(value, tmp_path_factory):
    out = tmp_path_factory.mktemp("s")
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1
            or per_layer(value)):
        with pytest.raises(OURS):
            lstmlab.sweep("one-char", **{**FAST, "units": [value, 4]}, out=out)
    if not isinstance(value, (bool, str)) and value is not None:
        with pytest.raises(OURS):
            lstmlab.sweep("one-char", units=[2, 4], seeds=2, epochs=1, ray=value, out=out)


@pytest.mark.slow
@CHECK
@given(value=WRONG)
def test_model_and_result_methods_refuse_wrong_arguments(trained, value, tmp_path_factory):
    result, model = trained
    for call in (lambda: model.predict(value), lambda: model.predict_proba(value),
                 lambda: model.trace(value), lambda: model.generate(value, 3),
                 lambda: model.generate("A", value), lambda: result.model(value),
                 lambda: lstmlab.load(value), lambda: lstmlab.explore(value),
                 lambda: model.save(value)):
        with pytest.raises(OURS):
            call()
    if value is not None:  # prior=None is the default
        with pytest.raises(OURS):
            lstmlab.run("one-char", prior=value, **FAST)


@pytest.mark.slow
def test_numpy_numbers_and_collections_are_taken_as_python_ones(trained, tmp_path):
    r = lstmlab.run("one-char", seeds=np.int64(2), epochs=np.int32(1), units=np.int64(2),
                    lr=np.float64(0.01), shuffle=np.bool_(False))
    assert r.config.units == 2 and type(r.config.units) is int and r.config.shuffle is False
    result, model = trained
    assert result.model(np.int64(1)).info.replica == 1
    assert len(model.generate("A", np.int64(3))) == 4
    s = lstmlab.sweep("one-char", units=np.array([2, 3]), lr={0.01, 0.001}, seeds=2,
                      epochs=1, out=tmp_path / "s")
    assert s.grid == {"units": [2, 3], "lr": [0.001, 0.01]}


def test_errors_name_the_value_and_what_is_allowed(trained):
    result, model = trained
    with pytest.raises(ModelError, match=r"replica 5 is not allowed; allowed: an integer "
                                         r"from 0 to 1 \(2 seeds\)"):
        result.model(5)
    with pytest.raises(ModelError, match="replica -1"):
        result.model(-1)   # was: the last replica, silently
    with pytest.raises(DataError, match=r"length '3' is not allowed"):
        model.generate("A", "3")
    with pytest.raises(ConfigError, match=r"experiment \['one-char', 'two-char'\] is not "
                                          r"allowed; allowed: a preset name"):
        lstmlab.run(["one-char", "two-char"])


def test_python_errors_name_the_python_form():
    with pytest.raises(ConfigError, match=r"a list of values, e\.g\. units=\[4, 8, 16\]"):
        lstmlab.sweep("one-char", units=4, seeds=2, epochs=1)


@pytest.mark.slow
def test_the_main_job_is_one_library_call(run_cli, tmp_path):
    job = lstmlab.reproduce(["one-char", "feature-window"], seeds=2, epochs=3, settle=False,
                            out=tmp_path / "lib")
    assert isinstance(job, lstmlab.Reproduction) and job.run_dir == tmp_path / "lib"
    assert [r.config.name for r in job.results] == ["one-char", "feature-window"]
    assert set(job.verdicts) == {c.id for c in findings.CLAIMS}
    for f in ("findings.json", "report.html", "results.json", "explore-one-char.html"):
        assert (job.run_dir / f).is_file(), f
    # the CLI's run gives the same numbers and the same findings
    code, _, err = run_cli("run", "one-char", "feature-window", "--seeds", "2", "--epochs",
                           "3", "--no-settle", "-q", "--out", tmp_path / "cli")
    assert code == 0, err
    assert (tmp_path / "cli" / "findings.json").read_text() == \
        (job.run_dir / "findings.json").read_text()
    cli_results = {r.config.name: r for r in lstmlab.reproduce(
        ["one-char", "feature-window"], seeds=2, epochs=3, settle=False,
        out=tmp_path / "cli").results}  # resumed: nothing trained again
    for r in job.results:
        assert cli_results[r.config.name].cached
        np.testing.assert_array_equal(cli_results[r.config.name].probs, r.probs)


@pytest.mark.parametrize("call, message", [
    (lambda: lstmlab.reproduce(5), "names 5 is not allowed"),
    (lambda: lstmlab.reproduce(["one-char", 3]), "names"),
    (lambda: lstmlab.reproduce("no-such"), "unknown experiment 'no-such'"),
    (lambda: lstmlab.reproduce("one-char", colour=3), "unknown setting 'colour'"),
    (lambda: lstmlab.reproduce("one-char", start="M"), "start does not apply to one-char"),
    (lambda: lstmlab.reproduce("one-char", epochs="5"), "epochs '5' is not allowed"),
    (lambda: lstmlab.reproduce("one-char", max_seeds=0), "max seeds 0 is not allowed"),
])
def test_the_main_job_checks_its_arguments(call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(lstmlab.ConfigError, match=message):
        call()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
