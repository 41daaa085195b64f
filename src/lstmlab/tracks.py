"""Tracks of a text: one number per symbol read, computed from the text (Karpathy, Johnson
& Fei-Fei 2015: line position, inside quotes, brackets, …) or given by the user, and read
at a model's predictions; what ``units`` correlates every unit with."""

from __future__ import annotations

from itertools import accumulate

import numpy as np

from .errors import DataError, shown

# A track: one number per symbol read, computed from the text (or given by the user).
TRACKS = {
    "since reset": "symbols read since the reset (a stateful model; a window model reads "
                   "its window)",
    "symbol index": "the vocabulary index of the last symbol read (for A–Z its alphabet "
                    "position)",
    "line position": "symbols since the last newline",
    "word position": "letters since the last symbol that is not one (0 outside words)",
    "in quotes": "1 inside double quotes, else 0",
    "bracket depth": "open (, [ and { not yet closed",
    "indentation": "spaces and tabs at the start of the current line",
    "letter": "1 for a letter", "upper case": "1 for an upper-case letter",
    "digit": "1 for a digit", "space": "1 for white space (newline included)",
    "punctuation": "1 for a symbol that is neither letter, digit nor space",
}
def text_tracks(text: str) -> dict[str, np.ndarray]:
    """The tracks computed from the text alone, one value per symbol (L,)."""
    chars = np.array(list(text)) if text else np.array([], "<U1")
    idx = np.arange(len(text))
    letter = np.array([c.isalpha() for c in text], bool)
    newline = chars == "\n"
    since_nl = idx - np.maximum.accumulate(np.where(newline, idx, -1))
    word = np.where(letter, idx - np.maximum.accumulate(np.where(letter, -1, idx)), 0)
    quotes = np.cumsum(chars == '"') % 2
    delta = np.isin(chars, list("([{")).astype(int) - np.isin(chars, list(")]}"))
    # a closing bracket without an opening one does not make the depth negative: a running
    # floor, which numpy's cumsum has no form of
    depth = np.fromiter(accumulate(delta.tolist(), lambda a, d: max(a + d, 0)), float,
                        len(text)) if len(text) else np.zeros(0)
    indent = np.zeros(len(text))
    start = 0
    for line in text.split("\n"):
        indent[start:start + len(line) + 1] = len(line) - len(line.lstrip(" \t"))
        start += len(line) + 1
    return {"line position": since_nl.astype(float), "word position": word.astype(float),
            "in quotes": quotes.astype(float), "bracket depth": depth,
            "indentation": indent,
            "letter": letter.astype(float),
            "upper case": np.array([c.isupper() for c in text], float),
            "digit": np.array([c.isdigit() for c in text], float),
            "space": np.array([c.isspace() for c in text], float),
            "punctuation": np.array([not (c.isalnum() or c.isspace()) for c in text], float)}


def tracks_at(trace, user: dict | None = None) -> dict[str, np.ndarray]:
    """Every track at each prediction of ``trace`` (N,): at the last symbol it read. User
    tracks (name → one value per symbol of the text) are checked and added."""
    pos = trace.positions
    symbol = {s: k for k, s in enumerate(trace.vocab)}
    out = {"since reset": np.asarray(trace.since_reset, float),
           "symbol index": np.array([symbol[trace.text[p]] for p in pos], float)}
    out.update({k: v[pos] for k, v in text_tracks(trace.text).items()})
    for name, values in checked_tracks(user, len(trace.text)).items():
        out[name] = values[pos]
    return out


def checked_tracks(user, length: int) -> dict[str, np.ndarray]:
    """User tracks as float arrays of one value per symbol; a DataError names the wrong
    one (its name, its length, a value that is not a finite number)."""
    if user is None:
        return {}
    if not isinstance(user, dict):
        raise DataError(f"tracks {type(user).__name__} are not allowed; allowed: a dict of "
                        f"name → one number per symbol")
    out = {}
    for name, values in user.items():
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"track name {name!r} is not allowed; allowed: a non-empty "
                            f"string")
        try:
            a = np.asarray(values, float).reshape(-1)
        except (TypeError, ValueError):
            raise DataError(f"track {shown(name)} is not a list of numbers") from None
        if len(a) != length:
            raise DataError(f"track {shown(name)} has {len(a)} value(s); the text has "
                            f"{length} symbol(s): give one value per symbol")
        if not np.all(np.isfinite(a)):
            bad = int(np.argmin(np.isfinite(a)))
            # counted from 1, as read_track counts a file's values
            raise DataError(f"track {shown(name)}: value {bad + 1} ({float(a[bad])}) is not "
                            f"a finite number")
        out[name] = a
    return out


def read_track(text: str, name: str) -> np.ndarray:
    """A track file's text: one number per line, or a CSV whose column ``name`` (or its
    only column) holds them. A DataError names the line that is not a number."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and "," in lines[0]:
        header = [h.strip() for h in lines[0].split(",")]
        if name not in header and len(header) > 1:
            raise DataError(f"the CSV has no column {name!r}; its columns: "
                            f"{', '.join(header)}")
        col = header.index(name) if name in header else 0
        lines = [ln.split(",")[col].strip() if col < len(ln.split(",")) else ""
                 for ln in lines[1:]]
    values = []
    for k, ln in enumerate(lines, 1):
        try:
            values.append(float(ln))
        except ValueError:
            raise DataError(f"track {shown(name)}: value {k} ({shown(ln)}) is not a "
                            f"number") from None
    return np.array(values)
