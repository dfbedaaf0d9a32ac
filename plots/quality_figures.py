"""Quality figures (issue 13, experiments/quality.ini): speed at a known quality.
- accuracy vs latency per token, with the Pareto front, one figure per thread count;
- accuracy vs model FLOPs per token;
- expert-load (MoE) and leaf (FFF) histograms, trained vs random weights (FastFF's figure);
- speed on random vs trained weights, point by point.
Reads the quality columns points.csv has for trained weights (training/FORMAT.md §7):
quality_value / quality_dense (fractions), the weights file (p_weights or weights), and the
routing statistics in extras (expert_tokens, leaf_tokens, ...).

usage: /usr/bin/python3 plots/quality_figures.py <run folder>"""
import os

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd

import ffnplot
import ffnstyle

RANDOM = "random"


def extras_value(extras, key):
    for item in str(extras).split(";"):
        if item.startswith(key + "="):
            return item.split("=", 1)[1]
    return None


def weights_column(points):
    for c in ("p_weights", "weights"):
        if c in points.columns:
            return c
    return None


def model_name(path):
    """results/models/lookup_bh4/block.safetensors -> lookup_bh4 (the training INI's name)."""
    if not isinstance(path, str) or path in ("", RANDOM):
        return RANDOM
    folder = os.path.basename(os.path.dirname(path)) or path
    return folder


def pareto_front(latency, accuracy):
    """Indices of the points no other point beats in both (lower latency, higher accuracy),
    ordered by latency."""
    order = sorted(range(len(latency)), key=lambda i: (latency[i], -accuracy[i]))
    front, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return front


def trained_points(points):
    if "quality_value" not in points.columns:
        return points.iloc[0:0]
    t = points[pd.to_numeric(points["quality_value"], errors="coerce").notna()].copy()
    t["quality_value"] = pd.to_numeric(t["quality_value"]).astype(float)
    t["quality_dense"] = pd.to_numeric(t.get("quality_dense"), errors="coerce")
    col = weights_column(t)
    t["model"] = t[col].map(model_name) if col else t["variant"]
    t["label"] = t["model"] + " [" + t["impl"].astype(str) + "]"
    t["latency_per_token_us"] = t["time_median_s"] / t["tokens"] * 1e6
    t["flops_per_token"] = t["flops_model"] / t["tokens"]
    return t


def accuracy_vs(points, machine, folder, x, xlabel, name, what):
    t = trained_points(points)
    if t.empty:
        return
    for threads, group in t.groupby("threads"):
        tokens = int(group["tokens"].max())
        g = group[group["tokens"] == tokens].reset_index(drop=True)
        fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
        common, short = ffnstyle.common_label_parts(sorted(g["label"].unique()))
        names = dict(zip(sorted(g["label"].unique()), short))
        styles = ffnstyle.SeriesStyles()
        for label, rows in g.groupby("label"):
            style = styles(label, rows["variant"].iloc[0], rows["impl"].iloc[0])
            ax.scatter(rows[x], rows["quality_value"] * 100, label=names[label], color=style["color"],
                       marker=style["marker"], s=24, zorder=3)
        front = pareto_front(list(g[x]), list(g["quality_value"]))
        if x == "latency_per_token_us" and len(front) > 1:
            f = g.iloc[front]
            ax.step(f[x], f["quality_value"] * 100, where="post", color="black", linewidth=0.8, label="Pareto front",
                    zorder=2)
        dense = g["quality_dense"].dropna()
        if not dense.empty:
            ffnstyle.reference_line(ax, dense.iloc[0] * 100, "dense twin", color="grey")
            ffnstyle.reference_line(ax, dense.iloc[0] * 100 - 1, "dense − 1 point", color="grey", linestyle=":")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, which="both", alpha=0.3)
        ffnstyle.legend_outside(ax)
        ffnplot.title(ax, machine, f"{what}, N={tokens}" + (f": {common}" if common else ""), threads=threads,
                      precision="fp32")
        ffnplot.save(fig, folder, f"{name}_T{threads}")


