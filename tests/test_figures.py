"""Every plots/*_figures.py rendered on the committed reference runs (small real runs of each
experiment), each figure checked before it is written: no two text labels overlap, every series
has its own colour/marker pair, no legend covers the data. The checks themselves are shown to
fail on figures made to break them.

usage: /usr/bin/python3 tests/test_figures.py [ffnbench binary, for the merged cross-machine case]"""
import importlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(SOURCE, "plots"), HERE]

import matplotlib.pyplot as plt  # noqa: E402

import ffnplot  # noqa: E402
import ffnstyle  # noqa: E402
import figure_checks  # noqa: E402

REFERENCE = os.path.join(SOURCE, "results", "reference")
ZEN5, ZEN4 = "amd-zen-5-2c-c08a", "amd-zen-4-2c-415a"
BINARY = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ.get("FFNBENCH_BINARY")

# (script, reference runs of ZEN5 it is drawn on)
CASES = [
    ("sweep_figures", ["quick"]),
    ("counters_figures", ["quick"]),
    ("lookup_figures", ["lookupffn_paper"]),
    ("fff_figures", ["ultrafastbert", "moe_vs_fff"]),
    ("moe_figures", ["moe_vs_fff"]),
    ("crossmachine_figures", ["quick", "lookupffn_paper"]),
]


class ChecksFailOnBrokenFigures(unittest.TestCase):
    """A check that cannot fail proves nothing: each one on a figure that breaks it."""

    def tearDown(self):
        plt.close("all")

    def test_overlapping_labels_are_found_and_apart_ones_are_not(self):
        fig, ax = plt.subplots(figsize=ffnstyle.size("column"))
        ax.text(0.5, 0.5, "peak avx2 117")
        ax.text(0.5, 0.5, "peak avx512 117")
        found = figure_checks.overlapping_texts(fig)
        self.assertEqual(found, ['"peak avx2 117" (axes 0 text) overlaps "peak avx512 117" (axes 0 text)'])
        ax.texts[1].set_position((0.5, 0.1))
        self.assertEqual(figure_checks.overlapping_texts(fig), [])

    def test_long_tick_labels_that_run_into_each_other_are_found(self):
        fig, ax = plt.subplots(figsize=ffnstyle.size("column"))
        ax.bar(range(6), range(1, 7))
        ax.set_xticks(range(6))
        ax.set_xticklabels(["lookup_ffn:dense_projection [optimized] h=128 order=tiled"] * 6)
        self.assertTrue(any("xtick" in p for p in figure_checks.overlapping_texts(fig)))

    def test_two_series_drawn_alike_are_found(self):
        fig, ax = plt.subplots()
        ax.plot([1, 2], [1, 2], color="C0", marker="o", label="bh4 [dense]")
        ax.plot([1, 2], [2, 3], color="C0", marker="o", label="lookup_ffn [token_major] bf16")
        self.assertEqual(figure_checks.duplicate_styles(fig),
                         ['"bh4 [dense]" and "lookup_ffn [token_major] bf16" in axes 0 share colour #1f77b4 and marker o'])
        ax.lines[1].set_marker("s")
        self.assertEqual(figure_checks.duplicate_styles(fig), [])

    def test_a_legend_over_the_data_is_found_and_one_outside_is_not(self):
        fig, ax = plt.subplots(figsize=ffnstyle.size("page"))
        ax.plot([1, 2], [1, 2], label="gemm_ffn")
        ax.legend(loc="upper left")
        self.assertEqual(figure_checks.legends_over_data(fig), ["legend of axes 0 covers the data area of axes 0"])
        ffnstyle.legend_outside(ax)
        self.assertEqual(figure_checks.legends_over_data(fig), [])


class Style(unittest.TestCase):
    def test_equal_ceilings_are_named_once(self):
        self.assertEqual(ffnstyle.dedupe_levels([("avx512", 117.4), ("avx2", 117.0), ("sse", 30.0)]),
                         [("sse", 30.0), ("avx2 = avx512", 117.0)])

    def test_a_family_keeps_its_colour_and_an_impl_its_marker_in_every_figure(self):
        a, b = ffnstyle.SeriesStyles(), ffnstyle.SeriesStyles()
        self.assertEqual(a("x", "gemm_ffn:bf16", "onednn", "bf16"),
                         {"color": ffnstyle.FAMILY_COLORS["gemm_ffn"], "marker": "s", "linestyle": "--"})
        self.assertEqual(b("y", "gemm_ffn", "onednn")["color"], ffnstyle.FAMILY_COLORS["gemm_ffn"])
        # A second series of the same family and impl: a shade of the family's colour, its own pair.
        second = a("z", "gemm_ffn", "onednn")
        self.assertNotEqual(second["color"], ffnstyle.FAMILY_COLORS["gemm_ffn"])
        self.assertEqual(second["marker"], "s")

    def test_many_series_of_one_family_and_impl_each_get_their_own_pair_and_the_search_ends(self):
        # 40 lookup_ffn token_major series (lookupffn_paper has that many): the shades of one hue
        # run out where lightness is clamped, then the spare markers take over.
        styles = ffnstyle.SeriesStyles()
        pairs = [(s["color"], s["marker"]) for s in (styles(f"s{i}", "lookup_ffn", "token_major") for i in range(40))]
        self.assertEqual(len(set(pairs)), 40)
        self.assertEqual(pairs[0], (ffnstyle.FAMILY_COLORS["lookup_ffn"], ffnstyle.impl_marker("token_major")))

    def test_labels_name_only_what_differs(self):
        common, short = ffnstyle.common_label_parts(["fff [per_token] T=1", "fff [fastff] T=1"])
        self.assertEqual((common, short), ("fff T=1", ["[per_token]", "[fastff]"]))


