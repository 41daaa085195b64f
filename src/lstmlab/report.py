"""The pages of a run (report.md / report.html), of a unit study and of a sweep, from
results alone (fresh or from records): the findings, then each kind's table and sections
(``lstmlab.kinds``: the report knows only their interface), the units' sections. Both
documents are rendered from one list of blocks (``document``)."""

from __future__ import annotations

from pathlib import Path


from . import document, findings as findings_mod, grid as grid_mod, record_io
from .config import Config
from .document import H, Colored, Img, P, Table, figure, png
from .kinds import grouped
from .tables import divergence, sequence_text


def plot_saturation(study) -> bytes:
    """Karpathy et al. 2015, Fig. 3: per gate unit, the share of steps left-saturated (x,
    < 0.1) against right-saturated (y, > 0.9); a panel per layer, a colour per gate."""
    sat = study.saturation
    layers = sorted(set(sat["layer"])) or [1]
    fig = figure(figsize=(3.4 * len(layers), 3.2))
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(1, len(layers), k + 1)
        for gate, g in sat[sat["layer"] == layer].groupby("gate", sort=False):
            ax.scatter(g["left"], g["right"], s=10, alpha=0.7, label=gate)
        ax.plot([0, 1], [1, 0], color="#bbb", lw=0.8)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="fraction < 0.1",
               ylabel="fraction > 0.9", title=f"layer {layer}")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return png(fig)


def units_blocks(study) -> list:
    """What the units of one experiment learned: the strongest unit per track across
    seeds, the saturation scatter, the text coloured by the strongest units, the reach."""
    text = study.text
    out = [H(3, f"{study.experiment}: what the units learned"),
           P(f"Each unit's every quantity (layer by layer) against each track, over "
             f"{len(text):,} symbols read ({sequence_text(text[:60])}"
             f"{'…' if len(text) > 60 else ''}); Pearson's r, the strongest unit of all "
             f"seeds, and in how many seeds some unit reaches |r| ≥ {study.threshold:g} "
             f"(θ). lstmlab units RUN_DIR --experiment {study.experiment} writes every "
             f"correlation to units.csv."),
           Table(study.HEADER, study.rows())]
    if len(study.saturation):
        out.append(Img(f"{study.experiment}-saturation.png",
                       f"{study.experiment}: gate saturation",
                       lambda: plot_saturation(study)))
    for track, label, values in study.shown:
        out.append(Colored(f"{label} (strongest on {track})", text[:len(values)], values))
    if study.reach is not None:
        out.append(P(f"Connectivity (|∂ log p / ∂ input|, over the first "
                     f"{min(len(text), 300)} symbols): 90% of it lies within the last "
                     f"{study.reach + 1} symbol(s) read."))
    return out


def sweep_blocks(title: str, base: Config, grid: dict, results: list,
                 sentences: list[str]) -> list:
    """A sweep's report as blocks (see ``blocks``)."""
    out: list = [H(1, title)]
    out.append(P(f"Preset {base.name}" + (f" (as the preset stands: {base.note})"
                                              if base.note else "")
                + f". Sequence: {sequence_text(base.sequence)}. Fixed settings: "
                + base.describe(leave_out=grid) + ". Swept: " + "; ".join(
                    f"{k.replace('_', ' ')} {', '.join(map(grid_mod.value_text, v))}"
                    for k, v in grid.items())
                + f". {len(results)} point(s) finished."))
    if not results:
        return out
    out.append(H(2, "What the numbers say"))
    out.append(Table(["setting", "finding"],
                [[k.replace("_", " "), s] for k, s in zip(grid, sentences)]))
    for r in results:  # the one divergence rule, said per point (its seeds are left out of
        if (diverged := divergence(r)) is not None:  # a text point's loss comparison)
            out.append(P(diverged[0].upper() + diverged[1:] + "."))
    out.append(H(2, "Points"))
    out.append(Table(*grid_mod.point_rows(results, grid)))
    # the values that have a finished point (an interrupted sweep has not all)
    ordered = {k: [v for v in grid_mod.sorted_values(grid[k])
                   if any(getattr(r.config, k) == v for r in results)] for k in grid}
    return out + results[0].kind.sweep_sections(results, ordered)


