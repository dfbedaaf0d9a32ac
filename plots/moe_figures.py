"""MoE figures: load balance per point, the route/experts/combine breakdown, and MoE vs FFF
latency against total and active neurons (moe_vs_fff.ini).

usage: /usr/bin/python3 plots/moe_figures.py <run folder>"""
import matplotlib.pyplot as plt
import pandas as pd

import ffnplot
import ffnstyle


def extras_value(extras, key):
    for item in str(extras).split(";"):
        if item.startswith(key + "="):
            return item.split("=", 1)[1]
    return None


def load_balance_and_stages(points, stages, machine, folder):
    moe = points[points["variant"] == "moe"].copy()
    if moe.empty:
        return
    moe["label"] = moe.apply(lambda r: f"E={int(r['p_experts'])} k={int(r['p_top_k'])} d_e={int(r['p_d_e'])} [{r['impl']}] T={r['threads']}", axis=1)
    moe["balance"] = moe["extras"].map(lambda e: float(extras_value(e, "max_over_mean") or "nan"))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=ffnstyle.size("page", height=0.18 * len(moe) + 1.8))
    ax1.barh(moe["label"], moe["balance"])
    ax1.axvline(1.0, color="k", linewidth=0.8)
    ax1.set_xlabel("busiest expert's tokens / mean")
    ax1.tick_params(axis="y", labelsize=7)
    left = pd.Series(0.0, index=moe.index)
    for stage in ("route", "experts", "combine"):
        ms = moe["point_id"].map(stages[stages["stage"] == stage].set_index("point_id")["time_median_s"]).fillna(0) * 1e3
        ax2.barh(moe["label"], ms, left=left, label=stage)
        left += ms
    ax2.set_xlabel("median latency (ms)")
    ax2.set_yticklabels([])
    ffnstyle.legend_outside(ax2)
    ffnplot.title(ax1, machine, "MoE load balance")
    ffnplot.title(ax2, machine, "MoE stages", precision="fp32")
    ffnplot.save(fig, folder, "moe_balance_and_stages")


def neurons(row):
    if row["variant"] == "fff":
        depth = int(row["p_depth"])
        return (2 ** (depth + 1) - 1) * int(row["p_trees"]), (depth + 1) * int(row["p_trees"])
    return int(row["p_experts"]) * int(row["p_d_e"]), int(row["p_top_k"]) * int(row["p_d_e"])


def moe_vs_fff(points, machine, folder):
    both = points[points["variant"].isin(["moe", "fff"])].copy()
    if both["variant"].nunique() < 2:
        return
    both[["total", "active"]] = both.apply(lambda r: pd.Series(neurons(r)), axis=1)
    for threads, group in both.groupby("threads"):
        fig, axes = plt.subplots(1, 2, figsize=ffnstyle.size("page", 0.5))
        styles = ffnstyle.SeriesStyles()
        for ax, budget in zip(axes, ("total", "active")):
            for (variant, impl), g in group.groupby(["variant", "impl"]):
                g = g.sort_values(budget)
                ax.plot(g[budget], g["time_median_s"] * 1e3, label=f"{variant} [{impl}]",
                        **styles((variant, impl), variant, impl))
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(f"{budget} hidden neurons")
            ax.set_ylabel("median latency per call (ms)")
            ax.grid(True, which="both", alpha=0.3)
            ffnplot.title(ax, machine, f"MoE vs FFF at equal {budget} parameters, N={int(group['tokens'].iloc[0])}", threads=threads, precision="fp32")
        ffnstyle.legend_outside(axes[1])  # the same series in both panels: one legend
        ffnplot.save(fig, folder, f"moe_vs_fff_T{threads}")


def main():
    folder = ffnplot.run_folder_from_argv()
    points, stages, machine = ffnplot.load_run(folder)
    if points.empty or "moe" not in set(points["variant"]):
        print(f"{folder}: no moe points, no MoE figures")
        return
    load_balance_and_stages(points, stages, machine, folder)
    moe_vs_fff(points, machine, folder)


if __name__ == "__main__":
    main()
