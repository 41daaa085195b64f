"""The settings table (config.SETTINGS): each setting declared once, and everything that
derives from it — the options of run and sweep, the checks of a value, the sweep axes, the
training spec, the README's table."""

import dataclasses
import re
from pathlib import Path

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
    ("units", "16", 16), ("batch_size", "all", None), ("batch_size", "5", 5),
    ("lr", "1e-3", 1e-3), ("shuffle", "No", False), ("mask", "on", True),
    ("start", "K", "K"),
])
def test_a_value_is_read_from_the_command_line_by_its_kind(name, text, value):
    assert config.read(name, text) == value
    if SETTINGS[name].kind != "str":
        with pytest.raises(ValueError):
            config.read(name, "maybe")


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
