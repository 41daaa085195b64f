"""lstmlab sweep: points equal to run, impossible points named first, resume, tidy CSV,
sentences from the numbers, Ray (a real local cluster), interrupts, models on request."""

import dataclasses
import json
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import lstmlab
from lstmlab import cluster, engine, grid, programs, stats, sweeps, terminal
from lstmlab.config import PRESETS
from lstmlab.kinds import window_plots
from lstmlab.kinds.window_result import Result

FAST = ["--epochs", "4", "--seeds", "2", "-q"]


@pytest.mark.slow
def test_a_point_is_bit_identical_to_run(tmp_path):
    # epochs differ across the grid, so the sweep runs chunks of a common size: that and
    # the learning rate passed as an argument must not change a number
    s = lstmlab.sweep("timestep-window", units=[2, 4], epochs=[6, 10], lr=3e-3, seeds=3,
                      out=tmp_path / "s")
    alone = lstmlab.run("timestep-window", units=4, epochs=10, lr=3e-3, seeds=3)
    point = {r.config.name: r for r in s.results}["timestep-window,units=4,epochs=10"]
    np.testing.assert_array_equal(point.history, alone.history)
    np.testing.assert_array_equal(point.probs, alone.probs)
    other = {r.config.name: r for r in s.results}["timestep-window,units=2,epochs=10"]
    assert not np.array_equal(other.history, alone.history)  # negative control
    # the same numbers in sweep.csv and in the DataFrames
    csv = pd.read_csv(s.paths["csv"])
    assert len(csv) == 4 * 3 and {"units", "epochs", "lr", "accuracy", "replica"} <= set(csv)
    rows = csv[(csv.units == 4) & (csv.epochs == 10)].sort_values("replica")
    np.testing.assert_array_equal(rows.accuracy.to_numpy(), alone.accuracy)
    t = s.table.set_index("point")
    assert t.loc[point.config.name, "accuracy_mean"] == pytest.approx(alone.accuracy.mean())
    assert list(s.data.columns) == list(csv.columns)


def test_the_cli_sweep_matches_lstmlab_run(run_cli, tmp_path):
    code, text, err = run_cli("sweep", "one-char", "--lr", "0.001,0.01", "--out",
                              tmp_path / "s", *FAST)
    assert code == 0, err
    assert "lr" in text and "seeds at 100%" in text and "Sweep directory" in text
    code, _, err = run_cli("run", "one-char", "--lr", "0.01", "--out", tmp_path / "r", *FAST)
    assert code == 0, err
    run = json.loads((tmp_path / "r" / "results.json").read_text())["one-char"]["seeds"]
    csv = pd.read_csv(tmp_path / "s" / "sweep.csv")
    got = csv[csv.lr == 0.01].sort_values("replica")
    assert list(got.accuracy) == [s["accuracy"] for s in run]
    assert list(got.loss) == pytest.approx([s["loss"] for s in run], rel=1e-6)


@pytest.mark.parametrize("args, named, not_named", [
    (["timestep-window", "--window", "2,30,40"], ["window=30", "window=40"], ["window=2:"]),
    (["stateful", "--batch-size", "1,4,5"], ["batch_size=4"], ["batch_size=5:"]),
    (["timestep-window", "--units", "4,0"], ["units=0"], ["units=4:"]),
])
def test_impossible_points_are_named_before_anything_trains(run_cli, tmp_path, args, named,
                                                             not_named):
    out = tmp_path / "s"
    code, _, err = run_cli("sweep", *args, "--out", out, *FAST)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for n in named:
        assert n in err
    for n in not_named:
        assert n not in err
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["timestep-window", "--units", "4,x"], "units 'x' is not allowed"),
    (["timestep-window", "--units", "4"], "nothing to sweep"),
    (["timestep-window", "--shuffle", "yes,maybe"], "shuffle 'maybe'"),
    (["nope", "--units", "4,8"], "unknown experiment 'nope'"),
    (["timestep-window", "--mask", "yes,no"], "--mask does not apply"),
    (["timestep-window", "--units", "4,8", "--workers", "0"], "workers 0"),
])
def test_bad_sweep_options_are_one_line(run_cli, tmp_path, args, message):
    code, _, err = run_cli("sweep", *args, "--out", tmp_path / "s", *FAST)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_resume_trains_only_new_points_and_files_are_written_once(run_cli, tmp_path,
                                                                  monkeypatch):
    out = tmp_path / "s"
    assert run_cli("sweep", "timestep-window", "--units", "2,4", "--out", out, *FAST)[0] == 0
    trained, written = [], []
    real_run, real_write = engine.run_experiment, sweeps.write_files
    monkeypatch.setattr(engine, "run_experiment",
                        lambda cfg, **kw: trained.append(cfg.name) or real_run(cfg, **kw))
    monkeypatch.setattr(sweeps, "write_files",
                        lambda *a: written.append(1) or real_write(*a))
    code, text, err = run_cli("sweep", "timestep-window", "--units", "2,4,8,16", "--out", out,
                              *FAST)
    assert code == 0, err
    assert trained == ["timestep-window,units=8", "timestep-window,units=16"]
    assert written == [1]  # sweep.csv and the report once, not once per point
    assert "2 finished earlier" in text
    assert sorted(pd.read_csv(out / "sweep.csv").units.unique()) == [2, 4, 8, 16]
    assert json.loads((out / "sweep.json").read_text())["grid"] == {"units": [2, 4, 8, 16]}
    # other fixed settings: the finished points would be replaced, which needs --force
    code, _, err = run_cli("sweep", "timestep-window", "--units", "2,4", "--out", out,
                           "--epochs", "5", "--seeds", "2", "-q")
    assert code == 2 and "--force" in err and "epochs 4 → 5" in err


