"""The published claims ffnbench checks, in one place, and their measured values in a dataset.

Each claim names the points it needs (variant, parameters) and the baseline it is measured
against. evaluate() gives one row per claim, machine and thread class (1 thread, all cores) at
the claim's token count (or the largest measured): the variant's best point against the best
impl of the baseline at equal tokens, threads and d. A dense claim states two comparisons of
that point (ffndataset.best_dense): against the best dense at the variant's precision (LookupFFN's
bf16 tables: dense bf16), and against the best dense at any precision this machine ran (the
overall_* columns); where no dense point ran at the variant's precision the first is empty, its
verdict "no baseline" and its note the reason. A claim whose points are not in the data gets one
row saying "not measured in this run".

Every measured speedup comes with a 95% confidence interval from the two points' repetitions
paired in time (DESIGN.md section 8): reps.csv's `round` is the round of the interleaved sweep in
which every point of a group ran once, so the variant's and the baseline's repetitions of one
round saw the same machine. Per round, ratio = baseline time / variant time; the estimate is the
median ratio and its interval the distribution-free order-statistics CI (ranks from the binomial
distribution, at least 95% coverage; none for fewer than 6 rounds). Runs older than `round` are
paired by `repetition`, and the row says "not paired in time". The p-value is a two-sided
Mann-Whitney U test of H0 "the speedup is the claimed factor" (baseline times against claimed ×
variant times; exact for small samples without ties, else the normal approximation with tie
and continuity corrections); p_vs_1 tests H0 "no speedup".

Verdicts: `holds` when the CI's lower end is at or above the claimed factor (for "≥" claims, the
bound), `fails` when its upper end is below it, `inconclusive` otherwise, or when there is no CI.
FLOP claims compare cost models (exact numbers, no CI): `holds` at ≥ 95% of an approximate claim
(≥ 100% of a "≥" claim), else `fails`.

The published claims are timed on seeded random weights, whose quality is unknown: each row's
`weights` says so ("random weights; quality not measured"), in its sentence and in the table.
quality_rows() states the speedups of trained layers with their accuracy (issue 13)."""
import math
import os
import statistics
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
          "lookup_ffn", where={"d_in": 512}, where_if_present={"p_h": 128, "p_tau": 8, "p_projection": "bh4", "p_table_precision": "fp32",
                                                 "p_projection_precision": "fp32"},
          baseline_d_ff=2048, tokens=32768),
    Claim("lookupffn_flops", "LookupFFN vs gemm_ffn, FLOPs (model)", 6.0, "6× fewer", "LookupFFN, ICML 2023",
          "lookup_ffn", where={"d_in": 512}, where_if_present={"p_h": 128, "p_tau": 8, "p_projection": "bh4", "p_table_precision": "fp32",
                                                 "p_projection_precision": "fp32"},
          baseline_d_ff=2048, measure="flops", tokens=32768),
    Claim("ultrafastbert_speedup", "UltraFastBERT 1×11 vs gemm_ffn", 78.0, "78×", "UltraFastBERT, arXiv 2311.10770 (CPU, MKL)",
          "fff", where={"d_in": 768, "p_depth": 11}, where_if_present={"p_trees": 1, "p_leaf_width": 0, "p_row_precision": "fp32"},
          baseline_d_ff=3072, tokens=16384),
    Claim("fff_width_speedup", "FFF vs dense at width 2^14", 20.0, "~20×", "FFF exploration repository (nIn = nOut = 2^14)",
          "fff", where={"d_in": 16384}),
    Claim("moe_grouped_speedup", "MoE grouped vs per_token", 5.0, "≥ 5×", "ffnbench issue 4 (E = 8, k = 2, d = 512, d_e = 2048)",
          "moe", where={"impl": "grouped", "d_in": 512},
          where_if_present={"p_experts": 8, "p_top_k": 2, "p_d_e": 2048},
          baseline="impl:per_token", tokens=32768, at_least=True),
]

COLUMNS = ["claim_id", "claim", "measure", "claimed", "claimed_text", "source", "machine_id", "machine", "thread_class",
           "threads", "tokens", "precision", "measured", "ci_low", "ci_high", "ci_coverage", "p_value", "p_vs_1",
           "n_rounds", "pairing", "inputs", "verdict", "variant_point", "baseline_point", "note",
           # Added with "best dense overall" (older claims.csv lack them): the compared precision
           # of the columns above, and the same comparison against the best dense at any precision.
           "baseline_precision", "overall_measured", "overall_ci_low", "overall_ci_high", "overall_ci_coverage",
           "overall_p_value", "overall_p_vs_1", "overall_n_rounds", "overall_pairing", "overall_verdict",
           "overall_baseline_point", "overall_baseline_precision", "overall_same_point", "overall_note",
           # Whose weights were timed: the published claims' points are random ones, of no known quality.
           "weights"]

