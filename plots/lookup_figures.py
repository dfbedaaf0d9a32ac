"""LookupFFN figures: latency with the stage breakdown, speedup over the best dense FFN, FLOPs
per token normalized to the dense FFN, and the gather's bandwidth against the measured ceiling.

usage: /usr/bin/python3 plots/lookup_figures.py <run folder>"""
import matplotlib.pyplot as plt
import pandas as pd

import ffndataset as ds
import ffnplot
import ffnstyle


def extras_value(extras, key):
    for item in str(extras).split(";"):
        if item.startswith(key + "="):
            try:
                return float(item.split("=", 1)[1])
            except ValueError:
                return None
    return None


def lookup_label(row):
    proj = row.get("p_projection", "bh4")
    low = row.get("p_projection_precision")
    if isinstance(low, str) and low and low != "fp32":  # the projection's products in bf16 or int8
        proj = f"{proj}:{low}"
    return (f"h={int(row['p_h'])} {proj} {row['p_order']} {row['p_table_precision']}")


# Line style of the best dense at each precision in the stage breakdown.
DENSE_LINES = {"fp32": "--", "bf16": ":", "int8": "-."}


def latency_breakdown(points, stages, machine, folder, threads):
    lk = points[(points["variant"] == "lookup_ffn") & (points["threads"] == threads)].copy()
    if lk.empty:
        return
    lk["label"] = lk.apply(lookup_label, axis=1)
    lk = lk.sort_values("time_median_s")
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", 0.62))
    bottom = pd.Series(0.0, index=lk.index)
    for stage, color in (("projection", "#4c72b0"), ("code_score", "#dd8452"), ("gather", "#55a868")):
        ms = lk["point_id"].map(stages[stages["stage"] == stage].set_index("point_id")["time_median_s"]).fillna(0) * 1e3
        ax.barh(lk["label"], ms, left=bottom, color=color, label=stage)
        bottom += ms
    best = ds.best_dense(points)
    best = best[(best["threads"] == threads) & best["d_in"].isin(lk["d_in"])]
    for _, b in best.sort_values("base_time_s", ascending=False).iterrows():
        ax.axvline(b["base_time_s"] * 1e3, color="k", linestyle=DENSE_LINES.get(b["base_precision"], "-"),
                   label=f"best dense {b['base_precision']} (gemm_ffn [{b['base_impl']}])")
    ax.set_xlabel("median latency per call (ms)")
    ffnstyle.legend_outside(ax)
    ffnplot.title(ax, machine, f"LookupFFN stage breakdown, N={int(lk['tokens'].iloc[0])}", threads=threads)
    ffnplot.save(fig, folder, f"lookup_breakdown_T{threads}")


def speedup(points, machine, folder):
    """Bars: each LookupFFN point over the best dense at its tables' precision (ffndataset's
    compared_precision: bf16 tables against dense bf16); crosses: over the best dense at any
    precision."""
    sp = ds.against_dense(points)
    sp = sp[sp["variant"] == "lookup_ffn"].copy()
    if sp.empty:
        return
    sp["label"] = sp.apply(lookup_label, axis=1)
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", 0.62))
    labels = sorted(sp["label"].unique())
    width = 0.8 / sp["threads"].nunique()
    for i, (threads, g) in enumerate(sp.groupby("threads")):
        g = g.drop_duplicates("label").set_index("label").reindex(labels)
        y = [k + i * width for k in range(len(labels))]
        ax.barh(y, g["speedup"], height=width, label=f"{threads} thread(s), vs the best dense at its precision")
        # Black, one marker per thread count: visible on a bar of any colour.
        ax.scatter(g["overall_speedup"], y, marker="x+1234"[i % 6], color="k", zorder=3,
                   label=f"{threads} thread(s), vs the best dense at any precision")
    ax.set_yticks([y + width / 2 for y in range(len(labels))])
    ax.set_yticklabels(labels, fontsize=7)
    ax.axvline(1.0, color="k", linewidth=0.8)
    ax.axvline(2.51, color="r", linestyle="--", label="paper's claim: 2.51x")
    ax.set_xlabel("speedup over the best gemm_ffn (same run)")
    ffnstyle.legend_outside(ax)
    ffnplot.title(ax, machine, "LookupFFN speedup over the best dense FFN",
                  threads=",".join(str(t) for t in sorted(sp["threads"].unique())),
                  precision="tables " + ", ".join(sorted(sp["compared_precision"].unique())))
    ffnplot.save(fig, folder, "lookup_speedup")


