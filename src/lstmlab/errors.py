"""Every error lstmlab reports to a user, and how its line is printed, in one light module:
the CLI catches these and prints one line (exit 2) without importing JAX first."""

import sys


def error(message: str) -> None:
    print(f"lstmlab: error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"lstmlab: warning: {message}", file=sys.stderr)


SHOWN = 80  # an error quotes at most about this many characters of a value


def shown(value) -> str:
    """``value`` quoted for an error line (its repr), a long one shortened to its head and
    tail with its length, so that one line never repeats a whole input."""
    r = repr(value)
    if len(r) <= SHOWN:
        return r
    if isinstance(value, str):
        return f"{value[:40]!r}…{value[-15:]!r} ({len(value):,} characters)"
    return f"{r[:50]}…{r[-15:]} ({len(r):,} characters)"


class ConfigError(ValueError):
    """An impossible setting."""


class FileError(ValueError):
    """A file that cannot be read as asked (not regular, too large, unreadable)."""


class DataError(ValueError):
    """A sequence or text that cannot be learned (unknown symbols, too short, …)."""


class ModelError(ValueError):
    """A model directory or model input that cannot be used."""


class KerasError(ValueError):
    """A Keras model or file that lstmlab cannot read or write."""


class RecordError(ValueError):
    """A run directory that cannot be written or read."""