LEVEL = 0.95
RANDOM_WEIGHTS = "random weights; quality not measured"  # a claim row timed on seeded random weights
NO_BASELINE = "no baseline"  # the verdict where no dense point ran at the variant's precision
PAIRED = "paired in time"
NOT_PAIRED = "not paired in time"


# ---- statistics (pure python: no scipy) ----

def order_statistic_ci(values, level=LEVEL):
    """(low, high, coverage) of the median of `values`: the order statistics x_(l) and x_(n+1-l)
    (1-based) with l the largest rank for which P(B <= l-1) <= (1-level)/2, B ~ Binomial(n, 1/2);
    coverage = 1 - 2 P(B <= l-1) >= level. (None, None, None) when n is too small for any such
    rank (n < 6 at 95%)."""
    x = sorted(values)
    n = len(x)
    alpha = (1 - level) / 2
    cdf, below, rank = 0.0, None, 0  # below = P(B <= rank-1) for the rank kept
    for k in range(n + 1):
        cdf += math.comb(n, k) / 2 ** n  # P(B <= k)
        if cdf <= alpha + 1e-12 and k + 1 <= (n + 1) // 2:
            rank, below = k + 1, cdf
        else:
            break
    if rank == 0:
        return None, None, None
    return x[rank - 1], x[n - rank], 1 - 2 * below


def _normal_sf(z):
    return 0.5 * math.erfc(z / math.sqrt(2))


def _exact_u_counts(n1, n2):
    """counts[u] = number of arrangements of n1 x's and n2 y's with U_x = u (no ties)."""
    # f[i][j] is the count polynomial for i x's and j y's; built by the last element's origin.
    prev = [[1] for _ in range(n2 + 1)]  # i = 0: only u = 0
    for i in range(1, n1 + 1):
        cur = [[1]]  # j = 0: only u = 0
        for j in range(1, n2 + 1):
            # last element is an x (greater than all j y's: adds j) or a y (adds nothing)
            a, b = prev[j], cur[j - 1]
            size = max(len(a) + j, len(b))
            poly = [0] * size
            for u, c in enumerate(a):
                poly[u + j] += c
            for u, c in enumerate(b):
                poly[u] += c
            cur.append(poly)
        prev = cur
    return prev[n2]


