"""The document model of lstmlab's pages (report.md / report.html, units, sweeps): blocks
— H(level, text), P(text), Pre(text), Table(header, rows), Img(file, alt, png), Link(href,
text, after), Colored(label, text, values) — rendered as Markdown or as one self-contained
HTML page (images embedded, every text escaped: sequences and symbols are user input);
and what every plot shares (``drawn``, ``png``)."""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import quote

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from . import record_io
from .data import VISIBLE, show
from .files import atomic_write, read_bytes

MAX_TICKS = 60  # a heatmap over a long text labels every k-th step, so labels stay legible


@dataclass
class H:
    level: int
    text: str

    def md(self, plots_dir: str) -> list[str]:
        return ["#" * self.level + " " + _md(self.text), ""]

    def html(self) -> str:
        return f"<h{self.level}>{html.escape(self.text)}</h{self.level}>"


@dataclass
class P:
    text: str

    def md(self, plots_dir: str) -> list[str]:
        return [_md(self.text), ""]

    def html(self) -> str:
        return f"<p>{html.escape(self.text)}</p>"


@dataclass
class Pre:
    """Text shown as it is (a sample of a text model), escaped."""
    text: str

    def md(self, plots_dir: str) -> list[str]:
        fence = "~" * max(3, 1 + max((len(m) for m in re.findall(r"~+", self.text)),
                                     default=0))
        return [fence + "text", self.text, fence, ""]

    def html(self) -> str:
        return f"<pre style='white-space:pre-wrap'>{html.escape(self.text)}</pre>"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    def md(self, plots_dir: str) -> list[str]:
        return (["| " + " | ".join(_md_cell(h) for h in self.header) + " |",
                 "|" + "---|" * len(self.header)]
                + ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in self.rows]
                + [""])

    def html(self) -> str:
        e = html.escape
        return "\n".join(["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in self.header)
                          + "</tr>"] + ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row)
                                        + "</tr>" for row in self.rows] + ["</table>"])


@dataclass
class Img:
    file: str  # under plots/
    alt: str
    png: bytes | Callable[[], bytes]  # or its drawing, called when written (see write)
    key: str | None = None  # what it is drawn from: a kept PNG of the same key is reused

    def md(self, plots_dir: str) -> list[str]:
        return [f"![{_md(self.alt)}]({plots_dir}/{self.file})", ""]

    def drawn(self) -> bytes:
        """The PNG, drawn now if it was not yet."""
        if callable(self.png):
            self.png = self.png()
        return self.png

    def html(self) -> str:
        data = base64.b64encode(self.drawn()).decode("ascii")
        return f"<img alt='{html.escape(self.alt)}' src='data:image/png;base64,{data}'>"


@dataclass
class Link:
    href: str  # relative to the report
    text: str
    after: str  # the sentence after the link

    def md(self, plots_dir: str) -> list[str]:
        return [f"[{_md(self.text)}]({quote(self.href)}){_md(self.after)}", ""]

    def html(self) -> str:
        e = html.escape
        return f"<p><a href='{e(quote(self.href))}'>{e(self.text)}</a>{e(self.after)}</p>"


@dataclass
class Colored:
    """A text coloured symbol by symbol by a unit's activation in [−1, 1] (blue negative,
    red positive; Karpathy et al. 2015's figures); Markdown gets the text and a note."""
    label: str
    text: str
    values: np.ndarray

    def md(self, plots_dir: str) -> list[str]:
        return [f"{_md(self.label)}: the first {len(self.text)} symbols read, coloured by "
                f"it in the HTML page.", ""]

    def html(self) -> str:
        spans = []
        for ch, v in zip(self.text, np.clip(np.nan_to_num(self.values), -1, 1)):
            rgb = "214,39,40" if v > 0 else "31,119,180"
            spans.append(f"<span style='background:rgba({rgb},{abs(v):.2f})' "
                         f"title='{v:+.2f}'>{html.escape(ch)}</span>")
        return (f"<p>{html.escape(self.label)}:</p><pre style='white-space:pre-wrap;"
                f"line-height:1.5'>{''.join(spans)}</pre>")


# -- plots: what every figure shares (matplotlib's object API with the Agg canvas: no
# global pyplot state)


@lru_cache(maxsize=None)
def _glyphs(family: str) -> frozenset:
    """The characters the font matplotlib draws ``family`` with has glyphs for."""
    from matplotlib import font_manager, ft2font
    path = font_manager.findfont(font_manager.FontProperties(family=[family]))
    return frozenset(ft2font.FT2Font(path).get_charmap())


