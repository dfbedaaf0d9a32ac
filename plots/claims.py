"""The published claims ffnbench checks, in one place, and their measured values in a dataset.

Each claim names the points it needs (variant, parameters) and the baseline it is measured
against. evaluate() gives one row per claim, machine and thread class (1 thread, all cores) at
the claim's token count (or the largest measured), the best impl of the variant against the best
impl of the baseline at equal tokens, threads, d and precision; a claim whose points are not in
the data gets one row saying "not measured in this run"."""
from dataclasses import dataclass, field

import pandas as pd

import ffndataset as ds


@dataclass
class Claim:
    id: str
    title: str           # "LookupFFN vs gemm_ffn"
    claimed: float
    claimed_text: str    # "2.51×", "≥ 5×", "~20×"
    source: str
    variant: str
    where: dict = field(default_factory=dict)       # column -> value, required
    where_if_present: dict = field(default_factory=dict)  # applied when the column exists
    baseline: str = "dense"      # "dense": gemm_ffn best impl; or "impl:<name>" of the same variant
    baseline_d_ff: float = None  # dense baseline width (None: 4·d where measured)
    measure: str = "speedup"     # speedup | flops
    tokens: int = None           # the claim's batch; None: the largest measured
    at_least: bool = False       # "≥ claimed" rather than "about claimed"


CLAIMS = [
    Claim("lookupffn_speedup", "LookupFFN vs gemm_ffn", 2.51, "2.51×", "LookupFFN, ICML 2023 (CPU inference)",
          "lookup_ffn", where={"d_in": 512}, where_if_present={"p_h": 128, "p_tau": 8, "p_projection": "bh4", "p_table_precision": "fp32"},
          baseline_d_ff=2048, tokens=32768),
    Claim("lookupffn_flops", "LookupFFN vs gemm_ffn, FLOPs (model)", 6.0, "6× fewer", "LookupFFN, ICML 2023",
          "lookup_ffn", where={"d_in": 512}, where_if_present={"p_h": 128, "p_tau": 8, "p_projection": "bh4", "p_table_precision": "fp32"},
          baseline_d_ff=2048, measure="flops", tokens=32768),
    Claim("ultrafastbert_speedup", "UltraFastBERT 1×11 vs gemm_ffn", 78.0, "78×", "UltraFastBERT, arXiv 2311.10770 (CPU, MKL)",
          "fff", where={"d_in": 768, "p_depth": 11}, where_if_present={"p_trees": 1, "p_leaf_width": 0},
          baseline_d_ff=3072, tokens=16384),
    Claim("fff_width_speedup", "FFF vs dense at width 2^14", 20.0, "~20×", "FFF exploration repository (nIn = nOut = 2^14)",
          "fff", where={"d_in": 16384}),
    Claim("moe_grouped_speedup", "MoE grouped vs per_token", 5.0, "≥ 5×", "ffnbench issue 4 (E = 8, k = 2, d = 512, d_e = 2048)",
          "moe", where={"impl": "grouped", "d_in": 512},
          where_if_present={"p_experts": 8, "p_top_k": 2, "p_d_e": 2048},
          baseline="impl:per_token", tokens=32768, at_least=True),
]

COLUMNS = ["claim_id", "claim", "measure", "claimed", "claimed_text", "source", "machine_id", "machine", "thread_class",
           "threads", "tokens", "precision", "measured", "verdict", "variant_point", "baseline_point", "note"]


def _select(points, conditions, optional):
    mask = pd.Series(True, index=points.index)
    for column, value in conditions.items():
        if column not in points.columns:
            return None, f"no column {column} in the data"
        mask &= ds.matches(points[column], value)
    for column, value in optional.items():
        if column in points.columns:
            mask &= ds.matches(points[column], value)
    return points[mask], None


