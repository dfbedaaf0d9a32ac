"""A results dataset of one or many machines: a run folder (machine.json, ceilings.json) or a
folder written by `ffnbench merge` (machines/<id>.json, ceilings/<id>.json), and what the
cross-machine figures, tables and claims compute from it: "best dense" (the one definition of the
dense baseline: per precision and overall, see best_dense), speedups over it, and ceilings per
thread count."""
import glob
import json
import math
import os

import pandas as pd

import ffnplot

BASELINE = "gemm_ffn"  # the dense FFN (best_dense below)


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


# ---- "best dense": the one definition every claim, table and figure compares with ----
#
# The dense FFN is gemm_ffn (BASELINE). At one machine, tokens, threads, d_in, d_out and width d_ff:
# - the best dense at a precision is the fastest gemm_ffn impl measured at that precision
#   (best_dense(points, precision=...));
# - the best dense overall is the fastest of those over every precision that machine ran at that
#   shape (best_dense_any), with base_precision and base_impl saying which won.
# A variant point is compared "at the same precision" with the best dense at compared_precision()
# of it: the narrowest of its precision column and its precision parameters (PRECISION_PARAMS).
# LookupFFN keeps its tables (its weights) at table_precision while its precision column stays
# fp32, so tables at bf16 are compared with dense bf16 and tables at int8 with dense int8.
# Where no gemm_ffn ran at that precision, the comparison is empty and no_dense_reason() says why:
# never a dense point of another precision in its place.

KEYS = ["machine_id", "tokens", "threads", "d_in", "d_out", "precision"]
SHAPE_KEYS = KEYS[:-1]
# Not a whole FFN layer: compared within its own impls, not to gemm_ffn (bh4 is LookupFFN's projection).
NOT_A_LAYER = {"bh4"}
# Parameters that set the precision of a variant's weights apart from the precision column:
# LookupFFN's tables and its projection's products, FFF's node rows.
PRECISION_PARAMS = ("p_table_precision", "p_projection_precision", "p_row_precision")
# Narrower first; a precision not named here ranks between bf16 and fp32.
PRECISION_RANK = {"int8": 0, "fp8": 0, "bf16": 1, "fp16": 1, "fp32": 3}

# Columns of the baseline point carried next to a variant point (which repetitions to pair, how
# its inputs were fed), renamed base_<column>.
BASE_IDENTITY = {"run_id": "base_run_id", "point_id": "base_point_id", "inputs": "base_inputs"}
BASE_COLUMNS = ["base_time_s", "base_flops", "base_impl", "base_d_ff", "base_precision", "base_index"]
OVERALL = "overall_"  # prefix of the best dense overall's columns next to a variant point


def _text(value):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def compared_precision(row):
    """The precision a point is compared at: the narrowest of its `precision` and its precision
    parameters (PRECISION_PARAMS) that are set. A gemm_ffn point: its precision."""
    values = [_text(row.get("precision")) or "fp32"] + [_text(row.get(p)) for p in PRECISION_PARAMS]
    return min((v for v in values if v), key=lambda v: PRECISION_RANK.get(v, 2))


def compared_precisions(points):
    """compared_precision() of every row, as a Series (str) on points' index."""
    if points.empty:
        return pd.Series(index=points.index, dtype=str)
    return points.apply(compared_precision, axis=1).astype(str)


def _dense_at_width(points, d_ff):
    """gemm_ffn rows at d_ff = `d_ff`, or, when not given, at d_ff = 4·d where that was measured
    on the machine (at any precision) and else at the largest d_ff measured for that d, with a
    numeric d_ff column. One width per (machine, d) whatever the precision, so that the best dense
    per precision and overall are the same layer."""
    gemm = points[points["variant"] == BASELINE].copy()
    gemm["d_ff"] = pd.to_numeric(gemm.get("p_d_ff", pd.Series(index=gemm.index, dtype=float)), errors="coerce")
    if gemm.empty:
        return gemm
    if d_ff is not None:
        return gemm[gemm["d_ff"] == d_ff]
    chosen = {}
    for (mid, d), g in gemm.groupby(["machine_id", "d_in"]):
        widths = set(g["d_ff"].dropna())
        chosen[(mid, d)] = 4 * d if 4 * d in widths else (max(widths) if widths else math.nan)
    keep = gemm.apply(lambda r: r["d_ff"] == chosen[(r["machine_id"], r["d_in"])]
                      or (math.isnan(chosen[(r["machine_id"], r["d_in"])])), axis=1)
    return gemm[keep]


def _as_baseline(rows, keys):
    rows = rows.assign(base_index=rows.index, base_precision=rows["precision"].astype(str))
    rows = rows.rename(columns={"time_median_s": "base_time_s", "flops_model": "base_flops",
                                "impl": "base_impl", "d_ff": "base_d_ff", **BASE_IDENTITY})
    return rows[keys + BASE_COLUMNS + [c for c in BASE_IDENTITY.values() if c in rows.columns]].reset_index(drop=True)