def drawn(text, family: str = "sans-serif") -> str:
    """``text`` as a plot shows it: :func:`data.show`'s visible symbols where the font has
    their glyph, else escaped (the carriage return's ␍ as \\r, any other symbol the font
    lacks as \\uXXXX), so that a plot never draws an empty box or warns."""
    glyphs, plain = _glyphs(family), {v: k for k, v in VISIBLE.items()}
    return "".join(ch if ord(ch) in glyphs else ascii(plain.get(ch, ch))[1:-1]
                   for ch in show(text))


def figure(**kw) -> Figure:
    """A matplotlib figure (``Figure(**kw)``). matplotlib is imported here, on the first
    picture, not with lstmlab: ``lstmlab run`` does without it when its pictures were
    drawn in the background (drawing.py), and a command that draws none never pays it."""
    from matplotlib.figure import Figure
    return Figure(**kw)


def png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def layout_grid(fig: Figure, cols: int, rows: int, label, row_name: str, **text):
    """The stream layouts' picture: a box per (batch k, row i) with ``label(k, i)``, an
    arrow from each box to the same row of the next batch; returns the axes."""
    ax = fig.add_subplot()
    for k in range(cols):
        for i in range(rows):
            ax.text(k, i, label(k, i), ha="center", va="center", fontsize=7,
                    bbox=dict(boxstyle="round", fc=f"C{i % 10}", alpha=0.25), **text)
            if k + 1 < cols:
                ax.annotate("", (k + 0.62, i), (k + 0.38, i),
                            arrowprops=dict(arrowstyle="->", lw=0.8))
    ax.set_xlim(-0.6, cols - 0.4)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xticks(range(cols), [str(k + 1) for k in range(cols)])
    ax.set_yticks(range(rows), [f"{row_name} {i + 1}" for i in range(rows)])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax



# -- rendering


# Markdown would read these as markup anywhere in a line (emphasis, code, links, images,
# headings, tables, raw HTML, entities); backslash-escaped they print as themselves. (List
# markers only count at a line's start, which is always lstmlab's own text.)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~&])")


def _md(text: str) -> str:
    """User text as literal Markdown: markup characters escaped, line breaks as spaces."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def _md_cell(text: str) -> str:
    return _md(text) or " "


def render_md(blocks_: list, plots_dir: str = "plots") -> str:
    """Markdown of the blocks; images are referenced as files in ``plots_dir``."""
    return "\n".join(line for b in blocks_ for line in b.md(plots_dir))


CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
       "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
       "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}"
       "th{background:#f3f3f3}img{max-width:100%}")


def render_html(blocks_: list) -> str:
    """A self-contained HTML page of the blocks, every text escaped, images embedded."""
    return "\n".join(["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
                      f"<title>{html.escape(blocks_[0].text)}</title><style>{CSS}</style>"
                      "</head><body>"] + [b.html() for b in blocks_] + ["</body></html>"])


MAX_PNG_BYTES = 64 * 2**20


def pictures(out_dir: Path, bl: list, read: bool = True) -> None:
    """Every picture of ``bl`` in ``out_dir``/plots: one kept from the same key is read
    (not at all unless ``read``), any other drawn, written and kept with its key."""
    kept, keys = record_io.drawn(out_dir), {}
    for b in bl:
        if isinstance(b, Img):
            name, path = f"plots/{b.file}", out_dir / "plots" / b.file
            if record_io.is_kept(out_dir, name, b.key, kept):
                if not read:
                    continue
                try:
                    b.png = read_bytes(path, MAX_PNG_BYTES, name)
                    continue
                except ValueError:  # not a plain file any more: draw it again
                    pass
            atomic_write(path, b.drawn())
            keys[name] = b.key
    if any(v is not None or k in kept for k, v in keys.items()):
        record_io.keep_drawn(out_dir, keys)


def write(out_dir: Path, bl: list, stem: str = "report") -> list[Path]:
    """``stem``.md (with plots/*.png) and ``stem``.html of the blocks in ``out_dir``. A
    picture with a key whose PNG ``out_dir`` keeps from the same key is read, not drawn
    again (``lstmlab report`` on a finished run draws nothing)."""
    pictures(out_dir, bl)
    atomic_write(out_dir / f"{stem}.md", render_md(bl))
    atomic_write(out_dir / f"{stem}.html", render_html(bl))
    return [out_dir / f"{stem}.md", out_dir / f"{stem}.html"]
