"""Machines side by side, from a merged folder (`ffnbench merge`) or a single run folder (a
dataset of one machine):

- speedup_by_machine: each variant's speedup over the best dense at its precision
  (ffndataset.best_dense: the best gemm_ffn impl at the same tokens, threads, d and precision),
  one bar per machine, at 1 thread and at all cores;
- ceiling_fractions: achieved GFLOP/s as a fraction of the machine's peak, achieved bandwidth as a
  fraction of its DRAM bandwidth, and latency over the roofline bound, from ceilings.json (a
  machine without one is named in the figure);
- crossmachine_table.{md,csv}: machine, microarchitecture, ISA, caches, ceilings and the headline
  ratios; claims.{md,csv}: every published claim checked against the data (plots/claims.py).

usage: /usr/bin/python3 plots/crossmachine_figures.py <merged or run folder>"""
import math
import os

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd

import claims
import ffndataset as ds
import ffnplot
import ffnstyle

THREAD_CLASSES = ["1 thread", "all cores"]
# Reference levels, not variants: drawn as lines across the bars.
REFERENCE_BLOCKS = {"gemm_floor": "BLAS floor (gemm_floor)"}


def headline_points(df, value):
    """Per (series, machine, thread class): the row at the largest token count measured."""
    df = df.assign(series=ffnplot.series_labels(df), thread_class=ds.thread_class(df))
    df = df[df["thread_class"].notna() & df[value].notna()]
    if df.empty:
        return df
    largest = df.groupby(["series", "machine_id", "thread_class"])["tokens"].transform("max")
    return df[df["tokens"] == largest]


def machines_title(machines, ids):
    return "; ".join(ds.short_name(machines[m]) for m in ids)


def grouped_bars(ax, table, machine_ids, machines, log=False):
    """table: index = series, columns = machine ids, values; one horizontal bar per machine per
    series (horizontal: long series names never run into each other)."""
    series = list(table.index)
    height = 0.8 / max(len(machine_ids), 1)
    y = np.arange(len(series))
    for k, mid in enumerate(machine_ids):
        values = table[mid].values if mid in table.columns else np.full(len(series), np.nan)
        bars = ax.barh(y + (k - (len(machine_ids) - 1) / 2) * height, values, height, color=ffnstyle.sequence_color(k),
                       label=ds.short_name(machines[mid]))
        for bar, v in zip(bars, values):
            if not np.isnan(v):
                ax.annotate(f"{v:.2g}", (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(2, 0),
                            textcoords="offset points", va="center", fontsize=6)
    ax.set_yticks(y)
    ax.set_yticklabels(series, fontsize=7)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())  # minor labels of a short decade collide
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.grid(True, axis="x", alpha=0.3)


def bar_height_in(n_series, n_machines):
    return max(1.6, 0.16 * n_series * max(n_machines, 1) + 0.9)


