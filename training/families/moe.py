"""moe (DESIGN.md §4): router logits x·W_r (no bias), softmax over E, the top k (ties: lower
index) with their probabilities renormalized to sum to 1; each expert GELU(x·W1ᵀ + b1)·W2ᵀ + b2;
y = Σ over the chosen experts of weight · expert(x). Training computes every expert on every
token (exactly the same y: the unchosen ones carry weight 0) with gradients through the
renormalized weights; optional Switch-style load balancing E·Σ_e f_e·P_e."""
import math

import torch
from torch import nn

from ._gelu import gelu
from ._options import Options

FAMILY = "moe"


def route(logits, k):
    """logits [T, E] -> dense combine weights [T, E] (zero off the top k), probabilities [T, E]."""
    p = torch.softmax(logits, dim=-1)
    # Stable sort: equal probabilities keep index order, so ties go to the lower expert.
    order = torch.sort(p, dim=-1, descending=True, stable=True).indices[:, :k]
    chosen = p.gather(1, order)
    weights = torch.zeros_like(p).scatter(1, order, chosen / chosen.sum(-1, keepdim=True))
    return weights, p


class Moe(nn.Module):
    family = FAMILY
    includes_layernorm = False
    routing_training = ("top-k of the softmax router, weights renormalized, gradients through the chosen "
                        "experts' weights; Switch load-balancing loss with weight load_balance")

    def __init__(self, d, experts, top_k, d_e, load_balance):
        super().__init__()
        if top_k > experts:
            raise ValueError(f"moe.top_k = {top_k}: more than experts = {experts} (allowed: 1..{experts})")
        self.d, self.experts, self.top_k, self.d_e, self.load_balance = d, experts, top_k, d_e, load_balance
        b1, b2 = 1 / math.sqrt(d), 1 / math.sqrt(d_e)
        self.router = nn.Linear(d, experts, bias=False)
        self.w1_weight = nn.Parameter(torch.empty(experts, d_e, d).uniform_(-b1, b1))
        self.w1_bias = nn.Parameter(torch.empty(experts, d_e).uniform_(-b1, b1))
        self.w2_weight = nn.Parameter(torch.empty(experts, d, d_e).uniform_(-b2, b2))
        self.w2_bias = nn.Parameter(torch.empty(experts, d).uniform_(-b2, b2))
        self.aux_loss = torch.zeros(())

    def forward(self, x):
        weights, p = route(self.router(x), self.top_k)
        hidden = gelu(torch.einsum("td,ehd->teh", x, self.w1_weight) + self.w1_bias)
        out = torch.einsum("teh,eoh->teo", hidden, self.w2_weight) + self.w2_bias
        if self.load_balance > 0:
            share = (weights > 0).to(x.dtype).mean(0) / self.top_k  # f_e, no gradient
            self.aux_loss = self.load_balance * self.experts * (share * p.mean(0)).sum()
        return torch.einsum("te,teo->to", weights, out)

    def params(self):
        return {"d": self.d, "experts": self.experts, "top_k": self.top_k, "d_e": self.d_e}

    def exported_parameters(self):
        """Export name -> the parameter it is (FORMAT.md §3): export() and families.load_export()."""
        return {"router.weight": self.router.weight, "w1.weight": self.w1_weight, "w1.bias": self.w1_bias,
                "w2.weight": self.w2_weight, "w2.bias": self.w2_bias}

    def export(self):
        return {n: p.detach().numpy().astype("float32") for n, p in self.exported_parameters().items()}


def build(d, options):
    o = Options(FAMILY, options)
    block = Moe(d, experts=o.integer("experts", 8, 1, 4096), top_k=o.integer("top_k", 2, 1, 4096),
                d_e=o.integer("d_e", 64), load_balance=o.real("load_balance", 0.01, 0.0, 1e3))
    o.done()
    return block
