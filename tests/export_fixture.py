"""Writes one export (training/FORMAT.md) per layer family with random weights: block.safetensors,
activations.safetensors (x, and PyTorch's y for it) and meta.json, in <out>/<name>/.
tests/test_pytorch_gate.cpp checks the C++ reference and kernels against these y.

y is computed by the training modules themselves (training/families: the fixture's weights loaded
into the family's nn.Module with families.load_export, the module in eval mode), so the C++ is
checked against the code that trains and exports the real models, and block.safetensors is what
that module's export() writes. Each y is also recomputed from FORMAT.md's formulas written out
below, independently of the modules; a row where the two disagree beyond fp32 rounding (and no
routing decision lies within 1e-4 of its threshold) stops the script with exit status 1.

usage: /usr/bin/python3 tests/export_fixture.py <out folder>"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from training import families as training_families  # noqa: E402
from training import numpy_reference  # noqa: E402

D, N = 16, 96
AGREEMENT = 1e-5       # module vs formulas, per row (numpy_reference.relative_error, the C++ gate's formula)
ROUTING_MARGIN = 1e-4  # rows with a routing decision this close to its threshold may disagree


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def gelu(z):
    return torch.nn.functional.gelu(z)  # erf form


def layer_norm(x, gamma, beta):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), gamma, beta, eps=1e-5)


def hadamard(n):
    idx = torch.arange(n)
    bits = torch.bitwise_and(idx[:, None], idx[None, :])
    parity = torch.zeros_like(bits)
    for s in range(int(math.log2(n)) + 1):
        parity ^= (bits >> s) & 1
    return 1.0 - 2.0 * parity.to(torch.float32)


def gemm_ffn(g):
    t = {"ln.weight": 1 + 0.2 * torch.randn(D, generator=g), "ln.bias": 0.1 * torch.randn(D, generator=g),
         "w1.weight": torch.randn(48, D, generator=g) / 4, "w1.bias": 0.1 * torch.randn(48, generator=g),
         "w2.weight": torch.randn(D, 48, generator=g) / 7, "w2.bias": 0.1 * torch.randn(D, generator=g)}

    def f(x):
        u = layer_norm(x, t["ln.weight"], t["ln.bias"])
        return gelu(u @ t["w1.weight"].T + t["w1.bias"]) @ t["w2.weight"].T + t["w2.bias"]
    return t, f, {"d": D, "d_ff": 48, "layernorm": True}


def lookup_ffn(g, projection):
    h, tau, b, dp = 8, 4, 4, D
    ht = h * tau
    t = {"ln.weight": 1 + 0.2 * torch.randn(D, generator=g), "ln.bias": 0.1 * torch.randn(D, generator=g),
         "proj.bias": 0.1 * torch.randn(ht, generator=g), "tables": torch.randn(h, 2 ** tau, D, generator=g) / 3,
         "out.bias": 0.1 * torch.randn(D, generator=g)}
    copies = (ht + dp - 1) // dp
    if projection == "bh4":
        t["bh4.weight"] = torch.randn(copies, 4, dp // b, b, b, generator=g) / math.sqrt(b * dp)
    else:
        t["proj.weight"] = torch.randn(ht, D, generator=g) / 4
    H = hadamard(dp)

    def f(x):
        u = layer_norm(x, t["ln.weight"], t["ln.bias"])
        if projection == "bh4":
            outs = []
            for c in range(copies):
                v = u
                for r in range(4):
                    blocks = v.reshape(-1, dp // b, b)
                    v = torch.einsum("bni,noi->bno", blocks, t["bh4.weight"][c, r]).reshape(-1, dp) @ H
                outs.append(v)
            z = 0.7 * torch.cat(outs, 1)[:, :ht] + 0.3 * u.repeat(1, copies)[:, :ht] + t["proj.bias"]
        else:
            z = u @ t["proj.weight"].T + t["proj.bias"]
        zk = z.reshape(-1, h, tau)
        weights = 2 ** torch.arange(tau - 1, -1, -1)
        codes = ((zk > 0).to(torch.int64) * weights).sum(-1)
        score = zk.abs().sum(-1) / torch.prod(1 + torch.exp(-2 * zk.abs()), -1)
        rows = t["tables"][torch.arange(h)[None, :], codes]  # [n, h, d]
        return (score[:, :, None] * rows).sum(1) + t["out.bias"]
    params = {"d": D, "d_out": D, "h": h, "tau": tau, "projection": projection}
    if projection == "bh4":
        params["b"] = b
    return t, f, params


def fff(g, leaf_width):
    depth, trees = 3, 2
    nodes = 2 ** depth - 1 if leaf_width else 2 ** (depth + 1) - 1
    leaves = 2 ** depth
    t = {"w_in": torch.randn(trees, nodes, D, generator=g) / 4, "b_in": 0.1 * torch.randn(trees, nodes, generator=g)}
    if leaf_width:
        t.update({"leaf_w1": torch.randn(trees, leaves, leaf_width, D, generator=g) / 4,
                  "leaf_b1": 0.1 * torch.randn(trees, leaves, leaf_width, generator=g),
                  "leaf_w2": torch.randn(trees, leaves, D, leaf_width, generator=g) / 3,
                  "leaf_b2": 0.1 * torch.randn(trees, leaves, D, generator=g)})
    else:
        t["w_out"] = torch.randn(trees, nodes, D, generator=g) / 3

    def f(x):
        y = torch.zeros(x.shape[0], D)
        for i in range(x.shape[0]):
            for k in range(trees):
                node = 0
                for _ in range(depth if leaf_width else depth + 1):
                    z = x[i] @ t["w_in"][k, node] + t["b_in"][k, node]
                    if not leaf_width:
                        y[i] += gelu(z) * t["w_out"][k, node]
                    node = 2 * node + 1 + int(z >= 0 if leaf_width else z > 0)
                if leaf_width:
                    leaf = node - nodes
                    hidden = torch.relu(t["leaf_w1"][k, leaf] @ x[i] + t["leaf_b1"][k, leaf])
                    y[i] += t["leaf_w2"][k, leaf] @ hidden + t["leaf_b2"][k, leaf]
        return y
    return t, f, {"d": D, "d_out": D, "depth": depth, "trees": trees, "leaf_width": leaf_width}


def moe(g):
    experts, k, de = 4, 2, 12
    t = {"router.weight": torch.randn(experts, D, generator=g) / 4,
         "w1.weight": torch.randn(experts, de, D, generator=g) / 4, "w1.bias": 0.1 * torch.randn(experts, de, generator=g),
         "w2.weight": torch.randn(experts, D, de, generator=g) / 3, "w2.bias": 0.1 * torch.randn(experts, D, generator=g)}

    def f(x):
        p = torch.softmax(x @ t["router.weight"].T, -1)
        top = torch.topk(p, k, -1)
        w = top.values / top.values.sum(-1, keepdim=True)
        y = torch.zeros(x.shape[0], D)
        for i in range(x.shape[0]):
            for j in range(k):
                e = int(top.indices[i, j])
                hidden = gelu(t["w1.weight"][e] @ x[i] + t["w1.bias"][e])
                y[i] += w[i, j] * (t["w2.weight"][e] @ hidden + t["w2.bias"][e])
        return y
    return t, f, {"d": D, "experts": experts, "top_k": k, "d_e": de}


def soft_lookup(g):
    buckets, temperature = 24, 0.5
    t = {"R": torch.randn(buckets, D, generator=g) / 4, "L": torch.randn(buckets, D, generator=g)}

    def f(x):
        return torch.softmax(x @ t["R"].T / temperature, -1) @ t["L"]
    return t, f, {"d": D, "d_out": D, "B": buckets, "temperature": temperature}


# name -> (family, the fixture's tensors and formulas, the training module's INI options)
FAMILIES = {
    "dense": ("gemm_ffn", gemm_ffn, {"d_ff": "48"}),
    "lookup_bh4": ("lookup_ffn", lambda g: lookup_ffn(g, "bh4"), {"projection": "bh4", "h": "8", "tau": "4", "b": "4"}),
    "lookup_dense": ("lookup_ffn", lambda g: lookup_ffn(g, "dense"), {"projection": "dense", "h": "8", "tau": "4"}),
    "fff_ufb": ("fff", lambda g: fff(g, 0), {"depth": "3", "trees": "2"}),
    "fff_leaf": ("fff", lambda g: fff(g, 5), {"depth": "3", "trees": "2", "leaf_width": "5"}),
    "moe": ("moe", moe, {"experts": "4", "top_k": "2", "d_e": "12"}),
    "soft_lookup": ("soft_lookup", soft_lookup, {"B": "24", "temperature": "0.5"}),
}


def module_outputs(name, family, options, tensors, x, formula_y):
    """(export, y) of the training module holding `tensors`: export() as the trainer writes it,
    y its eval-mode forward of x; checked against the fixture's tensors and formulas."""
    block = training_families.load_export(training_families.build(family, D, options), tensors)
    block.eval()
    with torch.no_grad():
        y = block(x)
    export = block.export()
    for t, a in export.items():
        if not np.array_equal(a, tensors[t].numpy()):
            raise SystemExit(f"{name}: the module's export() changes tensor {t}")
    _, margin = numpy_reference.forward(family, export, block.params(), x.numpy())
    err = numpy_reference.relative_error(y.numpy().astype(np.float64), formula_y.numpy().astype(np.float64))
    bad = np.flatnonzero((err > AGREEMENT) & (margin > ROUTING_MARGIN))
    if bad.size:
        raise SystemExit(f"{name}: training module vs FORMAT.md formulas differ at rows {bad.tolist()} "
                         f"(max relative error {err[bad].max():.3g})")
    return export, y


def main():
    out = sys.argv[1]
    torch.set_num_threads(1)
    for seed, (name, (family, make, options)) in enumerate(FAMILIES.items()):
        g = torch.Generator().manual_seed(100 + seed)
        tensors, forward, params = make(g)
        x = torch.randn(N, D, generator=g)
        if family in ("fff", "moe", "soft_lookup"):  # these variants receive LN(h0): rows of mean 0, variance 1
            x = layer_norm(x, None, None)
        with torch.no_grad():
            formula_y = forward(x)
        export, y = module_outputs(name, family, options, tensors, x, formula_y)
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        write_safetensors(os.path.join(folder, "block.safetensors"), {n: torch.from_numpy(a) for n, a in export.items()})
        write_safetensors(os.path.join(folder, "activations.safetensors"), {"x": x, "y": y})
        meta = {"format": "ffnbench-trained-block/1", "name": name, "family": family, "params": params,
                "dataset": "fixture", "test_accuracy": 0.5 + 0.01 * seed, "dense_test_accuracy": 0.5}
        with open(os.path.join(folder, "meta.json"), "w") as f:
            json.dump(meta, f)
    print(out)


if __name__ == "__main__":
    main()
