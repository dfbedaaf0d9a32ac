"""Counter figures: roofline with measured ceilings, LLC misses per token, bandwidth vs ceiling,
and the cachesim "what if this CPU's caches" comparison.

usage: /usr/bin/python3 plots/counters_figures.py <run folder> [<cachesim run folder> ...]
                                                  [--ceilings <ceilings.json>]

Ceilings come from --ceilings, else <run folder>/ceilings.json (`ffnbench calibrate --out`).
Extra run folders are cachesim runs of the same experiment with other `cachesim_cpu` settings;
with them (or when the run itself is a cachesim run) the what-if figure compares their LL misses.
Figures go to <run folder>/figures/. A figure whose data was not measured is skipped with a
line saying why: model numbers are never drawn as measurements."""
import argparse
import configparser
import json
import os
import sys

import matplotlib.pyplot as plt
import pandas as pd

import ffnplot
import ffnstyle

LINE_BYTES = 64  # LLC line size for the miss-based traffic estimate


def skip(what, why):
    print(f"counters_figures: {what} skipped: {why}", file=sys.stderr)


def variant_colors(points):
    return {v: ffnstyle.family_color(v) for v in points["variant"].unique()}


def ceiling_for(ceilings, kind, threads, **match):
    """The ceiling entries of `kind` measured at `threads` whose fields equal `match`."""
    rows = [e for e in ceilings.get(kind, []) if all(e.get(k) == v for k, v in match.items())]
    at = [e for e in rows if e["threads"] == threads]
    return at


def roofline(points, machine, ceilings, folder):
    """Arithmetic intensity (model FLOPs / model bytes) vs achieved GFLOP/s, one figure per
    (threads, precision), with the measured peak and bandwidth ceilings at that thread count."""
    written = []
    colors = variant_colors(points)
    for (threads, precision), group in points.groupby(["threads", "precision"]):
        group = group[(group["bytes_model"] > 0) & (group["gflops_model_per_s"] > 0)]
        if group.empty:
            continue
        ai = group["flops_model"] / group["bytes_model"]
        fig, ax = plt.subplots(figsize=ffnstyle.size("page", 0.6))
        x_lo, x_hi = max(ai.min() / 4, 1e-3), ai.max() * 4
        achieved = group["gflops_model_per_s"]
        y_lo, y_hi = achieved.min() / 4, achieved.max() * 4  # from the data; ceilings widen it below
        labels = []
        if ceilings:
            peaks = ffnstyle.dedupe_levels([(p["isa"], p["gflops"]) for p in ceiling_for(ceilings, "peak_flops", threads)])
            for names, gflops in peaks:
                ax.axhline(gflops, color="black", ls="-", lw=0.9)
                labels.append(ax.annotate(f"peak {names} {gflops:.0f}", (1.0, gflops), xycoords=("axes fraction", "data"),
                                          xytext=(3, 0), textcoords="offset points", va="center", fontsize=7))
                y_hi = max(y_hi, gflops * 2)
            loads = ffnstyle.dedupe_levels([(b["level"], b["gbs"]) for b in ceiling_for(ceilings, "bandwidth", threads,
                                                                                         kernel="load")])
            # A level whose line never enters the view (it leaves the top left of x_lo, or stays
            # under y_lo) is named in the legend, not labelled off the axes where labels collide.
            outside = [(names, gbs) for names, gbs in loads if y_hi / gbs <= x_lo or x_hi * gbs <= y_lo]
            if outside:
                ax.plot([], [], color="grey", lw=0.8, ls="--",
                        label=", ".join(f"{n} {g:.0f}" for n, g in outside) + " GB/s: outside this view")
            for names, gbs in loads:
                if (names, gbs) in outside:
                    continue
                xs = [x_lo, x_hi]
                ax.plot(xs, [x * gbs for x in xs], color="grey", lw=0.8, ls="--")
                # Labelled where the line leaves the right edge or the top of the axes.
                x_end = min(x_hi, y_hi / gbs)
                top = x_end < x_hi
                labels.append(ax.annotate(f"{names} {gbs:.0f} GB/s", (x_end, x_end * gbs),
                                          xytext=(-3, -3) if top else (3, 0), textcoords="offset points",
                                          fontsize=7, color="dimgrey", ha="right" if top else "left",
                                          va="top" if top else "center", annotation_clip=False))
        else:
            ax.text(0.02, 0.02, "no ceilings.json: run `ffnbench calibrate`", transform=ax.transAxes, fontsize=8)
        styles = ffnstyle.SeriesStyles()
        for variant, s in group.assign(ai=ai).groupby("variant"):
            style = styles(variant, variant)
            ax.scatter(s["ai"], s["gflops_model_per_s"], color=style["color"], marker="o",
                       label=f"{variant} (model FLOPs)", s=22, zorder=3)
            counted = s[s["flops_hw"].notna()] if "flops_hw" in s else s.iloc[0:0]
            if not counted.empty:
                ax.scatter(counted["ai"], counted["flops_hw"] / counted["time_median_s"] / 1e9, facecolors="none",
                           edgecolors=style["color"], marker="D", label=f"{variant} (counted FLOPs)", s=30, zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_lo, y_hi)
        ffnstyle.legend_outside(ax, where="below", ncol=3)
        ax.set_xlabel("arithmetic intensity (model FLOPs / model bytes)")
        ax.set_ylabel("GFLOP/s")
        ax.grid(True, which="both", alpha=0.3)
        ffnplot.title(ax, machine, "Roofline (ceilings measured by ffnbench calibrate)", threads=threads,
                      precision=precision)
        # Spread the labels once the axes have their final size: the layout moves the points the
        # labels hang from, and labels spread before it can meet again.
        ffnplot.settle_layout(fig)
        ffnstyle.spread_labels(fig, [t for t in labels if t.get_ha() == "left"])  # the column right of the axes
        ffnstyle.spread_labels(fig, [t for t in labels if t.get_ha() == "right"], downward=True)
        written.append(ffnplot.save(fig, folder, f"roofline_T{threads}_{precision}"))
    return written


