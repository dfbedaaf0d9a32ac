"""Each stage against the ceiling that bounds it: stages.csv's ceiling_fraction (bound time /
measured time, from the stage's cost model and the run's ceilings.json), one bar per stage and
point, coloured by what bounds it (compute, or the level its traffic comes from).

usage: /usr/bin/python3 plots/stage_figures.py <run folder>"""
import matplotlib.pyplot as plt

import ffnplot
import ffnstyle

# What bounds a stage is not a family: its own fixed colours, the same in every stage figure.
BOUND_COLORS = {"compute": "#4c72b0", "L1": "#55a868", "L2": "#8c8c3c", "L3": "#dd8452", "DRAM": "#c44e52"}
OTHER_BOUND = "#999999"


def stage_roofline(points, stages, machine, folder, threads):
    have = stages.dropna(subset=["ceiling_fraction"]) if "ceiling_fraction" in stages else stages.iloc[0:0]
    pts = points[points["threads"] == threads]
    rows = have[have["point_id"].isin(pts["point_id"])]
    if rows.empty:
        return False
    labels = dict(zip(pts["point_id"], ffnplot.series_labels(pts)))
    tokens = dict(zip(pts["point_id"], pts["tokens"]))
    full = [f"{labels[p]} N={tokens[p]}: {s}" for p, s in zip(rows["point_id"], rows["stage"])]
    common, short = ffnstyle.common_label_parts(full)
    rows = rows.assign(label=short if len(set(short)) == len(set(full)) else full).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", height=max(2.5, 0.22 * len(rows) + 1.2)))
    # One barh call per bound, so the legend comes from the axes' own labelled bars.
    bounds = [b for b in BOUND_COLORS if b in set(rows["bound"])]
    bounds += sorted({str(b) for b in rows["bound"]} - set(BOUND_COLORS))
    for bound in bounds:
        these = rows[rows["bound"].astype(str) == bound]
        ax.barh(these.index, these["ceiling_fraction"], color=BOUND_COLORS.get(bound, OTHER_BOUND), label=bound)
    ax.set_yticks(rows.index)
    ax.set_yticklabels(rows["label"])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ffnstyle.reference_line(ax, 0.7, None, axis="x", linestyle=":")
    ax.set_xlim(0, max(1.05, float(rows["ceiling_fraction"].max()) * 1.05))
    ax.set_xlabel("fraction of the bounding ceiling (bound time / measured time); dotted: 70%")
    ax.tick_params(axis="y", labelsize=6)
    ffnstyle.legend_outside(ax, title="bound")
    ffnplot.title(ax, machine, "Stages against their roofline" + (f": {common}" if common else ""), threads=threads)
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
