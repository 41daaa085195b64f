"""The contract of a kind of experiment, as ``cells.Cell`` is a cell's: everything that
differs between the tutorial's windows, char-rnn's streams and any kind added later, so
that the run, its records, the report, sweeps and the CLI know only this interface.

A kind is one object (:class:`Kind`) and one result class (:class:`ExperimentResult`):

- **data**: ``validate(cfg)`` (the settings checked together, beyond each alone),
  ``prepare(cfg)`` (validate, build the data, check the memory it needs) →
  its data object (with a ``vocab``); ``disk_bytes(cfg, data, models)`` (what its record
  takes); ``analysed_text(cfg)`` (the text ``lstmlab units`` and the explorer's match read by
  default) and ``analysed_note(cfg)`` (a sentence when that is not the usual text);
- **training**: ``train(cfg, data, *, prior, first, on_progress, check, checkpoint,
  workers, chunk)`` → its result; ``compile_ahead(…)``, ``extends(prior, cfg)`` (more
  replicas of a kept result), ``merge(prior, more, cfg)``, ``evaluated_again(cfg, data,
  twin)`` (the same models, measured for other evaluation settings); ``checkpointed``
  (trainings that keep their last epoch to resume from); ``updates(cfg, data)`` and
  ``epochs_done(*progress)`` (a sweep's progress);
- **its record**: ``load(exp_dir, record, cfg)`` (the result's ``write`` writes it);
- **its views**: ``show_start`` / ``progress`` / ``show_finished`` (terminal),
  ``table(results)`` (the summary table of the terminal and the report), ``sections(res,
  ctx)`` (its report section), ``model_lines``, ``brief`` (a sweep's verbose line),
  ``point_columns`` (a sweep's table), ``sweep_sections`` (a sweep report's plots),
  ``sweep_note`` (the sentence under a sweep's table), ``explorer_words`` (how ``lstmlab
  run`` names its models' explorer page; empty: not named), ``units_lines`` (what
  ``lstmlab units`` prints of a kind whose models read no symbols);
- ``claims``: whether the tutorial's findings are judged on it; ``measures``: the names
  of ``measure.MEASURES`` that apply to its models; ``explores``: whether its ``model(r)``
  is an ``artifacts.Model`` (the explorer page, ``lstmlab units``, Keras export);
  ``pictures_ahead``: whether its report's pictures are drawn from its record alone
  (``lstmlab.drawing`` may then draw them while later experiments train).

A new kind subclasses :class:`KindBase` (every member above has a plain default there:
no checkpoint, no claims, a summary table, report section and sweep columns of its
headline) and its result :class:`ExperimentResult` (it defines ``per_seed``, ``headline``
and ``write``), registers itself with ``lstmlab.kinds.register`` and is chosen by the
``kind`` setting of a Config (empty: ``streams`` when --streams > 0, else ``windows``).
``tests/test_kinds.py`` adds a toy kind in about 40 lines and runs it through run,
record, resume, report, sweep and ``report --json``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, NamedTuple, Protocol

import jax
import numpy as np

from ..artifacts import ModelError
from ..config import Config
from ..data import plain
from ..datasets import validate as validate_settings
from ..document import H, P
from ..results import diverged_at, no_sound_replica
from ..stats import describe, loss_text
from ..terminal import out


class Headline(NamedTuple):
    """The per-seed number a sweep's sentences rank a kind's points by."""

    name: str                  # "accuracy", "best validation loss"
    values: np.ndarray         # (seeds,); NaN: a seed with no value (it diverged)
    higher_is_better: bool
    full: np.ndarray | None    # (seeds,) bool: at 100% (a numeric setting's sentence asks
                               # where most seeds get there); None: no such notion
    diff: Callable[[float], str]  # a difference of two values as printed
    mean: Callable[[float], str]  # a value as printed
    full_words: str = "reach 100%"  # what ``full`` means, as a sweep sentence says it
    full_share: float = 0.9         # the share of seeds a sweep sentence asks to be full
    harder: tuple[str, ...] = ()    # settings whose larger values are harder (a memory
                                    # task's lag): their sentence gives the largest value


class Kind(Protocol):
    """A kind of experiment (see the module's docstring for every member)."""

    name: str
    words: str
    claims: bool
    explorer_words: str
    explores: bool
    sweep_note: str
    measures: tuple[str, ...]
    checkpointed: bool
    pictures_ahead: bool

    def validate(self, cfg: Config, n_samples: int | None = None) -> None: ...
    def prepare(self, cfg: Config) -> Any: ...
    def disk_bytes(self, cfg: Config, data, models: bool) -> int: ...
    def analysed_text(self, cfg: Config) -> str: ...
    def analysed_note(self, cfg: Config) -> str: ...
    def train(self, cfg: Config, data, **how) -> "ExperimentResult": ...
    def compile_ahead(self, cfg: Config, data, workers, chunk, prior) -> None: ...
    def extends(self, prior, cfg: Config) -> bool: ...
    def merge(self, prior, more, cfg: Config) -> "ExperimentResult": ...
    def evaluated_again(self, cfg: Config, data, twin) -> "ExperimentResult | None": ...
    def finished_epochs(self, path) -> int | None: ...
    def updates(self, cfg: Config, data) -> int: ...
    def epochs_done(self, *progress) -> float: ...
    def load(self, exp_dir, record: dict, cfg: Config) -> "ExperimentResult": ...
    def show_start(self, cfg: Config, data) -> None: ...
    def progress(self, cfg: Config, data, quiet: bool, verbose: bool): ...
    def show_finished(self, res) -> None: ...
    def table(self, results: list, terminal: bool = False) -> tuple[str, list, list, list]: ...
    def sections(self, res, ctx: dict) -> list: ...
    def model_lines(self, run_dir, res) -> list[str]: ...
    def brief(self, res) -> str: ...
    def point_columns(self, results: list) -> tuple[list[str], list[list[str]]]: ...
    def sweep_sections(self, results: list, ordered: dict) -> list: ...
    def units_lines(self, res) -> list[str]: ...


class _Silent:
    """A training's progress that shows nothing (a context, called with the progress)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def __call__(self, *progress) -> None:
        pass


# The contract's views, each bound from a kind's view module by its name there
# (``class Windows(KindBase, view=window_view)``), so a kind lists none of them itself.
VIEWS = {"show_start": "show_start", "progress": "Progress",
         "show_finished": "show_finished", "table": "table", "sections": "sections",
         "model_lines": "model_lines", "brief": "brief", "point_columns": "point_columns",
         "sweep_sections": "sweep_sections", "sweep_note": "SWEEP_NOTE"}


class KindBase:
    """Every member of the contract with a plain default, for a kind to override; a kind
    whose views are a module of their own names it (``view=``): all of VIEWS come from
    there."""

    def __init_subclass__(cls, view=None, **kwargs):
        super().__init_subclass__(**kwargs)
        for member, name in VIEWS.items() if view is not None else ():
            got = getattr(view, name)  # a view module lacking one fails at import
            setattr(cls, member, staticmethod(got) if callable(got) else got)

    words = "experiments"
    claims = False
    checkpointed = False
    explores = True  # its model(r) is an artifacts.Model (the explorer, units, Keras)
    pictures_ahead = True
    measures: tuple[str, ...] = ()
    explorer_words = ""
    sweep_note = ""

    def validate(self, cfg: Config, n_samples: int | None = None) -> None:
        validate_settings(cfg, n_samples)

    def disk_bytes(self, cfg: Config, data, models: bool) -> int:
        return 2**20

    def analysed_text(self, cfg: Config) -> str:
        return cfg.sequence  # the training sequence (a window experiment's)

    def analysed_note(self, cfg: Config) -> str:
        return ""

    def compile_ahead(self, cfg, data, workers=None, chunk=None, prior=None) -> None:
        pass

    def extends(self, prior, cfg: Config) -> bool:
        return False

    def merge(self, prior, more, cfg: Config):
        raise NotImplementedError(f"{self.name} experiments are never extended")

    def evaluated_again(self, cfg, data, twin):
        return None

    def finished_epochs(self, path) -> int | None:
        return None

    def updates(self, cfg: Config, data) -> int:
        return cfg.seeds * cfg.epochs

    def epochs_done(self, done, *rest) -> float:
        return done  # train.fit's progress: (epochs done, history)

    def show_start(self, cfg: Config, data) -> None:
        pass

    def progress(self, cfg: Config, data, quiet: bool, verbose: bool):
        return _Silent()

    def show_finished(self, res) -> None:
        out.print(self.brief(res), markup=False)

    def _mean(self, res) -> str:
        h = res.headline()
        v = h.values[np.isfinite(h.values)]
        return "no value" if not len(v) else h.mean(float(v.mean())) + (
            f" [{loss_text(v)}]" if len(v) > 1 else "")

    def table(self, results: list, terminal: bool = False):
        name = results[0].headline().name
        return (f"{self.name} experiments", ["experiment", "seeds", f"{name} (mean)",
                                             "train s"],
                [[r.config.name + ("*" if r.cached and terminal else ""),
                  str(r.config.seeds), self._mean(r), f"{r.train_s:.2f}"] for r in results],
                [])

    def sections(self, res, ctx: dict) -> list:
        c = res.config
        return [H(2, c.name), P(f"Settings: {c.describe()}."),
                P(f"{res.headline().name}: {self._mean(res)} over {c.seeds} seed(s).")]

    def model_lines(self, run_dir, res) -> list[str]:
        return [f"{run_dir / res.config.name}  {res.config.name}  "
                f"{res.headline().name} {self._mean(res)}"]

    def brief(self, res) -> str:
        return f"{res.config.name}: {res.headline().name} {self._mean(res)}"

    def point_columns(self, results: list):
        return ([f"{results[0].headline().name} (mean)", "train s"],
                [[self._mean(r), f"{r.train_s:.2f}"] for r in results])

    def sweep_sections(self, results: list, ordered: dict) -> list:
        return []

    def units_lines(self, res) -> list[str]:
        """What ``lstmlab units`` prints of a result whose models read no symbols (its
        units' study, kept when it was trained); none by default."""
        return []


class ExperimentResult:
    """What every kind's result shares (a mixin of its dataclass, which has ``config``,
    ``dataset``, ``params``, ``history`` (replicas first), ``compile_s``, ``train_s``,
    ``cached``, ``finite``, ``asked_seeds``, ``looks``, ``taken`` and ``analyses``). A kind
    defines ``model(r)``, ``per_seed(strings)``, ``summary()``, ``headline()``, ``ranking()``
    (replicas best first), ``write(exp_dir, run_dir, models)`` and ``run_files()``."""

    kind: Kind  # set by lstmlab.kinds.register

    @cached_property
    def diverged(self) -> dict[int, int]:
        """Replicas whose training diverged (:func:`results.diverged_at` on the first
        column of the history, a loss) → the first epoch (1-based) where it shows."""
        finite = self.params_finite()
        return diverged_at(self.history[:, :, :1], np.ones(len(self.history), bool)
                           if finite is None else finite)

    def ranking(self) -> np.ndarray:
        """Replicas best first, by the headline (NaN last)."""
        h = self.headline()
        return np.argsort(np.nan_to_num(-h.values if h.higher_is_better else h.values,
                                        nan=np.inf), kind="stable")

    def summary(self) -> dict:
        """Statistics over seeds of the headline (stats.describe)."""
        h = self.headline()
        return {h.name.replace(" ", "_"): describe(h.values[np.isfinite(h.values)])}

    def sweep_numbers(self) -> dict:
        """A sweep point's numbers (sweep.json's table)."""
        h = self.headline()
        d = describe(h.values[np.isfinite(h.values)])
        key = h.name.replace(" ", "_")
        return {"seeds": self.config.seeds, f"{key}_mean": d["mean"], "train_s": self.train_s}

    def run_files(self) -> dict[str, tuple[list[str], list | str]]:
        """Its rows of run-wide CSVs, by file name: the file's header and the rows (tuples,
        or already as CSV text: a long history formats faster as one string); none by
        default."""
        return {}

    def answers(self, cfg: Config) -> bool:
        """Is this the result ``cfg`` asks for: the same settings, or settled to more seeds
        from the same request?"""
        return self.config == cfg or (self.asked_seeds == cfg.seeds
                                      and self.config.replace(seeds=cfg.seeds) == cfg)

    def grows_into(self, cfg: Config) -> bool:
        """Is ``cfg`` this result's settings with more seeds (what settling, or ``--force``
        with more seeds, asks of it)?"""
        return self.config.seeds < cfg.seeds and self.config.replace(seeds=cfg.seeds) == cfg

    def trees(self) -> tuple:
        """Every parameter pytree the result holds (replicas first)."""
        return (self.params,)

    def params_finite(self) -> np.ndarray:
        """Per replica: are all its parameters finite?"""
        if self.params is None:
            return self.finite
        ok = np.ones(len(self.history), bool)
        for leaf in jax.tree.leaves(self.trees()):
            ok &= np.all(np.isfinite(np.asarray(leaf).reshape(len(ok), -1)), axis=1)
        return ok

    @property
    def sound(self) -> np.ndarray:
        """Per replica: its training did not diverge (a diverged one is never the best)."""
        return np.array([r not in self.diverged for r in range(len(self.history))])

    def replica(self, r) -> int:
        """``r`` checked: an integer from 0 to seeds − 1 (numpy ones too), else ModelError."""
        r = plain(r)
        if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < self.config.seeds:
            raise ModelError(f"replica {r!r} is not allowed; allowed: an integer from 0 to "
                             f"{self.config.seeds - 1} ({self.config.seeds} seeds)")
        return r

    def replica_params(self, r: int, tree=None):
        """The parameters of replica ``r`` (no leading replica axis)."""
        r = self.replica(r)
        if self.params is None:
            raise ModelError(f"{self.config.name} was saved without its models (a sweep "
                             f"keeps them only with --save-models)")
        return jax.tree.map(lambda a: np.asarray(a)[r],
                            self.params if tree is None else tree)

    def best(self):
        """The best replica (``ranking``) among those whose training did not diverge, as a
        Model."""
        if not self.sound.any():
            raise no_sound_replica(self.config.name)
        order = np.asarray(self.ranking())
        return self.model(int(order[self.sound[order]][0]))

    def portable(self):
        """This result with its parameters as numpy arrays (it travels from a Ray worker
        without JAX device buffers)."""
        for name in ("params", "last"):
            if getattr(self, name, None) is not None:
                setattr(self, name, jax.tree.map(np.asarray, getattr(self, name)))
        return self
