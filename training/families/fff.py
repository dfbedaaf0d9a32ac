"""fff (DESIGN.md §4): K trees of depth D in heap order (children of i: 2i+1 left, 2i+2 right).
UltraFastBERT form (leaf_width = 0): every node a neuron; per tree D+1 levels of
  z = x·w_in[node] + b_in[node];  y += GELU(z)·w_out[node];  node = 2·node + 1 + (z > 0).
Original FFF form (leaf_width = ℓ > 0): 2^D - 1 routing nodes (z ≥ 0 goes right) and 2^D leaves,
each a dense FFN d → ℓ → d with ReLU and both biases.
Training. UltraFastBERT form: hard, as UltraFastBERT — the forward takes the signs' path and
gradients reach the nodes on it through GELU(z), never through the branch choice. FFF form: soft
then hardened, as the FFF paper — leaves mixed by their path probabilities (sigmoid(z) right),
with a hardening loss on the decisions' entropy, then the last hard_epochs on the hard path.
Every evaluation and export uses the hard path."""
import math

import torch
from torch import nn

from ._gelu import gelu
from ._options import Options

FAMILY = "fff"


def hard_path(z, depth, right_if_zero):
    """z [T, nodes] (heap order) -> the visited node per level, int64 [T, depth + 1]: the last
    column is the node at level `depth` (UltraFastBERT's last neuron, FFF's leaf + 2^depth - 1)."""
    node = torch.zeros(z.shape[0], dtype=torch.int64, device=z.device)
    visited = [node]
    for _ in range(depth):
        zn = z.gather(1, node[:, None])[:, 0]
        right = (zn >= 0) if right_if_zero else (zn > 0)
        node = 2 * node + 1 + right.to(torch.int64)
        visited.append(node)
    return torch.stack(visited, dim=1)


def leaf_probabilities(z, depth):
    """Soft routing: z [T, 2^depth - 1] -> P(leaf) [T, 2^depth], sigmoid(z) the right branch's."""
    p = torch.ones(z.shape[0], 1, dtype=z.dtype, device=z.device)
    for level in range(depth):
        first = 2 ** level - 1
        s = torch.sigmoid(z[:, first:first + 2 ** level])
        p = torch.stack([p * (1 - s), p * s], dim=2).reshape(z.shape[0], -1)
    return p


class Fff(nn.Module):
    family = FAMILY
    includes_layernorm = False

    def __init__(self, d, depth, trees, leaf_width, hardening):
        super().__init__()
        self.d, self.depth, self.trees, self.leaf_width, self.hardening = d, depth, trees, leaf_width, hardening
        self.leaves = 2 ** depth
        self.hard_training = leaf_width == 0  # the FFF form switches to hard for its last epochs
        bound = 1 / math.sqrt(d)
        if leaf_width == 0:
            nodes = 2 ** (depth + 1) - 1
            self.routing_training = ("hard, as UltraFastBERT: the signs' path in training too; gradients "
                                     "through GELU(z) of the path's nodes, none through the branch choice")
            self.w_in = nn.Parameter(torch.empty(trees, nodes, d).uniform_(-bound, bound))
            self.b_in = nn.Parameter(torch.empty(trees, nodes).uniform_(-bound, bound))
            out_bound = 1 / math.sqrt((depth + 1) * trees)
            self.w_out = nn.Parameter(torch.empty(trees, nodes, d).uniform_(-out_bound, out_bound))
        else:
            nodes = 2 ** depth - 1
            self.routing_training = ("soft then hardened, as the FFF paper: leaves mixed by their sigmoid path "
                                     "probabilities with a hardening (decision entropy) loss, then the last "
                                     "hard_epochs on the hard path (z >= 0 right)")
            self.w_in = nn.Parameter(torch.empty(trees, max(nodes, 0), d).uniform_(-bound, bound))
            self.b_in = nn.Parameter(torch.empty(trees, max(nodes, 0)).uniform_(-bound, bound))
            lb = 1 / math.sqrt(leaf_width)
            self.leaf_w1 = nn.Parameter(torch.empty(trees, self.leaves, leaf_width, d).uniform_(-bound, bound))
            self.leaf_b1 = nn.Parameter(torch.empty(trees, self.leaves, leaf_width).uniform_(-bound, bound))
            self.leaf_w2 = nn.Parameter(torch.empty(trees, self.leaves, d, leaf_width).uniform_(-lb, lb))
            self.leaf_b2 = nn.Parameter(torch.empty(trees, self.leaves, d).uniform_(-lb, lb))
        self.aux_loss = torch.zeros(())

    def set_hard_training(self, hard):
        """FFF form: True for the hardened epochs (the UltraFastBERT form is always hard)."""
        if self.leaf_width > 0:
            self.hard_training = hard

    def forward(self, x):
        y = torch.zeros_like(x)
        aux = torch.zeros((), dtype=x.dtype)
        for t in range(self.trees):
            z = x @ self.w_in[t].T + self.b_in[t]
            if self.leaf_width == 0:
                path = hard_path(z, self.depth, right_if_zero=False)
                act = gelu(z.gather(1, path))             # [T, D+1]
                y = y + torch.einsum("tl,tlo->to", act, self.w_out[t][path])
                continue
            hidden = torch.relu(torch.einsum("td,lhd->tlh", x, self.leaf_w1[t]) + self.leaf_b1[t])
            leaf_out = torch.einsum("tlh,loh->tlo", hidden, self.leaf_w2[t]) + self.leaf_b2[t]
            if self.training and not self.hard_training:
                weight = leaf_probabilities(z, self.depth)
                s = torch.sigmoid(z).clamp(1e-6, 1 - 1e-6)
                aux = aux - (s * torch.log(s) + (1 - s) * torch.log(1 - s)).mean() if z.shape[1] else aux
            else:
                leaf = hard_path(z, self.depth, right_if_zero=True)[:, -1] - (self.leaves - 1)
                weight = nn.functional.one_hot(leaf, self.leaves).to(x.dtype)
            y = y + torch.einsum("tl,tlo->to", weight, leaf_out)
        self.aux_loss = self.hardening * aux
        return y

    def params(self):
        return {"d": self.d, "d_out": self.d, "depth": self.depth, "trees": self.trees,
                "leaf_width": self.leaf_width, "activation": "gelu"}

    def exported_parameters(self):
        """Export name -> the parameter it is (FORMAT.md §3): export() and families.load_export()."""
        return dict(self.named_parameters())

    def export(self):
        return {n: p.detach().numpy().astype("float32") for n, p in self.exported_parameters().items()}


def build(d, options):
    o = Options(FAMILY, options)
    block = Fff(d, depth=o.integer("depth", 6, 0, 20), trees=o.integer("trees", 1, 1, 4096),
                leaf_width=o.integer("leaf_width", 0, 0, 1 << 20), hardening=o.real("hardening", 0.1, 0.0, 1e3))
    o.done()
    return block