def best_dense(points, precision=None, d_ff=None):
    """The best dense per precision: per (machine_id, tokens, threads, d_in, d_out, precision) the
    fastest gemm_ffn impl at that precision, at width d_ff (None: 4·d where measured, else the
    largest; see _dense_at_width). `precision` given: only that precision's rows, an empty frame
    where none ran at it (no_dense_reason says why). Columns: KEYS, base_time_s, base_flops,
    base_impl, base_d_ff, base_precision, base_index (the row's label in points), and base_run_id,
    base_point_id, base_inputs where points has run_id, point_id, inputs."""
    gemm = _dense_at_width(points, d_ff)
    if gemm.empty:
        return pd.DataFrame(columns=KEYS + BASE_COLUMNS)
    if precision is not None:
        gemm = gemm[gemm["precision"].astype(str) == precision]
    # The fastest row per key, whole (groupby().first() would mix rows where a column is empty).
    best = gemm.sort_values("time_median_s", kind="stable").drop_duplicates(KEYS, keep="first")
    return _as_baseline(best, KEYS)


def best_dense_any(points, d_ff=None):
    """The best dense overall: per (machine_id, tokens, threads, d_in, d_out) the fastest gemm_ffn
    at any precision measured there (the fastest of best_dense's rows), at the same width as
    best_dense. base_precision and base_impl say which won. Columns: SHAPE_KEYS and those of
    best_dense past its keys."""
    gemm = _dense_at_width(points, d_ff)
    if gemm.empty:
        return pd.DataFrame(columns=SHAPE_KEYS + BASE_COLUMNS)
    best = gemm.sort_values("time_median_s", kind="stable").drop_duplicates(SHAPE_KEYS, keep="first")
    return _as_baseline(best, SHAPE_KEYS)


def no_dense_reason(points, row, precision, d_ff=None):
    """Why no best dense at `precision` stands next to `row` (a variant point): '' when one does."""
    gemm = _dense_at_width(points, d_ff)
    width = f"d_ff={fmt_value(d_ff)}" if d_ff is not None else "the chosen d_ff (4·d where measured)"
    here = gemm[gemm["machine_id"] == row["machine_id"]] if not gemm.empty else gemm
    if here.empty:
        return f"no {BASELINE} point at {width} on this machine"
    ran = sorted(set(here["precision"].astype(str)), key=lambda v: PRECISION_RANK.get(v, 2))
    if precision not in ran:
        return f"no {BASELINE} point at {precision} on this machine ({BASELINE} ran at {', '.join(ran)})"
    same = here[(here["precision"].astype(str) == precision) & (here["tokens"] == row["tokens"]) &
                (here["threads"] == row["threads"]) & (here["d_in"] == row["d_in"]) & (here["d_out"] == row["d_out"])]
    return "" if not same.empty else \
        f"no {BASELINE} point at {precision}, {width} with the same tokens, threads and d"


def _variants(points):
    return points[(points["variant"] != BASELINE) & ~points["variant"].isin(NOT_A_LAYER)]


def against_dense(points, d_ff=None):
    """Every point of a whole FFN layer other than the baseline, with both best dense next to it:
    - at the same precision (compared_precision): base_* columns, speedup (base time / its time)
      and flop_ratio; empty where no gemm_ffn ran at that precision, with base_missing saying why;
    - overall (best_dense_any): the same columns prefixed overall_ (overall_base_time_s,
      overall_base_precision, overall_speedup, ...).
    A point with neither is left out."""
    others = _variants(points)
    others = others.assign(compared_precision=compared_precisions(others))
    per = best_dense(points, d_ff=d_ff).rename(columns={"precision": "compared_precision"})
    out = others.merge(per, on=SHAPE_KEYS + ["compared_precision"], how="left")
    overall = best_dense_any(points, d_ff).rename(columns=lambda c: c if c in SHAPE_KEYS else OVERALL + c)
    out = out.merge(overall, on=SHAPE_KEYS, how="left")
    out = out[out["base_time_s"].notna() | out[OVERALL + "base_time_s"].notna()].reset_index(drop=True)
    for prefix in ("", OVERALL):
        out[prefix + "speedup"] = pd.to_numeric(out[prefix + "base_time_s"]) / out["time_median_s"]
        out[prefix + "flop_ratio"] = pd.to_numeric(out[prefix + "base_flops"]) / out["flops_model"]
    out["base_missing"] = [
        "" if pd.notna(r["base_time_s"]) else no_dense_reason(points, r, r["compared_precision"], d_ff)
        for _, r in out.iterrows()]
    return out