@pytest.mark.slow
def test_an_interrupted_sweep_keeps_finished_points(run_cli, tmp_path, monkeypatch):
    out = tmp_path / "s"
    real_run = engine.run_experiment

    def interrupt_third(cfg, on_progress=None, **kw):
        if cfg.units == 8:
            def boom(done, hist):
                raise KeyboardInterrupt
            return real_run(cfg, on_progress=boom, **kw)
        return real_run(cfg, on_progress=on_progress, **kw)

    monkeypatch.setattr(engine, "run_experiment", interrupt_third)
    code, _, err = run_cli("sweep", "timestep-window", "--units", "2,4,8,16", "--out", out,
                           *FAST)
    assert code == 130 and "2 finished point(s) kept" in err and "resume with:" in err
    assert sorted(pd.read_csv(out / "sweep.csv").units.unique()) == [2, 4]
    assert [p.name for p in out.rglob(".*")] == [".lstmlab"]
    monkeypatch.setattr(engine, "run_experiment", real_run)
    trained = []
    monkeypatch.setattr(engine, "run_experiment",
                        lambda cfg, **kw: trained.append(cfg.units) or real_run(cfg, **kw))
    assert run_cli("sweep", "timestep-window", "--units", "2,4,8,16", "--out", out,
                   *FAST)[0] == 0
    assert trained == [8, 16]


@pytest.mark.slow
def test_models_are_saved_only_when_asked(run_cli, tmp_path):
    out = tmp_path / "s"
    assert run_cli("sweep", "one-char", "--units", "2,4", "--out", out, *FAST)[0] == 0
    assert not (out / "one-char,units=2" / "0").exists()
    code, _, err = run_cli("predict", out, "--experiment", "one-char,units=2", "A")
    assert code == 2 and "--save-models" in err
    code, text, _ = run_cli("models", out)
    assert code == 0 and "not saved" in text
    # the record without models still loads (the report rebuilds from it)
    assert run_cli("report", out)[0] == 0
    assert (out / "report.html").is_file() and "sweep" in (out / "report.html").read_text()

    out2 = tmp_path / "s2"
    assert run_cli("sweep", "one-char", "--units", "2,4", "--out", out2, "--save-models",
                   *FAST)[0] == 0
    code, text, err = run_cli("predict", out2, "--experiment", "one-char,units=4",
                              "--replica", "1", "A")
    assert code == 0 and "A -> " in text, err


@pytest.mark.slow
def test_a_two_setting_report_has_heatmaps_and_escapes_user_text(run_cli, tmp_path):
    out = tmp_path / "s"
    code, _, err = run_cli("sweep", "timestep-window", "--units", "2,4", "--framing",
                           "timesteps,features", "--sequence", "<b>&x</b>yz", "--window",
                           "2", "--out", out, *FAST)
    assert code == 0, err
    html = (out / "report.html").read_text()
    assert "<b>&x" not in html and "&lt;b&gt;&amp;x" in html
    assert html.count("<img") == 1 + 2  # one pair of heatmaps, curves per setting
    assert (out / "plots" / "sweep-units-framing.png").is_file()


