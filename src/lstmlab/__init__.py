"""lstmlab: next-symbol prediction with LSTMs, and how LSTM state works."""

from .artifacts import Model, ModelError, load
from .experiments import PRESETS, Config, ConfigError, Result, run

__version__ = "0.1.0"
__all__ = ["PRESETS", "Config", "ConfigError", "Model", "ModelError", "Result", "load", "run",
           "__version__"]
