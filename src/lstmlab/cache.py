"""Compiled programs kept between runs: JAX's persistent compilation cache, in the user's
cache directory (platformdirs; ``LSTMLAB_CACHE_DIR`` moves it). A second ``lstmlab run``
then loads what the first compiled instead of compiling it again; the programs are the
same, so the numbers are too.

JAX treats the cache as trusted code, so it lives in a directory only the user can write.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "LSTMLAB_CACHE_DIR"


def directory() -> Path:
    """``$LSTMLAB_CACHE_DIR``, else the user cache directory's ``lstmlab/jax``."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    import platformdirs
    return Path(platformdirs.user_cache_dir("lstmlab")) / "jax"


def enable(path: str | Path | None = None) -> Path | None:
    """Turn the persistent cache on (before the first compilation) and return its
    directory; None, with a reason printed by the caller, when it cannot be created."""
    import jax
    path = Path(path) if path is not None else directory()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: run without the cache rather than fail
    jax.config.update("jax_compilation_cache_dir", str(path))
    # every program, however small or quick to compile: lstmlab's compile in 0.1–3 s
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    return path
