"""lstmlab: next-symbol prediction with LSTMs, and how LSTM state works."""

from .experiments import PRESETS, Config, ConfigError, Result, run

__version__ = "0.1.0"
__all__ = ["PRESETS", "Config", "ConfigError", "Result", "run", "__version__"]