class EveryFigureScript(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ffnbench_figures_")
        self.problems = []
        self.drawn = []
        ffnplot.CHECKS[:] = [self.check]

    def tearDown(self):
        ffnplot.CHECKS[:] = []
        plt.close("all")
        shutil.rmtree(self.tmp)

    def check(self, fig, name):
        self.drawn.append(name)
        self.problems += [f"{name}: {p}" for p in figure_checks.problems(fig)]

    def run_script(self, script, folder):
        module = importlib.import_module(script)
        argv = sys.argv
        sys.argv = [script + ".py", folder]
        try:
            module.main()
        finally:
            sys.argv = argv

    def copy(self, machine, experiment, tag):
        dest = os.path.join(self.tmp, tag, machine, experiment)
        shutil.copytree(os.path.join(REFERENCE, machine, experiment), dest)
        return dest

    def test_each_script_on_its_reference_runs(self):
        for script, experiments in CASES:
            for experiment in experiments:
                with self.subTest(script=script, experiment=experiment):
                    self.problems, self.drawn = [], []
                    self.run_script(script, self.copy(ZEN5, experiment, script))
                    self.assertTrue(self.drawn, f"{script} drew nothing on {experiment}")
                    self.assertEqual(self.problems, [])

    @unittest.skipUnless(BINARY, "no ffnbench binary given: the merged two-machine case needs `ffnbench merge`")
    def test_crossmachine_figures_of_two_machines(self):
        merged = os.path.join(self.tmp, "merged")
        subprocess.run([BINARY, "merge", os.path.join(REFERENCE, ZEN5, "quick"), os.path.join(REFERENCE, ZEN4, "quick"),
                        "--out", merged, "--ignore", "repetitions", "--ignore", "inputs", "--ignore", "schedule",
                        "--ignore", "fff.impl"], check=True, capture_output=True)
        self.run_script("crossmachine_figures", merged)
        self.assertIn("speedup_by_machine", self.drawn)
        self.assertEqual(self.problems, [])


def figure_point(pid, variant, impl, precision, time_s, tables=None, threads=1, d=512, d_ff=2048, tokens=32768):
    return {"run_id": "r", "point_id": pid, "machine_id": "m", "block": variant, "variant": variant, "impl": impl,
            "precision": precision, "d_in": d, "d_out": d, "tokens": tokens, "threads": threads,
            "time_median_s": time_s, "flops_model": 1.0, "p_d_ff": d_ff if variant == "gemm_ffn" else None,
            "p_d": d, "p_h": 128, "p_projection": "bh4", "p_order": "tiled", "p_table_precision": tables,
            "status": "ok", "inputs": "fresh"}


class BestDenseInFigures(unittest.TestCase):
    """The figures take their dense baseline from ffndataset: the numbers they draw, by hand."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ffnbench_bestdense_")
        self.figures = {}
        ffnplot.CHECKS[:] = [lambda fig, name: self.figures.setdefault(name, fig)]

    def tearDown(self):
        ffnplot.CHECKS[:] = []
        plt.close("all")
        shutil.rmtree(self.tmp)

    def test_lookup_bars_at_the_tables_precision_and_crosses_at_any(self):
        import lookup_figures
        import pandas as pd
        points = pd.DataFrame([
            figure_point("g32", "gemm_ffn", "onednn", "fp32", 0.8), figure_point("g16", "gemm_ffn", "onednn", "bf16", 0.4),
            figure_point("l32", "lookup_ffn", "optimized", "fp32", 0.5, tables="fp32"),
            figure_point("l16", "lookup_ffn", "optimized", "fp32", 0.5, tables="bf16"),
            figure_point("l8", "lookup_ffn", "optimized", "fp32", 0.25, tables="int8")])
        lookup_figures.speedup(points, {}, self.tmp)
        ax = self.figures["lookup_speedup"].axes[0]
        labels = [t.get_text() for t in ax.get_yticklabels()]
        bars = dict(zip(labels, [p.get_width() for p in ax.patches]))
        self.assertAlmostEqual(bars["h=128 bh4 tiled fp32"], 0.8 / 0.5)
        self.assertAlmostEqual(bars["h=128 bh4 tiled bf16"], 0.4 / 0.5)  # bf16 tables vs dense bf16
        self.assertTrue(math.isnan(bars["h=128 bh4 tiled int8"]))     # no dense int8: no bar, not a wrong one
        crosses = dict(zip(labels, ax.collections[0].get_offsets()[:, 0]))
        self.assertAlmostEqual(crosses["h=128 bh4 tiled fp32"], 0.4 / 0.5)  # vs bf16, the fastest dense
        self.assertAlmostEqual(crosses["h=128 bh4 tiled int8"], 0.4 / 0.25)

    def test_fff_speedups_against_the_dense_of_their_own_width(self):
        import fff_figures
        import pandas as pd
        points = pd.DataFrame([
            figure_point("g1", "gemm_ffn", "openblas", "fp32", 2.0, d=768, d_ff=3072),
            figure_point("g2", "gemm_ffn", "onednn", "fp32", 1.0, d=768, d_ff=3072),
            figure_point("g3", "gemm_ffn", "onednn", "fp32", 0.1, d=256, d_ff=3072),  # other d: not its baseline
            figure_point("f", "fff", "per_token", "fp32", 0.05, d=768)])
        sp = fff_figures.fff_speedups(points, d_ff=3072)
        self.assertEqual(list(sp["point_id"]), ["f"])
        self.assertAlmostEqual(sp["speedup"].iloc[0], 1.0 / 0.05)
        self.assertEqual(sp["base_point_id"].iloc[0], "g2")


if __name__ == "__main__":
    unittest.main(verbosity=2)