@pytest.mark.slow
def test_an_lr_sweep_compiles_one_training_program(tmp_path):
    before = set(programs._PROGRAMS)
    # units 7: a shape no other test compiles, so that the count does not depend on order
    lstmlab.sweep("one-char", lr=[1e-3, 3e-3, 1e-2], epochs=5, seeds=2, units=7,
                  out=tmp_path / "a")
    assert len(set(programs._PROGRAMS) - before) == 2  # one init program, one chunk program
    before = set(programs._PROGRAMS)
    lstmlab.sweep("one-char", units=[9, 11], epochs=5, seeds=2, out=tmp_path / "b")
    assert len(set(programs._PROGRAMS) - before) == 4  # positive control: shapes differ


# -- what the numbers say -------------------------------------------------------------


def fake(cfg, correct_per_seed, n=10):
    """A Result whose seeds get ``correct_per_seed[i]`` of n patterns right."""
    seeds = len(correct_per_seed)
    probs = np.zeros((seeds, n, 2), np.float32)
    for i, k in enumerate(correct_per_seed):
        probs[i, :k, 0] = 1  # label 0 predicted for the first k patterns
        probs[i, k:, 1] = 1
    ds = SimpleNamespace(patterns=SimpleNamespace(y=np.zeros(n, int)))
    return Result(cfg.replace(seeds=seeds), ds, None, np.zeros((seeds, 3, 2)), probs, 0.0,
                  0.0, finite=np.ones(seeds, bool))


def test_sentences_name_the_values_that_reach_the_threshold_from_the_top_down():
    base = PRESETS["timestep-window"]
    g = {"units": [8, 1, 2, 4]}
    ten = 10
    results = [fake(base.replace(name=f"u{u}", units=u), [ten] * k + [5] * (40 - k))
               for u, k in ((1, 0), (2, 20), (4, 40), (8, 40))]
    (line,) = grid.sentences(results, g)
    assert line.startswith("units: ≥ 90% of seeds reach 100% at every value from 4 up")
    lower = stats.share_interval(40, 40, 0.9)[0]   # one-sided 95%
    assert f"40/40, lower bound {lower:.2f}" in line and "from the largest value down" in line
    # negative controls: 20/20 cannot show ≥ 90% at 95%; a failing top value stops the test
    (line,) = grid.sentences([fake(base.replace(name="a", units=8), [ten] * 20)],
                             {"units": [8]})
    assert "no value is shown" in line and "it takes ≥ 29 seeds" in line
    (line,) = grid.sentences(results[:2], g)
    assert "no value is shown" in line


def test_sentences_name_the_best_word_setting_seed_by_seed():
    base = PRESETS["timestep-window"]
    g = {"framing": ["features", "timesteps"]}
    results = [fake(base.replace(name="f", framing="features"), [8, 7, 9] * 4),
               fake(base.replace(name="t", framing="timesteps"), [10, 10, 9] * 4)]
    (line,) = grid.sentences(results, g)
    assert line.startswith("framing: timesteps has a higher accuracy than every other value "
                           "in most seeds")
    assert "its mean 96.7%" in line and "Holm" in line
    assert "timesteps higher than features in 8 of 8 seeds (4 tied)" in line
    assert "mean difference +16.7 points" in line
    # negative control: the same numbers for both values — no value stands out
    results[0] = fake(base.replace(name="f", framing="features"), [10, 10, 9] * 4)
    (line,) = grid.sentences(results, g)
    assert "no value is shown to have a higher accuracy" in line


def test_point_names_are_directory_safe_and_distinct():
    base = PRESETS["stateful"]
    names = [c.name for c in grid.points(base, {"start": ["K", "/", ".."],
                                                 "lr": [1e-3, 0.001000001]})]
    assert len(set(names)) == 6
    assert all("/" not in n and n not in (".", "..") for n in names)
    assert grid.parse_values("start", ",") == [","]
    assert grid.parse_values("batch_size", "1,all,1") == [1, None]


# -- Ray ------------------------------------------------------------------------------


