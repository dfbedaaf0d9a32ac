"""Every plots/*_figures.py rendered and each figure checked before it is written: no two text
labels overlap, every series has its own colour/marker pair, no legend covers the data. The
checks themselves are shown to fail on figures made to break them.

Where each script is drawn (EveryFigureScript; test_every_figure_script_is_drawn keeps the list
complete):
- every script on the committed reference runs (small real runs of each experiment) of two
  machines, Zen 5 and Zen 4 (CASES), except stage_figures on Zen 4: only Zen 5's crossmachine run
  has stages.csv's ceiling_fraction (the stage roofline needs ceilings at sweep time);
- on runs made up here, for what no reference run holds: quality_figures' trained-weights
  figures (accuracy vs latency and FLOPs, random vs trained) on a fabricated trained run, the
  reference runs having random weights only (on them it draws the expert-load histogram); and
  counters_figures' cachesim_whatif on two copies of Zen 5's quick run given simulated LL misses
  (counters.csv is left out of the reference runs);
- crossmachine_figures also on a merged two-machine folder, when an ffnbench binary is given.

usage: /usr/bin/python3 tests/test_figures.py [ffnbench binary, for the merged cross-machine case]"""
import glob
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

# (script, machine, reference runs of that machine it is drawn on)
CASES = [
    ("sweep_figures", ZEN5, ["quick"]),
    ("counters_figures", ZEN5, ["quick"]),
    ("lookup_figures", ZEN5, ["lookupffn_paper"]),
    ("fff_figures", ZEN5, ["ultrafastbert", "moe_vs_fff"]),
    ("moe_figures", ZEN5, ["moe_vs_fff"]),
    ("crossmachine_figures", ZEN5, ["quick", "lookupffn_paper"]),
    ("stage_figures", ZEN5, ["crossmachine"]),
    ("quality_figures", ZEN5, ["moe_vs_fff"]),
    # Zen 4's runs predate schema versions (no inputs, schedule, ... columns): read as the
    # harness migrates them, one input reused.
    ("sweep_figures", ZEN4, ["quick"]),
    ("counters_figures", ZEN4, ["quick"]),
    ("lookup_figures", ZEN4, ["lookupffn_paper"]),
    ("fff_figures", ZEN4, ["ultrafastbert"]),
    ("moe_figures", ZEN4, ["moe_grouped"]),
    ("quality_figures", ZEN4, ["moe_grouped"]),
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


class Titles(unittest.TestCase):
    def test_the_inputs_mode_every_title_names(self):
        import pandas as pd

        def conditions(inputs, schedule=None):
            columns = {"inputs": inputs} if schedule is None else {"inputs": inputs, "schedule": schedule}
            return ffnplot.measurement_conditions(pd.DataFrame(columns))

        self.assertEqual(conditions(["fresh"], ["interleaved"]), "fresh inputs, interleaved")
        self.assertEqual(conditions(["repeat"], ["sequential"]), "one input reused, sequential")
        # Runs older than the column, as ffndataset and `ffnbench merge` name them: reused, not "real".
        self.assertEqual(conditions(["repeat (before fresh inputs)"]), "one input reused, sequential")
        self.assertEqual(conditions([float("nan")]), "one input reused, sequential")
        self.assertEqual(ffnplot.measurement_conditions(pd.DataFrame({"tokens": [1]})), "one input reused, sequential")
        self.assertEqual(conditions(["results/models/moe/activations.safetensors", "fresh"], ["interleaved"] * 2),
                         "fresh inputs/real inputs, interleaved")


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

    def run_script(self, script, folder, *more):
        module = importlib.import_module(script)
        argv = sys.argv
        sys.argv = [script + ".py", folder, *more]
        try:
            module.main()
        finally:
            sys.argv = argv

    def copy(self, machine, experiment, tag):
        dest = os.path.join(self.tmp, tag, machine, experiment)
        shutil.copytree(os.path.join(REFERENCE, machine, experiment), dest)
        return dest

    def test_every_figure_script_is_drawn(self):
        scripts = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(SOURCE, "plots", "*_figures.py"))}
        self.assertEqual(scripts, {c[0] for c in CASES})
        self.assertEqual({c[1] for c in CASES}, {ZEN5, ZEN4})

    def test_each_script_on_its_reference_runs(self):
        for script, machine, experiments in CASES:
            for experiment in experiments:
                with self.subTest(script=script, machine=machine, experiment=experiment):
                    self.problems, self.drawn = [], []
                    self.run_script(script, self.copy(machine, experiment, script))
                    self.assertTrue(self.drawn, f"{script} drew nothing on {machine}/{experiment}")
                    self.assertEqual(self.problems, [])

    def test_quality_figures_on_a_fabricated_trained_run(self):
        self.run_script("quality_figures", fabricated_quality_run(os.path.join(self.tmp, "quality")))
        self.assertEqual(sorted(self.drawn), sorted(
            [f"quality_accuracy_vs_{x}_T{t}" for x in ("latency", "flops") for t in (1, 2)]
            + ["quality_expert_load", "quality_leaf_histogram", "quality_random_vs_trained"]))
        self.assertEqual(self.problems, [])

    def test_cachesim_whatif_on_two_simulated_geometries(self):
        folders = [self.cachesim_run(geometry, scale) for geometry, scale in (("native", 1.0), ("intel-spr", 0.3))]
        self.run_script("counters_figures", *folders)
        self.assertIn("cachesim_whatif", self.drawn)
        self.assertEqual(self.problems, [])

    def cachesim_run(self, geometry, miss_scale):
        """Zen 5's quick run as if re-run under valgrind's cache simulation with `geometry`:
        counters.csv's LL_misses (source sim) of its 1-thread N=512 points, made up from their
        model bytes."""
        import pandas as pd
        folder = self.copy(ZEN5, "quick", "cachesim_" + geometry)
        points = pd.read_csv(os.path.join(folder, "points.csv"), keep_default_na=False, na_values=[""])
        points = points[(points["status"] == "ok") & (points["threads"] == 1) & (points["tokens"] == 512)]
        pd.DataFrame({"run_id": points["run_id"], "point_id": points["point_id"], "repetition": "rerun",
                      "event": "LL_misses", "value": points["bytes_model"] / 64 * miss_scale, "source": "sim",
                      "enabled_s": 0, "running_s": 0, "multiplexed": 0, "note": ""}).to_csv(
            os.path.join(folder, "counters.csv"), index=False)
        with open(os.path.join(folder, "experiment.ini"), "a") as f:
            f.write(f"\n[counters]\ncachesim_cpu = {geometry}\n")
        return folder

    @unittest.skipUnless(BINARY, "no ffnbench binary given: the merged two-machine case needs `ffnbench merge`")
    def test_crossmachine_figures_of_two_machines(self):
        merged = os.path.join(self.tmp, "merged")
        subprocess.run([BINARY, "merge", os.path.join(REFERENCE, ZEN5, "quick"), os.path.join(REFERENCE, ZEN4, "quick"),
                        "--out", merged, "--ignore", "repetitions", "--ignore", "inputs", "--ignore", "schedule",
                        "--ignore", "fff.impl"], check=True, capture_output=True)
        self.run_script("crossmachine_figures", merged)
        self.assertIn("speedup_by_machine", self.drawn)
        self.assertEqual(self.problems, [])


