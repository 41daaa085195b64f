"""The training inputs of timestep-window moved to the device, two ways; run each in a
fresh process (the first conversion of a shape is what costs):

    python benchmarks/transfer_bench.py asarray
    python benchmarks/transfer_bench.py device_put
"""
import sys, time
import numpy as np, jax, jax.numpy as jnp
from lstmlab import experiments
ds = experiments.prepare(experiments.resolve("timestep-window"))
x, y = ds.x, ds.patterns.y
jax.devices()
put = jax.device_put if sys.argv[1] == "device_put" else jnp.asarray
t = time.perf_counter(); a = [put(v) for v in (x, y)]; [v.block_until_ready() for v in a]
print(sys.argv[1], f"{time.perf_counter() - t:.3f} s", [str(v.dtype) for v in a])
