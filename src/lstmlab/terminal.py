"""The terminal every view prints to: stdout for what a command says, stderr for live
displays; a listing cut at MAX_LINES; the base of a live bar (console's views and the
kinds' progress displays)."""

from __future__ import annotations

import sys

from rich.console import Console

from .config import Config
from .errors import error, warn  # noqa: F401  (terminal.warn beside terminal.out)

MAX_LINES = 30  # longer listings (1000 variable-length samples) are cut, with a count

# Piped output gets a width that fits the summary table, not rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)


def header(cfg: Config) -> None:
    out.rule(f"[bold]{cfg.name}[/bold]")
    out.print(cfg.describe() + (f"  ({cfg.note})" if cfg.note else ""), markup=False)


def listing(lines: list[str]) -> None:
    for line in lines[:MAX_LINES]:
        out.print(line, markup=False)
    if len(lines) > MAX_LINES:
        out.print(f"… ({len(lines) - MAX_LINES} more)", markup=False)


def live() -> bool:
    """Can stderr show a live display (a terminal, or a notebook's output)?"""
    return err.is_terminal or err.is_jupyter


class Bar:
    """A progress view whose rich bar (``self.bar``, or None) lives as long as the context."""

    bar = None

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