def fabricated_quality_run(folder):
    """A trained run as experiments/quality.ini writes it (training/FORMAT.md §7), made up:
    trained models with their test accuracy and their dense twin's, random-weight twins of some,
    and the routing counts in extras (leaf_tokens, expert_tokens). Two token and thread counts."""
    import pandas as pd
    models = [  # (block, variant, model folder (None: random weights), impls, accuracy, seconds per token)
        ("gemm_ffn:trained", "gemm_ffn", "dense", ["openblas", "naive"], 0.880, 2.0e-6),
        ("lookup_ffn:bh4_trained", "lookup_ffn", "lookup_bh4", ["optimized"], 0.861, 1.2e-6),
        ("lookup_ffn:dense_trained", "lookup_ffn", "lookup_dense", ["optimized"], 0.866, 1.6e-6),
        ("fff:ufb_trained", "fff", "fff_ufb", ["per_token", "level_batched", "masked_matrix", "fastff"], 0.842, 0.9e-6),
        ("moe:trained", "moe", "moe", ["grouped", "per_token"], 0.874, 1.4e-6),
        ("soft_lookup:trained", "soft_lookup", "soft_lookup", ["blas", "reference"], 0.852, 1.8e-6),
        ("gemm_ffn:random", "gemm_ffn", None, ["openblas"], None, 2.0e-6),
        ("lookup_ffn:bh4_random", "lookup_ffn", None, ["optimized"], None, 1.1e-6),
        ("fff:ufb_random", "fff", None, ["per_token", "fastff"], None, 0.8e-6),
        ("moe:random", "moe", None, ["grouped"], None, 1.3e-6),
    ]
    extras = {("fff", True): "leaf_tokens=30|12|9|6|3|2|1|1", ("fff", False): "leaf_tokens=8|8|8|8|8|8|8|8",
              ("moe", True): "expert_tokens=40|10|8|6;max_over_mean=2.5", ("moe", False): "expert_tokens=17|16|16|15"}
    rows = []
    for block, variant, model, impls, accuracy, per_token in models:
        for k, impl in enumerate(impls):
            for tokens in (16, 64):
                for threads in (1, 2):
                    t = per_token * tokens * (1 + 0.3 * k) / threads * (1.05 if model else 1.0)
                    rows.append({
                        "run_id": "r", "machine_id": "m", "point_id": f"{block}|{impl}|N={tokens}|T={threads}",
                        "block": block, "variant": variant, "impl": impl, "precision": "fp32", "tokens": tokens,
                        "threads": threads, "schedule": "interleaved", "status": "ok",
                        "inputs": f"results/models/{model}/activations.safetensors" if model else "fresh",
                        "time_median_s": t, "tokens_per_s": tokens / t,
                        "flops_model": tokens * 4096 * (1 + k) * (3 if variant == "gemm_ffn" else 1),
                        "extras": extras.get((variant, bool(model)), ""),
                        "quality_metric": "accuracy" if model else "", "quality_value": accuracy if model else "",
                        "quality_dense": 0.880 if model else "", "p_d": 32,
                        "p_weights": f"results/models/{model}/block.safetensors" if model else ""})
    os.makedirs(folder)
    pd.DataFrame(rows).to_csv(os.path.join(folder, "points.csv"), index=False)
    with open(os.path.join(folder, "machine.json"), "w") as f:
        f.write('{"cpu": {"model_name": "AMD EPYC", "microarchitecture": "Zen 5", "physical_cores": 2}}')
    return folder


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
