"""Sequences → patterns → arrays.

A *pattern* is a list of symbol indices (the input) and the index of the symbol that
follows (the target). Padding inside an index array is -1. Everything here is NumPy:
data is built once, on the host, before anything is compiled.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .files import FileError, read_bytes
from .errors import DataError

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FRAMINGS = ("timesteps", "features")
ENCODINGS = ("scaled", "onehot")
PAD = -1
ENCODE_CHUNK = 2**20  # symbols encoded at a time (Vocab.encode)
MAX_TEXT_BYTES = 256 * 2**20  # a text file to learn from; more is a typo (/dev/zero), not data
MAX_WINDOW = 100_000
# Symbols that would print as nothing or break a line are shown as these everywhere output
# is read by a person (terminal, report, predict); other unprintable ones as \x.. escapes.
VISIBLE = {" ": "·", "\n": "⏎", "\t": "⇥", "\r": "␍"}




@dataclass(frozen=True)
class Vocab:
    """An ordered set of symbols with maps both ways (order = first appearance)."""

    symbols: tuple[str, ...]

    @classmethod
    def from_sequence(cls, sequence: str) -> "Vocab":
        """The symbols of ``sequence`` in order of first appearance."""
        return cls(tuple(dict.fromkeys(sequence)))

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def index(self) -> dict[str, int]:
        """Symbol → index."""
        return {s: i for i, s in enumerate(self.symbols)}

    def encode(self, text, dtype=np.int32) -> np.ndarray:
        """Symbols → indices of ``dtype``; an unknown symbol is a DataError that names it.
        A string is encoded in chunks through its code points, so a long text takes about
        its indices' memory, never a Python list of them."""
        if not isinstance(text, str):
            text = "".join(text)
        codes = np.array([ord(s) for s in self.symbols], np.uint32)
        order = np.argsort(codes)
        ranked = codes[order]
        out = np.empty(len(text), dtype)
        for start in range(0, len(text), ENCODE_CHUNK):
            cp = np.frombuffer(text[start:start + ENCODE_CHUNK].encode("utf-32-le"),
                               np.uint32)
            pos = np.minimum(np.searchsorted(ranked, cp), len(ranked) - 1)
            known = ranked[pos] == cp
            if not known.all():
                unknown = sorted({chr(c) for c in np.unique(cp[~known])})
                more = len(unknown) - SHOWN_SYMBOLS
                raise DataError(
                    f"unknown symbol(s) {', '.join(map(quoted, unknown[:SHOWN_SYMBOLS]))}"
                    + (f" and {more:,} more" if more > 0 else "")
                    + f"; the vocabulary is {quoted_short(''.join(self.symbols))}"
                )
            out[start:start + len(cp)] = order[pos]
        return out

    def compact_dtype(self):
        """The smallest unsigned integer type that holds every index (a long text's)."""
        return np.uint8 if len(self) <= 256 else np.uint16 if len(self) <= 65536 \
            else np.int32

    def decode(self, indices) -> list[str]:
        """Indices → symbols, padding dropped."""
        return [self.symbols[i] for i in np.asarray(indices).ravel() if i != PAD]