def histograms(points, machine, folder, variant, key, what, name):
    """Per configuration: the sorted token counts per expert/leaf, trained and random."""
    rows = points[(points["variant"] == variant) & points["extras"].map(lambda e: extras_value(e, key) is not None)]
    if rows.empty:
        return
    col = weights_column(rows)
    rows = rows.assign(model=rows[col].map(model_name) if col else RANDOM)
    # one histogram per (model, weights kind): the largest token count, one thread count
    rows = rows.sort_values(["tokens", "threads"]).groupby(["model"], as_index=False).last()
    fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
    styles = ffnstyle.SeriesStyles()
    for _, r in rows.iterrows():
        counts = np.array(sorted((int(v) for v in extras_value(r["extras"], key).split("|")), reverse=True), float)
        if counts.sum() <= 0:
            continue
        share = counts / counts.sum()
        kind = "random weights" if r["model"] == RANDOM else f"trained ({r['model']})"
        style = styles(r["model"], variant)  # routing is the model's, not the impl's: shades of one colour
        ax.plot(np.arange(1, len(share) + 1), share, markersize=3, label=f"{kind}, N={int(r['tokens'])}", **style)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"{what} rank (most used first)")
    ax.set_ylabel("share of tokens")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ffnstyle.legend_outside(ax)
    ffnplot.title(ax, machine, f"{variant}: tokens per {what}, trained vs random")
    ffnplot.save(fig, folder, name)


def random_vs_trained(points, machine, folder):
    col = weights_column(points)
    if col is None:
        return
    p = points.copy()
    p["model"] = p[col].map(model_name)
    keys = ["variant", "impl", "tokens", "threads"] + [c for c in p.columns if c.startswith("p_") and c != col]
    p[keys] = p[keys].fillna("")
    trained = p[p["model"] != RANDOM]
    random = p[p["model"] == RANDOM]
    pairs = trained.merge(random[keys + ["time_median_s"]], on=keys, suffixes=("_trained", "_random"))
    if pairs.empty:
        return
    pairs["label"] = pairs.apply(lambda r: f"{r['model']} [{r['impl']}] N={int(r['tokens'])} T={r['threads']}", axis=1)
    pairs = pairs.sort_values("label", ascending=False).reset_index(drop=True)  # the first label on top
    common, short = ffnstyle.common_label_parts(list(pairs["label"]))
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", height=max(2.5, 0.2 * len(pairs) + 1.2)))
    ratio = pairs["time_median_s_trained"] / pairs["time_median_s_random"]
    # A bar per pair in its family's colour; one legend entry per family.
    for family, rows in pairs.groupby(pairs["variant"].map(ffnstyle.family_of)):
        ax.barh(rows.index, ratio[rows.index], color=ffnstyle.family_color(family), label=family)
    ax.set_yticks(pairs.index)
    ax.set_yticklabels(short if len(set(short)) == len(pairs) else pairs["label"])
    ax.set_ylim(-0.6, len(pairs) - 0.4)
    ffnstyle.reference_line(ax, 1.0, None, axis="x", linestyle="-")
    ax.set_xlabel("time on trained weights / time on random weights (median per call)")
    ax.tick_params(axis="y", labelsize=7)
    ffnstyle.legend_outside(ax, title="family")
    ffnplot.title(ax, machine, "Does training change speed?" + (f" {common}" if common else ""), precision="fp32")
    ffnplot.save(fig, folder, "quality_random_vs_trained")


def main():
    folder = ffnplot.run_folder_from_argv()
    points, _, machine = ffnplot.load_run(folder)
    accuracy_vs(points, machine, folder, "latency_per_token_us", "median latency per token (µs)",
                "quality_accuracy_vs_latency", "Accuracy vs latency")
    accuracy_vs(points, machine, folder, "flops_per_token", "model FLOPs per token",
                "quality_accuracy_vs_flops", "Accuracy vs FLOPs")
    histograms(points, machine, folder, "moe", "expert_tokens", "expert", "quality_expert_load")
    histograms(points, machine, folder, "fff", "leaf_tokens", "leaf", "quality_leaf_histogram")
    random_vs_trained(points, machine, folder)


if __name__ == "__main__":
    main()
