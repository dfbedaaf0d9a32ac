"""plots/claims.py on a small fabricated dataset whose answers were worked out by hand: paired
ratios, order-statistics CIs, Mann-Whitney p-values and verdicts. Run by tests/test_claims.cpp
(/usr/bin/python3 tests/test_claims.py), or alone."""
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plots"))

import pandas as pd  # noqa: E402

import claims  # noqa: E402
import reference_table  # noqa: E402
import ffndataset as ds  # noqa: E402

TOKENS = 32768


def point(machine, run, pid, variant, time_s, inputs, d_ff=None):
    return {"run_id": run, "point_id": pid, "machine_id": machine, "block": variant, "variant": variant,
            "impl": "table_major" if variant == "lookup_ffn" else "openblas", "precision": "fp32", "d_in": 512,
            "d_out": 512, "tokens": TOKENS, "threads": 1, "time_median_s": time_s,
            "flops_model": 4.0 * TOKENS * 512 * 2048 / (6.06 if variant == "lookup_ffn" else 1),
            "p_d_ff": d_ff, "inputs": inputs, "status": "ok"}


def rounds_of(run, pid, times, with_round=True, reverse_repetitions=False):
    """One repetition per round; repetition numbers reversed against rounds when asked (so that
    pairing by repetition would pair different rounds)."""
    n = len(times)
    rows = []
    for r, t in enumerate(times):
        row = {"run_id": run, "point_id": pid, "repetition": n - 1 - r if reverse_repetitions else r,
               "iterations": 10, "time_s": t, "overhead_s": 0}
        if with_round:
            row["round"], row["position"] = r, 0 if pid.startswith("g") else 1
        rows.append(row)
    return rows


# Per-round ratios (baseline / variant), by round; sorted they are the hand-worked lists below.
HOLD = [2.70, 2.52, 2.80, 2.60, 2.50, 2.66, 2.58, 2.90, 2.62, 2.75]     # sorted x2 = 2.52, x9 = 2.80
INCONCLUSIVE = [2.60, 2.40, 2.75, 2.50, 2.62, 2.45, 2.80, 2.55, 2.70, 2.65]  # x2 = 2.45, x9 = 2.75
FAIL = [2.30, 2.10, 2.20, 2.45, 2.00, 2.25, 2.35, 2.40, 2.15, 2.60]     # x9 = 2.45 < 2.51


def machine_data(machine, ratios, with_round=True, variant_inputs="fresh", base_inputs="fresh"):
    run = f"run-{machine}"
    base_times = [1.0 + 0.01 * r for r in range(len(ratios))]
    var_times = [b / q for b, q in zip(base_times, ratios)]
    points = [point(machine, run, f"g-{machine}", "gemm_ffn", 1.0, base_inputs, d_ff=2048),
              point(machine, run, f"l-{machine}", "lookup_ffn", 0.4, variant_inputs)]
    reps = rounds_of(run, f"g-{machine}", base_times, with_round) + \
        rounds_of(run, f"l-{machine}", var_times, with_round, reverse_repetitions=with_round)
    return points, reps


def dataset():
    points, reps = [], []
    for machine, ratios, kw in [("m-hold", HOLD, {}),
                                ("m-incon", INCONCLUSIVE, {"base_inputs": None}),
                                ("m-fail", FAIL, {})]:
        p, r = machine_data(machine, ratios, **kw)
        points += p
        reps += r
    return pd.DataFrame(points), pd.DataFrame(reps)


