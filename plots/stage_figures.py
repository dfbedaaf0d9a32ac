"""Each stage against the ceiling that bounds it: stages.csv's ceiling_fraction (bound time /
measured time, from the stage's cost model and the run's ceilings.json), one bar per stage and
point, coloured by what bounds it (compute, or the level its traffic comes from).

usage: /usr/bin/python3 plots/stage_figures.py <run folder>"""
import matplotlib.pyplot as plt
import pandas as pd

import ffnplot

BOUND_COLORS = {"compute": "#4c72b0", "L1": "#55a868", "L2": "#8c8c3c", "L3": "#dd8452", "DRAM": "#c44e52"}


def stage_roofline(points, stages, machine, folder, threads):
    have = stages.dropna(subset=["ceiling_fraction"]) if "ceiling_fraction" in stages else stages.iloc[0:0]
    pts = points[points["threads"] == threads]
    rows = have[have["point_id"].isin(pts["point_id"])]
    if rows.empty:
        return False
    labels = dict(zip(pts["point_id"], ffnplot.series_labels(pts)))
    tokens = dict(zip(pts["point_id"], pts["tokens"]))
    rows = rows.assign(label=[f"{labels[p]} N={tokens[p]}: {s}" for p, s in zip(rows["point_id"], rows["stage"])])
    height = max(2.5, 0.22 * len(rows) + 1.2)
    fig, ax = plt.subplots(figsize=(7, height))
    ax.barh(rows["label"], rows["ceiling_fraction"], color=[BOUND_COLORS.get(b, "#999999") for b in rows["bound"]])
    ax.axvline(0.7, color="k", linestyle=":", linewidth=1)
    ax.set_xlim(0, max(1.05, float(rows["ceiling_fraction"].max()) * 1.05))
    ax.set_xlabel("fraction of the bounding ceiling (bound time / measured time); dotted: 70%")
    ax.tick_params(axis="y", labelsize=6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for b, c in BOUND_COLORS.items() if b in set(rows["bound"])]
    names = [b for b in BOUND_COLORS if b in set(rows["bound"])]
    ax.legend(handles, names, title="bound", fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ffnplot.title(ax, machine, "Stages against their roofline", threads=threads)
    ffnplot.save(fig, folder, f"stage_roofline_T{threads}")
    return True


def main():
    folder = ffnplot.run_folder_from_argv()
    points, stages, machine = ffnplot.load_run(folder)
    if stages.empty or "ceiling_fraction" not in stages or stages["ceiling_fraction"].isna().all():
        reason = stages["roofline_note"].dropna().iloc[0] if "roofline_note" in stages and stages["roofline_note"].notna().any() else "no stage rows"
        print(f"{folder}: no stage roofline figure ({reason})")
        return
    for threads in sorted(points["threads"].unique()):
        stage_roofline(points, stages, machine, folder, threads)


if __name__ == "__main__":
    main()
