"""What the ``lstmlab`` commands share: options built from the settings table, values
read as typed, the compilation cache turned on, the user's own data, a run read back."""

from __future__ import annotations

from pathlib import Path

import click

from .config import LIST_OF, SETTINGS, allowed, option, read
from .errors import ConfigError, shown, warn

_METAVAR = {"int": "N", "count": "N", "float": "X", "batch": "N|all", "str": "TEXT",
            "sizes": "N|N,N,…"}


def _setting_options(command: str):
    """The options of ``command`` ("run" or "sweep"), one per setting of the table
    (config.SETTINGS): in ``run`` a value of its kind (a flag pair for a yes/no setting);
    in ``sweep`` a comma list of values for every setting that can be swept."""
    def decorate(f):
        for name, st in reversed(SETTINGS.items()):
            if not st.option:
                continue
            where = st.where
            if command == "sweep" and st.sweep:
                values = ", ".join(st.choices) if st.choices else LIST_OF[st.kind]
                f = click.option(option(name), name, metavar="V1,V2,…",
                                 help=f"{st.help}{where} A comma list of {values}.")(f)
            elif st.kind == "bool":
                f = click.option(f"{option(name)}/--no-{option(name)[2:]}", name,
                                 default=None, help=st.help + where)(f)
            else:
                metavar = "|".join(st.choices) if st.choices else _METAVAR[st.kind]
                limits = "" if st.kind == "str" else f" Allowed: {allowed(st, False)}."
                f = click.option(option(name), name, metavar=metavar,
                                 help=f"{st.help}{where}{limits}")(f)
        return f
    return decorate


def _typed(changes: dict) -> dict:
    """Settings as typed on the command line, read into their kinds (ConfigError naming
    the value and what is allowed); flags are already booleans."""
    out = {}
    for name, value in changes.items():
        if name not in SETTINGS or not isinstance(value, str) or SETTINGS[name].kind == "str":
            out[name] = value
            continue
        st = SETTINGS[name]
        try:
            out[name] = read(name, value)
        except ValueError:
            raise ConfigError(f"{st.label} {shown(value)} is not allowed; allowed: "
                              f"{allowed(st, False)}") from None
    return out


def _compile_cache(off: bool = False) -> None:
    """Turn on JAX's persistent compilation cache (lstmlab.cache) unless ``off``."""
    if off:
        return
    from . import cache
    if cache.enable() is None:
        warn(f"cannot create the compilation cache {cache.directory()}; compiling without "
             f"it (set {cache.ENV} to move it)")


def _own_data(changes: dict, text_file) -> dict:
    """--text-file read into the sequence."""
    from . import data
    if text_file is not None:
        if "sequence" in changes:
            raise ConfigError("give --sequence or --text-file, not both")
        changes["sequence"] = data.read_text_file(text_file)
    return changes


def _typed_option(setting: str, value) -> str:
    """An option as the user typed it: --no-mask for mask False."""
    return f"--no-{option(setting)[2:]}" if value is False else option(setting)


def _load_run(run_dir: Path) -> list:
    """A run's finished experiments; damaged ones are named in a warning and left out."""
    from . import records
    results, damaged = records.load_run(run_dir, must_exist=True)
    for line in damaged:
        warn(f"{line}; left out")
    return results
