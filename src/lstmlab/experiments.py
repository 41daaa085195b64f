"""One experiment, from settings to its result, through its kind (``lstmlab.kinds``):
``resolve`` (a preset or a Config, with overrides), ``prepare`` (its data checked and built,
the memory it needs checked before anything is allocated) and ``run`` (its replicas trained
and evaluated, or added to a prior result). Run directories are the engine's."""

from __future__ import annotations

from . import kinds
from .config import PRESETS, Config, derived
from .errors import ConfigError
from .results import plain


def prepare(cfg: Config):
    """Validate every setting and build the data (its kind's); cheap, so a CLI checks all
    experiments before it trains any."""
    return kinds.of(cfg).prepare(cfg)


def resolve(experiment: str | Config, **overrides) -> Config:
    """A preset name or a Config, with overrides applied (numpy numbers as Python ones) and
    what follows from them (``config.derived``: the layers of one size per layer)."""
    if not isinstance(experiment, (str, Config)):
        raise ConfigError(f"experiment {experiment!r} is not allowed; allowed: a preset name "
                          f"({', '.join(PRESETS)}) or an lstmlab.Config")
    overrides = {k: plain(v) for k, v in overrides.items()}
    if isinstance(experiment, str):
        if experiment not in PRESETS:
            raise ConfigError(f"unknown experiment {experiment!r}; allowed: "
                              f"{', '.join(PRESETS)}")
        experiment = PRESETS[experiment]
    try:  # with what follows from the overrides, as on the command line
        return experiment.replace(**overrides, **derived(experiment, overrides))
    except TypeError as e:
        raise ConfigError(str(e)) from None


def run(experiment: str | Config = "timestep-window", *, on_progress=None, dataset=None,
        workers: int | None = None, chunk: int | None = None, prior=None, check=None,
        checkpoint=None, **overrides):
    """Train and evaluate one experiment: a preset name or a :class:`Config`, with any
    setting overridden, e.g. ``lstmlab.run("timestep-window", seeds=5, epochs=200)``.

    ``cfg.seeds`` replicas are trained in one compiled program; the result holds their
    numbers and parameters (``.model(r)``, ``.best()``). ``workers`` and ``chunk`` are
    train.fit's (how replicas are split over CPU cores, and epochs per compiled call);
    neither changes the numbers. ``prior``: a result of the same settings with fewer seeds
    (and its models): only the replicas it lacks are trained, and the result has the
    numbers of training all of them at once (the kind's ``extends``). A stream experiment
    (``streams`` > 0, the ``char-rnn`` preset) trains as char-rnn does; ``checkpoint``: its
    file of the last finished epoch.
    """
    cfg = resolve(experiment, **overrides)
    kind = kinds.of(cfg)
    if prior is not None and not isinstance(prior, kind.result):
        raise ConfigError(f"prior {prior!r} is not allowed; allowed: an lstmlab.Result of "
                          f"the same settings with fewer seeds, or None")
    return kind.train(cfg, dataset or kind.prepare(cfg), prior=prior,
                      on_progress=on_progress, check=check, checkpoint=checkpoint,
                      workers=workers, chunk=chunk)
