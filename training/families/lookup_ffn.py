"""lookup_ffn (LookupFFN, DESIGN.md §4, the official code's math):
  u = LN(x)·γ + β zero-padded to d';  z = 0.7·[BH4_1(u)…BH4_R(u)] + 0.3·[u…u] (first h·τ) + bias
  (projection = dense: z = Wp·u + bp);  per table k: code_k = Σ_j [z_kj > 0]·2^(τ-1-j),
  score_k = Σ_j |z_kj| / Π_j (1 + exp(-2|z_kj|));  y = Σ_k score_k · T_k[code_k] + b.
Trained as the official code trains it (compute_code_score_torch): the code is a hard index
with no gradient; z learns only through the score, the tables through the gather."""
import math

import torch
from torch import nn

from ._options import Options

FAMILY = "lookup_ffn"
BH4_SHARE, RESIDUAL_SHARE = 0.7, 0.3
ROUNDS = 4


def next_power_of_two(v):
    p = 1
    while p < v:
        p *= 2
    return p


def hadamard_matrix(n):
    """Unnormalized Sylvester-Hadamard matrix: H[i][j] = (-1)^popcount(i & j)."""
    i = torch.arange(n)
    bits = torch.bitwise_and(i[:, None], i[None, :])
    parity = torch.zeros_like(bits)
    while bool(bits.any()):
        parity ^= bits & 1
        bits = bits >> 1
    return (1 - 2 * parity).to(torch.float32)


def codes_and_scores(z, tau):
    """z [T, h·τ] -> codes int64 [T, h], scores [T, h] (differentiable in z)."""
    zt = z.reshape(z.shape[0], -1, tau)
    weights = 2 ** torch.arange(tau - 1, -1, -1, device=z.device)
    codes = ((zt > 0).to(torch.int64) * weights).sum(-1)
    a = zt.abs()
    scores = a.sum(-1) / torch.prod(1 + torch.exp(-2 * a), dim=-1)
    return codes, scores


class LookupFfn(nn.Module):
    family = FAMILY
    includes_layernorm = True
    routing_training = ("hard codes, no straight-through: z learns only through the score's gradient "
                        "(the official compute_code_score_torch), the tables through the gather")

    def __init__(self, d, h, tau, b, projection):
        super().__init__()
        self.d, self.h, self.tau, self.b, self.projection = d, h, tau, b, projection
        self.dp = next_power_of_two(d)
        self.ht = h * tau
        self.ln = nn.LayerNorm(d, eps=1e-5)
        if projection == "bh4":
            if b > self.dp or self.dp % b:
                raise ValueError(f"lookup_ffn.b = {b}: must be a power of two dividing d' = {self.dp}")
            self.copies = max(1, math.ceil(self.ht / self.dp))
            # [copy][round][block][out][in], the official init: variance 1/(b·d') keeps the norm
            # through each round (block product, then the unnormalized H's factor √d').
            self.bh4 = nn.Parameter(torch.randn(self.copies, ROUNDS, self.dp // b, b, b) / math.sqrt(b * self.dp))
            self.register_buffer("hadamard", hadamard_matrix(self.dp), persistent=False)
        else:
            self.proj = nn.Linear(d, self.ht)
        self.proj_bias = nn.Parameter(torch.zeros(self.ht)) if projection == "bh4" else None
        self.tables = nn.Parameter(0.02 * torch.randn(h, 2 ** tau, d))
        self.out_bias = nn.Parameter(0.001 * torch.randn(d))
        self.aux_loss = torch.zeros(())

    def bh4_transform(self, u):
        """u [T, d'] -> [T, copies·d'], copies concatenated. Training multiplies by each copy's
        composed d'×d' matrix (the same linear map, ~3x faster to train at d' = 128); eval runs
        the rounds one by one, as the C++ kernel does."""
        if self.training:
            return u @ self.bh4_dense()
        t, nb = u.shape[0], self.dp // self.b
        outs = []
        for c in range(self.copies):
            v = u
            for r in range(ROUNDS):
                v = torch.einsum("tnk,njk->tnj", v.reshape(t, nb, self.b), self.bh4[c, r]).reshape(t, self.dp)
                v = v @ self.hadamard
            outs.append(v)
        return torch.cat(outs, dim=1)

    def bh4_dense(self):
        """[d', copies·d']: per copy the product over rounds of (block-diagonal Wᵀ)·H."""
        mats = []
        for c in range(self.copies):
            m = None
            for r in range(ROUNDS):
                step = torch.block_diag(*[blk.T for blk in self.bh4[c, r]]) @ self.hadamard
                m = step if m is None else m @ step
            mats.append(m)
        return torch.cat(mats, dim=1)

    def z(self, x):
        u = self.ln(x)
        if self.projection == "dense":
            return self.proj(u)
        if self.dp > self.d:
            u = nn.functional.pad(u, (0, self.dp - self.d))
        mixed = BH4_SHARE * self.bh4_transform(u) + RESIDUAL_SHARE * u.repeat(1, self.copies)
        return mixed[:, :self.ht] + self.proj_bias

    def forward(self, x):
        codes, scores = codes_and_scores(self.z(x), self.tau)
        rows = codes + torch.arange(self.h, device=x.device) * (2 ** self.tau)
        flat = self.tables.reshape(self.h * 2 ** self.tau, self.d)
        return nn.functional.embedding_bag(rows, flat, per_sample_weights=scores, mode="sum") + self.out_bias

    def params(self):
        return {"d": self.d, "d_out": self.d, "h": self.h, "tau": self.tau, "b": self.b,
                "projection": self.projection}

    def exported_parameters(self):
        """Export name -> the parameter it is (FORMAT.md §3): export() and families.load_export()."""
        t = {"ln.weight": self.ln.weight, "ln.bias": self.ln.bias, "tables": self.tables, "out.bias": self.out_bias}
        if self.projection == "bh4":
            t["bh4.weight"] = self.bh4
            t["proj.bias"] = self.proj_bias
        else:
            t["proj.weight"] = self.proj.weight
            t["proj.bias"] = self.proj.bias
        return t

    def export(self):
        return {n: p.detach().numpy().astype("float32") for n, p in self.exported_parameters().items()}


def build(d, options):
    o = Options(FAMILY, options)
    block = LookupFfn(d, h=o.integer("h", 32, 1, 1 << 16), tau=o.integer("tau", 8, 1, 16), b=o.integer("b", 32),
                      projection=o.choice("projection", "bh4", ["bh4", "dense"]))
    o.done()
    return block
