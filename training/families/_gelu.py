"""GELU in the erf form, 0.5·x·(1 + erf(x/√2)), composed from autograd primitives: Debian's
torch 1.13 nn.functional.gelu returns garbage gradients (~1e34) when the incoming gradient is
not contiguous (as einsum's backward gives it), so no block uses it."""
import math

import torch


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))
