"""Replicas (seeds) of a text or memory model trained at once: on the CPU one group per
core, each group one call of the same compiled program (its replicas one after another
inside it), the groups on threads of their own. XLA runs such a program's recurrence on
one core and releases the GIL while it runs, so two groups on two cores train about 1.4×
faster than one program of all (benchmarks/text_bench.py). On an accelerator one program
holds them all. The window experiments' ``train.fit`` groups its replicas with the same
pieces, in groups of at most ``train.MAX_GROUP``."""

from __future__ import annotations

import os

import jax
import numpy as np


def per_group(replicas: int, workers: int | None = None) -> int:
    """Replicas per group: ``workers`` groups if given (a Ray task's seeds are one group);
    else as many groups as cores (fewer with fewer replicas) on the CPU, one group of all
    elsewhere."""
    if workers is None and jax.default_backend() != "cpu":
        return replicas
    groups = (os.cpu_count() or 1) if workers is None else workers
    return -(-replicas // max(1, min(replicas, groups)))


def threads(groups: int) -> int:
    """How many groups train at once: one per core."""
    return max(1, min(groups, os.cpu_count() or 1))


def split(trees, size: int, groups: int) -> list:
    """``trees`` (a leading replica axis) as ``groups`` groups of ``size`` replicas (numpy
    slices: an eager jnp slice of a new shape compiles a kernel), the last padded with
    copies of the last replica, whose results :func:`joined` drops."""
    def part(a, g):
        a = np.asarray(a)
        if len(a) < groups * size:
            a = np.concatenate([a, np.repeat(a[-1:], groups * size - len(a), 0)])
        return a[g * size:(g + 1) * size]
    return [jax.tree.map(lambda a: part(a, g), trees) for g in range(groups)]


def joined(parts: list, replicas: int):
    """The groups' trees as one of ``replicas``, the padding dropped."""
    return jax.tree.map(lambda *a: np.concatenate([np.asarray(v) for v in a])[:replicas],
                        *parts)
