import json
import os

import pytest

import lstmlab
from lstmlab import artifacts, cli, experiments, report

FAST = ["--epochs", "3", "--seeds", "2", "-q"]


def test_run_writes_every_record(run_cli, tmp_path):
    out = tmp_path / "run"
    code, text, err = run_cli("run", "one-char", "stateful",
                              "--out", str(out), *FAST)
    assert code == 0, err
    for f in ("config.json", "results.json", "history.csv", "predictions.csv", "report.md",
              "report.html", "one-char/record.json", "stateful/1/model.safetensors",
              "stateful/1/model.json", "plots/stateful-states.png"):
        assert (out / f).is_file(), f
    config = json.loads((out / "config.json").read_text())
    assert config["experiments"]["one-char"]["epochs"] == 3
    assert config["versions"]["jax"] and config["machine"]["cpus"]
    results = json.loads((out / "results.json").read_text())
    assert [s["replica"] for s in results["one-char"]["seeds"]] == [0, 1]
    assert "generated" in results["stateful"]["seeds"][0]
    hist = (out / "history.csv").read_text().splitlines()
    assert hist[0] == "experiment,replica,epoch,loss,accuracy"
    assert len(hist) == 1 + 2 * 2 * 3  # 2 experiments × 2 seeds × 3 epochs
    preds = (out / "predictions.csv").read_text().splitlines()
    assert len(preds) == 1 + 2 * 25 + 2 * 25
    assert "Findings" in text and "not run" in text
    assert not [p for p in out.rglob(".*")]  # no temporary file or directory left


def test_resume_skips_a_finished_experiment_and_retrains_a_changed_one(run_cli, monkeypatch,
                                                                       tmp_path):
    out = str(tmp_path / "run")
    assert run_cli("run", "one-char", "two-char", "--out", out, *FAST)[0] == 0
    record = tmp_path / "run" / "one-char" / "record.json"
    before = record.read_text()

    trained = []
    real_run = experiments.run
    monkeypatch.setattr(cli, "run_experiment",
                        lambda cfg, **kw: trained.append(cfg.name) or real_run(cfg, **kw))
    code, text, _ = run_cli("run", "one-char", "two-char", "--out", out,
                            *FAST)
    assert code == 0 and trained == [] and text.count("cached") >= 2
    assert record.read_text() == before

    code, text, _ = run_cli("run", "one-char", "--out", out,
                            "--epochs", "4", "--seeds", "2", "-q")
    assert code == 0 and trained == ["one-char"]
    assert json.loads(record.read_text())["config"]["epochs"] == 4
    # the run's files still hold both experiments
    assert set(json.loads((tmp_path / "run" / "results.json").read_text())) == \
        {"one-char", "two-char"}


def test_an_interrupted_run_keeps_its_finished_experiments(run_cli, monkeypatch, tmp_path):
    out = tmp_path / "run"
    real_run = experiments.run

    def interrupt_second(cfg, on_progress=None, **kw):
        if cfg.name == "two-char":
            def boom(done, hist):
                raise KeyboardInterrupt
            return real_run(cfg, on_progress=boom, **kw)
        return real_run(cfg, on_progress=on_progress, **kw)

    monkeypatch.setattr(cli, "run_experiment", interrupt_second)
    code, _, err = run_cli("run", "one-char", "two-char", "--out",
                           str(out), *FAST)
    assert code == 130
    assert "1 finished experiment(s) kept" in err and "resume with:" in err
    assert "Traceback" not in err
    assert (out / "one-char" / "record.json").is_file()
    assert not (out / "two-char").exists()
    assert not [p for p in out.rglob(".*")]
    assert set(json.loads((out / "results.json").read_text())) == {"one-char"}


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    artifacts.atomic_write(target, "old")

    def fail(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        artifacts.atomic_write(target, "new content that never lands")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
    with pytest.raises(OSError):
        artifacts.atomic_write(tmp_path / "g.json", "x")
    assert not (tmp_path / "g.json").exists()


def test_report_rebuilds_from_records_alone(run_cli, monkeypatch, tmp_path):
    out = tmp_path / "run"
    assert run_cli("run", "variable-length", "--out", str(out),
                   "--epochs", "2", "--seeds", "2", "--window", "3", "-q")[0] == 0
    md = (out / "report.md").read_text()
    for f in ("report.md", "report.html"):
        (out / f).unlink()
    import shutil
    shutil.rmtree(out / "plots")

    def no_training(*a, **k):
        raise AssertionError("the report must not train")

    monkeypatch.setattr(experiments.train, "fit", no_training)
    code, _, err = run_cli("report", str(out))
    assert code == 0, err
    assert (out / "report.md").read_text() == md
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    assert "probe accuracy by input length" in md
    assert (out / "plots" / "variable-length-probe-by-length.png").is_file()


def test_html_escapes_hostile_symbols():
    res = lstmlab.run("one-char", sequence="<script>alert(1)</script>", seeds=1, epochs=1)
    page = report.render_html(report.blocks([res], "t"))
    assert "<script>" not in page and "</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_unwritable_out_and_missing_run_dir(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli("run", "one-char", "--out",
                             str(blocker / "run"), *FAST)
    assert code == 2 and "cannot write" in err and "Traceback" not in err
    code, out, err = run_cli("report", str(tmp_path / "nope"))
    assert code == 2 and "no such run directory" in err
    code, out, err = run_cli("models", str(tmp_path / "nope"))
    assert code == 2 and "no such run directory" in err


def test_models_lists_every_replica(run_cli, tmp_path):
    out = tmp_path / "run"
    assert run_cli("run", "timestep-window", "--out", str(out), *FAST)[0] == 0
    code, text, _ = run_cli("models", str(out))
    lines = text.strip().splitlines()
    assert code == 0 and len(lines) == 2 and "timestep-window" in lines[1]
    assert "accuracy" in lines[0]
    code, text, _ = run_cli("predict", str(out), "--experiment",
                            "timestep-window", "--replica", "1", "ABC", "--top", "2")
    assert code == 0 and text.startswith("ABC -> ") and text.count("'") == 4
    model = lstmlab.load(out / "timestep-window" / "1")
    assert text.split()[2] == model.predict("ABC")
    code, text, _ = run_cli("generate", str(out), "--experiment",
                            "timestep-window", "--start", "ABC", "--length", "4")
    assert code == 0 and text.strip() == lstmlab.load(out / "timestep-window" / "0").generate("ABC", 4)
