"""Latency vs size and throughput vs threads for any run folder (every variant in it).

usage: /usr/bin/python3 plots/sweep_figures.py <run folder>"""
import matplotlib.pyplot as plt

import ffnplot
import ffnstyle


def latency_vs_tokens(points, machine, folder):
    """One panel per (thread count, precision): median latency per call vs tokens, log-log."""
    written = []
    for (threads, precision), group in points.groupby(["threads", "precision"]):
        if group["tokens"].nunique() < 2:
            continue
        fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
        group = group.assign(series=ffnplot.series_labels(group))
        common, short = ffnstyle.common_label_parts(sorted(group["series"].unique()))
        names = dict(zip(sorted(group["series"].unique()), short))
        styles = ffnstyle.SeriesStyles()
        for label, s in group.groupby("series"):
            first = s.iloc[0]
            style = styles(label, first["block"], first.get("impl"), first.get("precision"))
            s = s.groupby("tokens", as_index=False)["time_median_s"].median().sort_values("tokens")
            ax.plot(s["tokens"], s["time_median_s"] * 1e3, label=names[label], **style)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens per call (N)")
        ax.set_ylabel("median latency per call (ms)")
        ax.grid(True, which="both", alpha=0.3)
        ffnstyle.legend_outside(ax)
        ffnplot.title(ax, machine, "Latency vs size" + (f": {common}" if common else ""), threads=threads,
                      precision=precision)
        written.append(ffnplot.save(fig, folder, f"latency_vs_tokens_T{threads}_{precision}"))
    return written


def throughput_vs_threads(points, machine, folder):
    """Tokens per second vs threads, at the largest token count of each series."""
    written = []
    for precision, group in points.groupby("precision"):
        if group["threads"].nunique() < 2:
            continue
        group = group.assign(series=ffnplot.series_labels(group))
        fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
        styles = ffnstyle.SeriesStyles()
        for label, s in group.groupby("series"):
            first = s.iloc[0]
            style = styles(label, first["block"], first.get("impl"), first.get("precision"))
            s = s[s["tokens"] == s["tokens"].max()]
            n = int(s["tokens"].max())
            s = s.groupby("threads", as_index=False)["tokens_per_s"].median().sort_values("threads")
            ax.plot(s["threads"], s["tokens_per_s"], label=f"{label} (N={n})", **style)
        ax.set_xlabel("threads (pinned, one per core)")
        ax.set_ylabel("tokens per second")
        ax.set_xticks(sorted(group["threads"].unique()))
        ax.grid(True, alpha=0.3)
        ffnstyle.legend_outside(ax)
        threads = ",".join(str(t) for t in sorted(group["threads"].unique()))
        ffnplot.title(ax, machine, "Throughput vs threads", threads=threads, precision=precision)
        written.append(ffnplot.save(fig, folder, f"throughput_vs_threads_{precision}"))
    return written


def main():
    folder = ffnplot.run_folder_from_argv()
    points, _, machine = ffnplot.load_run(folder)
    if points.empty:
        print(f"{folder}: no successful points, no figures")
        return
    latency_vs_tokens(points, machine, folder)
    throughput_vs_threads(points, machine, folder)


if __name__ == "__main__":
    main()