def speedup_by_machine(points, machines, folder):
    sp = ds.speedups(points)
    if sp.empty:
        print(f"{folder}: no variant measured next to {ds.BASELINE} at the same tokens, threads, d and precision:"
              " no speedup figure")
        return None
    head = headline_points(sp, "speedup")
    machine_ids = sorted(head["machine_id"].unique())
    classes = [c for c in THREAD_CLASSES if c in set(head["thread_class"])]
    common, short = ffnstyle.common_label_parts(sorted(head["series"].unique()))
    head = head.assign(series=head["series"].map(dict(zip(sorted(head["series"].unique()), short))))
    variants = head[~head["variant"].isin(REFERENCE_BLOCKS)]
    n_series = variants["series"].nunique()
    heights = [bar_height_in(n_series, len(machine_ids)) + 0.6 for _ in classes]
    fig, axes = plt.subplots(len(classes), 1, figsize=ffnstyle.size("page", height=sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, tclass in zip(axes[:, 0], classes):
        part = variants[variants["thread_class"] == tclass]
        table = part.pivot_table(index="series", columns="machine_id", values="speedup", aggfunc="max")
        spread = table.max().max() / max(table.min().min(), 1e-9)
        grouped_bars(ax, table, machine_ids, machines, log=spread > 30)
        ax.axvline(1.0, color="black", linewidth=0.8)
        for k, mid in enumerate(machine_ids):
            for block, name in REFERENCE_BLOCKS.items():
                # The floor as ds.dense_floor defines it (fp32: the fastest of the OpenBLAS, BLIS and oneDNN pairs).
                level = head[(head["variant"] == block) & (head["thread_class"] == tclass) & (head["machine_id"] == mid)]
                level = level[ds.is_floor(level)] if len(level) else level
                if len(level):
                    ffnstyle.reference_line(ax, level["speedup"].max(), f"{name}, {ds.short_name(machines[mid])}",
                                            axis="x", color=ffnstyle.sequence_color(k), linestyle=":")
        ax.set_xlabel(f"speedup over the best dense ({ds.BASELINE}) at the same precision (×)")
        tokens = ",".join(str(t) for t in sorted(part["tokens"].unique()))
        threads = ", ".join(f"{int(t)}" for t in sorted(part["threads"].unique()))
        precision = ",".join(sorted(part["compared_precision"].unique()))
        ax.set_title("\n".join(ffnplot.textwrap.wrap(
            f"Speedup over the best dense at the same precision ({ds.BASELINE}, best impl, d_ff = 4·d where "
            f"measured), {tclass} (threads {threads}), "
            f"N = {tokens}, precision {precision}" + (f"; every series: {common}" if common else ""), 110)), fontsize=8)
        ffnstyle.legend_outside(ax)
    return ffnplot.save(fig, folder, "speedup_by_machine")


def ceiling_fractions(points, machines, ceilings, folder):
    """Three panels at all cores: % of peak GFLOP/s, % of DRAM bandwidth, latency / roofline bound.
    fp32 points only: calibrate measures FP32 peaks, and a bf16 point over an FP32 peak means nothing."""
    head = headline_points(points[points["precision"] == "fp32"], "time_median_s")
    if head.empty:
        print(f"{folder}: no fp32 point: no ceiling figure (the ceilings are FP32)")
        return None
    head = head[head["thread_class"] == "all cores"] if "all cores" in set(head["thread_class"]) else head
    machine_ids = sorted(points["machine_id"].unique())
    missing = [m for m in machine_ids if m not in ceilings]
    rows = []
    for _, r in head.iterrows():
        c = ds.ceilings_at(ceilings[r["machine_id"]], int(r["threads"])) if r["machine_id"] in ceilings else None
        if c is None:
            if r["machine_id"] not in missing:
                missing.append(r["machine_id"])
            continue
        gflops = r["flops_model"] / r["time_median_s"] / 1e9
        measured_bw = r.get("mem_bw_gbs")
        bw = measured_bw if pd.notna(measured_bw) else r["bytes_model"] / r["time_median_s"] / 1e9
        bound = max(r["flops_model"] / (c["peak_gflops"] * 1e9) if c["peak_gflops"] else 0,
                    r["bytes_model"] / (c["dram_gbs"] * 1e9) if c["dram_gbs"] else 0)
        rows.append({"series": r["series"], "machine_id": r["machine_id"],
                     "compute": 100 * gflops / c["peak_gflops"] if c["peak_gflops"] else math.nan,
                     "bandwidth": 100 * bw / c["dram_gbs"] if c["dram_gbs"] else math.nan,
                     "roofline": r["time_median_s"] / bound if bound > 0 else math.nan})
    one = bar_height_in(head["series"].nunique(), len(machine_ids)) + 0.5
    fig, axes = plt.subplots(3, 1, figsize=ffnstyle.size("page", height=3 * one))
    panels = [("compute", "model GFLOP/s, % of peak FP32"),
              ("bandwidth", "bandwidth (counted, else model bytes), % of DRAM"),
              ("roofline", "latency / roofline bound (×)")]
    table = pd.DataFrame(rows)
    for ax, (column, label) in zip(axes, panels):
        if not table.empty:
            pivot = table.pivot_table(index="series", columns="machine_id", values=column, aggfunc="max")
            grouped_bars(ax, pivot, [m for m in machine_ids if m in ceilings], machines, log=column == "roofline")
            ffnstyle.legend_outside(ax)
        ax.set_ylabel(label, fontsize=8)
    threads = ", ".join(f"{int(t)}" for t in sorted(head["threads"].unique()))
    axes[0].set_title("\n".join(ffnplot.textwrap.wrap(
        "Normalized to each machine's measured ceilings (ceilings.json), fp32, all cores "
        f"(threads {threads}), largest N. Machines: {machines_title(machines, machine_ids)}", 110)), fontsize=8)
    if missing:
        note = "no ceilings.json for " + ", ".join(ds.short_name(machines[m]) for m in missing) + \
               ": run `ffnbench calibrate` on " + ("it" if len(missing) == 1 else "them")
        if table.empty:  # nothing to draw: the note is the figure
            for ax in axes:
                ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=9,
                        color="firebrick", wrap=True)
        else:
            fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=9, color="firebrick")
            fig.subplots_adjust(bottom=0.08)
        print(f"{folder}: {note}")
    return ffnplot.save(fig, folder, "ceiling_fractions")