def mann_whitney_u(x, y):
    """(U of x, two-sided p) for H0: x and y come from the same distribution. Exact when there
    are no ties and n1 + n2 <= 40; else the normal approximation with tie correction and a
    continuity correction of 1/2."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return None, None
    u = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)
    pooled = list(x) + list(y)
    ties = {}
    for v in pooled:
        ties[v] = ties.get(v, 0) + 1
    has_ties = any(t > 1 for t in ties.values())
    if not has_ties and n1 + n2 <= 40:
        counts = _exact_u_counts(n1, n2)
        total = math.comb(n1 + n2, n1)
        k = int(round(u))
        low = sum(counts[: k + 1]) / total
        high = sum(counts[k:]) / total
        return u, min(1.0, 2 * min(low, high))
    n = n1 + n2
    mean = n1 * n2 / 2
    tie_term = sum(t ** 3 - t for t in ties.values()) / (n * (n - 1))
    var = n1 * n2 / 12 * ((n + 1) - tie_term)
    if var <= 0:
        return u, 1.0
    z = max(0.0, abs(u - mean) - 0.5) / math.sqrt(var)
    return u, min(1.0, 2 * _normal_sf(z))


def verdict_of(ci_low, ci_high, bound):
    """holds / fails / inconclusive of an interval against the claimed factor or bound."""
    if ci_low is None or ci_high is None:
        return "inconclusive"
    if ci_low >= bound:
        return "holds"
    if ci_high < bound:
        return "fails"
    return "inconclusive"


def _point_reps(reps, run_id, point_id):
    if reps is None or reps.empty or point_id is None:
        return reps.iloc[0:0] if reps is not None else None
    mask = reps["point_id"].astype(str) == str(point_id)
    if run_id is not None and "run_id" in reps.columns:
        mask &= reps["run_id"].astype(str) == str(run_id)
    return reps[mask]


def paired_ratios(reps, variant, baseline):
    """(ratios, base_times, variant_times, pairing) for two points given as (run_id, point_id):
    per round baseline time / variant time when both have `round` and come from one run, else
    per repetition, with pairing saying "not paired in time" and why."""
    v, b = _point_reps(reps, *variant), _point_reps(reps, *baseline)
    if v is None or b is None or v.empty or b.empty:
        return [], [], [], "no repetitions in reps.csv"
    v_times = [float(t) for t in v["time_s"]]
    b_times = [float(t) for t in b["time_s"]]
    rounds = ("round" in reps.columns and v["round"].notna().all() and b["round"].notna().all())
    same_run = variant[0] == baseline[0]
    if rounds and same_run:
        key, pairing = "round", PAIRED
    else:
        key = "repetition"
        pairing = NOT_PAIRED + (" (different runs)" if not same_run else " (no round column: an older run)")
    vm = v.groupby(v[key].astype(float))["time_s"].median()
    bm = b.groupby(b[key].astype(float))["time_s"].median()
    common = sorted(set(vm.index) & set(bm.index))
    ratios = [float(bm[k]) / float(vm[k]) for k in common if float(vm[k]) > 0]
    return ratios, b_times, v_times, pairing


def _select(points, conditions, optional):
    mask = pd.Series(True, index=points.index)
    for column, value in conditions.items():
        if column not in points.columns:
            return None, f"no column {column} in the data"
        mask &= ds.matches(points[column], value)
    for column, value in optional.items():
        if column in points.columns:
            # An empty cell: a run made before the parameter existed (merged with newer runs), which
            # ran its default; the optional conditions name the defaults (fp32 projection, rows).
            empty = points[column].isna() | (points[column].astype(str).str.strip() == "")
            mask &= ds.matches(points[column], value) | empty
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
        joined = ds.against_dense(pd.concat([chosen, dense]), d_ff=claim.baseline_d_ff)
        if joined.empty:
            width = f"d_ff={ds.fmt_value(claim.baseline_d_ff)}" if claim.baseline_d_ff else "its d"
            return None, f"no {ds.BASELINE} point at {width} with the same tokens, threads and d"
        for prefix in ("", ds.OVERALL):
            joined[prefix + "base_label"] = joined.apply(lambda r: _dense_label(r, prefix), axis=1)
        joined["baseline_precision"] = joined["compared_precision"]
        return joined, None
    impl = claim.baseline.split(":", 1)[1]
    base = points[(points["variant"] == claim.variant) & (points["impl"] == impl)]
    params = [c for c in points.columns if c.startswith("p_") and c != "p_impl"]
    keys = ds.KEYS + params
    identity = [c for c in ds.BASE_IDENTITY if c in base.columns]
    base = base[keys + ["time_median_s", "flops_model"] + identity].rename(
        columns={"time_median_s": "base_time_s", "flops_model": "base_flops", **ds.BASE_IDENTITY})
    # Parameters that are empty for this variant must still join: compare them as text.
    left, right = chosen.copy(), base.copy()
    for c in params:
        left[c], right[c] = left[c].astype(str), right[c].astype(str)
    joined = left.merge(right, on=keys, how="inner")
    if joined.empty:
        return None, f"no {claim.variant} [{impl}] point with the same configuration"
    joined["base_impl"] = impl
    joined["base_label"] = f"{claim.variant} [{impl}]"
    joined["baseline_precision"] = joined["precision"]
    joined["base_missing"] = ""
    joined["speedup"] = joined["base_time_s"] / joined["time_median_s"]
    joined["flop_ratio"] = joined["base_flops"] / joined["flops_model"]
    return joined, None


def _dense_label(row, prefix=""):
    """'gemm_ffn [onednn] d_ff=2048' (the same precision as the variant), with ', bf16' for the
    best dense overall; '' where there is none."""
    if pd.isna(row.get(prefix + "base_time_s")):
        return ""
    label = f"{ds.BASELINE} [{row[prefix + 'base_impl']}] d_ff={ds.fmt_value(row[prefix + 'base_d_ff'])}"
    return label + (f", {row[prefix + 'base_precision']}" if prefix else "")


def _describe(claim):
    parts = [f"{k}={ds.fmt_value(v)}" for k, v in {**claim.where, **claim.where_if_present}.items()]
    return ", ".join(parts) if parts else "any configuration"


def _flop_verdict(claim, measured):
    return "holds" if measured >= (1.0 if claim.at_least else 0.95) * claim.claimed else "fails"


def _inputs_text(best):
    mine = ds.inputs_mode(best.get("inputs"))
    base = ds.inputs_mode(best.get("base_inputs"))
    return mine if mine == base else f"variant {mine}, baseline {base}"


def _get(row, column):
    value = row.get(column) if hasattr(row, "get") else None
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _speedup_stats(claim, best, reps, prefix=""):
    """measured, ci_low, ci_high, coverage, p, p_vs_1, n_rounds, pairing, note for one pair: the
    variant point against its base_* columns (prefix "overall_": against overall_base_*)."""
    ratios, b_times, v_times, pairing = paired_ratios(
        reps, (_get(best, "run_id"), _get(best, "point_id")),
        (_get(best, prefix + "base_run_id"), _get(best, prefix + "base_point_id")))
    out = {"measured": float(best[prefix + "speedup"]), "ci_low": None, "ci_high": None, "ci_coverage": None,
           "p_value": None, "p_vs_1": None, "n_rounds": len(ratios), "pairing": pairing}
    if not ratios:
        return out, f"{pairing}: no CI"
    out["measured"] = statistics.median(ratios)
    low, high, coverage = order_statistic_ci(ratios)
    out.update(ci_low=low, ci_high=high, ci_coverage=coverage)
    _, out["p_value"] = mann_whitney_u(b_times, [claim.claimed * t for t in v_times])
    _, out["p_vs_1"] = mann_whitney_u(b_times, v_times)
    if low is None:
        return out, "no 95% CI from fewer than 6 rounds"
    return out, ""


def _one_comparison(claim, best, reps, prefix):
    """The claim's measured value, CI, p-values, verdict and notes of `best` (a variant point
    with its baselines) against its base_* (prefix "") or overall_base_* (prefix "overall_")."""
    value = "flop_ratio" if claim.measure == "flops" else "speedup"
    if pd.isna(best.get(prefix + "base_time_s")):
        return {}, None, []
    if claim.measure == "flops":
        stats = {"measured": float(best[prefix + value]), "pairing": "cost model (exact, no CI)"}
        return stats, _flop_verdict(claim, stats["measured"]), []
    stats, why_no_ci = _speedup_stats(claim, best, reps, prefix)
    return stats, verdict_of(stats["ci_low"], stats["ci_high"], claim.claimed), [why_no_ci] if why_no_ci else []


def _same_point(best):
    """The best dense overall is the best dense at the variant's precision (the same point)."""
    a, b = best.get("base_index"), best.get(ds.OVERALL + "base_index")
    return bool(_num(a) and _num(b) and a == b)