def speedups(points, d_ff=None, overall=False):
    """Every point of a whole FFN layer other than the baseline with its speedup and FLOP ratio
    over the best dense at its compared precision (overall=True: over the best dense at any
    precision), at the same machine, tokens, threads, d_in and d_out: against_dense() less the
    points without that baseline."""
    out = against_dense(points, d_ff)
    if overall:
        out = out[out[OVERALL + "base_time_s"].notna()].drop(columns=[c for c in out.columns if c.startswith("base_") or c in ("speedup", "flop_ratio")])
        out = out.rename(columns={c: c[len(OVERALL):] for c in out.columns if c.startswith(OVERALL)})
        return out.reset_index(drop=True)
    return out[out["base_time_s"].notna()].reset_index(drop=True)


# The floor the dense baseline is held to: the bare pair of matmuls of its shapes (gemm_floor).
# At fp32 the fastest of the OpenBLAS, BLIS and oneDNN bare pairs (a floor no dense run beats:
# where OpenBLAS lacks kernels for the CPU, oneDNN's fp32 matmul is the faster); at bf16 and int8
# oneDNN's bare matmuls.
FLOOR = "gemm_floor"
FLOOR_IMPLS = {"fp32": ("openblas", "blis", "onednn"), "bf16": ("onednn",), "int8": ("onednn",)}


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


def dense_against_floor(points):
    """The dense baseline held to its floor, per (machine, tokens, threads, d_in, d_out, precision)
    and width where both ran: the fastest gemm_ffn impl at that precision without LayerNorm (the
    floor has none) against dense_floor. Columns: the keys, d_ff, dense_time_s, dense_impl,
    floor_time_s, floor_impl, dense_over_floor (≤ 1.05 is the target), and, where libtorch ran
    at that precision, libtorch_time_s and libtorch_over_best (how much slower PyTorch is than the
    best dense)."""
    columns = KEYS + ["d_ff", "dense_time_s", "dense_impl", "floor_time_s", "floor_impl", "dense_over_floor",
                      "libtorch_time_s", "libtorch_over_best"]
    gemm = points[points["variant"] == BASELINE] if len(points) else points
    if "p_layernorm" in gemm.columns:
        gemm = gemm[~gemm["p_layernorm"].astype(str).str.lower().isin(["true", "1"])]
    floor = dense_floor(points)
    if gemm.empty or floor.empty:
        return pd.DataFrame(columns=columns)
    gemm = gemm.assign(d_ff=pd.to_numeric(gemm.get("p_d_ff", pd.Series(index=gemm.index, dtype=float)),
                                          errors="coerce"))
    best = gemm.sort_values("time_median_s", kind="stable").drop_duplicates(KEYS + ["d_ff"], keep="first")
    best = best.rename(columns={"time_median_s": "dense_time_s", "impl": "dense_impl"})[
        KEYS + ["d_ff", "dense_time_s", "dense_impl"]]
    out = best.merge(floor.rename(columns={"floor_d_ff": "d_ff"}), on=KEYS + ["d_ff"], how="inner")
    out["dense_over_floor"] = out["dense_time_s"] / out["floor_time_s"]
    torch = gemm[gemm["impl"] == "libtorch"].rename(columns={"time_median_s": "libtorch_time_s"})
    torch = torch.sort_values("libtorch_time_s", kind="stable").drop_duplicates(KEYS + ["d_ff"], keep="first")
    out = out.merge(torch[KEYS + ["d_ff", "libtorch_time_s"]], on=KEYS + ["d_ff"], how="left")
    out["libtorch_over_best"] = out["libtorch_time_s"] / out["dense_time_s"]
    return out[columns].sort_values(KEYS).reset_index(drop=True)


def precision_ratios(points):
    """The best dense at each precision against fp32's, per (machine, tokens, threads, d_in, d_out):
    one row per shape with the fp32, bf16 and int8 times where measured and fp32_over_bf16,
    fp32_over_int8 (how many times faster the lower precision runs)."""
    best = best_dense(points)
    if best.empty:
        return pd.DataFrame(columns=SHAPE_KEYS + ["fp32_s", "bf16_s", "int8_s", "fp32_over_bf16", "fp32_over_int8"])
    wide = best.pivot_table(index=SHAPE_KEYS, columns="precision", values="base_time_s", aggfunc="min")
    wide = wide.rename(columns=lambda p: f"{p}_s").reset_index()
    for p in ("fp32", "bf16", "int8"):
        if f"{p}_s" not in wide.columns:
            wide[f"{p}_s"] = math.nan
    wide["fp32_over_bf16"] = wide["fp32_s"] / wide["bf16_s"]
    wide["fp32_over_int8"] = wide["fp32_s"] / wide["int8_s"]
    return wide[SHAPE_KEYS + ["fp32_s", "bf16_s", "int8_s", "fp32_over_bf16", "fp32_over_int8"]]


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