def row_of(rows, claim_id, machine):
    hit = rows[(rows["claim_id"] == claim_id) & (rows["machine_id"] == machine)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


class Statistics(unittest.TestCase):
    def test_order_statistic_ranks(self):
        self.assertEqual(claims.order_statistic_ci([1, 2, 3, 4, 5]), (None, None, None))  # n = 5: none at 95%
        low, high, cov = claims.order_statistic_ci([6, 5, 4, 3, 2, 1])
        self.assertEqual((low, high), (1, 6))
        self.assertAlmostEqual(cov, 1 - 2 / 64)
        low, high, cov = claims.order_statistic_ci(list(range(10, 0, -1)))  # ranks 2 and 9 of 10
        self.assertEqual((low, high), (2, 9))
        self.assertAlmostEqual(cov, 1 - 2 * 11 / 1024)
        low, high, cov = claims.order_statistic_ci(list(range(1, 21)))  # ranks 6 and 15 of 20
        self.assertEqual((low, high), (6, 15))
        self.assertAlmostEqual(cov, 1 - 2 * 21700 / 2 ** 20)

    def test_mann_whitney_exact(self):
        self.assertEqual(claims.mann_whitney_u([1, 2, 3], [4, 5, 6]), (0, 0.1))          # 2 / C(6,3)
        u, p = claims.mann_whitney_u([1, 2, 3, 4], [5, 6, 7, 8])
        self.assertEqual(u, 0)
        self.assertAlmostEqual(p, 2 / 70)
        u, p = claims.mann_whitney_u([1, 3, 5], [2, 4, 6])                               # P(U <= 3) = 7/20
        self.assertEqual(u, 3)
        self.assertAlmostEqual(p, 0.7)
        self.assertEqual(claims.mann_whitney_u([], [1]), (None, None))

    def test_mann_whitney_normal_with_ties(self):
        # U = 2.5; mean 8; var = 16/12 * (9 - (24 + 6)/56); z = (5.5 - 0.5) / sd.
        u, p = claims.mann_whitney_u([1, 2, 2, 3], [2, 3, 4, 5])
        self.assertEqual(u, 2.5)
        sd = math.sqrt(16 / 12 * (9 - 30 / 56))
        self.assertAlmostEqual(p, math.erfc(5 / sd / math.sqrt(2)))
        self.assertAlmostEqual(p, 0.1367, places=3)
        # Large samples without ties use the normal approximation too: symmetric, so p = 1 at U = mean.
        u, p = claims.mann_whitney_u(list(range(0, 60, 2)), list(range(1, 61, 2)))
        self.assertLess(p, 1.0)
        self.assertGreater(p, 0.5)

    def test_verdicts(self):
        self.assertEqual(claims.verdict_of(2.52, 2.8, 2.51), "holds")
        self.assertEqual(claims.verdict_of(2.51, 2.8, 2.51), "holds")
        self.assertEqual(claims.verdict_of(2.45, 2.75, 2.51), "inconclusive")
        self.assertEqual(claims.verdict_of(2.0, 2.45, 2.51), "fails")
        self.assertEqual(claims.verdict_of(None, None, 2.51), "inconclusive")


class Select(unittest.TestCase):
    def test_an_optional_condition_keeps_rows_of_runs_made_before_its_parameter_existed(self):
        # A Zen 5 run without projection_precision merged with a newer run that has it: the older
        # rows (empty cell, the default fp32) stay; a newer bf16 row is left out.
        pts = pd.DataFrame([{"variant": "lookup_ffn", "p_projection_precision": ""},
                            {"variant": "lookup_ffn", "p_projection_precision": float("nan")},
                            {"variant": "lookup_ffn", "p_projection_precision": "fp32"},
                            {"variant": "lookup_ffn", "p_projection_precision": "bf16"}])
        chosen, why = claims._select(pts, {"variant": "lookup_ffn"}, {"p_projection_precision": "fp32"})
        self.assertIsNone(why)
        self.assertEqual(list(chosen.index), [0, 1, 2])


class Evaluate(unittest.TestCase):
    def setUp(self):
        self.points, self.reps = dataset()
        self.rows = claims.evaluate(self.points, {}, self.reps)

    def test_paired_rounds_ci_and_verdicts(self):
        hold = row_of(self.rows, "lookupffn_speedup", "m-hold")
        self.assertAlmostEqual(hold["measured"], (2.62 + 2.66) / 2)
        self.assertAlmostEqual(hold["ci_low"], 2.52)
        self.assertAlmostEqual(hold["ci_high"], 2.80)
        self.assertAlmostEqual(hold["ci_coverage"], 1 - 2 * 11 / 1024)
        self.assertEqual(hold["n_rounds"], 10)
        self.assertEqual(hold["pairing"], "paired in time")
        self.assertEqual(hold["verdict"], "holds")
        self.assertEqual(hold["inputs"], "fresh")
        self.assertEqual(hold["note"], "")

        incon = row_of(self.rows, "lookupffn_speedup", "m-incon")
        self.assertAlmostEqual(incon["measured"], (2.60 + 2.62) / 2)
        self.assertAlmostEqual(incon["ci_low"], 2.45)
        self.assertAlmostEqual(incon["ci_high"], 2.75)
        self.assertEqual(incon["verdict"], "inconclusive")
        self.assertEqual(incon["inputs"], "variant fresh, baseline repeat (before fresh inputs)")

        fail = row_of(self.rows, "lookupffn_speedup", "m-fail")
        self.assertAlmostEqual(fail["ci_high"], 2.45)
        self.assertAlmostEqual(fail["ci_low"], 2.10)
        self.assertEqual(fail["verdict"], "fails")
        # Baseline times against 2.51 × variant times: every variant time scaled is above the baseline's.
        self.assertLess(fail["p_value"], 0.01)
        self.assertLess(fail["p_vs_1"], 0.001)

    def test_model_flop_claim_has_no_ci(self):
        flops = row_of(self.rows, "lookupffn_flops", "m-hold")
        self.assertAlmostEqual(flops["measured"], 6.06)
        self.assertEqual(flops["verdict"], "holds")
        self.assertEqual(flops["pairing"], "cost model (exact, no CI)")
        self.assertTrue(pd.isna(flops["ci_low"]))

    def test_old_runs_pair_by_repetition(self):
        points, reps = machine_data("m-old", HOLD, with_round=False)
        points = pd.DataFrame(points).drop(columns=["inputs"])
        rows = claims.evaluate(points, {}, pd.DataFrame(reps))
        old = row_of(rows, "lookupffn_speedup", "m-old")
        self.assertEqual(old["pairing"], "not paired in time (no round column: an older run)")
        self.assertAlmostEqual(old["ci_low"], 2.52)  # repetitions numbered as rounds here
        self.assertEqual(old["inputs"], "repeat (before fresh inputs)")
        self.assertIn("not paired in time", claims.sentence(old))

    def test_rounds_pair_by_round_not_by_repetition(self):
        # The variant's repetitions are numbered against its rounds: pairing by repetition would give
        # other ratios than the designed ones.
        by_rep = pd.DataFrame(self.reps).drop(columns=["round", "position"])
        rows = claims.evaluate(self.points, {}, by_rep)
        hold = row_of(rows, "lookupffn_speedup", "m-hold")
        self.assertNotAlmostEqual(hold["measured"], (2.62 + 2.66) / 2)

    def test_too_few_rounds_and_no_reps(self):
        points, reps = machine_data("m-few", HOLD[:5])
        rows = claims.evaluate(pd.DataFrame(points), {}, pd.DataFrame(reps))
        few = row_of(rows, "lookupffn_speedup", "m-few")
        self.assertEqual(few["n_rounds"], 5)
        self.assertEqual(few["verdict"], "inconclusive")
        self.assertEqual("no 95% CI from fewer than 6 rounds", few["note"])
        self.assertIn("fp32; 5 rounds paired in time, inputs fresh; no 95% CI from fewer than 6 rounds; "
                      "random weights; quality not measured): inconclusive", claims.sentence(few))
        rows = claims.evaluate(pd.DataFrame(points), {}, None)
        none = row_of(rows, "lookupffn_speedup", "m-few")
        self.assertEqual(none["verdict"], "inconclusive")
        self.assertAlmostEqual(none["measured"], 1.0 / 0.4)  # the ratio of the medians
        self.assertIn("no repetitions in reps.csv", none["note"])

    def test_table_and_sentence(self):
        lines = claims.markdown_table(self.rows)
        self.assertEqual(lines[0], "| " + " | ".join(claims.TABLE_HEADER) + " |")
        hold = [line for line in lines if "| 2.64× | 2.52–2.80 |" in line]
        self.assertEqual(len(hold), 1, "\n".join(lines))
        self.assertIn("| 10 | m-hold | 1 | 32768 | fresh |", hold[0])
        self.assertTrue(hold[0].endswith("| holds |"), hold[0])
        self.assertTrue(any("| 2.61× | 2.45–2.75 |" in line and line.endswith("| inconclusive |") for line in lines))
        self.assertTrue(any("6.06× fewer (model)" in line for line in lines))
        self.assertTrue(any("not measured in this run" in line for line in lines))
        s = claims.sentence(row_of(self.rows, "lookupffn_speedup", "m-fail"))
        self.assertIn("95% CI 2.10–2.45, 10 rounds paired in time, inputs fresh; random weights; quality not measured): "
                      "fails", s)

    def test_published_claims_say_their_weights_are_random_and_quality_not_measured(self):
        for _, r in self.rows[self.rows["threads"].notna()].iterrows():
            self.assertEqual(r["weights"], "random weights; quality not measured", r["claim_id"])
            self.assertIn("; random weights; quality not measured): ", claims.sentence(r), r["claim_id"])
        self.assertIn("weights", claims.COLUMNS)
        lines = claims.markdown_table(self.rows)
        col = claims.TABLE_HEADER.index("weights")
        self.assertEqual(claims.TABLE_HEADER[col - 1], "inputs")
        for line in lines[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            self.assertEqual(len(cells), len(claims.TABLE_HEADER), line)
            measured = "not measured in this run" not in line
            self.assertEqual(cells[col], "random weights; quality not measured" if measured else "", line)
        # The FLOP claim's sentence too (a cost model: the weights' quality is just as unknown).
        flops = row_of(self.rows, "lookupffn_flops", "m-hold")
        self.assertIn("fp32; random weights; quality not measured): holds", claims.sentence(flops))
        # A claims.csv written before the column: no weights clause, nothing else changes.
        old = row_of(self.rows, "lookupffn_speedup", "m-hold").drop("weights")
        self.assertIn("inputs fresh): holds", claims.sentence(old))

    def test_a_trained_point_names_its_model_and_accuracy(self):
        self.assertEqual(claims._weights_text({"p_weights": ""}), "random weights; quality not measured")
        self.assertEqual(claims._weights_text({}), "random weights; quality not measured")
        self.assertEqual(claims._weights_text({"p_weights": "results/models/moe/block.safetensors",
                                               "quality_value": 0.871}), "trained weights (moe, 87.1% test accuracy)")

    def test_dense_baseline_carries_the_baseline_point(self):
        base = ds.best_dense(self.points, precision="fp32", d_ff=2048)
        self.assertEqual(sorted(base["base_point_id"]), ["g-m-fail", "g-m-hold", "g-m-incon"])
        self.assertIn("base_run_id", base.columns)


def trained_point(pid, variant, block, impl, time_s, weights="", quality=None, dense_q=None, tokens=1024):
    row = {"run_id": "run-q", "point_id": pid, "machine_id": "m-q", "block": block, "variant": variant,
           "impl": impl, "precision": "fp32", "d_in": 128, "d_out": 128, "tokens": tokens, "threads": 1,
           "time_median_s": time_s, "flops_model": 1.0, "p_d_ff": 512 if variant == "gemm_ffn" else None,
           "p_h": 32 if variant == "lookup_ffn" else None, "p_weights": weights, "inputs": "fresh", "status": "ok",
           "quality_metric": "test_accuracy" if quality is not None else None, "quality_dataset": "fashion-mnist"
           if quality is not None else None, "quality_value": quality, "quality_dense": dense_q,
           "fidelity_rel_error": 2e-6 if quality is not None else None}
    return row


class Quality(unittest.TestCase):
    """Each trained model's speedup over its trained dense twin, with both accuracies and the gap."""

    def setUp(self):
        weights_l = "results/models/lookup_bh4/block.safetensors"
        weights_d = "results/models/dense/block.safetensors"
        self.points = pd.DataFrame([
            trained_point("gt", "gemm_ffn", "gemm_ffn:trained", "onednn", 1.0, weights_d, 0.883, 0.883),
            trained_point("gr", "gemm_ffn", "gemm_ffn:random", "onednn", 0.9),
            trained_point("lt1", "lookup_ffn", "lookup_ffn:bh4_trained", "optimized", 0.5, weights_l, 0.871, 0.883),
            trained_point("lt2", "lookup_ffn", "lookup_ffn:bh4_trained", "optimized", 0.4, weights_l, 0.871, 0.883),
            trained_point("lr", "lookup_ffn", "lookup_ffn:bh4_random", "optimized", 0.3),
        ])
        # Rounds: dense twin 1.0, 1.1, ...; the faster trained lookup point at 0.4 of each (2.5×).
        self.reps = pd.DataFrame(rounds_of("run-q", "gt", [1.0 + 0.1 * r for r in range(8)]) +
                                 rounds_of("run-q", "lt2", [0.4 * (1.0 + 0.1 * r) for r in range(8)]))

    def test_speedup_against_the_trained_twin_with_both_accuracies(self):
        rows = claims.quality_rows(self.points, {"m-q": {"machine_id": "m-q"}}, self.reps)
        self.assertEqual(len(rows), 1)
        r = rows.iloc[0]
        self.assertEqual(r["model"], "lookup_bh4")
        self.assertEqual(r["baseline_point"], "gemm_ffn:trained [onednn]")
        self.assertAlmostEqual(r["measured"], 2.5)
        self.assertEqual(r["n_rounds"], 8)
        self.assertAlmostEqual(r["delta_points"], -1.2)
        self.assertAlmostEqual(r["random_speedup"], 0.9 / 0.3)  # random dense / random lookup
        text = claims.quality_sentence(r)
        self.assertIn("2.50× faster than dense (gemm_ffn:trained [onednn]) at −1.2 accuracy points "
                      "(87.1% vs 88.3% test accuracy on fashion-mnist)", text)
        self.assertIn("random weights at this shape 3.00×", text)
        table = claims.quality_table(rows)
        self.assertIn("| lookup_bh4 | 2.50× | 2.50–2.50 | 87.1% | 88.3% | -1.2 | 3.00× | 2e-06 |", table[2])

    def test_no_trained_points_no_rows(self):
        untrained = self.points[self.points["p_weights"] == ""]
        self.assertTrue(claims.quality_rows(untrained, {}, self.reps).empty)

    def on_activations(self):
        """experiments/quality.ini's layout: every trained point and its random-weights counterpart
        read the model's activations file; random points on fresh inputs (faster, here) also ran."""
        acts = {"gemm_ffn": "results/models/dense/activations.safetensors",
                "lookup_ffn": "results/models/lookup_bh4/activations.safetensors"}
        points = self.points.copy()
        points["inputs"] = points["variant"].map(acts)
        fresh = pd.DataFrame([trained_point("gf", "gemm_ffn", "gemm_ffn:random_fresh", "onednn", 0.8),
                              trained_point("lf", "lookup_ffn", "lookup_ffn:bh4_random_fresh", "optimized", 0.1)])
        return points, fresh

    def test_random_counterpart_runs_on_the_trained_points_inputs(self):
        points, fresh = self.on_activations()
        rows = claims.quality_rows(pd.concat([points, fresh], ignore_index=True), {"m-q": {"machine_id": "m-q"}},
                                   self.reps)
        r = rows.iloc[0]
        # Not the faster random points on fresh inputs: the ones on the same activations files.
        self.assertEqual(r["random_point"], "lookup_ffn:bh4_random [optimized]")
        self.assertEqual(r["random_inputs"], "results/models/lookup_bh4/activations.safetensors")
        self.assertAlmostEqual(r["random_speedup"], 0.9 / 0.3)  # random dense on the dense file / random lookup
        self.assertEqual(r["note"], "")
        self.assertIn("random weights at this shape 3.00×", claims.quality_sentence(r))

    def test_random_weights_only_on_other_inputs_says_so(self):
        points, fresh = self.on_activations()
        points = points[points["p_weights"] != ""]  # only the fresh-input random points remain
        rows = claims.quality_rows(pd.concat([points, fresh], ignore_index=True), {"m-q": {"machine_id": "m-q"}},
                                   self.reps)
        r = rows.iloc[0]
        self.assertEqual(r["random_point"], "lookup_ffn:bh4_random_fresh [optimized]")
        self.assertEqual(r["random_inputs"], "fresh")
        self.assertAlmostEqual(r["random_speedup"], 0.8 / 0.1)
        self.assertEqual(r["note"], "random weights on other inputs (fresh) than the trained point's: "
                                    "weights and inputs differ")
        self.assertIn("weights and inputs differ", claims.quality_sentence(r))


class ReferenceTable(unittest.TestCase):
    """The README's several-CPUs table: the claim's own experiment wins over another that measured it."""

    def row(self, experiment, machine, measured, rounds, inputs="fresh"):
        return {"claim_id": "lookupffn_speedup", "claim": "LookupFFN vs gemm_ffn", "claimed_text": "2.51×",
                "measure": "speedup", "machine_id": machine, "thread_class": "1 thread", "measured": measured,
                "ci_low": float("nan"), "ci_high": float("nan"), "n_rounds": rounds, "verdict": "inconclusive",
                "inputs": inputs, "experiment": experiment}

    def test_the_claims_own_experiment_is_chosen_even_with_fewer_rounds(self):
        frames = [pd.DataFrame([self.row("quick", "m1", 2.67, 5), self.row("quick", "m2", 1.4, 5)]),
                  pd.DataFrame([self.row("lookupffn_paper", "m1", 2.78, 3)])]
        rows = reference_table.claim_rows(frames).set_index("machine_id")
        self.assertEqual(rows.loc["m1", "experiment"], "lookupffn_paper")
        self.assertAlmostEqual(rows.loc["m1", "measured"], 2.78)
        self.assertEqual(rows.loc["m2", "experiment"], "quick")  # m2 ran only quick: it fills in

    def test_a_cell_says_its_verdict_and_when_one_input_was_reused(self):
        self.assertEqual(reference_table.cell(self.row("x", "m", 2.78, 3, inputs="repeat (before fresh inputs)")),
                         "2.78×, **inconclusive** (one input reused)")
        self.assertEqual(reference_table.cell(self.row("x", "m", float("nan"), 0)), "—")


def dense_point(machine, pid, impl, precision, time_s, d_ff=2048, threads=1, run="run-bd"):
    return {"run_id": run, "point_id": pid, "machine_id": machine, "block": "gemm_ffn", "variant": "gemm_ffn",
            "impl": impl, "precision": precision, "d_in": 512, "d_out": 512, "tokens": TOKENS, "threads": threads,
            "time_median_s": time_s, "flops_model": 4.0 * TOKENS * 512 * d_ff, "p_d_ff": d_ff,
            "p_table_precision": None, "inputs": "fresh", "status": "ok"}


def lookup_point(machine, pid, tables, time_s, run="run-bd"):
    return {"run_id": run, "point_id": pid, "machine_id": machine, "block": "lookup_ffn", "variant": "lookup_ffn",
            "impl": "optimized", "precision": "fp32", "d_in": 512, "d_out": 512, "tokens": TOKENS, "threads": 1,
            "time_median_s": time_s, "flops_model": 4.0 * TOKENS * 512 * 2048 / 6.06, "p_d_ff": None,
            "p_table_precision": tables, "inputs": "fresh", "status": "ok"}


class BestDense(unittest.TestCase):
    """ffndataset's one definition of the best dense: per precision, overall, and the precision a
    variant is compared at."""

    def setUp(self):
        self.points = pd.DataFrame([
            dense_point("m1", "a", "openblas", "fp32", 1.0),
            dense_point("m1", "b", "onednn", "fp32", 0.8),
            dense_point("m1", "c", "onednn", "bf16", 0.4),
            dense_point("m1", "w", "onednn", "bf16", 0.1, d_ff=1024),  # another width: never the baseline
            # m2: bf16 slower than fp32 (no bf16 hardware): the best overall is fp32.
            dense_point("m2", "d", "openblas", "fp32", 0.9),
            dense_point("m2", "e", "onednn", "bf16", 1.5),
            lookup_point("m1", "l32", "fp32", 0.5),
            lookup_point("m1", "l16", "bf16", 0.5),
            lookup_point("m1", "l8", "int8", 0.25),
        ])

    def test_per_precision_and_overall(self):
        fp32 = ds.best_dense(self.points, precision="fp32").set_index("machine_id")
        self.assertEqual(fp32.loc["m1", "base_point_id"], "b")  # onednn beats openblas at fp32
        self.assertEqual(fp32.loc["m2", "base_point_id"], "d")
        bf16 = ds.best_dense(self.points, precision="bf16").set_index("machine_id")
        self.assertEqual(bf16.loc["m1", "base_point_id"], "c")  # d_ff = 4·d = 2048, not the faster 1024
        self.assertEqual(bf16.loc["m1", "base_precision"], "bf16")
        every = ds.best_dense(self.points)
        self.assertEqual(sorted(every["base_point_id"]), ["b", "c", "d", "e"])  # one per machine and precision
        overall = ds.best_dense_any(self.points).set_index("machine_id")
        self.assertEqual(overall.loc["m1", "base_point_id"], "c")  # bf16 dense faster than fp32: bf16
        self.assertEqual((overall.loc["m1", "base_precision"], overall.loc["m1", "base_impl"]), ("bf16", "onednn"))
        self.assertEqual(overall.loc["m2", "base_point_id"], "d")  # fp32 faster than bf16: fp32
        self.assertEqual(overall.loc["m2", "base_precision"], "fp32")
        self.assertEqual(ds.best_dense(self.points, precision="fp32", d_ff=1024).shape[0], 0)

    def test_the_precision_a_variant_is_compared_at(self):
        self.assertEqual(ds.compared_precision({"precision": "fp32", "p_table_precision": "bf16"}), "bf16")
        self.assertEqual(ds.compared_precision({"precision": "fp32", "p_table_precision": "int8"}), "int8")
        self.assertEqual(ds.compared_precision({"precision": "fp32", "p_table_precision": "fp32"}), "fp32")
        self.assertEqual(ds.compared_precision({"precision": "bf16", "p_table_precision": float("nan")}), "bf16")
        self.assertEqual(ds.compared_precision({"precision": "int8"}), "int8")  # moe, gemm_ffn: the column
        # A projection or node rows in a narrower precision than the tables: the narrowest counts.
        self.assertEqual(ds.compared_precision({"precision": "fp32", "p_table_precision": "fp32",
                                                "p_projection_precision": "bf16"}), "bf16")
        self.assertEqual(ds.compared_precision({"precision": "fp32", "p_table_precision": "bf16",
                                                "p_projection_precision": "int8"}), "int8")
        self.assertEqual(ds.compared_precision({"precision": "fp32", "p_row_precision": "bf16"}), "bf16")
        self.assertEqual(ds.compared_precision({"precision": float("nan")}), "fp32")  # runs before the column

    def test_each_variant_point_against_both(self):
        rows = ds.against_dense(self.points).set_index("point_id")
        self.assertEqual(set(rows.index), {"l32", "l16", "l8"})
        self.assertEqual(rows.loc["l32", "base_point_id"], "b")
        self.assertAlmostEqual(rows.loc["l32", "speedup"], 0.8 / 0.5)
        self.assertEqual(rows.loc["l16", "base_point_id"], "c")  # bf16 tables against dense bf16
        self.assertAlmostEqual(rows.loc["l16", "speedup"], 0.4 / 0.5)
        for pid in ("l32", "l16", "l8"):
            self.assertEqual(rows.loc[pid, "overall_base_point_id"], "c")
            self.assertAlmostEqual(rows.loc[pid, "overall_speedup"], 0.4 / rows.loc[pid, "time_median_s"])
        # No dense at int8: no baseline at the same precision, and why; never a dense of another precision.
        self.assertTrue(pd.isna(rows.loc["l8", "speedup"]))
        self.assertTrue(pd.isna(rows.loc["l8", "base_point_id"]))
        self.assertEqual(rows.loc["l8", "base_missing"], "no gemm_ffn point at int8 on this machine "
                                                         "(gemm_ffn ran at bf16, fp32)")
        self.assertEqual(ds.best_dense(self.points, precision="int8").shape[0], 0)
        self.assertEqual(sorted(ds.speedups(self.points)["point_id"]), ["l16", "l32"])
        overall = ds.speedups(self.points, overall=True).set_index("point_id")
        self.assertAlmostEqual(overall.loc["l8", "speedup"], 0.4 / 0.25)
        self.assertEqual(overall.loc["l8", "base_precision"], "bf16")
        # A shape where this precision's dense ran at other tokens: the reason says so.
        other = self.points.copy()
        other.loc[other["point_id"] == "c", "tokens"] = 1024
        rows = ds.against_dense(other).set_index("point_id")
        self.assertEqual(rows.loc["l16", "base_missing"],
                         "no gemm_ffn point at bf16, the chosen d_ff (4·d where measured) with the same tokens, "
                         "threads and d")


def claim_row(rows, machine, thread_class="1 thread"):
    hit = rows[(rows["claim_id"] == "lookupffn_speedup") & (rows["machine_id"] == machine) &
               (rows["thread_class"] == thread_class)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


class ClaimsAgainstBothDense(unittest.TestCase):
    """Each dense claim is stated against the best dense at its precision and at any precision,
    each with its paired CI and verdict."""

    def data(self, with_fp32=True):
        base = [1.0 + 0.01 * r for r in range(10)]
        points = [dense_point("m", "g32", "onednn", "fp32", 1.0), dense_point("m", "g16", "onednn", "bf16", 0.5),
                  lookup_point("m", "l", "fp32", 0.4)]
        reps = (rounds_of("run-bd", "g32", base) + rounds_of("run-bd", "g16", [0.5 * t for t in base]) +
                rounds_of("run-bd", "l", [t / q for t, q in zip(base, HOLD)]))
        if not with_fp32:
            points = points[1:]
        return pd.DataFrame(points), pd.DataFrame(reps)

    def test_a_faster_bf16_dense_is_the_overall_baseline(self):
        points, reps = self.data()
        r = claim_row(claims.evaluate(points, {}, reps), "m")
        self.assertEqual((r["baseline_point"], r["baseline_precision"]), ("gemm_ffn [onednn] d_ff=2048", "fp32"))
        self.assertAlmostEqual(r["measured"], (2.62 + 2.66) / 2)
        self.assertEqual(r["verdict"], "holds")
        # Against bf16 (half the fp32 time in every round): every ratio halves.
        self.assertEqual(r["overall_baseline_point"], "gemm_ffn [onednn] d_ff=2048, bf16")
        self.assertEqual(r["overall_baseline_precision"], "bf16")
        self.assertFalse(r["overall_same_point"])
        self.assertAlmostEqual(r["overall_measured"], (2.62 + 2.66) / 4)
        self.assertAlmostEqual(r["overall_ci_low"], 2.52 / 2)
        self.assertAlmostEqual(r["overall_ci_high"], 2.80 / 2)
        self.assertEqual((r["overall_n_rounds"], r["overall_pairing"]), (10, "paired in time"))
        self.assertEqual(r["overall_verdict"], "fails")
        self.assertLess(r["overall_p_value"], 0.001)
        text = claims.sentence(r)
        self.assertIn("(lookup_ffn [optimized] vs gemm_ffn [onednn] d_ff=2048, fp32; 95% CI 2.52–2.80, "
                      "10 rounds paired in time, inputs fresh; random weights; quality not measured): holds; against the best dense at any precision "
                      "(gemm_ffn [onednn] d_ff=2048, bf16): 1.32× (95% CI 1.26–1.40, 10 rounds paired in time): fails",
                      text)
        line = [x for x in claims.markdown_table(pd.DataFrame([r])) if "lookup_ffn" in x][0]
        self.assertTrue(line.endswith("| holds | 1.32× (1.26–1.40) vs gemm_ffn [onednn] d_ff=2048, bf16 | fails |"),
                        line)
        # The FLOP claim too: against the same counts, so the same ratio.
        flops = claims.evaluate(points, {}, reps)
        flops = flops[flops["claim_id"] == "lookupffn_flops"].iloc[0]
        self.assertAlmostEqual(flops["overall_measured"], 6.06)

    def test_only_fp32_dense_the_same_point_twice(self):
        points, reps = self.data()
        points = points[points["point_id"] != "g16"]
        r = claim_row(claims.evaluate(points, {}, reps), "m")
        self.assertTrue(r["overall_same_point"])
        self.assertAlmostEqual(r["overall_measured"], r["measured"])
        self.assertEqual(r["overall_verdict"], r["verdict"])
        self.assertTrue(claims.sentence(r).endswith("; the best dense at any precision is that same fp32 point"))

    def test_no_dense_at_the_variants_precision_states_why_and_keeps_the_overall(self):
        points, reps = self.data(with_fp32=False)
        r = claim_row(claims.evaluate(points, {}, reps), "m")
        self.assertTrue(pd.isna(r["measured"]))
        self.assertTrue(pd.isna(r["ci_low"]))
        self.assertEqual(r["verdict"], claims.NO_BASELINE)
        self.assertEqual(r["note"], "no gemm_ffn point at fp32 on this machine (gemm_ffn ran at bf16)")
        self.assertEqual(r["baseline_point"], "")
        self.assertAlmostEqual(r["overall_measured"], (2.62 + 2.66) / 4)
        self.assertEqual(r["overall_verdict"], "fails")
        text = claims.sentence(r)
        self.assertIn("no best dense at fp32 (no gemm_ffn point at fp32 on this machine (gemm_ffn ran at bf16)); "
                      "against the best dense at any precision (gemm_ffn [onednn] d_ff=2048, bf16): 1.32×", text)
        self.assertTrue(any("| no best dense at fp32 |" in x for x in claims.markdown_table(pd.DataFrame([r]))))

    def test_claims_csv_round_trip_for_the_reference_table(self):
        import tempfile
        points, reps = self.data()
        rows = claims.evaluate(points, {}, reps)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "claims.csv")
            rows.to_csv(path, index=False)
            back = pd.read_csv(path)
        self.assertEqual(list(back.columns), claims.COLUMNS)
        r = back[(back["claim_id"] == "lookupffn_speedup")].iloc[0]
        self.assertEqual(reference_table.cell(r), "2.64× 95% CI 2.52–2.80, **holds**; vs bf16 dense: "
                                                  "1.32× 95% CI 1.26–1.40, **fails**")
        self.assertEqual(claims.sentence(r), claims.sentence(rows[rows["claim_id"] == "lookupffn_speedup"].iloc[0]))
        points = points[points["point_id"] != "g16"]
        same = pd.read_csv(io_of(claims.evaluate(points, {}, reps)))
        self.assertEqual(reference_table.cell(same[same["claim_id"] == "lookupffn_speedup"].iloc[0]),
                         "2.64× 95% CI 2.52–2.80, **holds**")


def io_of(frame):
    import io
    return io.StringIO(frame.to_csv(index=False))


if __name__ == "__main__":
    unittest.main(verbosity=2)
