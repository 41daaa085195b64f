"""Kinds of experiment, each described once (the contract: :mod:`lstmlab.kinds.base`):
the tutorial's windows (:mod:`.windows`), char-rnn's streams (:mod:`.streams`) and the
memory tasks (:mod:`.memory`). The run,
records, report, sweeps and CLI reach a kind only through :func:`of`; a new kind is a
module that calls :func:`register`."""

from __future__ import annotations

from ..config import Config
from ..errors import ConfigError, shown
from .base import ExperimentResult, Headline, Kind  # noqa: F401  (the contract)
from . import memory, streams, windows

KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Make ``kind`` known by its name (a Config with ``kind=name`` is of it); its result
    class gets ``kind`` as its ``.kind``."""
    KINDS[kind.name] = kind
    kind.result.kind = kind
    return kind


register(windows.KIND)
register(streams.KIND)
register(memory.KIND)


def of(cfg: Config) -> Kind:
    """The kind of experiment ``cfg`` is (its ``kind`` setting, or what its settings say:
    streams when --streams > 0, else windows)."""
    try:
        return KINDS[cfg.kind_name]
    except KeyError:
        raise ConfigError(f"kind {shown(cfg.kind)} is not allowed; allowed: "
                          f"{', '.join(KINDS)}") from None


def finished_epochs(path) -> int | None:
    """The finished epochs a checkpoint file holds (of whichever kind keeps checkpoints),
    or None."""
    for kind in KINDS.values():
        if kind.checkpointed and (k := kind.finished_epochs(path)) is not None:
            return k
    return None


def grouped(results: list) -> list[tuple[Kind, list]]:
    """Results by kind, in the order their kinds first appear (each kind's table and
    sections together)."""
    out: dict[str, list] = {}
    for r in results:
        out.setdefault(r.kind.name, []).append(r)
    return [(KINDS[name], rs) for name, rs in out.items()]
