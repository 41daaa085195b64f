"""lstmlab: next-symbol prediction with LSTMs, and how LSTM state works."""

__version__ = "0.1.0"  # before the imports: the CLI reads it while this package loads

from .artifacts import Model, ModelError, ModelInfo, load
from .data import DataError
from .experiments import PRESETS, Config, ConfigError, Result, run
from .keras_io import KerasError
from .model import from_keras_weights, keras_weights
from .sweeps import Sweep, sweep

from_keras = Model.from_keras  # a Keras model or .keras/.h5 file → Model

__all__ = ["PRESETS", "Config", "ConfigError", "DataError", "KerasError", "Model", "ModelError",
           "ModelInfo", "Result", "from_keras", "from_keras_weights", "keras_weights", "load",
           "run", "Sweep", "sweep", "__version__"]