def blocks(results: list, title: str, found: list | None = None, design: str = "",
           explorers: dict | None = None, studies: dict | None = None,
           keys: dict | None = None) -> list:
    """The report as blocks (``document``); ``found``: the findings as judged (when the
    results hold experiments the claims rest on), ``design`` the sentence that names how
    they were settled; ``explorers``: experiment name → its explorer page's file name
    beside the report; ``studies``: experiment name → units.Study; ``keys``: experiment
    name → what its pictures are drawn from (its record), so that kept ones are reused."""
    studies, ctx = studies or {}, {"explorers": explorers or {}}
    out: list = [H(1, title)]
    claims = [r for r in results if r.kind.claims]  # the results the claims rest on
    if found is None and claims:
        found = findings_mod.from_results(claims)
    if found and claims:
        out.append(H(2, f"Findings: the tutorial's claims, checked "
                        f"({findings_mod.level_words(found)})"))
        out.append(Table(["claim", "measurement", "seeds", "verdict"],
                         [[f.claim, f.measurement, str(f.seeds or ""), f.verdict]
                          for f in found]))
        out.append(P(f"Verdicts are computed by the claims in lstmlab/findings.py "
                     f"(machine-readable: findings.json). {findings_mod.GUARANTEE}"
                     + (f" {design}" if design else "")))
        for f in found:
            if f.table is not None:
                out.append(P(f"Per target, the share of seeds that predict it right "
                             f"({f.id}):"))
                out.append(Table(*f.table))
    for kind, rs in grouped(results):
        heading, header, rows, notes = kind.table(rs)
        out += [H(2, heading), Table(header, rows)] + [P(n) for n in notes]
        for r in rs:
            out += experiment_blocks(r, ctx, studies.get(r.config.name),
                                     (keys or {}).get(r.config.name))
    return out


def experiment_blocks(r, ctx: dict, study=None, key: str | None = None) -> list:
    """One experiment's section of the report (its kind's, then what its units learned,
    ``study``), its pictures keyed by ``key`` (what they are drawn from)."""
    mine = r.kind.sections(r, ctx) + (units_blocks(study) if study is not None else [])
    for b in mine:
        if isinstance(b, Img) and b.key is None:
            b.key = key
    return mine


def write(run_dir: Path, results: list, found: list | None = None,
          design: str = "", explorers: dict | None = None,
          studies: dict | None = None) -> list[Path]:
    """Write report.md (with plots/*.png) and report.html into ``run_dir``; ``found``: the
    findings as judged (settled), ``design`` the sentence that names how, ``explorers``
    the explorer pages beside it to link (experiment name → file name), ``studies`` what
    the units learned (experiment name → units.Study)."""
    keys = {r.config.name: record_io.record_digest(run_dir / r.config.name)
            for r in results}
    return document.write(run_dir, blocks(results, f"lstmlab report: {run_dir.name}",
                                          found=found, design=design, explorers=explorers,
                                          studies=studies, keys=keys))


def write_units(out_dir: Path, studies: list, title: str) -> list[Path]:
    """units.md (with plots/*.png) and units.html in ``out_dir``: what the units learned."""
    bl = [H(1, title)] + [b for s in studies for b in units_blocks(s)]
    return document.write(out_dir, bl, "units")


def write_sweep(run_dir: Path, base: Config, grid: dict, results: list,
                sentences: list[str]) -> list[Path]:
    """The sweep's report.md (with plots/*.png) and report.html in ``run_dir``."""
    return document.write(run_dir, sweep_blocks(f"lstmlab sweep: {run_dir.name}", base,
                                                grid, results, sentences))