def llc_misses_per_token(points, machine, folder):
    """LLC misses per token vs tokens, per variant series (hardware or simulated counts)."""
    measured = points[points["llc_misses"].notna()] if "llc_misses" in points else points.iloc[0:0]
    if measured.empty:
        backends = ",".join(sorted(points["counter_backend"].dropna().astype(str).unique()))
        skip("llc_misses_per_token", f"no LLC misses were measured (counter_backend={backends or 'none'})")
        return []
    written = []
    for (threads, precision), group in measured.groupby(["threads", "precision"]):
        fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
        for label, s in group.assign(series=group.apply(ffnplot.series_label, axis=1)).groupby("series"):
            s = s.groupby("tokens", as_index=False)["llc_misses"].median().sort_values("tokens")
            ax.plot(s["tokens"], s["llc_misses"] / s["tokens"], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens per call (N)")
        source = ",".join(sorted(group["counter_source"].dropna().astype(str).unique()))
        ax.set_ylabel(f"LLC misses per token ({source})")
        ax.grid(True, which="both", alpha=0.3)
        ffnstyle.legend_outside(ax)
        ffnplot.title(ax, machine, "LLC misses per token", threads=threads, precision=precision)
        written.append(ffnplot.save(fig, folder, f"llc_misses_per_token_T{threads}_{precision}"))
    return written


def traffic(points):
    """Measured memory traffic per call and its basis: memory-controller bytes, else hardware LLC
    misses × 64 B (an estimate), else nothing. Simulated misses (cachesim) are not traffic of the
    timed run, so they never become a bandwidth."""
    nan = pd.Series(float("nan"), index=points.index)
    mem = points["mem_bytes"] if "mem_bytes" in points else nan
    hw = points["counter_source"].astype(str).str.contains("hw") if "counter_source" in points else nan.notna()
    est = (points["llc_misses"] * LINE_BYTES).where(hw) if "llc_misses" in points else nan
    basis = mem.notna().map({True: "memory controller", False: ""})
    basis = basis.where(mem.notna(), est.notna().map({True: "LLC misses × 64 B (estimate)", False: ""}))
    return mem.fillna(est), basis


def bandwidth_vs_ceiling(points, machine, ceilings, folder):
    """Achieved memory bandwidth per point against the DRAM (and L3) ceiling at its thread count."""
    bytes_, basis = traffic(points)
    measured = points.assign(bytes=bytes_, basis=basis)
    measured = measured[measured["bytes"].notna() & (measured["time_median_s"] > 0)]
    if measured.empty:
        skip("bandwidth_vs_ceiling",
             "no memory traffic was measured (no memory-controller counters, no hardware LLC misses)")
        return []
    written = []
    colors = variant_colors(points)
    for (threads, precision), group in measured.groupby(["threads", "precision"]):
        fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
        gbs = group["bytes"] / group["time_median_s"] / 1e9
        for variant, s in group.assign(gbs=gbs).groupby("variant"):
            s = s.sort_values("tokens")
            ax.plot(s["tokens"], s["gbs"], marker="o", color=colors[variant], label=variant)
        if ceilings:
            for level in ("DRAM", "L3"):
                for bw in ceiling_for(ceilings, "bandwidth", threads, level=level, kernel="load"):
                    ax.axhline(bw["gbs"], color="black", ls="-" if level == "DRAM" else ":", lw=1)
                    ax.text(1.0, bw["gbs"], f" {level} {bw['gbs']:.0f}", fontsize=7, va="center",
                            transform=ax.get_yaxis_transform())
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens per call (N)")
        ax.set_ylabel("memory bandwidth (GB/s): " + "; ".join(sorted(group["basis"].unique())))
        ax.grid(True, alpha=0.3)
        ffnstyle.legend_outside(ax)
        ffnplot.title(ax, machine, "Achieved bandwidth vs measured ceiling", threads=threads, precision=precision)
        written.append(ffnplot.save(fig, folder, f"bandwidth_vs_ceiling_T{threads}_{precision}"))
    return written


def cachesim_geometry(folder):
    """The cachesim_cpu a run used (experiment.ini's [counters] section), 'native' by default."""
    ini = configparser.ConfigParser(inline_comment_prefixes=("#", ";"), strict=False)
    path = os.path.join(folder, "experiment.ini")
    if os.path.exists(path):
        with open(path) as f:
            ini.read_string("[top]\n" + f.read())
    custom = [ini.get("counters", k, fallback="") for k in ("cachesim_d1", "cachesim_ll")]
    name = ini.get("counters", "cachesim_cpu", fallback="native") or "native"
    return name + (" + custom " + "/".join(c for c in custom if c) if any(custom) else "")


def cachesim_ll_misses(folder):
    """Per point: LL misses per call from the cachesim re-run rows of counters.csv."""
    path = os.path.join(folder, "counters.csv")
    if not os.path.exists(path):
        return pd.DataFrame()
    counters = pd.read_csv(path, keep_default_na=False, na_values=[""])
    ll = counters[(counters["event"] == "LL_misses") & (counters["source"] == "sim")]
    return ll.groupby("point_id", as_index=False)["value"].median()


def cachesim_whatif(folders, machine, out_folder):
    """LL misses per token of each variant series under each simulated cache geometry."""
    frames = []
    for folder in folders:
        points, _, _ = ffnplot.load_run(folder)
        ll = cachesim_ll_misses(folder)
        if ll.empty:
            continue
        merged = points.merge(ll, on="point_id")
        merged["geometry"] = cachesim_geometry(folder)
        # Labels with each block's varying parameters, so two configurations are never one bar.
        merged["series"] = ffnplot.series_labels(merged) + " N=" + merged["tokens"].astype(str)
        if merged["threads"].nunique() > 1:
            merged["series"] += " T=" + merged["threads"].astype(str)
        frames.append(merged)
    if not frames:
        skip("cachesim_whatif", "no cachesim re-run values (counters = cachesim) in the given run folders")
        return []
    data = pd.concat(frames)
    table = data.pivot_table(index="series", columns="geometry", values="value", aggfunc="median")
    tokens = data.groupby("series")["tokens"].first()
    per_token = table.div(tokens, axis=0).sort_index(ascending=False)  # the first series on top
    common, short = ffnstyle.common_label_parts(list(per_token.index))
    if len(set(short)) == len(per_token):
        per_token.index = short
    geometries = list(per_token.columns)
    # A group of horizontal bars per series (its label beside it, never crossing another), one
    # colour per geometry (geometries are not families: the sequence colours).
    bar = 0.8 / max(1, len(geometries))
    fig, ax = plt.subplots(figsize=ffnstyle.size("page", height=max(2.5, 0.12 * len(per_token) * len(geometries) + 1.4)))
    for i, geometry in enumerate(geometries):
        offsets = [y + 0.4 - bar * (i + 0.5) for y in range(len(per_token))]
        ax.barh(offsets, per_token[geometry], height=bar, color=ffnstyle.sequence_color(i), label=geometry)
    ax.set_yticks(range(len(per_token)))
    ax.set_yticklabels(per_token.index)
    ax.set_ylim(-0.6, len(per_token) - 0.4)
    ax.set_xscale("log")
    ax.set_xlabel("simulated LL misses per token")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ffnstyle.legend_outside(ax, title="cache geometry\n(cachesim_cpu)")
    threads = ",".join(str(t) for t in sorted(data["threads"].unique()))
    precision = ",".join(sorted(data["precision"].astype(str).unique()))
    ffnplot.title(ax, machine, "What if this CPU's caches: valgrind cache simulation" + (f", {common}" if common else ""),
                  threads=threads, precision=precision)
    return [ffnplot.save(fig, out_folder, "cachesim_whatif")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_folder")
    parser.add_argument("cachesim_runs", nargs="*", help="more cachesim run folders (other cachesim_cpu)")
    parser.add_argument("--ceilings", help="ceilings.json from ffnbench calibrate")
    args = parser.parse_args()

    points, _, machine = ffnplot.load_run(args.run_folder)
    if points.empty:
        sys.exit(f"error: {args.run_folder} has no points with status ok")
    ceilings = None
    if args.ceilings:
        with open(args.ceilings) as f:
            ceilings = json.load(f)
    else:
        ceilings = ffnplot.load_ceilings(args.run_folder)
    roofline(points, machine, ceilings, args.run_folder)
    llc_misses_per_token(points, machine, args.run_folder)
    bandwidth_vs_ceiling(points, machine, ceilings, args.run_folder)
    cachesim_whatif([args.run_folder] + args.cachesim_runs, machine, args.run_folder)


if __name__ == "__main__":
    main()
