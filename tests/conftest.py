import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # for tests/reference.py

# The tests' compiled programs go to a cache of their own (also for the commands they start
# as subprocesses), never into lstmlab's own cache directory. It is kept between sessions
# (the user cache's lstmlab/tests-jax, or LSTMLAB_TEST_CACHE_DIR): a program compiled by
# the last run of the tests is loaded, not compiled — the fast tier's 3.6 minutes become
# 1.5 (docs/speed.md). JAX keys an entry by the program itself, so a change of the code can
# only miss, never load a stale one. LSTMLAB_TEST_CACHE_DIR="" asks for a fresh one per
# session, removed at its end.
if os.environ.get("LSTMLAB_TEST_CACHE_DIR", None) == "":
    os.environ["LSTMLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="lstmlab-test-cache-")
    atexit.register(shutil.rmtree, os.environ["LSTMLAB_CACHE_DIR"], ignore_errors=True)
else:
    import platformdirs
    os.environ["LSTMLAB_CACHE_DIR"] = os.environ.get("LSTMLAB_TEST_CACHE_DIR") or str(
        Path(platformdirs.user_cache_dir("lstmlab")) / "tests-jax")

import jax
import pytest

from lstmlab import cache, cli, programs

cache.enable()  # every test's programs, not only those of the commands it runs
# (no size limit: JAX's least-recently-used eviction deletes entries that another process
# of the session — a command a test starts — is reading, which warns and fails a test)


def _mappings() -> int:
    try:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)
    except OSError:  # not Linux: no such count to run out of
        return 0


# Linux gives a process 65,530 memory mappings (vm.max_map_count) and every compiled CPU
# program holds some; the whole suite in one process passed the limit and XLA crashed in
# whichever test compiled next. Past this many, a module's end lets the compiled programs
# go: the largest module (the Keras tests) adds about 22,000 (measured at its end: 22,807),
# so the count stays below ~40,000; clearing after every module instead took CI from 565
# to 670 s (recompiling).
MAPPINGS_SOFT_LIMIT = 15_000


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    yield
    if _mappings() > MAPPINGS_SOFT_LIMIT:
        programs._PROGRAMS.clear()
        jax.clear_caches()


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run the ``lstmlab`` entry point in-process: (exit code, stdout, stderr)."""
    def run(*args):
        monkeypatch.setattr(sys, "argv", ["lstmlab", *map(str, args)])
        code = 0
        try:
            cli.entry()
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err
    return run
