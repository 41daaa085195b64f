"""What one setting is (:class:`Setting`), how a settings table is read from a dataclass's
fields (:func:`table`), and a setting's values checked, in words and as typed — below
``config``, which declares the settings themselves (every Config field is one line:
``setting``)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

from .errors import shown


@dataclass(frozen=True)
class Setting:
    """What one setting is: its help, its values (kind: int, count (≥ 0), float, bool,
    str, batch (an integer or None for all); a range or choices), where it applies, whether
    it changes the trained models, and how the CLI offers it."""

    help: str
    low: float | None = None       # the range, inclusive (a float's high: below it)
    high: float | None = None
    choices: tuple[str, ...] = ()
    applies: tuple[Callable, str] | None = None  # (rule on a Config, where in words)
    trains: bool = True            # False: changes what is measured, never the training
    sweep: bool = True             # a comma list of `lstmlab sweep`
    option: bool = True            # an option of `lstmlab run` and `sweep`
    label: str = ""                # its name in messages (default: the name, spaced)
    name: str = ""                 # filled in from the field
    kind: str = ""                 # filled in from the annotation

    @property
    def where(self) -> str:
        """" Applies to … ." for a setting that only some experiments have, else ""."""
        return f" Applies to {self.applies[1]}." if self.applies else ""


def setting(default, help: str, **kw):
    """A Config field with its Setting (nanoGPT's one line per setting, with metadata)."""
    return field(default=default, metadata={"setting": Setting(help, **kw)})


_KINDS = {"int": "int", "float": "float", "bool": "bool", "str": "str",
          "int | None": "batch", "int | tuple[int, ...]": "sizes"}


def table(cls) -> dict[str, Setting]:
    """The settings table of ``cls`` (Config): each field's Setting, its name and kind."""
    out = {}
    for f in dataclasses.fields(cls):
        st = f.metadata["setting"]
        if str(f.type) not in _KINDS:  # a developer's new field: say what is supported
            raise TypeError(f"{cls.__name__}.{f.name}: annotation {f.type!r} is "
                            f"not one the settings table reads; allowed: "
                            f"{', '.join(_KINDS)}")
        kind = _KINDS[str(f.type)]
        if kind == "int" and st.low == 0:
            kind = "count"
        out[f.name] = dataclasses.replace(st, name=f.name, kind=kind,
                                          label=st.label or f.name.replace("_", " "))
    return out


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def allowed(st: Setting, python: bool = True) -> str:
    """The values ``st`` allows, in words (``python``: as the Python API takes them)."""
    if st.choices:
        return ", ".join(st.choices)
    if st.kind in ("int", "count"):
        return f"an integer from {int(st.low)} to {int(st.high)}"
    if st.kind == "sizes":
        return (f"an integer from {int(st.low)} to {int(st.high)}, or one per layer "
                + ("(--units 64,32 / units=(64, 32))" if python else "(e.g. 64,32)"))
    if st.kind == "batch":
        return "an integer ≥ 1, or None for all samples" if python \
            else "an integer ≥ 1 or 'all'"
    if st.kind == "float":
        if st.high is not None:
            return f"a number from {st.low:g} to below {st.high:g}"
        return f"a finite number > {st.low:g}"
    if st.kind == "bool":
        return "True or False" if python else "a flag (a sweep: yes, no)"
    return "a string"


# What a comma list of `lstmlab sweep` holds, by kind, in words.
LIST_OF = {"int": "integers", "count": "integers", "batch": "integers or 'all'",
           "sizes": "integers (a point of one size per layer joined by -, e.g. 64-32)",
           "float": "numbers", "bool": "yes/no (true/false, on/off)", "str": "words"}
_BOOL = {"true": True, "yes": True, "on": True, "1": True,
         "false": False, "no": False, "off": False, "0": False}


def read_sizes(text: str) -> int | tuple[int, ...]:
    """Units as typed: one size for every layer ("32"), or one per layer joined by commas
    or dashes ("64,32", "64-32": a sweep's comma separates points, so its per-layer points
    are written with dashes)."""
    sizes = tuple(int(part) for part in text.replace("-", ",").split(","))
    return sizes[0] if len(sizes) == 1 else sizes


def layer_sizes(units, layers: int) -> tuple[int, ...]:
    """Each layer's units: ``units`` itself when it is one per layer, else it repeated."""
    return tuple(units) if isinstance(units, (tuple, list)) else (units,) * layers


def sizes_problem(units, layers: int) -> str | None:
    """What is wrong with one size per layer for ``layers`` layers (another count), or
    None — the check of a Config and of a model file alike."""
    if isinstance(units, (tuple, list)) and len(units) != layers:
        return (f"units {sizes_text(units, ',')} name {len(units)} layers but layers is "
                f"{layers}; allowed: one size for every layer, or one size per layer")
    return None


def stack_text(layer: str, units, layers: int, layers_word: str = "") -> str:
    """A recurrent stack as Keras names its layers (``layer``: LSTM, GRU, …): LSTM(32),
    LSTM(32) × 2 (+ ``layers_word``), LSTM(64) → LSTM(32) for one size per layer."""
    if isinstance(units, tuple):
        return " → ".join(f"{layer}({u})" for u in units)
    return f"{layer}({units})" + (f" × {layers}{layers_word}" if layers > 1 else "")


def sizes_text(units, sep: str = "-") -> str:
    """Units in words as a point's name and the tables show them: 32, or 64-32."""
    return sep.join(map(str, units)) if isinstance(units, (tuple, list)) else str(units)


def value_problem(st: Setting, value) -> str | None:
    """What is wrong with ``value`` for setting ``st`` alone (config.problem's)."""
    v = value
    if st.kind in ("int", "count"):
        ok = _is_int(v) and st.low <= v <= st.high
    elif st.kind == "batch":
        ok = v is None or _is_int(v) and v >= st.low
    elif st.kind == "sizes":
        ok = all(_is_int(u) and st.low <= u <= st.high
                 for u in (v if isinstance(v, (tuple, list)) and v else [v]))
    elif st.kind == "float":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
            and (st.low < v if st.high is None else st.low <= v < st.high)
    elif st.kind == "bool":
        ok = isinstance(v, bool)
    else:
        ok = isinstance(v, str)
    if ok and st.choices:
        ok = value in st.choices
    if ok:
        return None
    if st.kind == "sizes" and isinstance(value, (tuple, list)):
        value = sizes_text(value, ",")
    return f"{st.label} {shown(value)} is not allowed; allowed: {allowed(st)}"


def read_value(st: Setting, text: str):
    """One value of setting ``st`` as typed on the command line (config.read's)."""
    if st.kind in ("int", "count"):
        return int(text)
    if st.kind == "float":
        return float(text)
    if st.kind == "batch":
        return read_batch_size(text)
    if st.kind == "sizes":
        return read_sizes(text)
    if st.kind == "bool":
        try:
            return _BOOL[text.lower()]
        except KeyError:
            raise ValueError(text) from None
    return text


def read_batch_size(text: str) -> int | None:
    """A batch size as typed: an integer, or 'all' (None: every sample in one batch)."""
    return None if text == "all" else int(text)
