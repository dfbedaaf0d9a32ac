"""FFF figures: speedup over the best dense FFN vs tokens (ultrafastbert.ini), vs width
(fff_width.ini), and time vs depth per implementation (moe_vs_fff.ini).

usage: /usr/bin/python3 plots/fff_figures.py <run folder>"""
import matplotlib.pyplot as plt

import ffndataset as ds
import ffnplot
import ffnstyle


def fff_speedups(points, d_ff=None):
    """The fff points with their speedup over ffndataset's best dense at their precision (same
    machine, tokens, threads and d; width d_ff, or 4·d where measured, else the largest)."""
    sp = ds.speedups(points[points["variant"].isin(["fff", ds.BASELINE])], d_ff=d_ff)
    return sp[sp["variant"] == "fff"]


def speedup_vs_tokens(points, machine, folder):
    fff = points[points["variant"] == "fff"]
    dense = points[points["variant"] == ds.BASELINE]
    if fff.empty or dense.empty or fff["tokens"].nunique() < 2:
        return
    d_ff = 3072 if (dense["p_d_ff"] == 3072).any() else dense["p_d_ff"].min()
    sp = fff_speedups(points, d_ff)
    if sp.empty:
        return
    fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
    styles = ffnstyle.SeriesStyles()
    for (impl, threads), g in sp.groupby(["impl", "threads"]):
        g = g.sort_values("tokens")
        ax.plot(g["tokens"], g["speedup"], label=f"[{impl}] T={threads}", **styles((impl, threads), "fff", impl))
    ffnstyle.reference_line(ax, 78, "UltraFastBERT's claim: 78x (one shared path)", color="firebrick")
    ax.axhline(1, color="k", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("tokens per call (N), distinct random inputs")
    ax.set_ylabel(f"speedup over the best dense (d_ff={int(d_ff)})")
    ffnstyle.legend_outside(ax)
    ax.grid(True, which="both", alpha=0.3)
    ffnplot.title(ax, machine, "FFF speedup over dense vs tokens (fff impls)",
                  threads=",".join(map(str, sorted(sp["threads"].unique()))),
                  precision=",".join(sorted(sp["compared_precision"].unique())))
    ffnplot.save(fig, folder, "fff_speedup_vs_tokens")


def speedup_vs_width(points, machine, folder):
    fff = points[points["variant"] == "fff"]
    if fff.empty or fff["p_d"].nunique() < 3 or not (points["variant"] == ds.BASELINE).any():
        return
    sp = fff_speedups(points)
    if sp.empty:
        return
    fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
    styles = ffnstyle.SeriesStyles()
    for (impl, threads), g in sp.groupby(["impl", "threads"]):
        g = g.sort_values("p_d")
        ax.plot(g["p_d"], g["speedup"], label=f"[{impl}] T={threads}", **styles((impl, threads), "fff", impl))
    ffnstyle.reference_line(ax, 20, "claim: ~20x at 2^14", color="firebrick")
    ax.axhline(1, color="k", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("layer width (d = d_out = dense hidden width)")
    ax.set_ylabel("speedup over the best dense of that width")
    ffnstyle.legend_outside(ax)
    ax.grid(True, which="both", alpha=0.3)
    ffnplot.title(ax, machine, f"FFF vs dense over width, N={int(fff['tokens'].iloc[0])}",
                  precision=",".join(sorted(sp["compared_precision"].unique())))
    ffnplot.save(fig, folder, "fff_speedup_vs_width")


def time_vs_depth(points, machine, folder):
    fff = points[points["variant"] == "fff"]
    if fff.empty or fff["p_depth"].nunique() < 3:
        return
    for threads, group in fff.groupby("threads"):
        fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
        styles = ffnstyle.SeriesStyles()
        for impl, g in group.groupby("impl"):
            g = g.sort_values("p_depth")
            ax.plot(g["p_depth"], g["time_median_s"] * 1e3, label=f"[{impl}]", **styles(impl, "fff", impl))
        ax.set_yscale("log")
        ax.set_xlabel("tree depth D")
        ax.set_ylabel("median latency per call (ms)")
        ffnstyle.legend_outside(ax)
        ax.grid(True, which="both", alpha=0.3)
        ffnplot.title(ax, machine, f"Tree walk vs matrix form over depth, N={int(group['tokens'].iloc[0])}", threads=threads, precision="fp32")
        ffnplot.save(fig, folder, f"fff_time_vs_depth_T{threads}")


def main():
    folder = ffnplot.run_folder_from_argv()
    points, _, machine = ffnplot.load_run(folder)
    if points.empty or "fff" not in set(points["variant"]):
        print(f"{folder}: no fff points, no FFF figures")
        return
    speedup_vs_tokens(points, machine, folder)
    speedup_vs_width(points, machine, folder)
    time_vs_depth(points, machine, folder)


if __name__ == "__main__":
    main()
