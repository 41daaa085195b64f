"""lstmlab: next-symbol prediction with LSTMs, and how LSTM state works."""

__version__ = "0.1.0"  # before the imports: the CLI reads it while this package loads

from .artifacts import Model, ModelError, load
from .data import DataError
from .experiments import PRESETS, Config, ConfigError, Result, run

__all__ = ["PRESETS", "Config", "ConfigError", "DataError", "Model", "ModelError", "Result",
           "load", "run", "__version__"]
