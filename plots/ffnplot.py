"""Shared helpers for ffnbench figure scripts: load a run folder, title, save PNG + PDF.

Every figure names its machine, threads and precision (DESIGN.md section 6); its style comes
from ffnstyle."""
import json
import os
import sys
import textwrap
import warnings

import matplotlib

matplotlib.use("Agg")  # headless: figures go to files
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import ffnstyle  # noqa: E402,F401  (sets the rcParams of every figure)

# Called as check(fig, name) on every figure before it is written (tests/test_figures.py checks
# that no labels overlap and every series has its own style).
CHECKS = []


def load_run(folder):
    """Returns (points, stages, machine) of a run folder; points only with status ok."""
    points_path = os.path.join(folder, "points.csv")
    if not os.path.exists(points_path):
        sys.exit(f"error: {folder} is not a run folder (no points.csv)")
    points = pd.read_csv(points_path, keep_default_na=False, na_values=[""])
    points = points[points["status"] == "ok"].copy()
    stages_path = os.path.join(folder, "stages.csv")
    stages = pd.read_csv(stages_path) if os.path.exists(stages_path) else pd.DataFrame()
    machine = {}
    machine_path = os.path.join(folder, "machine.json")
    if os.path.exists(machine_path):
        with open(machine_path) as f:
            machine = json.load(f)
    machine["_conditions"] = measurement_conditions(points)
    return points, stages, machine


INPUT_WORDS = {"fresh": "fresh inputs", "repeat": "one input reused", "real": "real inputs"}


def inputs_word(value):
    """points.csv's `inputs` as the title says it: 'fresh', 'repeat' and every value starting
    with 'repeat' (ffndataset.INPUTS_BEFORE_FRESH, 'repeat (before fresh inputs)', of runs older
    than the column, which reused one batch on every call) -> one input reused; empty (an old
    run) likewise; an activations file (inputs = <file>) -> real inputs, rather than its path."""
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value).strip()
    if text == "" or text.startswith("repeat"):
        return INPUT_WORDS["repeat"]
    return INPUT_WORDS["fresh"] if text == "fresh" else INPUT_WORDS["real"]


def measurement_conditions(points):
    """'fresh inputs, interleaved' (what every title says the points were measured under);
    runs older than fresh inputs reused one batch on every call ('one input reused')."""
    if "inputs" in points.columns and len(points):
        inputs = "/".join(sorted({inputs_word(v) for v in points["inputs"]}))
    else:
        inputs = INPUT_WORDS["repeat"]
    schedules = sorted({str(v) for v in points["schedule"].dropna()}) if "schedule" in points.columns else []
    return f"{inputs}, {'/'.join(schedules) if schedules else 'sequential'}"


def load_ceilings(folder):
    """ceilings.json of the run (from `ffnbench calibrate`), or None."""
    path = os.path.join(folder, "ceilings.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def machine_name(machine):
    cpu = machine.get("cpu", {})
    name = cpu.get("model_name", "unknown CPU")
    uarch = cpu.get("microarchitecture")
    cores = cpu.get("physical_cores")
    text = f"{name}" + (f" ({uarch})" if uarch else "") + (f", {cores} cores" if cores else "")
    return text


def title(ax, machine, what, threads=None, precision=None):
    parts = [machine_name(machine)]
    if threads is not None:
        parts.append(f"threads={threads}")
    if precision is not None:
        parts.append(f"precision={precision}")
    if machine.get("_conditions"):
        parts.append(machine["_conditions"])
    # Wrapped to the axes' width, so titles of panels side by side never run into each other.
    width_chars = max(30, int(ax.get_position().width * ax.figure.get_figwidth() * 15))
    lines = textwrap.wrap(what, width_chars) + textwrap.wrap(", ".join(parts), width_chars)
    ax.set_title("\n".join(lines), fontsize=8)


def _present(value):
    return value is not None and not (isinstance(value, float) and value != value) and value != ""


def series_label(row, varying=()):
    """'block [impl] precision k=v' with the parameters in `varying` (those that differ between
    points of the same block, so each line of a figure is one configuration)."""
    label = f"{row['block']} [{row['impl']}]" if _present(row.get("impl")) else str(row["block"])
    if _present(row.get("precision")) and row["precision"] != "fp32":
        label += f" {row['precision']}"
    for column in varying:
        if _present(row.get(column)):
            value = row[column]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            label += f" {column[2:]}={value}"
    return label


def series_labels(points):
    """A label per row of `points`: series_label with each block's varying parameters."""
    params = [c for c in points.columns if c.startswith("p_")]
    labels = pd.Series(index=points.index, dtype=object)
    for _, rows in points.groupby("block"):
        varying = [c for c in params if rows[c].nunique(dropna=True) > 1]
        labels.loc[rows.index] = rows.apply(lambda r: series_label(r, varying), axis=1)
    return labels


def settle_layout(fig):
    """The layout save() gives the figure, now: for placing labels against the final axes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tight_layout warns about legends placed outside the axes
        fig.tight_layout()
    fig.canvas.draw()


def save(fig, folder, name):
    """Writes <folder>/figures/<name>.png and .pdf; returns the PNG path."""
    out = os.path.join(folder, "figures")
    os.makedirs(out, exist_ok=True)
    settle_layout(fig)
    for check in CHECKS:
        check(fig, name)
    png = os.path.join(out, name + ".png")
    fig.savefig(png, dpi=200, bbox_inches="tight")
    fig.savefig(os.path.join(out, name + ".pdf"), bbox_inches="tight")
    plt.close(fig)
    print(png)
    return png


def run_folder_from_argv():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(f"usage: {os.path.basename(sys.argv[0])} <run folder>")
    return sys.argv[1]
