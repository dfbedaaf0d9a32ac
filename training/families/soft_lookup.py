"""soft_lookup (DESIGN.md §4): y = softmax(x·Rᵀ / temperature)·L, R [B][d], L [B][d_out]; the
temperature is fixed by the configuration, R and L are trained."""
import math

import torch
from torch import nn

from ._options import Options

FAMILY = "soft_lookup"


class SoftLookup(nn.Module):
    family = FAMILY
    includes_layernorm = False
    routing_training = "soft assignment: every bucket differentiable through the softmax"

    def __init__(self, d, buckets, temperature):
        super().__init__()
        self.d, self.buckets, self.temperature = d, buckets, temperature
        self.R = nn.Parameter(torch.empty(buckets, d).uniform_(-1 / math.sqrt(d), 1 / math.sqrt(d)))
        self.L = nn.Parameter(0.1 * torch.randn(buckets, d))
        self.aux_loss = torch.zeros(())

    def forward(self, x):
        return torch.softmax(x @ self.R.T / self.temperature, dim=-1) @ self.L

    def params(self):
        return {"d": self.d, "d_out": self.d, "B": self.buckets, "temperature": self.temperature}

    def exported_parameters(self):
        """Export name -> the parameter it is (FORMAT.md §3): export() and families.load_export()."""
        return {"R": self.R, "L": self.L}

    def export(self):
        return {n: p.detach().numpy().astype("float32") for n, p in self.exported_parameters().items()}


def build(d, options):
    o = Options(FAMILY, options)
    block = SoftLookup(d, buckets=o.integer("B", 256), temperature=o.real("temperature", 1.0, 1e-6, 1e6))
    o.done()
    return block