def _pairs(claim, points):
    """Variant points joined to their baseline: columns of the variant plus base_time_s,
    base_flops, base_impl, base_label, speedup, flop_ratio."""
    of_variant = points[points["variant"] == claim.variant]
    if of_variant.empty:
        return None, f"no {claim.variant} points in this data"
    chosen, why = _select(of_variant, claim.where, claim.where_if_present)
    if chosen is None or chosen.empty:
        return None, why or f"no {claim.variant} point matches {_describe(claim)}"
    if claim.baseline == "dense":
        dense = points[points["variant"] == ds.BASELINE]
        joined = ds.speedups(pd.concat([chosen, dense]), d_ff=claim.baseline_d_ff)
        if joined.empty:
            width = f"d_ff={ds.fmt_value(claim.baseline_d_ff)}" if claim.baseline_d_ff else "its d"
            return None, f"no {ds.BASELINE} point at {width} with the same tokens, threads, d and precision"
        joined["base_label"] = joined.apply(
            lambda r: f"{ds.BASELINE} [{r['base_impl']}] d_ff={ds.fmt_value(r['base_d_ff'])}", axis=1)
        return joined, None
    impl = claim.baseline.split(":", 1)[1]
    base = points[(points["variant"] == claim.variant) & (points["impl"] == impl)]
    params = [c for c in points.columns if c.startswith("p_") and c != "p_impl"]
    keys = ds.KEYS + params
    base = base[keys + ["time_median_s", "flops_model"]].rename(
        columns={"time_median_s": "base_time_s", "flops_model": "base_flops"})
    # Parameters that are empty for this variant must still join: compare them as text.
    left, right = chosen.copy(), base.copy()
    for c in params:
        left[c], right[c] = left[c].astype(str), right[c].astype(str)
    joined = left.merge(right, on=keys, how="inner")
    if joined.empty:
        return None, f"no {claim.variant} [{impl}] point with the same configuration"
    joined["base_impl"] = impl
    joined["base_label"] = f"{claim.variant} [{impl}]"
    joined["speedup"] = joined["base_time_s"] / joined["time_median_s"]
    joined["flop_ratio"] = joined["base_flops"] / joined["flops_model"]
    return joined, None


def _describe(claim):
    parts = [f"{k}={ds.fmt_value(v)}" for k, v in {**claim.where, **claim.where_if_present}.items()]
    return ", ".join(parts) if parts else "any configuration"


def _verdict(claim, measured):
    if claim.at_least:
        return "holds" if measured >= claim.claimed else "falls short"
    if measured >= 0.95 * claim.claimed:
        return "reproduced"
    return f"{100 * measured / claim.claimed:.0f}% of the claim"


def evaluate(points, machines):
    """DataFrame with COLUMNS, one row per (claim, machine, thread class) measured, and one row
    per claim not measured."""
    rows = []
    for claim in CLAIMS:
        pairs, why = _pairs(claim, points)
        value = "flop_ratio" if claim.measure == "flops" else "speedup"
        base = {"claim_id": claim.id, "claim": claim.title, "measure": claim.measure, "claimed": claim.claimed,
                "claimed_text": claim.claimed_text, "source": claim.source}
        if pairs is None:
            rows.append({**base, "verdict": "not measured in this run", "note": why})
            continue
        pairs = pairs.assign(thread_class=ds.thread_class(pairs))
        pairs = pairs[pairs["thread_class"].notna()]
        if claim.measure == "flops":  # a model count: the same at every thread count
            most = pairs.groupby("machine_id")["threads"].transform("max")
            pairs = pairs[pairs["threads"] == most]
        fp32 = pairs[pairs["precision"] == "fp32"]
        pairs = fp32 if not fp32.empty else pairs
        for (mid, tclass), group in pairs.groupby(["machine_id", "thread_class"], sort=True):
            tokens = claim.tokens if claim.tokens in set(group["tokens"]) else group["tokens"].max()
            at = group[group["tokens"] == tokens]
            best = at.loc[at[value].idxmax()]
            note = "" if tokens == claim.tokens or claim.tokens is None else \
                f"the claim's {claim.tokens} tokens not measured: the largest measured used"
            rows.append({**base, "machine_id": mid, "machine": ds.short_name(machines.get(mid, {"machine_id": mid})),
                         "thread_class": tclass, "threads": int(best["threads"]), "tokens": int(tokens),
                         "precision": best["precision"], "measured": float(best[value]),
                         "verdict": _verdict(claim, float(best[value])),
                         "variant_point": ds.series_labels(group).loc[best.name],
                         "baseline_point": best["base_label"], "note": note})
    return pd.DataFrame(rows, columns=COLUMNS)


def sentence(row):
    """'LookupFFN vs gemm_ffn: 2.51× claimed, 1.84× measured on <machine> at 2 threads, 32768 tokens'."""
    if pd.isna(row.get("measured")):
        return f"{row['claim']}: {row['claimed_text']} claimed, not measured in this run ({row['note']})"
    threads = int(row["threads"])
    note = f"; {row['note']}" if isinstance(row.get("note"), str) and row["note"] else ""
    if row["measure"] == "flops":
        return (f"{row['claim']}: {row['claimed_text']} claimed, {row['measured']:.2f}× fewer in the cost models "
                f"at {int(row['tokens'])} tokens ({row['variant_point']} vs {row['baseline_point']}{note}): "
                f"{row['verdict']}")
    return (f"{row['claim']}: {row['claimed_text']} claimed, {row['measured']:.2f}× measured on {row['machine']} "
            f"at {threads} thread{'s' if threads > 1 else ''}, {int(row['tokens'])} tokens "
            f"({row['variant_point']} vs {row['baseline_point']}, {row['precision']}{note}): {row['verdict']}")
