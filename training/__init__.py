"""Training of every ffnbench layer family on Fashion-MNIST and export for the C++ variants
(the contract: FORMAT.md)."""
import os

# Bumped when the exported math, a layout or the training code changes: part of every cache
# hash (FORMAT.md §5), so such a change retrains instead of reusing stale models.
FORMAT_VERSION = 1

# OpenMP threads that spin while waiting make small training steps ~30x slower on a machine
# whose cores are shared (measured: 2.7 s against 82 ms a step); set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
