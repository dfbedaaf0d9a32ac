"""LookupFFN figures: latency with the stage breakdown, speedup over the best dense FFN, FLOPs
per token normalized to the dense FFN, and the gather's bandwidth against the measured ceiling.

usage: /usr/bin/python3 plots/lookup_figures.py <run folder>"""
import matplotlib.pyplot as plt
import pandas as pd

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
    return (f"h={int(row['p_h'])} {proj} {row['p_order']} {row['p_table_precision']}")


def dense_best(points, threads, precision):
    dense = points[(points["variant"] == "gemm_ffn") & (points["threads"] == threads) &
                   (points["precision"] == precision)]
    return None if dense.empty else dense.loc[dense["time_median_s"].idxmin()]


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
    for precision, style in (("fp32", "--"), ("bf16", ":")):
        best = dense_best(points, threads, precision)
        if best is not None:
            ax.axvline(best["time_median_s"] * 1e3, color="k", linestyle=style,
                       label=f"best gemm_ffn {precision} [{best['impl']}]")
    ax.set_xlabel("median latency per call (ms)")
    ffnstyle.legend_outside(ax)
    ffnplot.title(ax, machine, f"LookupFFN stage breakdown, N={int(lk['tokens'].iloc[0])}", threads=threads)
    ffnplot.save(fig, folder, f"lookup_breakdown_T{threads}")


def speedup(points, machine, folder):
    lk = points[points["variant"] == "lookup_ffn"].copy()
    if lk.empty:
        return
    rows = []
    for _, r in lk.iterrows():
        precision = r["p_table_precision"] if r["p_table_precision"] in ("bf16", "int8") else "fp32"
        best = dense_best(points, r["threads"], precision)
        if best is not None:
            rows.append((lookup_label(r), r["threads"], best["time_median_s"] / r["time_median_s"], precision))
    if not rows:
        return
    df = pd.DataFrame(rows, columns=["label", "threads", "speedup", "vs"])
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", 0.62))
    labels = sorted(df["label"].unique())
    width = 0.8 / df["threads"].nunique()
    for i, (threads, g) in enumerate(df.groupby("threads")):
        g = g.set_index("label").reindex(labels)
        ax.barh([y + i * width for y in range(len(labels))], g["speedup"], height=width, label=f"{threads} thread(s)")
    ax.set_yticks([y + width / 2 for y in range(len(labels))])
    ax.set_yticklabels(labels, fontsize=7)
    ax.axvline(1.0, color="k", linewidth=0.8)
    ax.axvline(2.51, color="r", linestyle="--", label="paper's claim: 2.51x")
    ax.set_xlabel("speedup over the best gemm_ffn of the same precision (same run)")
    ffnstyle.legend_outside(ax)
    ffnplot.title(ax, machine, "LookupFFN speedup over the dense FFN",
                  threads=",".join(str(t) for t in sorted(df["threads"].unique())), precision="fp32 / bf16 tables")
    ffnplot.save(fig, folder, "lookup_speedup")


def flops_per_token(points, machine, folder):
    one = points[points["threads"] == points["threads"].min()]
    dense = one[one["variant"] == "gemm_ffn"]
    lk = one[one["variant"].isin(["lookup_ffn", "gemm_ffn"])].copy()
    if dense.empty or lk.empty:
        return
    base = (dense["flops_model"] / dense["tokens"]).iloc[0]
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
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", 0.62))
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
