"""Text content shared by the two outputs (terminal and report) and every kind's views, so
that neither output module imports the other: the divergence sentence, the short form of a
long sequence, the sentence of a record's kept sample. (Each kind's table is its view's.)"""

from __future__ import annotations

from . import data
from .results import EXPLODED_LOSS

SHOW_SEQUENCE = 80  # a longer sequence is shown by its start, length and sha256


def sequence_text(seq: str) -> str:
    """A sequence as a person reads it: invisible symbols visible, a long one shortened
    to its first symbols with its length and sha256 (the run directory keeps it whole)."""
    if len(seq) <= SHOW_SEQUENCE:
        return data.show(seq)
    return (f"{data.show(seq[:SHOW_SEQUENCE - 20])}… ({len(seq):,} symbols, sha256 "
            f"{data.sha256(seq)[:16]}…)")


def divergence(res) -> str | None:
    """One sentence naming the seeds whose training diverged (and from which epoch) or
    collapsed to one answer for every input, or None."""
    parts = []
    if res.diverged:
        parts.append(f"training diverged (a loss that is not finite or above "
                     f"{EXPLODED_LOSS:g}) for "
                     + ", ".join(f"seed {r} from epoch {e}" for r, e in res.diverged.items()))
    if collapsed := getattr(res, "collapsed", None):  # a kind with a notion of collapse
        parts.append("training collapsed to one answer for every input for "
                     + ", ".join(f"seed {r} (always {data.quoted(s)})"
                                 for r, s in collapsed.items()))
    if not parts:
        return None
    return "; ".join(parts) + f" of {res.config.name}; try a smaller learning rate (--lr)"


def kept_words(kept: int, total: int) -> str:
    """The sentence that says a record kept only a sample of a long text's predictions."""
    return (f"The record keeps the predictions of {kept:,} of the {total:,} training "
            f"patterns, evenly spaced (more would be stored, not read); accuracy and loss "
            f"are over all {total:,}.")
