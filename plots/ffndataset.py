"""A results dataset of one or many machines: a run folder (machine.json, ceilings.json) or a
folder written by `ffnbench merge` (machines/<id>.json, ceilings/<id>.json), and what the
cross-machine figures, tables and claims compute from it: speedups over the dense baseline and
ceilings per thread count."""
import glob
import json
import math
import os

import pandas as pd

import ffnplot

BASELINE = "gemm_ffn"


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def load_dataset(folder):
    """Returns (points with status ok, machines {id: machine.json}, ceilings {id: ceilings.json})."""
    points, _, _ = ffnplot.load_run(folder)
    machines, ceilings = {}, {}
    if os.path.isdir(os.path.join(folder, "machines")):
        for path in sorted(glob.glob(os.path.join(folder, "machines", "*.json"))):
            m = _read_json(path)
            machines[m.get("machine_id", os.path.basename(path)[:-5])] = m
        for path in sorted(glob.glob(os.path.join(folder, "ceilings", "*.json"))):
            ceilings[os.path.basename(path)[:-5]] = _read_json(path)
    else:
        machine = _read_json(os.path.join(folder, "machine.json")) if os.path.exists(
            os.path.join(folder, "machine.json")) else {}
        mid = machine.get("machine_id") or (points["machine_id"].iloc[0] if len(points) else "unknown")
        machines[mid] = machine
        if os.path.exists(os.path.join(folder, "ceilings.json")):
            ceilings[mid] = _read_json(os.path.join(folder, "ceilings.json"))
    for mid in points["machine_id"].unique():
        machines.setdefault(mid, {"machine_id": mid})
    return points, machines, ceilings


def short_name(machine):
    """'Xeon 8480+ (Sapphire Rapids, 56c)': short enough for a legend."""
    cpu = machine.get("cpu", {})
    name = cpu.get("model_name") or machine.get("machine_id", "unknown")
    for noise in ("(R)", "(TM)", "Intel ", "AMD ", "Processor", "CPU", "  "):
        name = name.replace(noise, " " if noise == "  " else "")
    name = " ".join(name.split())
    extra = [x for x in (cpu.get("microarchitecture"), f"{cpu['physical_cores']}c" if cpu.get("physical_cores") else None) if x]
    return f"{name} ({', '.join(extra)})" if extra else name


def matches(column, value):
    """Row mask: a CSV column equal to value, numerically when value is a number."""
    if isinstance(value, (int, float)):
        return pd.to_numeric(column, errors="coerce") == value
    return column.astype(str) == str(value)


def varying_params(df):
    """The p_<param> columns whose value differs between the rows (what tells series apart)."""
    return [c for c in df.columns if c.startswith("p_") and df[c].nunique(dropna=True) > 1]


def fmt_value(v):
    if isinstance(v, float) and not math.isnan(v) and v == int(v):
        return str(int(v))
    return str(v)


def series_labels(df):
    """'lookup_ffn:bh4 [table_major] h=128' per row: block, impl, the parameters that vary."""
    params = [c for c in varying_params(df) if c not in ("p_impl", "p_precision")]

    def label(row):
        text = row["block"] + (f" [{row['impl']}]" if isinstance(row.get("impl"), str) and row["impl"] else "")
        if row.get("precision") and row["precision"] != "fp32":
            text += f" {row['precision']}"
        extra = [f"{c[2:]}={fmt_value(row[c])}" for c in params if pd.notna(row.get(c))]
        return text + (" " + " ".join(extra) if extra else "")

    return df.apply(label, axis=1) if len(df) else pd.Series(dtype=str)


KEYS = ["machine_id", "tokens", "threads", "d_in", "d_out", "precision"]
# Not a whole FFN layer: compared within its own impls, not to gemm_ffn (bh4 is LookupFFN's projection).
NOT_A_LAYER = {"bh4"}


# Columns of the baseline point carried next to a variant point (which repetitions to pair, how
# its inputs were fed), renamed base_<column>.
BASE_IDENTITY = {"run_id": "base_run_id", "point_id": "base_point_id", "inputs": "base_inputs"}


def dense_baseline(points, d_ff=None):
    """The dense baseline per (machine, tokens, threads, d_in, d_out, precision): the fastest gemm_ffn
    impl at d_ff = `d_ff`, or, when not given, at d_ff = 4·d where that was measured (the usual
    transformer FFN: 512→2048, 768→3072) and else at the largest d_ff measured for that d.
    Columns: the keys, base_time_s, base_flops, base_impl, base_d_ff, and base_run_id,
    base_point_id, base_inputs where points has run_id, point_id, inputs."""
    gemm = points[points["variant"] == BASELINE].copy()
    if gemm.empty:
        return pd.DataFrame(columns=KEYS + ["base_time_s", "base_flops", "base_impl", "base_d_ff"])
    gemm["d_ff"] = pd.to_numeric(gemm.get("p_d_ff", pd.Series(index=gemm.index, dtype=float)), errors="coerce")
    if d_ff is not None:
        gemm = gemm[gemm["d_ff"] == d_ff]
    else:
        chosen = {}
        for (mid, d), g in gemm.groupby(["machine_id", "d_in"]):
            widths = set(g["d_ff"].dropna())
            chosen[(mid, d)] = 4 * d if 4 * d in widths else (max(widths) if widths else math.nan)
        keep = gemm.apply(lambda r: r["d_ff"] == chosen[(r["machine_id"], r["d_in"])]
                          or (math.isnan(chosen[(r["machine_id"], r["d_in"])])), axis=1)
        gemm = gemm[keep]
    # The fastest row per key, whole (groupby().first() would mix rows where a column is empty).
    best = gemm.sort_values("time_median_s", kind="stable").drop_duplicates(KEYS, keep="first")
    best = best.rename(columns={"time_median_s": "base_time_s", "flops_model": "base_flops",
                                "impl": "base_impl", "d_ff": "base_d_ff", **BASE_IDENTITY})
    return best[KEYS + ["base_time_s", "base_flops", "base_impl", "base_d_ff"] +
                [c for c in BASE_IDENTITY.values() if c in best.columns]]


