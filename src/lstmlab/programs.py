"""Compiled programs of this process: compiled once for everything that shapes them (a
sweep over the learning rate or the epochs compiles once), and compilations started ahead
on threads of their own (XLA compiles with the GIL released, so later experiments compile
while earlier ones train). What is compiled is train's business; how it is kept is here."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Future, ThreadPoolExecutor

import jax
import numpy as np

# by everything that shapes them (the learning rate and the epochs do not; the data only
# by shape), the most recently used last
_PROGRAMS: dict = {}
# Each compiled CPU program holds its own memory mappings (~10 for the smallest); a process
# may have 65,530 (Linux's vm.max_map_count), past which XLA crashes instead of failing. A
# sweep over hundreds of shapes would get there: the least recently used finished programs
# beyond this many are dropped (the persistent cache brings one back in well under a second).
MAX_PROGRAMS = 64


def device(a, dtype=None):
    """``a`` (a NumPy array or number) as a JAX array on the default device, of JAX's dtype
    (int64 as int32, float64 as float32 without x64), as ``jnp.asarray`` gives it — but
    copied, not converted by a compiled program: ``jnp.asarray`` compiles one for every
    new shape and dtype (docs/speed.md). A JAX array is returned as it is (cast if
    ``dtype`` asks)."""
    if isinstance(a, jax.Array):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    return jax.device_put(np.asarray(a, dtype))


def _key(spec, args, kind: str, static) -> tuple:
    """What shapes a program: the settings (not the learning rate; the epochs only for the
    initialisation), the arguments' shapes and structure, and static values."""
    shapes = tuple((a.shape, str(a.dtype)) if a is not None else None
                   for a in jax.tree.leaves(args, is_leaf=lambda a: a is None))
    return (kind, dataclasses.replace(spec, lr=0.0, epochs=0 if kind == "chunk" else
                                      spec.epochs), shapes,
            str(jax.tree.structure(args, is_leaf=lambda a: a is None)), static)


def _compile(build, args):
    """Compile, and how long it took (the persistent cache may answer: then it is short)."""
    t0 = time.perf_counter()
    program = build().lower(*args).compile()
    return program, time.perf_counter() - t0


def program(spec, args, kind: str, build, *static):
    """The compiled program for these settings and argument shapes, and the seconds its
    compilation took if it was compiled for this call (0 when this process had it): from
    this process's cache, from a compilation started ahead (:func:`program_ahead`), or
    compiled now."""
    key = _key(spec, args, kind, static)
    if key in _PROGRAMS and not isinstance(_PROGRAMS[key], Future):
        _PROGRAMS[key] = _PROGRAMS.pop(key)  # most recently used: last
        return _PROGRAMS[key], 0.0
    ahead = _PROGRAMS.get(key)
    try:
        program, seconds = ahead.result() if ahead is not None else _compile(build, args)
    except Exception:  # cancelled or failed ahead: compile it here (an error again then
        if ahead is None:  # says what failed); Ctrl-C is not caught
            raise
        program, seconds = _compile(build, args)
    _PROGRAMS.pop(key, None)
    _PROGRAMS[key] = program
    _forget_oldest()
    return program, seconds


def _forget_oldest() -> None:
    """Drop the least recently used finished programs beyond MAX_PROGRAMS (compilations
    under way are kept: someone waits for them)."""
    done = [k for k, v in _PROGRAMS.items() if not isinstance(v, Future)]
    for key in done[:max(0, len(done) - MAX_PROGRAMS)]:
        del _PROGRAMS[key]


# Compilations started ahead, on threads of their own: XLA compiles with the GIL released,
# so later experiments compile while earlier ones train, evaluate and save.
_AHEAD = ThreadPoolExecutor(2, thread_name_prefix="lstmlab-compile")


def program_ahead(spec, args, kind, build, *static):
    key = _key(spec, args, kind, static)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = _AHEAD.submit(_compile, build, args)


def wait_ahead() -> None:
    """Wait for the compilations started ahead that are running (none start after it)."""
    _AHEAD.shutdown(wait=True)


def cancel_ahead() -> None:
    """Drop compilations started ahead that have not begun (an interrupted run)."""
    for key, program in list(_PROGRAMS.items()):
        if isinstance(program, Future) and program.cancel():
            _PROGRAMS.pop(key, None)