def _is_true(value):
    """A flag of evaluate() or of a claims.csv read back (True, 'True', numpy's bool)."""
    return str(value).strip().lower() == "true"


def _weights_text(best):
    """The weights a claim row timed: RANDOM_WEIGHTS for seeded random ones (no p_weights), else
    the trained model and its accuracy where points.csv has it."""
    weights = _get(best, "p_weights")
    if weights is None or str(weights) == "":
        return RANDOM_WEIGHTS
    name = os.path.basename(os.path.dirname(str(weights))) or str(weights)
    quality = pd.to_numeric(pd.Series([_get(best, "quality_value")]), errors="coerce").iloc[0]
    return f"trained weights ({name}" + (f", {100 * quality:.1f}% test accuracy)" if _num(quality) else ")")


def evaluate(points, machines, reps=None):
    """DataFrame with COLUMNS, one row per (claim, machine, thread class) measured, and one row
    per claim not measured. `reps`: reps.csv (ffndataset.load_reps) for the CIs; None: none.
    A dense claim's row holds two comparisons of the same variant point: against the best dense
    at its precision (measured, ci_*, verdict, baseline_point, baseline_precision) and against the
    best dense at any precision (the overall_* columns), each paired in time the same way."""
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
            # The variant's best point against the best dense at its precision; where none ran at
            # it, its best against the best dense overall (its fastest point).
            by = value if at[value].notna().any() else ds.OVERALL + value
            best = at.loc[pd.to_numeric(at[by]).idxmax()]
            notes = [] if tokens == claim.tokens or claim.tokens is None else \
                [f"the claim's {claim.tokens} tokens not measured: the largest measured used"]
            stats, verdict, more = _one_comparison(claim, best, reps, "")
            if verdict is None:
                verdict, more = NO_BASELINE, [best["base_missing"]]
            overall = {}
            if claim.baseline == "dense":
                o_stats, o_verdict, o_notes = _one_comparison(claim, best, reps, ds.OVERALL)
                overall = {ds.OVERALL + k: v for k, v in o_stats.items()}
                overall.update({"overall_verdict": o_verdict, "overall_baseline_point": best[ds.OVERALL + "base_label"],
                                "overall_baseline_precision": best[ds.OVERALL + "base_precision"],
                                "overall_same_point": _same_point(best), "overall_note": "; ".join(o_notes)})
            else:
                overall = {"overall_note": f"the claim's baseline is {best['base_label']}, not the dense FFN"}
            rows.append({**base, **stats, **overall, "machine_id": mid,
                         "machine": ds.short_name(machines.get(mid, {"machine_id": mid})),
                         "thread_class": tclass, "threads": int(best["threads"]), "tokens": int(tokens),
                         "precision": best["precision"], "inputs": _inputs_text(best), "verdict": verdict,
                         "variant_point": ds.series_labels(group).loc[best.name],
                         "baseline_point": best["base_label"], "baseline_precision": best["baseline_precision"],
                         "note": "; ".join(notes + more), "weights": _weights_text(best)})
    return pd.DataFrame(rows, columns=COLUMNS)