def speedups(points, d_ff=None):
    """Every point of a whole FFN layer other than the baseline, with its speedup over
    dense_baseline() at the same machine, tokens, threads, d_in, d_out and precision (baseline
    time / its time) and its FLOP ratio."""
    others = points[(points["variant"] != BASELINE) & ~points["variant"].isin(NOT_A_LAYER)]
    out = others.merge(dense_baseline(points, d_ff), on=KEYS, how="inner")
    out["speedup"] = out["base_time_s"] / out["time_median_s"]
    out["flop_ratio"] = out["base_flops"] / out["flops_model"]
    return out


# The floor the dense baseline is held to: the bare pair of matmuls of its shapes (gemm_floor).
# At fp32 the faster of the OpenBLAS and BLIS sgemm pairs; at bf16 and int8 oneDNN's bare
# matmuls. oneDNN's fp32 pair is measured next to them but is not the fp32 floor.
FLOOR = "gemm_floor"
FLOOR_IMPLS = {"fp32": ("openblas", "blis"), "bf16": ("onednn",), "int8": ("onednn",)}


def is_floor(points):
    """Which rows are floor candidates: gemm_floor points whose impl is a floor impl of their precision."""
    if points.empty:
        return pd.Series(dtype=bool)
    return points.apply(lambda r: r["variant"] == FLOOR and r.get("impl") in FLOOR_IMPLS.get(r.get("precision"), ()),
                        axis=1)


def dense_floor(points):
    """The floor per (machine, tokens, threads, d_in, d_out, precision): the fastest floor candidate
    (is_floor). Columns: the keys, floor_time_s, floor_impl, floor_d_ff."""
    cand = points[is_floor(points)] if len(points) else points
    if cand.empty:
        return pd.DataFrame(columns=KEYS + ["floor_time_s", "floor_impl", "floor_d_ff"])
    cand = cand.assign(floor_d_ff=pd.to_numeric(cand.get("p_d_ff", pd.Series(index=cand.index, dtype=float)),
                                                errors="coerce"))
    best = cand.sort_values("time_median_s", kind="stable").drop_duplicates(KEYS + ["floor_d_ff"], keep="first")
    best = best.rename(columns={"time_median_s": "floor_time_s", "impl": "floor_impl"})
    return best[KEYS + ["floor_time_s", "floor_impl", "floor_d_ff"]].reset_index(drop=True)


def load_reps(folder):
    """reps.csv of a run or merged folder (every repetition: run_id, point_id, repetition, time_s,
    and in newer runs round and position), or an empty frame where there is none."""
    path = os.path.join(folder, "reps.csv")
    if not os.path.exists(path):
        return pd.DataFrame(columns=["run_id", "point_id", "repetition", "time_s"])
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


INPUTS_BEFORE_FRESH = "repeat (before fresh inputs)"


def inputs_mode(value):
    """How a point's inputs were fed: points.csv's `inputs` (fresh | repeat); runs older than the
    column always repeated one batch."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        return INPUTS_BEFORE_FRESH
    return str(value)


def thread_class(df):
    """'1 thread' / 'all cores' (the most threads measured on that machine) / None per row."""
    most = df.groupby("machine_id")["threads"].transform("max")
    return df.apply(lambda r: "all cores" if r["threads"] == most[r.name] and r["threads"] > 1
                    else ("1 thread" if r["threads"] == 1 else None), axis=1)


# ---- ceilings.json (`ffnbench calibrate`, schema ffnbench.ceilings/1: see harness/calibrate/calibrate.hpp) ----

def ceilings_at(document, threads):
    """{'threads', 'peak_gflops', 'dram_gbs', 'l1_gbs', 'l2_gbs', 'l3_gbs'} at this thread count or,
    when it was not calibrated, the nearest smaller count measured (the nearest larger if none);
    None where a value was not measured, and None for a document without any ceiling. The widest
    ISA's peak; per level the faster of the load and triad kernels."""
    peaks = [e for e in document.get("peak_flops", []) if e.get("gflops")]
    bandwidth = [e for e in document.get("bandwidth", []) if e.get("gbs")]
    measured = sorted({int(e["threads"]) for e in peaks + bandwidth})
    if not measured:
        return None
    below = [t for t in measured if t <= threads]
    at = max(below) if below else min(measured)

    def best(entries, **match):
        values = [e["gflops" if "gflops" in e else "gbs"] for e in entries
                  if int(e["threads"]) == at and all(e.get(k) == v for k, v in match.items())]
        return max(values) if values else None

    return {"threads": at, "peak_gflops": best(peaks), "dram_gbs": best(bandwidth, level="DRAM"),
            "l1_gbs": best(bandwidth, level="L1"), "l2_gbs": best(bandwidth, level="L2"),
            "l3_gbs": best(bandwidth, level="L3")}
