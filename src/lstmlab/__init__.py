"""lstmlab: next-symbol prediction with LSTMs, and how LSTM state works."""

__version__ = "0.1.0"  # before the imports: the CLI reads it while this package loads

from .config import PRESETS, Config
from .errors import ConfigError, DataError, KerasError, ModelError

# The numerical API loads JAX; it is imported on first use (PEP 562), so that the command
# line's `list` and `--help` start in a fraction of a second.
_LAZY = {"Model": "artifacts", "ModelInfo": "artifacts", "load": "artifacts",
         "Result": "kinds.window_result", "run": "experiments", "Sweep": "sweeps",
         "sweep": "sweeps",
         "from_keras_weights": "model", "keras_weights": "model", "Trace": "artifacts",
         "explore": "explorer", "Explorer": "explorer", "reproduce": "job",
         "Reproduction": "job", "check": "keras_check"}


def __getattr__(name: str):
    if name == "from_keras":  # a Keras model or .keras/.h5 file → Model
        from .artifacts import Model
        return Model.from_keras
    if name in ("cache", "units"):  # lstmlab.cache.enable(); lstmlab.units.best(...)
        import importlib
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'lstmlab' has no attribute {name!r}")


__all__ = ["PRESETS", "Config", "ConfigError", "DataError", "Explorer", "KerasError", "Model",
           "ModelError", "ModelInfo", "Reproduction", "Result", "Sweep", "Trace", "check", "explore",
           "from_keras", "from_keras_weights", "keras_weights", "load", "reproduce", "run",
           "sweep", "__version__"]