@pytest.mark.ray
def test_ray_missing_is_a_one_line_error(run_cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    code, _, err = run_cli("sweep", "one-char", "--units", "2,4", "--ray", "--out",
                           tmp_path / "s", *FAST)
    assert code == 2 and 'pip install "lstmlab[ray]"' in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.ray
@pytest.mark.slow
def test_ray_matches_local_and_retries_a_failed_point_once(tmp_path):
    ray = pytest.importorskip("ray")
    local = lstmlab.sweep("one-char", units=[2, 3], epochs=[3, 4], seeds=2, workers=2,
                          out=tmp_path / "local")
    on_ray = lstmlab.sweep("one-char", units=[2, 3], epochs=[3, 4], seeds=2, ray="",
                           out=tmp_path / "ray")
    a, b = pd.read_csv(local.paths["csv"]), pd.read_csv(on_ray.paths["csv"])
    metrics = ["point", "replica", "accuracy", "loss", "final_train_loss", "at_100"]
    pd.testing.assert_frame_equal(a[metrics], b[metrics])

    # a task that fails is retried once; one that fails twice is named, others are kept
    flags = str(tmp_path)

    def flaky(cfg, workers, chunk, first=0):  # a local function: Ray ships it by value
        from pathlib import Path
        flag = Path(flags) / f"tried-{cfg.units}"  # "tried once", across worker processes
        if cfg.units == 8 or (cfg.units == 4 and not flag.exists()):
            flag.touch()
            raise RuntimeError(f"worker lost at units {cfg.units}")
        return cluster.train_point(cfg, workers, chunk, first)

    base = PRESETS["one-char"].replace(epochs=3, seeds=2)
    cfgs = grid.points(base, {"units": [2, 4, 8]})
    datasets = dict(zip((c.name for c in cfgs), engine.prepare_all(cfgs)))
    finished, failed = [], {}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        cluster.train(cfgs, datasets, "", finished.append, failed, lambda: None, None,
                      fn=flaky)
    finally:
        ray.shutdown()
    assert sorted(r.config.units for r in finished) == [2, 4]
    assert list(failed) == ["one-char,units=8"] and "worker lost at units 8" in failed[
        "one-char,units=8"]
    assert (tmp_path / "tried-4").exists()  # it failed once, then succeeded


def test_the_sweep_progress_bar_counts_points_and_seed_updates(monkeypatch):
    import io

    from rich.console import Console

    from lstmlab import console
    buf = io.StringIO()
    monkeypatch.setattr(terminal, "err", Console(file=buf, force_terminal=True, width=120))
    base = PRESETS["one-char"].replace(epochs=10, seeds=2)
    cfgs = grid.points(base, {"units": [2, 4]})
    datasets = dict(zip((c.name for c in cfgs), engine.prepare_all(cfgs)))
    view = console.SweepView(quiet=False, verbose=False)
    view.begin(cfgs, cfgs, datasets)
    assert view.total == 2 * 2 * 10 * 25  # points × seeds × epochs × updates per epoch
    with view.training(cfgs[0], datasets[cfgs[0].name]) as progress:
        progress(5, None)
    assert view.done == 2 * 5 * 25
    view.finished(fake(cfgs[0], [25, 25], n=25))  # the rest of the point's updates
    assert view.done == 2 * 10 * 25 and view.finished_points == 1
    view.finished(fake(cfgs[1], [25, 25], n=25))  # a Ray point: all at once
    assert view.done == view.total and view.finished_points == 2
    view.bar.refresh()
    view.close()
    assert "points 2/2" in buf.getvalue() and "seed·updates/s" in buf.getvalue()
    monkeypatch.setattr(terminal, "err", Console(file=io.StringIO(), force_terminal=False))
    piped = console.SweepView(False, False)
    piped.begin(cfgs, cfgs, datasets)
    assert piped.bar is None  # piped output stays clean


@pytest.mark.slow
def test_a_sweep_whose_points_reach_100_percent_nowhere_plots_its_share(run_cli, tmp_path):
    # 12 seeds at 0/12: the share's Wilson interval starts at exactly 0 (it missed by 2e-17,
    # and the error bar's negative length stopped the report with a traceback)
    out = tmp_path / "s"
    code, text, err = run_cli("sweep", "timestep-window", "--units", "1,2", "--seeds", "12",
                              "--epochs", "2", "-q", "--out", out)
    assert code == 0, err
    assert (out / "plots").is_dir() and "0/12" in (out / "report.md").read_text()


@pytest.mark.parametrize("option,values,shown", [("--units", "4,4", "(4) 2 times"),
                                                 ("--lr", "0.001,1e-3", "(0.001) 2 times")])
def test_a_list_of_one_repeated_value_is_named(run_cli, tmp_path, option, values, shown):
    code, _, err = run_cli("sweep", "one-char", option, values, "--out", tmp_path / "s", *FAST)
    assert code == 2 and shown in err and "nothing to sweep" not in err
    assert not (tmp_path / "s").exists()
    # positive control: a repeat beside another value is dropped, the sweep goes on
    assert grid.parse_values("units", "4,8,4") == [4, 8]


@pytest.mark.ray
@pytest.mark.parametrize("address, message", [
    ("127.0.0.1:1", "cannot reach the Ray cluster at 127.0.0.1:1"),
    ("ray://127.0.0.1:1", "cannot reach the Ray cluster at ray://127.0.0.1:1"),
    ("bogus", "--ray 'bogus' is not allowed"),
])
def test_an_unreachable_ray_cluster_is_a_one_line_error_at_once(run_cli, tmp_path, address,
                                                                 message):
    """Ray's own connection loop never ends on such an address (34 s to stop by SIGTERM)."""
    import time
    pytest.importorskip("ray")
    start = time.monotonic()
    code, _, err = run_cli("sweep", "one-char", "--units", "2,4", "--ray", address,
                           "--out", tmp_path / "s", *FAST)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert time.monotonic() - start < 20
    with pytest.raises(lstmlab.ConfigError, match="cannot reach|not allowed"):
        lstmlab.sweep("one-char", units=[2, 4], seeds=2, epochs=2, ray=address,
                      out=tmp_path / "p")


def test_a_point_is_named_for_what_it_is_not_by_its_presets_note():
    cfgs = grid.points(PRESETS["variable-length"], {"samples": [0, 10]})
    assert [c.note for c in cfgs] == ["variable-length with samples 0",
                                      "variable-length with samples 10"]
    assert all("1000 random subsequences" not in c.note for c in cfgs)


@pytest.mark.slow
def test_a_large_sweep_estimates_its_time_from_its_first_point(run_cli, tmp_path,
                                                                monkeypatch):
    from lstmlab import console
    monkeypatch.setattr(console, "LARGE_SWEEP", 100)
    code, text, err = run_cli("sweep", "one-char", "--units", "2,3", "--out", tmp_path / "s",
                              *FAST)
    assert code == 0, err
    assert "A large sweep: its time is estimated from the rate of its first point" in text
    assert "seed·updates/s on the first point: the other 200 take about" in text
    assert console._duration(30) == "30 s" and console._duration(7200) == "2.0 h"
    monkeypatch.setattr(console, "LARGE_SWEEP", 10**12)   # negative control: a small sweep
    code, text, err = run_cli("sweep", "one-char", "--units", "2,4", "--out", tmp_path / "t",
                              *FAST)
    assert "A large sweep" not in text and "Measured" not in text


@pytest.mark.slow
def test_points_that_differ_only_in_evaluation_share_their_models(run_cli, tmp_path,
                                                                   monkeypatch):
    trained = []
    real = engine.run_experiment
    monkeypatch.setattr(engine, "run_experiment",
                        lambda cfg, **kw: trained.append(cfg.name) or real(cfg, **kw))
    out = tmp_path / "s"
    code, text, err = run_cli("sweep", "stateful", "--start", "C,K", "--out", out, *FAST)
    assert code == 0, err
    assert trained == ["stateful,start=C"]          # K's point reuses C's models
    s = lstmlab.sweeps.load(out)
    a, b = s.results
    np.testing.assert_array_equal(a.history, b.history)
    assert list(a.generated) == ["A", "C"] and list(b.generated) == ["A", "K"]
    assert "start does not change training: the points of its values share the same " \
           "models" in text
    # negative control: a training setting trains every point
    trained.clear()
    assert run_cli("sweep", "stateful", "--units", "2,3", "--out", tmp_path / "u",
                   *FAST)[0] == 0
    assert len(trained) == 2


@pytest.mark.parametrize("n_values", [3, 8, 16])
def test_the_learning_curve_legend_covers_no_curve(n_values):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from lstmlab import report
    cfg = lstmlab.PRESETS["one-char"].replace(epochs=5, seeds=2)
    res = lstmlab.run(cfg)
    results = [dataclasses.replace(res, config=cfg.replace(units=u))
               for u in range(1, n_values + 1)]
    fig = window_plots.sweep_curves_figure(results, "units", list(range(1, n_values + 1)))
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax, = fig.axes
    legend = ax.get_legend().get_window_extent(renderer)
    assert len(ax.get_legend().get_texts()) == n_values
    assert not legend.overlaps(ax.get_window_extent(renderer))
    # negative control: a legend inside the axes overlaps them
    ax.legend(loc="lower right")
    assert ax.get_legend().get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