def _num(v):
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def ci_text(row):
    """'95% CI 2.41–2.60' or '' where there is none."""
    if not (_num(row.get("ci_low")) and _num(row.get("ci_high"))):
        return ""
    return f"95% CI {row['ci_low']:.2f}–{row['ci_high']:.2f}"


def p_text(p):
    if not _num(p):
        return ""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _facts(row, prefix=""):
    """'95% CI 1.80–1.88, 12 rounds paired in time' of one comparison (prefix "overall_": the
    best dense overall's)."""
    ci = ci_text({"ci_low": row.get(prefix + "ci_low"), "ci_high": row.get(prefix + "ci_high")})
    facts = [ci] if ci else []
    n = int(row[prefix + "n_rounds"]) if _num(row.get(prefix + "n_rounds")) else 0
    if n:
        facts.append(f"{n} round{'s' if n != 1 else ''} {row[prefix + 'pairing']}")
    return facts


def _text(row, column):
    value = row.get(column)
    return value if isinstance(value, str) else ""


def overall_text(row):
    """The sentence's clause on the best dense at any precision: '; against the best dense at any
    precision (gemm_ffn [onednn] d_ff=2048, bf16): 0.79× (95% CI 0.78–0.88, 10 rounds paired in
    time): fails', or that it is the same point; '' for a claim whose baseline is not dense."""
    if not _text(row, "overall_verdict"):
        return ""
    if _is_true(row.get("overall_same_point")):
        return f"; the best dense at any precision is that same {row['baseline_precision']} point"
    note = f"; {row['overall_note']}" if _text(row, "overall_note") else ""
    what = (f"{row['overall_measured']:.2f}× fewer" if row["measure"] == "flops" else
            f"{row['overall_measured']:.2f}×")
    facts = ", ".join(_facts(row, "overall_"))
    inside = f" ({facts}{note})" if facts or note else ""
    return f"; against the best dense at any precision ({row['overall_baseline_point']}): {what}{inside}: " \
           f"{row['overall_verdict']}"


def sentence(row):
    """'LookupFFN vs gemm_ffn: 2.51× claimed, 1.84× measured on <machine> at 2 threads, 32768 tokens
    (..., fp32; 95% CI 1.80–1.88, 12 rounds paired in time, inputs fresh; random weights; quality not
    measured): fails; against the best dense at any precision (gemm_ffn [onednn] d_ff=2048, bf16):
    0.95× (...): fails'. The weights clause is the row's `weights` (absent from older claims.csv)."""
    if not _num(row.get("threads")):
        return f"{row['claim']}: {row['claimed_text']} claimed, not measured in this run ({row['note']})"
    threads = int(row["threads"])
    where = f"on {row['machine']} at {threads} thread{'s' if threads > 1 else ''}, {int(row['tokens'])} tokens"
    precision = _text(row, "baseline_precision") or row["precision"]
    note = f"; {row['note']}" if _text(row, "note") else ""
    weights = f"; {row['weights']}" if _text(row, "weights") else ""
    if pd.isna(row.get("measured")):  # no dense at the variant's precision: only the overall
        return (f"{row['claim']}: {row['claimed_text']} claimed, {where} ({row['variant_point']}{weights}): no best "
                f"dense at {precision} ({row['note']})" + overall_text(row))
    if row["measure"] == "flops":
        return (f"{row['claim']}: {row['claimed_text']} claimed, {row['measured']:.2f}× fewer in the cost models "
                f"at {int(row['tokens'])} tokens ({row['variant_point']} vs {row['baseline_point']}, {precision}{note}"
                f"{weights}): {row['verdict']}" + overall_text(row))
    facts = _facts(row) + [f"inputs {row['inputs']}"]
    return (f"{row['claim']}: {row['claimed_text']} claimed, {row['measured']:.2f}× measured {where} "
            f"({row['variant_point']} vs {row['baseline_point']}, {precision}; {', '.join(facts)}{note}{weights}): "
            f"{row['verdict']}" + overall_text(row))


TABLE_HEADER = ["claim", "claimed", "measured", "95% CI", "p (vs claim)", "rounds", "machine", "threads", "tokens",
                "inputs", "weights", "compared", "verdict", "vs best dense, any precision", "verdict (any precision)"]


