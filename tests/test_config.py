"""The settings table (config.SETTINGS): each setting declared once, and everything that
derives from it — the options of run and sweep, the checks of a value, the sweep axes, the
training spec, the README's table."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

import lstmlab
from lstmlab import cli, config, datasets, experiments, train
from lstmlab.kinds import windows
from lstmlab.config import SETTINGS, Config, problem


def test_the_readme_table_is_the_settings_table():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = re.search(r"<!-- settings table: begin -->\n(.*?)\n<!-- settings table: end -->",
                      readme, re.S).group(1)
    assert table == config.options_table(), "regenerate it: python -c 'from lstmlab " \
        "import config; print(config.options_table())'"
    # negative control: a changed help text would be caught
    assert table.replace("Training epochs", "Epochs") != config.options_table()


def test_every_setting_is_an_option_of_run_and_sweep_as_declared():
    run = {p.name: p for p in cli.run_cmd.params}
    sweep = {p.name: p for p in cli.sweep_cmd.params}
    for name, st in SETTINGS.items():
        if name == "sequence":  # --sequence and --text-file, read together
            continue
        assert (name in run) == st.option, name
        assert (name in sweep) == st.option, name
        if st.option:
            assert config.option(name) in run[name].opts, name
            if st.sweep:
                assert sweep[name].metavar == "V1,V2,…", name
            else:
                assert sweep[name].metavar != "V1,V2,…", name
    assert config.SWEEPABLE == tuple(k for k, st in SETTINGS.items() if st.sweep)
    assert set(config.NOT_TRAINING) == {"probe", "order_test", "generate", "start", "length"}


@pytest.mark.parametrize("name, good, bad", [
    ("units", [1, 8192], [0, 8193, 4.0, True, "4"]),
    ("samples", [0, 10], [-1, None]),
    ("batch_size", [None, 1, 10**6], [0, "all", 2.5]),
    ("lr", [1e-9, 5, 1], [0, -1, float("inf"), float("nan"), True, "0.1"]),
    ("reset_prob", [0, 0.0, 0.99], [1, 1.0, -0.1]),
    ("shuffle", [True, False], [1, 0, "yes", None]),
    ("framing", ["timesteps", "features"], ["diagonal", 1]),
    ("start", ["", "K"], [None, 3]),
    ("seed", [0, 2**31 - 1], [-1, 2**31]),
])
def test_each_value_is_checked_by_its_setting(name, good, bad):
    for v in good:
        assert problem(name, v) is None, (name, v)
    for v in bad:
        said = problem(name, v)
        assert said and said.startswith(f"{SETTINGS[name].label} {v!r} is not allowed; "
                                        f"allowed: "), (name, v)
        with pytest.raises(lstmlab.ConfigError, match="is not allowed"):
            datasets.validate(Config().replace(**{name: v}))


@pytest.mark.parametrize("name, text, value", [
    ("units", "16", 16), ("units", "64,32", (64, 32)), ("units", "64-32-8", (64, 32, 8)),
    ("batch_size", "all", None), ("batch_size", "5", 5),
    ("lr", "1e-3", 1e-3), ("shuffle", "No", False), ("mask", "on", True),
    ("start", "K", "K"),
])
def test_a_value_is_read_from_the_command_line_by_its_kind(name, text, value):
    assert config.read(name, text) == value
    if SETTINGS[name].kind != "str":
        with pytest.raises(ValueError):
            config.read(name, "maybe")


def test_one_size_per_layer_is_checked_read_and_named(run_cli, tmp_path):
    """--units 64,32: a tapering stack. Its layers follow from it; a mismatch, a size out of
    range or a word is one line; one size repeated is that size (one training key)."""
    for good in [(8, 4), [8, 4], (1, 8192)]:
        assert problem("units", good) is None
    for bad in [(0, 4), (8, 0.5), (), (8, True), (8, 8193)]:
        assert "is not allowed; allowed: an integer from 1 to 8192, or one per layer" in \
            problem("units", bad)
    c = config.configure(lstmlab.PRESETS["timestep-window"], {"units": (64, 32)})
    assert (c.units, c.layers, c.sizes) == ((64, 32), 2, (64, 32))
    assert "LSTM(64) → LSTM(32)" in c.describe() and "LSTM(64) → LSTM(32)" in c.listing()
    assert Config(units=[8, 4], layers=2).units == (8, 4)  # a record's JSON list
    assert Config(units=(8, 8), layers=2).sizes == Config(units=8, layers=2).sizes
    assert config.configure(lstmlab.PRESETS["char-rnn"], {"units": (64, 32, 16)}).layers == 3
    # a resumed run names a changed size list as it is typed
    from lstmlab import engine
    assert engine.settings_diff({"units": 32}, {"units": (32, 32)}) == ["units 32 → 32,32"]
    # the Python API as the command line (numpy numbers too): the layers follow
    api = experiments.resolve("variable-length", units=[np.int64(64), 32])
    assert (api.units, api.layers) == ((64, 32), 2)
    with pytest.raises(lstmlab.ConfigError, match=r"units 8,4 name 2 layers but layers is 3"):
        datasets.validate(Config(units=(8, 4), layers=3))
    datasets.validate(Config(units=(8, 4), layers=2))  # the positive control
    for args, said in [(["--units", "8,4", "--layers", "3"], "name 2 layers but layers is 3"),
                       (["--units", "8,0"], "units '8,0' is not allowed"),
                       (["--units", "8,x"], "units '8,x' is not allowed")]:
        code, out, err = run_cli("run", "timestep-window", *args, "--out", tmp_path / "r")
        assert code == 2 and len(err.strip().splitlines()) == 1 and said in err, err
    assert not (tmp_path / "r").exists()
    # a sweep: the comma separates points, a dash the sizes of one point
    from lstmlab import grid
    assert grid.parse_values("units", "4,8-4") == [4, (8, 4)]
    pts = grid.points(lstmlab.PRESETS["timestep-window"], {"units": [4, (8, 4)]})
    assert [p.name for p in pts] == ["timestep-window,units=4", "timestep-window,units=8-4"]
    assert [p.layers for p in pts] == [1, 2]


def test_the_training_spec_is_derived_from_the_settings():
    cfg = Config(units=7, epochs=3, lr=0.5, shuffle=False, activation="hard_sigmoid",
                 optimizer="adam-optax", batch_size=None)
    spec = windows.spec_of(cfg, n_samples=11, vocab_size=5)
    for f in dataclasses.fields(train.TrainSpec):
        if f.name in SETTINGS and f.name != "batch_size":
            assert getattr(spec, f.name) == getattr(cfg, f.name), f.name
    assert spec.batch_size == 11 and spec.vocab_size == 5


def test_a_model_file_takes_its_settings_from_the_experiment():
    res = lstmlab.run("variable-length", seeds=1, epochs=1, units=4, samples=20)
    info = res.model(0).info
    for f in dataclasses.fields(info):
        if f.name in SETTINGS and f.name != "sequence":
            assert getattr(info, f.name) == getattr(res.config, f.name), f.name
    assert info.variable_length and info.experiment == "variable-length"


def test_an_annotation_the_table_cannot_read_is_named():
    @dataclasses.dataclass(frozen=True)
    class Odd:
        sizes: tuple[int, ...] = dataclasses.field(
            default=(1,), metadata={"setting": config.Setting("sizes")})
    with pytest.raises(TypeError, match=r"Odd\.sizes: annotation '?tuple\[int, \.\.\.\]'? "
                                        r"is not one the settings table reads; allowed: int"):
        config.table(Odd)
    assert set(config.table(Config)) == set(SETTINGS)  # the control: Config reads


@pytest.mark.slow
def test_a_tapering_stateful_run_is_recorded_reported_and_loaded_back(run_cli, tmp_path):
    """--units 8,4 from the command line: trained as two layers of 8 and 4 units, the
    record (its state heatmap's array: the narrower layer padded with NaN) and the models
    read back the same, the report names the stack."""
    from lstmlab import records
    code, out, err = run_cli("run", "stateful", "--units", "8,4", "--seeds", "2", "--epochs",
                             "3", "--out", tmp_path / "r")
    assert code == 0, err
    assert "LSTM(8) → LSTM(4)" in out
    (res,) = records.load_run(tmp_path / "r")[0]
    assert (res.config.units, res.config.layers) == ((8, 4), 2)
    assert res.model(1).info.sizes == (8, 4)
    assert res.states.shape[0] == 4 and res.states.shape[2] == 8  # h, c, h2, c2; 8 wide
    assert np.isnan(res.states[2:, :, 4:]).all() and np.isfinite(res.states[2:, :, :4]).all()
    assert np.isfinite(res.states[:2]).all()
    code, _, err = run_cli("report", tmp_path / "r")
    assert code == 0, err
    assert "LSTM(8) → LSTM(4)" in (tmp_path / "r" / "report.md").read_text()