@dataclass(frozen=True)
class Patterns:
    """Input index windows (N, T) with PAD at the front, and target indices (N,)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @property
    def mask(self) -> np.ndarray:
        """True where a time step holds a real symbol, False where it is padding."""
        return self.x != PAD


def windows(seq: np.ndarray, n: int) -> Patterns:
    """Every window of n consecutive symbols and the symbol after it, in order.

    For A–Z and n = 2 that is the notebook's 24 pairs AB -> C … XY -> Z.
    """
    if not 1 <= n < len(seq):
        raise DataError(f"window {n} is impossible for a sequence of {len(seq)} symbols; "
                        f"allowed: 1 to {len(seq) - 1}")
    idx = np.arange(len(seq) - n)[:, None] + np.arange(n)[None, :]
    return Patterns(seq[idx].astype(np.int32), seq[n:].astype(np.int32))


def pad_front(seqs: list[np.ndarray], length: int) -> np.ndarray:
    """Keras ``pad_sequences`` default: pad (and truncate) at the front."""
    out = np.full((len(seqs), length), PAD, dtype=np.int32)
    for i, s in enumerate(seqs):
        s = s[-length:]
        out[i, length - len(s):] = s
    return out


def random_subsequences(seq: np.ndarray, count: int, max_len: int,
                        rng: np.random.RandomState) -> Patterns:
    """The tutorial's variable-length sampling, generalised from 26 letters to len(seq).

    start = randint(V - 2); end = randint(start, min(start + max_len, V - 1)) (upper bounds
    exclusive); input = seq[start:end + 1] (1 … max_len symbols), target = seq[end + 1].
    With ``RandomState(7)`` and A–Z this draws exactly the tutorial's 1000 samples.
    """
    v = len(seq)
    if v < 3:
        raise DataError(f"variable-length sampling needs at least 3 symbols, got {v}")
    xs, ys = [], []
    for _ in range(count):
        start = rng.randint(v - 2)
        end = rng.randint(start, min(start + max_len, v - 1))
        xs.append(seq[start:end + 1])
        ys.append(seq[end + 1])
    return Patterns(pad_front(xs, max_len), np.array(ys, dtype=np.int32))


def all_subsequences(seq: np.ndarray, max_len: int) -> Patterns:
    """Every distinct pattern :func:`random_subsequences` can draw (each once, by start
    then length): for A–Z and 5 symbols, all 114."""
    v = len(seq)
    pairs = [(s, e) for s in range(v - 2) for e in range(s, min(s + max_len, v - 1))]
    return Patterns(pad_front([seq[s:e + 1] for s, e in pairs], max_len),
                    np.array([seq[e + 1] for _, e in pairs], dtype=np.int32))


def encode(x: np.ndarray, vocab_size: int, encoding: str, framing: str) -> np.ndarray:
    """Index windows (N, T) → model input (N, steps, features), float32.

    scaled: index / vocabulary size, one feature per symbol (the notebook's encoding);
    onehot: one vector per symbol. Padding becomes 0 (scaled) or the zero vector (onehot).
    timesteps: (N, T, F); features: the T symbols concatenated into one step, (N, 1, T·F).
    """
    if encoding == "scaled":
        feats = (x / float(vocab_size))[..., None]
        feats = np.where(x[..., None] == PAD, 0.0, feats)
    elif encoding == "onehot":
        feats = (x[..., None] == np.arange(vocab_size)).astype(np.float64)
    else:
        raise DataError(f"unknown encoding {encoding!r}; allowed: {', '.join(ENCODINGS)}")
    if framing == "features":
        feats = feats.reshape(len(x), 1, -1)
    elif framing != "timesteps":
        raise DataError(f"unknown framing {framing!r}; allowed: {', '.join(FRAMINGS)}")
    return feats.astype(np.float32)


def step_mask(x: np.ndarray, framing: str) -> np.ndarray:
    """Per-time-step mask (N, steps): with features framing the one step is always real."""
    if framing == "features":
        return np.ones((len(x), 1), dtype=bool)
    return x != PAD


def model_inputs(x: np.ndarray, vocab_size: int, encoding: str, framing: str,
                 mask: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Index windows → what the model reads: the encoded input and, when padding is masked,
    the per-step mask (None otherwise)."""
    return (encode(x, vocab_size, encoding, framing),
            step_mask(x, framing) if mask else None)


def stream_layout(n_samples: int, batch_size: int) -> np.ndarray:
    """Order in which to feed one long sequence of samples to a stateful model in batches.

    Keras's stateful rule: sample i of batch k+1 continues sample i of batch k. So the
    sequence is cut into ``batch_size`` contiguous streams and batch k holds the k-th
    sample of every stream. Returns indices (n_batches, batch_size); e.g. 6 samples,
    batch 2 → [[0, 3], [1, 4], [2, 5]]. (Feeding samples 0,1 | 2,3 | 4,5 instead — the
    usual mistake — makes sample 2 continue sample 0.)
    """
    if batch_size < 1 or n_samples % batch_size:
        raise DataError(
            f"a stateful model needs the batch size to divide the number of samples: "
            f"{n_samples} samples do not split into batches of {batch_size}; choose a "
            f"batch size that divides {n_samples}"
        )
    return np.arange(n_samples).reshape(batch_size, -1).T.copy()


def best_achievable(p: Patterns) -> float:
    """The highest accuracy any model can reach on these patterns: where the same input is
    followed by different symbols, at best the most frequent one is predicted."""
    _, inputs = np.unique(p.x, axis=0, return_inverse=True)
    pairs, counts = np.unique(np.stack([inputs.ravel(), p.y]), axis=1, return_counts=True)
    best = np.zeros(inputs.max() + 1, dtype=np.int64)
    np.maximum.at(best, pairs[0], counts)
    return float(best.sum() / len(p))


@lru_cache(maxsize=16)  # a long text is hashed once, however many files and reports name it
def sha256(text: str) -> str:
    """The hex sha256 of ``text`` in UTF-8: how run directories and reports name a sequence."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def n_features(vocab_size: int, window: int, encoding: str, framing: str) -> int:
    """Features per step of what :func:`encode` produces: one per symbol (scaled) or one per
    vocabulary entry (onehot), the whole window's worth in one step under features framing."""
    per_symbol = 1 if encoding == "scaled" else vocab_size
    return per_symbol * (window if framing == "features" else 1)


def show(text) -> str:
    """``text`` (a string or a sequence of symbols) with invisible symbols made visible:
    space ·, newline ⏎, tab ⇥, carriage return ␍, a combining mark on a dotted circle (◌́),
    other unprintable ones (NUL, a zero-width joiner) escaped once (\\x00, \\u200d). The
    one display rule of every output; quote with :func:`quoted`, never repr (which would
    escape the escapes again)."""
    return "".join(VISIBLE.get(ch) or
                   ("\u25cc" + ch if unicodedata.category(ch) in ("Mn", "Me") else
                    ch if ch.isprintable() else ascii(ch)[1:-1])
                   for ch in text)


def quoted(text) -> str:
    """:func:`show` in single quotes: how a symbol is named inside a sentence or a list."""
    return f"'{show(text)}'"


SHOWN_SYMBOLS = 40  # a message names at most this many symbols of a long text or list


def quoted_short(text) -> str:
    """:func:`quoted`, a long text by its start and its length (an error line never
    repeats a whole input)."""
    if len(text) <= SHOWN_SYMBOLS:
        return quoted(text)
    return f"'{show(text[:SHOWN_SYMBOLS])}…' ({len(text):,} symbols)"


def plain(value):
    """A numpy scalar as the Python number it holds (np.int64(4) → 4), in a list or tuple
    too; anything else as it is — so the Python API takes numpy numbers as the CLI takes
    typed ones."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, (list, tuple)):  # one size per layer, a sweep's values
        return type(value)(plain(v) for v in value)
    return value


def read_text_file(path) -> str:
    """A UTF-8 text file's characters (line ends kept as symbols), or a one-line error.
    Only a regular file of at most MAX_TEXT_BYTES is read (a FIFO would block)."""
    try:
        raw = read_bytes(path, MAX_TEXT_BYTES, "text file")
    except FileError as e:
        raise DataError(str(e)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    if not text:
        raise DataError(f"{path} is empty")
    if (nul := text.find("\x00")) >= 0:  # valid UTF-8, but no text has NUL bytes
        raise DataError(f"{path} looks binary (a NUL byte at offset {nul}); allowed: a "
                        f"UTF-8 text file")
    return text
