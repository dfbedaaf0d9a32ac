"""DESIGN.md §4's math in plain numpy (float64), written from FORMAT.md's tensor layouts and
independent of the PyTorch modules: the tests check each module and each export against it.
Every function takes the exported tensors (name -> array, FORMAT.md §3) and the meta.json
params, and returns (y [n, d_out], margin [n]): margin is each row's smallest distance of a
routing decision from its threshold (inf where nothing routes), so a caller can excuse rows
where float32 and float64 may legitimately decide differently."""
import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(v):
    return 0.5 * v * (1.0 + _erf(v / math.sqrt(2.0)))


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def fwht(v):
    """Unnormalized Walsh-Hadamard transform of each row (butterflies)."""
    v = v.copy()
    n, h = v.shape[1], 1
    while h < n:
        for i in range(0, n, 2 * h):
            a, b = v[:, i:i + h].copy(), v[:, i + h:i + 2 * h].copy()
            v[:, i:i + h], v[:, i + h:i + 2 * h] = a + b, a - b
        h *= 2
    return v


def gemm_ffn(t, p, x):
    x = x.astype(np.float64)
    u = layer_norm(x, t["ln.weight"], t["ln.bias"]) if p.get("layernorm") == "true" else x
    h = gelu(u @ t["w1.weight"].T.astype(np.float64) + t["w1.bias"])
    return h @ t["w2.weight"].T.astype(np.float64) + t["w2.bias"], np.full(x.shape[0], np.inf)


def lookup_ffn(t, p, x):
    x = x.astype(np.float64)
    n, d, h, tau = x.shape[0], p["d"], p["h"], p["tau"]
    ht = h * tau
    u = layer_norm(x, t["ln.weight"], t["ln.bias"])
    if p["projection"] == "dense":
        z = u @ t["proj.weight"].T.astype(np.float64) + t["proj.bias"]
    else:
        w = t["bh4.weight"].astype(np.float64)  # [copy][round][block][out][in]
        copies, rounds, blocks, b = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
        dp = blocks * b
        up = np.zeros((n, dp))
        up[:, :d] = u
        outs = []
        for c in range(copies):
            v = up
            for r in range(rounds):
                nxt = np.empty_like(v)
                for blk in range(blocks):
                    nxt[:, blk * b:(blk + 1) * b] = v[:, blk * b:(blk + 1) * b] @ w[c, r, blk].T
                v = fwht(nxt)
            outs.append(0.7 * v + 0.3 * up)
        z = np.concatenate(outs, axis=1)[:, :ht] + t["proj.bias"]
    zt = z.reshape(n, h, tau)
    codes = ((zt > 0) * (2 ** np.arange(tau - 1, -1, -1))).sum(-1)
    a = np.abs(zt)
    scores = a.sum(-1) / np.prod(1 + np.exp(-2 * a), axis=-1)
    tables = t["tables"].astype(np.float64)
    y = np.tile(t["out.bias"].astype(np.float64), (n, 1))
    for k in range(h):
        y += scores[:, k:k + 1] * tables[k, codes[:, k]]
    return y, np.abs(z).min(axis=1)


def fff(t, p, x):
    x = x.astype(np.float64)
    n, depth, trees, leaf_width = x.shape[0], p["depth"], p["trees"], p["leaf_width"]
    y = np.zeros((n, p["d_out"]))
    margin = np.full(n, np.inf)
    for tok in range(n):
        for tree in range(trees):
            w_in, b_in = t["w_in"][tree].astype(np.float64), t["b_in"][tree].astype(np.float64)
            node = 0
            if leaf_width == 0:
                for _ in range(depth + 1):
                    z = x[tok] @ w_in[node] + b_in[node]
                    margin[tok] = min(margin[tok], abs(z))
                    y[tok] += gelu(np.array([z]))[0] * t["w_out"][tree][node]
                    node = 2 * node + 1 + (1 if z > 0 else 0)
            else:
                for _ in range(depth):
                    z = x[tok] @ w_in[node] + b_in[node]
                    margin[tok] = min(margin[tok], abs(z))
                    node = 2 * node + 1 + (1 if z >= 0 else 0)
                leaf = node - (2 ** depth - 1)
                hidden = np.maximum(t["leaf_w1"][tree][leaf] @ x[tok] + t["leaf_b1"][tree][leaf], 0.0)
                y[tok] += t["leaf_w2"][tree][leaf] @ hidden + t["leaf_b2"][tree][leaf]
    return y, margin


def moe(t, p, x):
    x = x.astype(np.float64)
    n, k = x.shape[0], p["top_k"]
    logits = x @ t["router.weight"].T.astype(np.float64)
    y = np.zeros((n, p["d"]))
    margin = np.full(n, np.inf)
    for tok in range(n):
        e = np.exp(logits[tok] - logits[tok].max())
        prob = e / e.sum()
        order = np.argsort(-prob, kind="stable")  # ties: the lower expert first
        chosen = order[:k]
        if k < len(order):
            margin[tok] = logits[tok][order[k - 1]] - logits[tok][order[k]]
        weights = prob[chosen] / prob[chosen].sum()
        for w, ex in zip(weights, chosen):
            hidden = gelu(t["w1.weight"][ex].astype(np.float64) @ x[tok] + t["w1.bias"][ex])
            y[tok] += w * (t["w2.weight"][ex] @ hidden + t["w2.bias"][ex])
    return y, margin


def soft_lookup(t, p, x):
    x = x.astype(np.float64)
    s = x @ t["R"].T.astype(np.float64) / p["temperature"]
    s = np.exp(s - s.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    return s @ t["L"].astype(np.float64), np.full(x.shape[0], np.inf)


FORWARD = {"gemm_ffn": gemm_ffn, "lookup_ffn": lookup_ffn, "fff": fff, "moe": moe, "soft_lookup": soft_lookup}


def forward(family, tensors, params, x):
    return FORWARD[family](tensors, params, x)


def relative_error(y, ref):
    """Per row, max |y - ref| / (|ref| + rms(ref)) (the C++ gate's formula)."""
    rms = np.sqrt((ref ** 2).mean(axis=1, keepdims=True))
    return (np.abs(y - ref) / (np.abs(ref) + rms)).max(axis=1)
