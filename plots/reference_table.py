"""The README's "Measured on several CPUs" table, from the claims of the committed references.

usage: reference_table.py OUT.md EXPERIMENT=CLAIMS.csv...   (each CLAIMS.csv written by
crossmachine_figures.py for one experiment of results/reference, merged across the machines that ran it)

One row per claim and thread class, one column per machine; each cell is the measured ratio with
its 95% CI and verdict against the best dense at the same precision and, where the best dense at
any precision is another point (a faster bf16 dense), against that one too, or what kept it from
being measured, so a reader compares CPUs claim by claim. The machines' own table (CPU, caches, ceilings) comes first."""
import os
import sys

import pandas as pd

import claims


def _ratio_text(row, prefix=""):
    text = f"{row[prefix + 'measured']:.2f}×"
    if row.get("measure") == "speedup":
        ci = claims.ci_text({"ci_low": row.get(prefix + "ci_low"), "ci_high": row.get(prefix + "ci_high")})
        text += f" {ci}" if ci else ""
    verdict = row.get(prefix + "verdict")
    if isinstance(verdict, str) and verdict:
        text += f", **{verdict}**"
    return text


def cell(row):
    """The measured ratio against the best dense at the same precision with its CI and verdict,
    then, where claims.csv has it (newer ones) and it is another point, against the best dense at
    any precision."""
    measured = not pd.isna(row.get("measured"))
    overall = _num(row.get("overall_measured")) and not claims._is_true(row.get("overall_same_point"))
    if overall and row.get("measure") == "flops" and measured:  # a cost model: the same count at every precision
        overall = f"{row['overall_measured']:.2f}" != f"{row['measured']:.2f}"
    if not measured and not overall:
        return "—"
    text = _ratio_text(row) if measured else f"no dense at {row.get('baseline_precision')}"
    if overall:
        text += f"; vs {row.get('overall_baseline_precision')} dense: {_ratio_text(row, 'overall_')}"
    inputs = row.get("inputs")
    if row.get("measure") == "speedup" and isinstance(inputs, str) and inputs.startswith("repeat"):
        text += " (one input reused)"
    return text


def _num(value):
    return value is not None and not pd.isna(value)


# The experiment made to check each claim; another experiment that also measured it (quick.ini
# has a LookupFFN point) fills in only where a machine did not run the claim's own.
CLAIM_EXPERIMENTS = {"lookupffn_speedup": "lookupffn_paper", "lookupffn_flops": "lookupffn_paper",
                     "ultrafastbert_speedup": "ultrafastbert", "fff_width_speedup": "ultrafastbert",
                     "moe_grouped_speedup": "moe_grouped"}


def claim_rows(frames):
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows["machine_id"].notna()]
    own = rows["experiment"] == rows["claim_id"].map(CLAIM_EXPERIMENTS)
    rows = rows.assign(_own=own, _rounds=rows["n_rounds"].fillna(0))
    rows = rows.sort_values(["_own", "_rounds"], ascending=False)
    return rows.drop_duplicates(["claim_id", "machine_id", "thread_class"]).drop(columns=["_own", "_rounds"])


def machines_table(tables):
    table = pd.concat(tables, ignore_index=True).drop_duplicates("machine_id").sort_values("machine_id")
    lines = ["| machine | CPU | cores | L2 | L3 | peak GFLOP/s | DRAM GB/s | VM | HW counters |", "|---" * 9 + "|"]
    for _, r in table.iterrows():
        lines.append(f"| `{r['machine_id']}` | {r['cpu']} {r['microarchitecture']} | {r['cores']} | {r['l2']} | {r['l3']} | "
                     f"{r['peak_gflops'] if pd.notna(r['peak_gflops']) else '—'} | "
                     f"{r['dram_gbs'] if pd.notna(r['dram_gbs']) else '—'} | {r['virtualized']} | {r['hardware_counters']} |")
    return lines, list(table["machine_id"])


def main():
    out, inputs = sys.argv[1], sys.argv[2:]
    pairs = [arg.split("=", 1) for arg in inputs]
    frames = [pd.read_csv(path).assign(experiment=experiment) for experiment, path in pairs]
    tables = [pd.read_csv(os.path.join(os.path.dirname(path), "crossmachine_table.csv")) for _, path in pairs]
    machine_lines, machine_ids = machines_table(tables)
    rows = claim_rows(frames)
    lines = machine_lines + ["", "| claim | experiment | threads | " + " | ".join(f"`{m}`" for m in machine_ids) + " |",
                             "|---|---|---|" + "---|" * len(machine_ids)]
    order = {c.id: i for i, c in enumerate(claims.CLAIMS)}
    keys = sorted({(r["claim_id"], r["thread_class"]) for _, r in rows.iterrows()},
                  key=lambda k: (order.get(k[0], 99), k[1] != "1 thread"))
    for claim_id, thread_class in keys:
        here = rows[(rows["claim_id"] == claim_id) & (rows["thread_class"] == thread_class)]
        first = here.iloc[0]
        cells = []
        for m in machine_ids:
            hit = here[here["machine_id"] == m]
            cells.append(cell(hit.iloc[0]) if len(hit) else "not run")
        experiments = ", ".join(sorted(set(here["experiment"])))
        lines.append(f"| {first['claim']} ({first['claimed_text']} claimed) | {experiments} | {thread_class} | "
                     + " | ".join(cells) + " |")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(out)


if __name__ == "__main__":
    main()
