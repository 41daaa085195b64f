"""A long text as the streams a stateful model trains on (char-rnn's layout): the text cut
into B contiguous streams, each batch of S steps of every stream continuing the batch
before it row by row, the target of every step the next symbol. Indices only: the one-hot
vectors are made per batch inside the compiled program, never for the whole text (tiny
shakespeare would be 290 MB of float32). Training and validation are split either first,
as two contiguous pieces of the text, so that no validation symbol is ever a training
target (``split``), or as char-rnn's loader splits them, by batches (``split_batches``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import DataError

MIN_BATCHES = 2  # a split needs at least this many batches: one would carry no state


class Batches(NamedTuple):
    """x, y (n_batches, B, S) of the indices' integer type: batch k's row i is stream i's steps k·S … k·S + S − 1,
    y the symbol after each x."""

    x: np.ndarray
    y: np.ndarray

    @property
    def chars(self) -> int:
        """Symbols predicted in one pass (every step of every stream)."""
        return int(self.y.size)


def layout(indices: np.ndarray, n_streams: int, seq_length: int, what: str = "text"
           ) -> Batches:
    """``indices`` (N,) → Batches: the text cut into ``n_streams`` contiguous streams of
    whole batches of ``seq_length`` steps; the end that does not fill a batch of every
    stream is left out (as char-rnn does). A DataError names the sizes when the text is
    too short for MIN_BATCHES batches."""
    idx = np.asarray(indices)  # the caller's integer type (a long text's: uint8)
    per_batch = n_streams * seq_length
    n = (len(idx) - 1) // per_batch  # the last symbol is only a target
    if n < MIN_BATCHES:
        need = MIN_BATCHES * per_batch + 1
        raise DataError(f"the {what} has {len(idx)} symbols; {n_streams} streams × "
                        f"sequence length {seq_length} need at least {need} for "
                        f"{MIN_BATCHES} batches: use a longer text, fewer streams or a "
                        f"shorter sequence length")
    used = n * per_batch
    # stream i is idx[i·L : (i + 1)·L], L = n·S; batch k reads its steps k·S … (k+1)·S − 1
    x = idx[:used].reshape(n_streams, n, seq_length).transpose(1, 0, 2)
    y = idx[1:used + 1].reshape(n_streams, n, seq_length).transpose(1, 0, 2)
    return Batches(np.ascontiguousarray(x), np.ascontiguousarray(y))


def batch_split(n_symbols: int, n_streams: int, seq_length: int, val_frac: float
                ) -> tuple[int, int]:
    """char-rnn's split of a text of ``n_symbols``: its batches, and how many of them
    (the first) train."""
    n = (n_symbols - 1) // (n_streams * seq_length)  # as layout cuts them
    return n, int(np.floor(n * (1 - val_frac)))


def split_batches(indices: np.ndarray, n_streams: int, seq_length: int, val_frac: float
                  ) -> tuple[Batches, Batches | None]:
    """char-rnn's loader's split: the whole text as Batches, the first
    floor(n · (1 − val_frac)) batches for training and the rest for validation — the last
    part of every stream, so validation is spread over the text in ``n_streams`` pieces
    (CharSplitLMMinibatchLoader.lua, test fraction 0). A DataError names the sizes when
    training gets fewer than MIN_BATCHES batches or validation none."""
    whole = layout(indices, n_streams, seq_length)
    n, train = batch_split(len(indices), n_streams, seq_length, val_frac)
    if not val_frac:
        return whole, None
    if train < MIN_BATCHES or train == n:
        raise DataError(f"the text makes {n} batches of {n_streams} streams × {seq_length} "
                        f"steps; char-rnn's split of {val_frac:g} of them for validation "
                        f"leaves {train} for training and {n - train} for validation: use a "
                        f"longer text, fewer streams, a shorter sequence length or another "
                        f"--val-frac")
    return Batches(whole.x[:train], whole.y[:train]), Batches(whole.x[train:], whole.y[train:])


def split(indices: np.ndarray, val_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """The text's first 1 − val_frac for training, the rest for validation (contiguous)."""
    if not 0 <= val_frac < 1:
        raise DataError(f"validation fraction {val_frac!r} is not allowed; allowed: from 0 "
                        f"to below 1")
    cut = len(indices) - int(round(len(indices) * val_frac))
    return np.asarray(indices[:cut]), np.asarray(indices[cut:])
