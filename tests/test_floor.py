"""plots/ffndataset.py's floor (dense_floor, is_floor) on a fabricated points table with
hand-picked times: per machine, tokens, threads, width and precision, the fastest gemm_floor
point among that precision's floor impls (fp32: OpenBLAS, BLIS or oneDNN; bf16, int8: oneDNN),
and the dense baseline held to it (dense_against_floor, precision_ratios).

usage: /usr/bin/python3 tests/test_floor.py"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(os.path.dirname(HERE), "plots")]

import pandas as pd  # noqa: E402

import ffndataset as ds  # noqa: E402


def point(variant, impl, precision, time, threads=1, tokens=32768, machine="m1", d=512, d_ff=2048):
    return {"variant": variant, "block": variant, "impl": impl, "precision": precision, "time_median_s": time,
            "threads": threads, "tokens": tokens, "machine_id": machine, "d_in": d, "d_out": d, "p_d_ff": d_ff,
            "flops_model": 4.0 * tokens * d * d_ff}


def floor_of(points, **key):
    table = ds.dense_floor(pd.DataFrame(points))
    for k, v in key.items():
        table = table[table[k] == v]
    assert len(table) == 1, table
    return table.iloc[0]["floor_impl"], table.iloc[0]["floor_time_s"]


class DenseFloor(unittest.TestCase):
    def test_fp32_is_the_fastest_of_openblas_blis_and_onednn_whichever_it_is(self):
        pts = [point("gemm_floor", "openblas", "fp32", 1.48), point("gemm_floor", "blis", "fp32", 1.39),
               point("gemm_floor", "openblas", "fp32", 0.70, threads=2), point("gemm_floor", "blis", "fp32", 0.74, threads=2)]
        self.assertEqual(floor_of(pts, threads=1), ("blis", 1.39))
        self.assertEqual(floor_of(pts, threads=2), ("openblas", 0.70))

    def test_onednns_bare_fp32_pair_is_the_floor_where_it_is_fastest_and_the_dense_ffn_never(self):
        # OpenBLAS without kernels for the CPU: oneDNN's bare pair is the floor no dense run beats.
        pts = [point("gemm_floor", "openblas", "fp32", 1.48), point("gemm_floor", "blis", "fp32", 1.52),
               point("gemm_floor", "onednn", "fp32", 1.10), point("gemm_ffn", "onednn", "fp32", 1.00)]
        self.assertEqual(floor_of(pts), ("onednn", 1.10))
        pts[2] = point("gemm_floor", "onednn", "fp32", 1.60)
        self.assertEqual(floor_of(pts), ("openblas", 1.48))

    def test_bf16_and_int8_floors_are_onednns(self):
        pts = [point("gemm_floor", "openblas", "fp32", 1.48), point("gemm_floor", "onednn", "bf16", 0.80),
               point("gemm_floor", "onednn", "int8", 0.50)]
        self.assertEqual(floor_of(pts, precision="bf16"), ("onednn", 0.80))
        self.assertEqual(floor_of(pts, precision="int8"), ("onednn", 0.50))
        self.assertEqual(len(ds.dense_floor(pd.DataFrame(pts))), 3)

    def test_one_floor_per_machine_tokens_threads_and_width(self):
        pts = [point("gemm_floor", "openblas", "fp32", 1.0, machine="a"), point("gemm_floor", "blis", "fp32", 2.0, machine="b"),
               point("gemm_floor", "blis", "fp32", 0.1, tokens=64), point("gemm_floor", "openblas", "fp32", 0.2, tokens=64),
               point("gemm_floor", "openblas", "fp32", 3.0, d=768, d_ff=3072)]
        table = ds.dense_floor(pd.DataFrame(pts))
        self.assertEqual(len(table), 4)
        self.assertEqual(floor_of(pts, machine_id="b"), ("blis", 2.0))
        self.assertEqual(floor_of(pts, tokens=64), ("blis", 0.1))
        self.assertEqual(floor_of(pts, d_in=768), ("openblas", 3.0))

    def test_no_floor_points_gives_an_empty_table_with_the_columns(self):
        table = ds.dense_floor(pd.DataFrame([point("gemm_ffn", "openblas", "fp32", 1.0),
                                             point("gemm_ffn", "onednn", "bf16", 1.0)]))
        self.assertTrue(table.empty)
        self.assertIn("floor_time_s", table.columns)
        self.assertTrue(ds.dense_floor(pd.DataFrame(columns=["variant", "impl", "precision"])).empty)


class DenseAgainstFloor(unittest.TestCase):
    """The dense baseline's distance from its floor, libtorch against the best dense, and the best
    dense's speed per precision (claims.md's section on the baseline), on hand-picked times."""

    def points(self):
        pts = [point("gemm_floor", "openblas", "fp32", 1.48), point("gemm_floor", "blis", "fp32", 1.40),
               point("gemm_ffn", "openblas", "fp32", 1.60), point("gemm_ffn", "onednn", "fp32", 1.45),
               point("gemm_ffn", "libtorch", "fp32", 1.88),
               point("gemm_floor", "onednn", "bf16", 0.70), point("gemm_ffn", "onednn", "bf16", 0.725),
               point("gemm_floor", "onednn", "int8", 0.50), point("gemm_ffn", "onednn", "int8", 0.58)]
        for p in pts:
            p["p_layernorm"] = "false" if p["variant"] == "gemm_ffn" else ""
        # With LayerNorm the dense FFN is not held to the bare pair.
        ln = point("gemm_ffn", "onednn", "fp32", 1.00)
        ln["p_layernorm"] = "true"
        return pts + [ln]

    def row(self, table, precision):
        rows = table[table["precision"] == precision]
        self.assertEqual(len(rows), 1, table)
        return rows.iloc[0]

    def test_best_dense_per_precision_over_its_floor(self):
        table = ds.dense_against_floor(pd.DataFrame(self.points()))
        fp32 = self.row(table, "fp32")
        self.assertEqual((fp32["dense_impl"], fp32["floor_impl"]), ("onednn", "blis"))
        self.assertAlmostEqual(fp32["dense_over_floor"], 1.45 / 1.40)
        self.assertAlmostEqual(fp32["libtorch_over_best"], 1.88 / 1.45)
        self.assertAlmostEqual(self.row(table, "bf16")["dense_over_floor"], 0.725 / 0.70)
        self.assertAlmostEqual(self.row(table, "int8")["dense_over_floor"], 0.58 / 0.50)
        self.assertTrue(pd.isna(self.row(table, "int8")["libtorch_over_best"]))

    def test_precision_ratios_of_the_best_dense(self):
        ratios = ds.precision_ratios(pd.DataFrame(self.points()))
        self.assertEqual(len(ratios), 1)
        # The LayerNorm row (1.00 s) is a dense FFN too: best_dense's choice, not the floor table's.
        self.assertAlmostEqual(ratios.iloc[0]["fp32_over_bf16"], 1.00 / 0.725)
        self.assertAlmostEqual(ratios.iloc[0]["fp32_over_int8"], 1.00 / 0.58)

    def test_no_floor_gives_an_empty_table(self):
        table = ds.dense_against_floor(pd.DataFrame([point("gemm_ffn", "openblas", "fp32", 1.0)]))
        self.assertTrue(table.empty)
        self.assertIn("dense_over_floor", table.columns)


if __name__ == "__main__":
    unittest.main()
