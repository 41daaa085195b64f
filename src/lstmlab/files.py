"""Every file lstmlab reads or writes goes through here: atomic writes, directories that
respect the umask, bounded reads of regular files only, and strict JSON.

NumPy and JAX are not imported here: reading and writing stays cheap to import.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from .errors import FileError




def _umask() -> int:
    # os.umask can only be read by setting it; done once, before any thread writes.
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


_UMASK: int | None = None


def share_mode(path: Path, directory: bool = False) -> None:
    """Give a file (0666) or directory (0777) the permissions the umask allows: mkstemp
    and mkdtemp create them private (0600 / 0700), which a shared report must not be."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new directory beside its final place, with the umask's permissions."""
    path = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    share_mode(path, directory=True)
    return path


def atomic_write(path: Path, content: bytes | str) -> None:
    """Write to a temporary file beside ``path``, then rename over it: a reader (or a crash)
    sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
        share_mode(Path(tmp))
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:  # a full disk: name the file
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def read_bytes(path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. A device, a FIFO (which would
    block) or a file over the limit is refused before anything is read."""
    path = Path(path)
    try:
        st = os.stat(path)  # follows symlinks: a link to /dev/urandom is a device
    except OSError as e:
        raise FileError(f"cannot read {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileError(f"{path} is not a regular file; give a {what} on disk")
    if st.st_size > limit:
        raise FileError(f"{path} has {st.st_size:,} bytes; the limit for a {what} is "
                        f"{limit:,}")
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)  # a file that grew since stat is still bounded
    except OSError as e:
        raise FileError(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) > limit:
        raise FileError(f"{path} is larger than the limit for a {what} ({limit:,} bytes)")
    return raw


def _finite(obj):
    """NaN and ±inf become null: JSON has no such numbers (json.dumps would write NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj) -> str:
    """Strict JSON (non-finite numbers as null), UTF-8 text kept readable."""
    return json.dumps(_finite(obj), indent=1, ensure_ascii=False, allow_nan=False)


def csv_text(rows) -> str:
    """``rows`` (sequences of fields) as CSV text, a line each, quoted where a field must be."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
