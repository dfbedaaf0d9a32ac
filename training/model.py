"""The small Fashion-MNIST classifier every block is trained in (FORMAT.md §2):
h0 = Linear(784 -> d)(pixels); h1 = h0 + F(h0), F the family's pre-LayerNorm block; logits =
Linear(d -> 10)(h1). Families whose C++ math has no LayerNorm get it here, outside the export."""
import torch
from torch import nn

PIXELS, CLASSES = 784, 10


class Classifier(nn.Module):
    def __init__(self, d, block):
        super().__init__()
        self.inp = nn.Linear(PIXELS, d)
        self.ln = None if block.includes_layernorm else nn.LayerNorm(d, eps=1e-5)
        self.block = block
        self.head = nn.Linear(d, CLASSES)

    def residual_and_block_input(self, pixels):
        """(h0, x): the residual stream and what the exported block receives (FORMAT.md §2)."""
        h0 = self.inp(pixels)
        return h0, (h0 if self.ln is None else self.ln(h0))

    def forward(self, pixels):
        h0, x = self.residual_and_block_input(pixels)
        return self.head(h0 + self.block(x))

    def export_outside_block(self):
        """The classifier's tensors that are not the block's (model.safetensors)."""
        t = {"inp.weight": self.inp.weight, "inp.bias": self.inp.bias,
             "head.weight": self.head.weight, "head.bias": self.head.bias}
        if self.ln is not None:
            t["ln.weight"], t["ln.bias"] = self.ln.weight, self.ln.bias
        return {n: p.detach().numpy().astype("float32") for n, p in t.items()}