def _overall_cells(r):
    """The table's two cells on the best dense at any precision."""
    if not _text(r, "overall_verdict"):
        return ["—", ""] if not _text(r, "overall_note") else [r["overall_note"], ""]
    fewer = " fewer" if r["measure"] == "flops" else ""
    ci = ci_text({"ci_low": r.get("overall_ci_low"), "ci_high": r.get("overall_ci_high")}).replace("95% CI ", "")
    same = "the same point" if _is_true(r.get("overall_same_point")) else r["overall_baseline_point"]
    return [f"{r['overall_measured']:.2f}×{fewer}" + (f" ({ci})" if ci else "") + f" vs {same}", r["overall_verdict"]]


def markdown_table(rows):
    """The claims table of claims.md: one line per row of evaluate(); `weights` says whose weights
    were timed (the published claims: random ones, quality not measured); the last two columns are
    the same comparison against the best dense at any precision."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    for _, r in rows.iterrows():
        weights = _text(r, "weights")
        if not _num(r.get("threads")):
            cells = [r["claim"], r["claimed_text"], "not measured in this run", "", "", "", "", "", "", "", "",
                     r["note"], "", "", ""]
        elif pd.isna(r["measured"]):
            cells = [r["claim"], r["claimed_text"], f"no best dense at {r['baseline_precision']}", "", "", "",
                     r["machine"], int(r["threads"]), int(r["tokens"]), "", weights,
                     f"{r['variant_point']} ({r['note']})", r["verdict"]] + _overall_cells(r)
        else:
            note = f" ({r['note']})" if _text(r, "note") else ""
            fewer = " fewer (model)" if r["measure"] == "flops" else ""
            n = int(r["n_rounds"]) if _num(r.get("n_rounds")) else None
            rounds = "" if r["measure"] == "flops" else (f"{n}" + ("" if r["pairing"] == PAIRED else
                                                                   f" ({r['pairing']})") if n else r["pairing"])
            ci = f"{r['ci_low']:.2f}–{r['ci_high']:.2f}" if ci_text(r) else ("—" if r["measure"] != "flops" else "")
            precision = _text(r, "baseline_precision") or r["precision"]
            cells = [r["claim"], r["claimed_text"], f"{r['measured']:.2f}×{fewer}", ci, p_text(r.get("p_value")),
                     rounds, r["machine"], int(r["threads"]), int(r["tokens"]),
                     r["inputs"] if r["measure"] != "flops" else "", weights,
                     f"{r['variant_point']} vs {r['baseline_point']}, {precision}{note}", r["verdict"]] + _overall_cells(r)
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


# ---- speed at a known quality (trained weights: points.csv quality_* columns) ----

QUALITY_COLUMNS = ["model", "variant", "machine_id", "machine", "thread_class", "threads", "tokens", "inputs",
                   "variant_point", "baseline_point", "measured", "ci_low", "ci_high", "ci_coverage", "n_rounds",
                   "pairing", "quality_metric", "quality_dataset", "quality_value", "quality_dense", "delta_points",
                   "fidelity_rel_error", "random_speedup", "random_point", "note",
                   # How the random-weights counterpart's inputs were fed (the trained point's own file
                   # in experiments/quality.ini, so that trained vs random differs in the weights only).
                   "random_inputs"]

# Parameters that choose how a shape is run, not the shape: a random-weights counterpart may differ in them.
_HOW = {"p_weights", "p_impl", "p_order", "p_tile", "p_block_gemm", "p_table_precision", "p_max_path_matrix_mib"}


def _has(value):
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value) != ""


def _trained(points):
    if "quality_value" not in points.columns:
        return points.iloc[0:0]
    return points[pd.to_numeric(points["quality_value"], errors="coerce").notna()]


def _same_inputs(frame, inputs):
    """The rows of `frame` fed the same inputs (points.csv's `inputs`: fresh, repeat or the
    activations file), or all of them where the data has no `inputs` column."""
    if "inputs" not in frame.columns:
        return frame
    return frame[frame["inputs"].map(ds.inputs_mode) == ds.inputs_mode(inputs)]


def _random_counterpart(points, row):
    """(point, same_inputs): the fastest point of row's variant and shape on random weights (empty
    p_weights) fed the same inputs as row (its activations file); where none was, the fastest on
    other inputs, same_inputs False (an older quality.ini timed random weights on fresh inputs).
    (None, False) where the shape has no random-weights point."""
    same = points[(points["variant"] == row["variant"]) & (points["machine_id"] == row["machine_id"]) &
                  (points["tokens"] == row["tokens"]) & (points["threads"] == row["threads"]) &
                  (points["precision"] == row["precision"])]
    if "p_weights" in same.columns:
        same = same[~same["p_weights"].apply(_has)]
    for c in [c for c in points.columns if c.startswith("p_") and c not in _HOW]:
        if _has(row.get(c)):
            same = same[same[c].astype(str) == str(row[c])]
    if same.empty:
        return None, False
    on_inputs = _same_inputs(same, row.get("inputs"))
    pick = on_inputs if not on_inputs.empty else same
    return pick.loc[pick["time_median_s"].idxmin()], not on_inputs.empty


def _dense_for(points, row, trained, inputs=None):
    """The dense point a trained row is compared with: ffndataset's best dense at the row's
    compared precision among the trained gemm_ffn points (its trained twin: trained=True) or among
    the random-weights ones (trained=False), at the row's machine, tokens, threads and d; None
    where there is none. `inputs` given: among the points fed those inputs where any was (the
    random-weights dense on the trained twin's activations file)."""
    pool = points[points["variant"] == ds.BASELINE]
    twins = pool.index.intersection(_trained(pool).index) if trained else \
        pool.index.difference(_trained(pool).index)
    pool = pool.loc[twins]
    if inputs is not None:
        fed = _same_inputs(pool, inputs)
        fed = fed[(fed["machine_id"] == row["machine_id"]) & (fed["tokens"] == row["tokens"]) &
                  (fed["threads"] == row["threads"]) & (fed["d_in"] == row["d_in"])]
        pool = pool.loc[fed.index] if not fed.empty else pool
    best = ds.best_dense(pool, precision=ds.compared_precision(row))
    best = best[(best["machine_id"] == row["machine_id"]) & (best["tokens"] == row["tokens"]) &
                (best["threads"] == row["threads"]) & (best["d_in"] == row["d_in"]) & (best["d_out"] == row["d_out"])]
    return None if best.empty else points.loc[best["base_index"].iloc[0]]


def _paired_speedup(reps, variant, baseline):
    ratios, _, _, pairing = paired_ratios(
        reps, (_get(variant, "run_id"), _get(variant, "point_id")), (_get(baseline, "run_id"), _get(baseline, "point_id")))
    out = {"measured": float(baseline["time_median_s"]) / float(variant["time_median_s"]), "ci_low": None,
           "ci_high": None, "ci_coverage": None, "n_rounds": len(ratios), "pairing": pairing}
    if ratios:
        out["measured"] = statistics.median(ratios)
        out["ci_low"], out["ci_high"], out["ci_coverage"] = order_statistic_ci(ratios)
    return out


def quality_rows(points, machines, reps=None):
    """One row per trained model (p_weights), machine, thread class and token count: its fastest
    impl against the fastest dense twin (gemm_ffn trained the same way), the speedup paired in
    time with its CI, the accuracy of both (quality_value, quality_dense) and the gap in points,
    the fidelity against PyTorch, and the same shape's speedup on random weights: its random-weights
    point on the same inputs against the random-weights dense on the dense twin's inputs (a note
    where the data has random weights only on other inputs)."""
    trained = _trained(points)
    trained = trained[(trained["variant"] != ds.BASELINE) & ~trained["variant"].isin(ds.NOT_A_LAYER)]
    rows = []
    if trained.empty:
        return pd.DataFrame(rows, columns=QUALITY_COLUMNS)
    trained = trained.assign(thread_class=ds.thread_class(points).loc[trained.index])
    trained = trained[trained["thread_class"].notna()]
    for (model, mid, threads, tokens), group in trained.groupby(["p_weights", "machine_id", "threads", "tokens"], sort=True):
        best = group.loc[group["time_median_s"].idxmin()]
        notes = []
        dense = _dense_for(points, best, trained=True)
        if dense is None:
            dense = _dense_for(points, best, trained=False)
            notes.append("no trained dense twin at this shape: random-weights dense used")
        if dense is None:
            continue
        stats = _paired_speedup(reps, best, dense)
        value, dense_q = float(best["quality_value"]), pd.to_numeric(best.get("quality_dense"), errors="coerce")
        (random_row, same_inputs), random_dense = _random_counterpart(points, best), None
        if random_row is not None:
            random_dense = _dense_for(points, random_row, trained=False, inputs=dense.get("inputs"))
            if not same_inputs:
                notes.append(f"random weights on other inputs ({ds.inputs_mode(random_row.get('inputs'))}) than the "
                             "trained point's: weights and inputs differ")
        random_speedup = (float(random_dense["time_median_s"]) / float(random_row["time_median_s"])
                          if random_row is not None and random_dense is not None else None)
        name = os.path.basename(os.path.dirname(str(model))) or str(model)
        rows.append({"model": name, "variant": best["variant"], "machine_id": mid,
                     "machine": ds.short_name(machines.get(mid, {"machine_id": mid})),
                     "thread_class": best["thread_class"], "threads": int(threads), "tokens": int(tokens),
                     "inputs": _inputs_text({"inputs": best.get("inputs"), "base_inputs": dense.get("inputs")}),
                     "variant_point": ds.series_labels(group).loc[best.name],
                     "baseline_point": f"{dense['block']} [{dense['impl']}]", **stats,
                     "quality_metric": best.get("quality_metric"), "quality_dataset": best.get("quality_dataset"),
                     "quality_value": value, "quality_dense": dense_q,
                     "delta_points": 100.0 * (value - dense_q) if _num(dense_q) else None,
                     "fidelity_rel_error": pd.to_numeric(best.get("fidelity_rel_error"), errors="coerce"),
                     "random_speedup": random_speedup,
                     "random_point": f"{random_row['block']} [{random_row['impl']}]" if random_row is not None else "",
                     "note": "; ".join(notes),
                     "random_inputs": ds.inputs_mode(random_row.get("inputs")) if random_row is not None else ""})
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def quality_text(row):
    """'at −1.2 accuracy points (87.1% vs 88.3% test accuracy)' or '' without quality."""
    if not _num(row.get("quality_value")):
        return ""
    if not _num(row.get("delta_points")):
        return f"at {100 * row['quality_value']:.1f}% test accuracy (no dense twin's accuracy)"
    delta = row["delta_points"]
    sign = "−" if delta < 0 else "+"
    dataset = f" on {row['quality_dataset']}" if _has(row.get("quality_dataset")) else ""
    return (f"at {sign}{abs(delta):.1f} accuracy points ({100 * row['quality_value']:.1f}% vs "
            f"{100 * row['quality_dense']:.1f}% test accuracy{dataset})")


def quality_sentence(row):
    """'lookup_bh4 (lookup_ffn:bh4_trained [optimized]): 2.70× faster than dense at −1.2 accuracy points
    (86.1% vs 87.3% test accuracy on fashion-mnist; 95% CI 2.61–2.80, 8 rounds paired in time; random
    weights 2.55×) on <machine> at 1 thread, 1024 tokens'."""
    faster = f"{row['measured']:.2f}× faster" if row["measured"] >= 1 else f"{1 / row['measured']:.2f}× slower"
    facts = [ci_text(row)] if ci_text(row) else []
    n = int(row["n_rounds"]) if _num(row.get("n_rounds")) else 0
    if n:
        facts.append(f"{n} round{'s' if n != 1 else ''} {row['pairing']}")
    if _num(row.get("random_speedup")):
        facts.append(f"random weights at this shape {row['random_speedup']:.2f}×")
    if _num(row.get("fidelity_rel_error")):
        facts.append(f"max error vs PyTorch {row['fidelity_rel_error']:.2g}")
    if _has(row.get("note")):
        facts.append(row["note"])
    threads = int(row["threads"])
    return (f"{row['model']} ({row['variant_point']}): {faster} than dense ({row['baseline_point']}) "
            f"{quality_text(row)} on {row['machine']} at {threads} thread{'s' if threads > 1 else ''}, "
            f"{int(row['tokens'])} tokens ({'; '.join(facts)})")


QUALITY_HEADER = ["model", "speedup vs dense", "95% CI", "accuracy", "dense accuracy", "gap (points)",
                  "random weights", "vs PyTorch", "machine", "threads", "tokens", "compared"]


def quality_table(rows):
    """The 'speed at a known quality' table of claims.md."""
    lines = ["| " + " | ".join(QUALITY_HEADER) + " |", "|" + "---|" * len(QUALITY_HEADER)]
    for _, r in rows.iterrows():
        ci = f"{r['ci_low']:.2f}–{r['ci_high']:.2f}" if ci_text(r) else "—"
        cells = [r["model"], f"{r['measured']:.2f}×", ci, f"{100 * r['quality_value']:.1f}%",
                 f"{100 * r['quality_dense']:.1f}%" if _num(r["quality_dense"]) else "—",
                 f"{r['delta_points']:+.1f}" if _num(r["delta_points"]) else "—",
                 f"{r['random_speedup']:.2f}×" if _num(r["random_speedup"]) else "—",
                 f"{r['fidelity_rel_error']:.2g}" if _num(r["fidelity_rel_error"]) else "—",
                 r["machine"], int(r["threads"]), int(r["tokens"]), f"{r['variant_point']} vs {r['baseline_point']}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines
