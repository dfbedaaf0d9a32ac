"""gemm_ffn with layernorm = true: y = W2·GELU(W1·LN(x) + b1) + b2 (GELU in the erf form)."""
import torch
from torch import nn

from ._gelu import gelu
from ._options import Options

FAMILY = "gemm_ffn"


class GemmFfn(nn.Module):
    family = FAMILY
    includes_layernorm = True
    routing_training = "no routing"

    def __init__(self, d, d_ff):
        super().__init__()
        self.d, self.d_ff = d, d_ff
        self.ln = nn.LayerNorm(d, eps=1e-5)
        self.w1 = nn.Linear(d, d_ff)
        self.w2 = nn.Linear(d_ff, d)
        self.aux_loss = torch.zeros(())

    def forward(self, x):
        return self.w2(gelu(self.w1(self.ln(x))))

    def params(self):
        return {"d": self.d, "d_ff": self.d_ff, "activation": "gelu_erf", "layernorm": "true"}

    def exported_parameters(self):
        """Export name -> the parameter it is (FORMAT.md §3): export() and families.load_export()."""
        return dict(self.named_parameters())

    def export(self):
        return {n: p.detach().numpy().astype("float32") for n, p in self.exported_parameters().items()}


def build(d, options):
    o = Options(FAMILY, options)
    block = GemmFfn(d, o.integer("d_ff", 4 * d))
    o.done()
    return block