def flops_per_token(points, machine, folder):
    one = points[points["threads"] == points["threads"].min()]
    dense = ds.best_dense_any(one)
    lk = one[one["variant"].isin(["lookup_ffn", ds.BASELINE])].copy()
    if dense.empty or lk.empty:
        return
    base = (dense["base_flops"] / dense["tokens"]).iloc[0]
    lk["label"] = lk.apply(lambda r: lookup_label(r) if r["variant"] == "lookup_ffn" else f"gemm_ffn [{r['impl']}] {r['precision']}", axis=1)
    lk = lk.drop_duplicates("label")
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", 0.62))
    ax.barh(lk["label"], lk["flops_model"] / lk["tokens"] / base, label="model")
    if lk["flops_hw"].notna().any():
        ax.barh(lk["label"], lk["flops_hw"] / lk["tokens"] / base, height=0.4, label="counted (hw)")
        note = ""
    else:
        note = " (no hardware FLOP counts on this machine: model only)"
    ax.axvline(1 / 6, color="r", linestyle="--", label="paper: 6x fewer")
    ax.set_xlabel("FLOPs per token / gemm_ffn's" + note)
    ffnstyle.legend_outside(ax)
    ffnplot.title(ax, machine, "FLOPs per token normalized to the dense FFN", threads=int(one["threads"].iloc[0]))
    ffnplot.save(fig, folder, "lookup_flops_per_token")


def gather_bandwidth(points, machine, folder):
    lk = points[points["variant"] == "lookup_ffn"].copy()
    lk["gather_gbs"] = lk["extras"].map(lambda e: extras_value(e, "gather_gbs"))
    lk["tables_bytes"] = lk["extras"].map(lambda e: extras_value(e, "tables_bytes"))
    lk = lk.dropna(subset=["gather_gbs"])
    if lk.empty:
        return
    ceilings = ffnplot.load_ceilings(folder)
    # One bar per point: the figure grows with them, so their tick labels never overlap.
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", height=max(0.62 * ffnstyle.PAGE_IN, 0.17 * len(lk) + 2.0)))
    lk["label"] = lk.apply(lambda r: f"{lookup_label(r)} T={r['threads']}", axis=1)
    ax.barh(lk["label"], lk["gather_gbs"], label="gather: table bytes read / gather time")
    note = "no ceilings.json in this run folder (run `ffnbench calibrate --out <run folder>`)"
    if ceilings:
        levels = {}
        for b in ceilings.get("bandwidth", []):
            if b.get("kernel") == "load":
                levels.setdefault(b["level"], {})[b["threads"]] = b["gbs"]
        for level, color in (("L2", "g"), ("L3", "b"), ("DRAM", "r")):
            for threads, gbs in sorted(levels.get(level, {}).items()):
                ax.axvline(gbs, color=color, linestyle="--" if threads == 1 else ":", label=f"{level} load ceiling, {threads} thread(s)")
        note = "ceilings from ffnbench calibrate (load kernels)"
    ax.set_xlabel("GB/s  —  " + note, fontsize=8)
    ffnstyle.legend_outside(ax, where="below", ncol=2)
    ffnplot.title(ax, machine, "LookupFFN gather bandwidth vs the measured ceilings")
    ffnplot.save(fig, folder, "lookup_gather_bandwidth")


def main():
    folder = ffnplot.run_folder_from_argv()
    points, stages, machine = ffnplot.load_run(folder)
    if points.empty or "lookup_ffn" not in set(points["variant"]):
        print(f"{folder}: no lookup_ffn points, no LookupFFN figures")
        return
    # One batch size: the largest in the run (the paper's experiment has only N = 32768).
    points = points[points["tokens"] == points.loc[points["variant"] == "lookup_ffn", "tokens"].max()]
    for threads in sorted(points["threads"].unique()):
        latency_breakdown(points, stages, machine, folder, threads)
    speedup(points, machine, folder)
    flops_per_token(points, machine, folder)
    gather_bandwidth(points, machine, folder)


if __name__ == "__main__":
    main()
