"""The kind contract (lstmlab.kinds.base) proved by a toy third kind, added here in about 40
lines without editing any other module (as tests/test_cells.py adds a SimpleRNN), and run
through run, record, resume, report, sweep and ``report --json``."""

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest

from lstmlab import config, kinds, record_io
from lstmlab.config import Config
from lstmlab.data import Vocab
from lstmlab.kinds.base import ExperimentResult, Headline, KindBase


# -- the toy kind: a "training" whose loss decays at a rate drawn per seed -----------------
@dataclass
class ToyResult(ExperimentResult):
    config: Config
    dataset: object
    history: np.ndarray                  # (seeds, epochs, 1): the loss per epoch
    compile_s: float = 0.0
    train_s: float = 0.0
    params: dict | None = None           # a toy keeps no model
    cached: bool = False
    finite: np.ndarray | None = None
    asked_seeds: int | None = None
    looks: tuple | None = None
    taken: tuple = ()
    analyses: dict = field(default_factory=dict)

    def headline(self) -> Headline:
        return Headline("final loss", self.history[:, -1, 0], False, None,
                        lambda d: f"{d:+.3f}", lambda m: f"{m:.3f}")

    def per_seed(self, strings=False) -> list[dict]:
        return [{"replica": r, "final_loss": float(v)}
                for r, v in enumerate(self.history[:, -1, 0])]

    def write(self, exp_dir, run_dir, models) -> None:
        record_io.write_arrays(exp_dir, history=self.history)
        record_io.write_record(exp_dir, record_io.record_base(run_dir, self, False))


class Toy(KindBase):
    name, result = "toy", ToyResult

    def prepare(self, cfg):
        self.validate(cfg)
        return SimpleNamespace(vocab=Vocab.from_sequence(cfg.sequence))

    def train(self, cfg, data, *, on_progress=None, **how) -> ToyResult:
        rate = np.random.default_rng(cfg.seed).uniform(0.01, 0.1, cfg.seeds) * cfg.units
        loss = np.exp(-rate[:, None] * np.arange(1, cfg.epochs + 1))[..., None]
        if on_progress is not None:
            on_progress(cfg.epochs, loss)
        return ToyResult(cfg, data, loss)

    def load(self, exp_dir, record, cfg) -> ToyResult:
        history = record_io.shaped(record_io.read_arrays(exp_dir), "history",
                                   (cfg.seeds, cfg.epochs, 1), "f")
        return ToyResult(cfg, self.prepare(cfg), history, cached=True)
# -- end of the toy kind ---------------------------------------------------------------------


@pytest.fixture
def toy(monkeypatch):
    """The toy kind registered and a preset of it, for this test only."""
    monkeypatch.setitem(kinds.KINDS, "toy", Toy())
    kinds.register(kinds.KINDS["toy"])
    monkeypatch.setitem(config.PRESETS, "toy", Config("toy", kind="toy", epochs=7, seeds=3,
                                                      note="a toy kind"))
    yield


def test_a_toy_kind_runs_records_resumes_reports_and_sweeps(run_cli, toy, tmp_path):
    out = tmp_path / "run"
    code, text, err = run_cli("run", "toy", "--out", out)
    assert code == 0, err
    assert "toy experiments" in text and "final loss" in text
    record = json.loads((out / "toy" / "record.json").read_text())
    assert record["config"]["kind"] == "toy" and len(record["seeds"]) == 3
    # resume: the finished experiment is read back, not trained again
    trained = []
    real = Toy.train
    Toy.train = lambda self, *a, **k: trained.append(1) or real(self, *a, **k)
    try:
        code, text, _ = run_cli("run", "toy", "--out", out)
    finally:
        Toy.train = real
    assert code == 0 and trained == [] and "*" in text  # cached
    # its report, from the record alone
    code, text, err = run_cli("report", out)
    assert code == 0, err
    md = (out / "report.md").read_text()
    assert "## toy experiments" in md and "final loss" in md and "Findings" not in md
    code, text, _ = run_cli("report", out, "--json")
    assert code == 0 and json.loads(text)["findings"]
    # a sweep over one of its settings, with its sentence from the headline
    code, text, err = run_cli("sweep", "toy", "--units", "1,4", "--out", tmp_path / "sw")
    assert code == 0, err
    assert "to have a lower final loss than every other" in text  # 3 seeds cannot show it
    table = (tmp_path / "sw" / "sweep.csv").read_text().splitlines()
    assert table[0].endswith("final_loss,compile_s,train_s") and len(table) == 1 + 2 * 3


def test_an_unknown_kind_is_one_line(run_cli, monkeypatch):
    """Negative control: a Config of a kind nobody registered is refused by name."""
    monkeypatch.setitem(config.PRESETS, "ghost", Config("ghost", kind="ghost"))
    code, _, err = run_cli("run", "ghost", "--epochs", "2")
    assert code == 2 and "kind 'ghost' is not allowed; allowed: windows, streams" in err
    assert len(err.strip().splitlines()) == 1