def cache_text(machine, level, kind=("Data", "Unified")):
    for c in machine.get("cpu", {}).get("caches", []):
        if c.get("level") == level and c.get("type") in kind and c.get("size_bytes"):
            size = c["size_bytes"] / 1024
            text = f"{size / 1024:g} MiB" if size >= 1024 else f"{size:g} KiB"
            shared = c.get("shared_by_cpus")
            return text + (f" /{shared} CPUs" if shared and shared > 1 else "")
    return ""


def machine_table(machines, ceilings, claim_rows, folder):
    """figures/crossmachine_table.csv and .md: one row per machine with its headline ratios."""
    rows = []
    for mid, m in sorted(machines.items()):
        cpu = m.get("cpu", {})
        top = ds.ceilings_at(ceilings[mid], 10 ** 6) if mid in ceilings else None
        row = {"machine_id": mid, "cpu": cpu.get("model_name", ""), "microarchitecture": cpu.get("microarchitecture", ""),
               "sockets": cpu.get("sockets", ""), "cores": cpu.get("physical_cores", ""),
               "logical_cpus": cpu.get("logical_cpus", ""), "isa": " ".join(cpu.get("isa", [])),
               "l1d": cache_text(m, 1), "l2": cache_text(m, 2), "l3": cache_text(m, 3),
               "virtualized": "yes" if m.get("virtualization", {}).get("hypervisor") else "no",
               "hardware_counters": "yes" if m.get("pmu", {}).get("hardware_counters") else "no",
               "peak_gflops": f"{top['peak_gflops']:.0f}" if top and top["peak_gflops"] else "",
               "dram_gbs": f"{top['dram_gbs']:.1f}" if top and top["dram_gbs"] else ""}
        for claim in claims.CLAIMS:
            hit = claim_rows[(claim_rows["claim_id"] == claim.id) & (claim_rows["machine_id"] == mid)]
            hit = hit[hit["thread_class"] == "all cores"] if "all cores" in set(hit["thread_class"]) else hit
            row[claim.id] = (f"{hit['measured'].iloc[0]:.2f}× (T={int(hit['threads'].iloc[0])}, "
                             f"N={int(hit['tokens'].iloc[0])})") if len(hit) else ""
        rows.append(row)
    table = pd.DataFrame(rows)
    out = os.path.join(folder, "figures")
    os.makedirs(out, exist_ok=True)
    table.to_csv(os.path.join(out, "crossmachine_table.csv"), index=False)
    measured_claims = [c for c in claims.CLAIMS if table[c.id].astype(bool).any()] if len(table) else []
    headers = ["machine", "CPU", "microarchitecture", "cores (sockets)", "ISA", "L1d", "L2", "L3", "VM", "HW counters",
               "peak GFLOP/s", "DRAM GB/s"] + [f"{c.title} ({c.claimed_text} claimed)" for c in measured_claims]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for _, r in table.iterrows():
        cells = [f"`{r['machine_id']}`", r["cpu"], r["microarchitecture"], f"{r['cores']} ({r['sockets']})", r["isa"],
                 r["l1d"], r["l2"], r["l3"], r["virtualized"], r["hardware_counters"], r["peak_gflops"] or "—",
                 r["dram_gbs"] or "—"] + [r[c.id] or "—" for c in measured_claims]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if not any(mid in ceilings for mid in machines):
        lines.append("\nPeak GFLOP/s and DRAM GB/s: no ceilings.json in this data (`ffnbench calibrate` writes it).")
    with open(os.path.join(out, "crossmachine_table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(os.path.join(out, "crossmachine_table.md"))


def claims_outputs(claim_rows, folder, quality_rows=None, points=None, machines=None):
    """figures/claims.csv, and claims.md: one sentence per claim and machine, then the table; with
    trained points, each trained model's speedup at its accuracy (figures/quality_claims.csv)."""
    out = os.path.join(folder, "figures")
    os.makedirs(out, exist_ok=True)
    claim_rows.to_csv(os.path.join(out, "claims.csv"), index=False)
    lines = [f"- {claims.sentence(r)}" for _, r in claim_rows.iterrows()]
    lines += [""] + claims.markdown_table(claim_rows)
    if quality_rows is not None and not quality_rows.empty:
        quality_rows.to_csv(os.path.join(out, "quality_claims.csv"), index=False)
        lines += ["", "### Speed at a known quality (trained weights)", "",
                  "The claims above are timed on seeded random weights, whose quality is unknown. Each trained "
                  "model below is timed at its trained shape on the activations it sees, against its dense twin "
                  "(trained the same way), with both test accuracies from the export's meta.json.", ""]
        lines += [f"- {claims.quality_sentence(r)}" for _, r in quality_rows.iterrows()]
        lines += [""] + claims.quality_table(quality_rows)
    lines += dense_floor_lines(points, machines) if points is not None else []
    with open(os.path.join(out, "claims.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(os.path.join(out, "claims.md"))


def dense_floor_lines(points, machines):
    """claims.md's section on the baseline itself: the best dense at each precision against its
    floor (the target: within 1.05×), libtorch against the best dense, and the best dense's
    int8 : bf16 : fp32 speed. Empty where the run has no floor points."""
    table = ds.dense_against_floor(points)
    if table.empty:
        return []
    def name(mid):
        return ds.short_name(machines.get(mid, {})) or mid
    lines = ["", "### The dense baseline against its floor", "",
             "Best dense = the fastest gemm_ffn impl at that precision without LayerNorm; floor = the fastest bare "
             "matmul pair (fp32: OpenBLAS, BLIS or oneDNN; bf16, int8: oneDNN). Target: dense / floor ≤ 1.05.", "",
             "| machine | threads | tokens | d | d_ff | precision | best dense | floor | dense / floor | libtorch / best dense |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        torch = f"{r['libtorch_over_best']:.2f}×" if pd.notna(r["libtorch_over_best"]) else "—"
        lines.append(f"| {name(r['machine_id'])} | {int(r['threads'])} | {int(r['tokens'])} | {int(r['d_in'])} | "
                     f"{ds.fmt_value(r['d_ff'])} | {r['precision']} | {r['dense_impl']} {r['dense_time_s'] * 1e3:.1f} ms | "
                     f"{r['floor_impl']} {r['floor_time_s'] * 1e3:.1f} ms | {r['dense_over_floor']:.3f} | {torch} |")
    ratios = ds.precision_ratios(points)
    ratios = ratios[ratios["bf16_s"].notna() | ratios["int8_s"].notna()]
    if not ratios.empty:
        lines += ["", "Best dense speed by precision (times faster than its fp32):", ""]
        for _, r in ratios.iterrows():
            bf16 = f"{r['fp32_over_bf16']:.2f}" if pd.notna(r["fp32_over_bf16"]) else "—"
            int8 = f"{r['fp32_over_int8']:.2f}" if pd.notna(r["fp32_over_int8"]) else "—"
            lines.append(f"- {name(r['machine_id'])}, {int(r['threads'])} thread(s), N = {int(r['tokens'])}, "
                         f"d = {int(r['d_in'])}: int8 : bf16 : fp32 = {int8} : {bf16} : 1")
    return lines


def main():
    folder = ffnplot.run_folder_from_argv()
    points, machines, ceilings = ds.load_dataset(folder)
    reps = ds.load_reps(folder)
    claim_rows = claims.evaluate(points, machines, reps)
    quality_rows = claims.quality_rows(points, machines, reps)
    if not points.empty:
        speedup_by_machine(points, machines, folder)
        ceiling_fractions(points, machines, ceilings, folder)
    else:
        print(f"{folder}: no successful points, no figures")
    machine_table(machines, ceilings, claim_rows, folder)
    claims_outputs(claim_rows, folder, quality_rows, points, machines)


if __name__ == "__main__":
    main()
