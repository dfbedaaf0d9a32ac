"""training/: the safetensors writer and reader, every family's PyTorch module against the
independent numpy implementation of DESIGN.md §4 (training/numpy_reference.py) on the same
weights, loading an export back into its module (families.load_export), tests/export_fixture.py
(the C++ gate's exports) written by those modules, determinism from the seed, and the tiny
training run (training/configs/tiny.ini) producing every file FORMAT.md names. Run by ctest (/usr/bin/python3 tests/test_training.py)
or alone."""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "plots"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from training import families, numpy_reference, safetensors_io, train  # noqa: E402
from training.families import fff as fff_module  # noqa: E402
from training.families import lookup_ffn  # noqa: E402

TINY = os.path.join(ROOT, "training", "configs", "tiny.ini")
FILES = ("block.safetensors", "model.safetensors", "activations.safetensors", "meta.json")
FAMILY_CASES = {  # family, d, options: shapes that exercise padding (d not a power of two), R > 1
    "gemm_ffn": ("gemm_ffn", 24, {"d_ff": "40"}),
    "lookup_bh4": ("lookup_ffn", 24, {"projection": "bh4", "h": "10", "tau": "4", "b": "8"}),
    "lookup_dense": ("lookup_ffn", 24, {"projection": "dense", "h": "6", "tau": "5"}),
    "fff_ufb": ("fff", 24, {"depth": "3", "trees": "2"}),
    "fff_leaf": ("fff", 24, {"depth": "2", "trees": "2", "leaf_width": "6"}),
    "moe": ("moe", 24, {"experts": "5", "top_k": "2", "d_e": "12"}),
    "soft_lookup": ("soft_lookup", 24, {"B": "20", "temperature": "0.5"}),
}
ROUTING_MARGIN = 1e-4  # rows whose reference decision lies this close to a threshold are excused


def perturb(block, seed):
    """Every parameter moved off its initial value (γ ≠ 1, β ≠ 0, biases ≠ 0), so a layout or
    transposition mistake cannot hide behind a symmetric init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.3 * p.abs().mean().clamp(min=0.05) * torch.randn(p.shape, generator=g))


class Safetensors(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "t.safetensors")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_round_trip_keeps_names_dtypes_shapes_and_values(self):
        rng = np.random.default_rng(3)
        tensors = {"w": rng.standard_normal((3, 5)).astype(np.float32), "scalar": np.array(2.5, dtype=np.float32),
                   "empty": np.zeros((0, 4), dtype=np.float32), "idx": np.arange(7, dtype=np.int64),
                   "big_endian": np.arange(4, dtype=">f4")}
        safetensors_io.save(self.path, tensors, {"format": "pt"})
        back, meta = safetensors_io.load(self.path)
        self.assertEqual(meta, {"format": "pt"})
        self.assertEqual(set(back), set(tensors))
        for name, a in tensors.items():
            self.assertEqual(back[name].shape, a.shape, name)
            np.testing.assert_array_equal(back[name], a)
        self.assertEqual(back["big_endian"].dtype, np.dtype("<f4"))

    def test_bytes_follow_the_spec(self):
        a = np.array([[1.0, -2.0, 3.5]], dtype=np.float32)
        b = np.array([7], dtype=np.int64)
        safetensors_io.save(self.path, {"a": a, "b": b})
        blob = open(self.path, "rb").read()
        (n,) = struct.unpack("<Q", blob[:8])
        self.assertEqual((8 + n) % 8, 0)  # data starts 8-byte aligned
        header = json.loads(blob[8:8 + n])
        self.assertEqual(header["a"], {"dtype": "F32", "shape": [1, 3], "data_offsets": [0, 12]})
        self.assertEqual(header["b"], {"dtype": "I64", "shape": [1], "data_offsets": [12, 20]})
        data = blob[8 + n:]
        self.assertEqual(len(data), 20)
        self.assertEqual(struct.unpack("<3f", data[:12]), (1.0, -2.0, 3.5))
        self.assertEqual(struct.unpack("<q", data[12:20]), (7,))

    def _write_raw(self, header, data):
        text = json.dumps(header).encode()
        with open(self.path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + data)

    def test_truncated_file_is_refused(self):
        safetensors_io.save(self.path, {"a": np.ones((4, 4), np.float32)})
        blob = open(self.path, "rb").read()
        open(self.path, "wb").write(blob[:-4])
        with self.assertRaisesRegex(safetensors_io.SafetensorsError, r"tensor a: data_offsets \[0, 64\] beyond the 60"):
            safetensors_io.load(self.path)

    def test_header_lying_about_its_sizes_is_refused(self):
        self._write_raw({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}, b"\0" * 12)
        with self.assertRaisesRegex(safetensors_io.SafetensorsError, "span 12 bytes, shape \\[2, 2\\] of F32 needs 16"):
            safetensors_io.load(self.path)
        with open(self.path, "wb") as f:
            f.write(struct.pack("<Q", 1000) + b"{}")
        with self.assertRaisesRegex(safetensors_io.SafetensorsError, "header length 1000 exceeds the file"):
            safetensors_io.load(self.path)

    def test_holes_and_trailing_bytes_are_refused(self):
        self._write_raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8)
        with self.assertRaisesRegex(safetensors_io.SafetensorsError, "starts at 4, expected 0"):
            safetensors_io.load(self.path)
        self._write_raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8)
        with self.assertRaisesRegex(safetensors_io.SafetensorsError, "4 data bytes after the last tensor"):
            safetensors_io.load(self.path)


class ModulesMatchTheNumpyReference(unittest.TestCase):
    def check(self, case, tokens=200):
        family, d, options = FAMILY_CASES[case]
        torch.manual_seed(11)
        block = families.build(family, d, options)
        perturb(block, 12)
        block.eval()
        x = torch.randn(tokens, d, generator=torch.Generator().manual_seed(13)) * 1.5 + 0.2
        with torch.no_grad():
            y = block(x).numpy()
        tensors = {n: a.copy() for n, a in block.export().items()}
        ref, margin = numpy_reference.forward(family, tensors, block.params(), x.numpy())
        err = numpy_reference.relative_error(y.astype(np.float64), ref)
        decided = margin > ROUTING_MARGIN
        self.assertGreater(decided.mean(), 0.9, f"{case}: too many near-tie rows to test")
        self.assertLess(err[decided].max(), 2e-5, f"{case}: PyTorch vs numpy, rows {np.flatnonzero(err > 2e-5)}")
        return block, tensors

    def test_gemm_ffn(self):
        self.check("gemm_ffn")

    def test_lookup_ffn_bh4_with_padding_and_two_copies(self):
        block, tensors = self.check("lookup_bh4")
        self.assertEqual(tensors["bh4.weight"].shape, (2, 4, 4, 8, 8))  # R = ceil(40 / 32), d' = 32

    def test_lookup_bh4_training_path_is_the_same_map(self):
        torch.manual_seed(5)
        block = families.build("lookup_ffn", 24, {"projection": "bh4", "h": "10", "tau": "4", "b": "8"})
        perturb(block, 6)
        x = torch.randn(50, 24)
        with torch.no_grad():
            block.train()
            z_train = block.z(x)
            block.eval()
            z_eval = block.z(x)
        np.testing.assert_allclose(z_train.numpy(), z_eval.numpy(), rtol=1e-5, atol=1e-5)

    def test_lookup_ffn_dense_projection(self):
        _, tensors = self.check("lookup_dense")
        self.assertEqual(tensors["proj.weight"].shape, (30, 24))

    def test_fff_ultrafastbert_form(self):
        _, tensors = self.check("fff_ufb")
        self.assertEqual(tensors["w_in"].shape, (2, 15, 24))

    def test_fff_leaf_form(self):
        _, tensors = self.check("fff_leaf")
        self.assertEqual(tensors["leaf_w1"].shape, (2, 4, 6, 24))

    def test_moe(self):
        self.check("moe")

    def test_soft_lookup(self):
        self.check("soft_lookup")

    def test_hadamard_matrix_is_the_butterfly_transform(self):
        v = np.random.default_rng(1).standard_normal((3, 16))
        np.testing.assert_allclose(v @ lookup_ffn.hadamard_matrix(16).numpy().astype(np.float64),
                                   numpy_reference.fwht(v), atol=1e-12)

    def test_lookup_score_gradient_is_the_only_path_to_z(self):
        z = torch.tensor([[0.5, -1.0, 2.0, -0.1]], requires_grad=True)
        codes, scores = lookup_ffn.codes_and_scores(z, 4)
        self.assertEqual(codes.tolist(), [[0b1010]])
        a = z.detach().abs()
        expected = a.sum() / torch.prod(1 + torch.exp(-2 * a))
        self.assertAlmostEqual(scores.item(), expected.item(), places=6)
        scores.sum().backward()
        self.assertTrue(torch.all(z.grad != 0))

    def test_an_export_loads_back_into_a_fresh_module(self):
        x = torch.randn(64, 24, generator=torch.Generator().manual_seed(21))
        for case, (family, d, options) in FAMILY_CASES.items():
            torch.manual_seed(31)
            source = families.build(family, d, options)
            perturb(source, 32)
            torch.manual_seed(33)  # another initialization: everything must come from the export
            target = families.load_export(families.build(family, d, options), source.export())
            source.eval()
            target.eval()
            with torch.no_grad():
                np.testing.assert_array_equal(target(x).numpy(), source(x).numpy(), err_msg=case)
            back = target.export()
            for name, a in source.export().items():
                np.testing.assert_array_equal(back[name], a, err_msg=f"{case}: {name}")

    def test_load_export_refuses_missing_extra_and_misshapen_tensors(self):
        block = families.build("moe", 24, {"experts": "5", "top_k": "2", "d_e": "12"})
        tensors = block.export()
        with self.assertRaisesRegex(ValueError, "export has tensors"):
            families.load_export(block, {k: v for k, v in tensors.items() if k != "w1.bias"})
        with self.assertRaisesRegex(ValueError, "export has tensors"):
            families.load_export(block, {**tensors, "extra": tensors["w1.bias"]})
        with self.assertRaisesRegex(ValueError, r"tensor w1.bias has shape \[5, 11\], the block needs \[5, 12\]"):
            families.load_export(block, {**tensors, "w1.bias": tensors["w1.bias"][:, :11]})

    def test_fff_leaf_soft_training_mixes_leaves_by_path_probability(self):
        z = torch.tensor([[0.0, 2.0, -1.0]])  # root undecided, left child right-leaning, right child left
        p = fff_module.leaf_probabilities(z, 2)[0]
        s = torch.sigmoid(torch.tensor([2.0, -1.0]))
        expected = [0.5 * (1 - s[0]), 0.5 * s[0], 0.5 * (1 - s[1]), 0.5 * s[1]]
        np.testing.assert_allclose(p.numpy(), torch.stack(expected).numpy(), rtol=1e-6)
        # hard path: z >= 0 goes right in the FFF form, z > 0 in the UltraFastBERT form
        self.assertEqual(fff_module.hard_path(z, 2, right_if_zero=True)[0].tolist(), [0, 2, 5])
        self.assertEqual(fff_module.hard_path(z, 2, right_if_zero=False)[0].tolist(), [0, 1, 4])


class ExportFixture(unittest.TestCase):
    """tests/export_fixture.py (the exports test_pytorch_gate.cpp checks the C++ against): y written
    by the training modules, which agree with the numpy reference on every decided row."""

    def test_the_fixtures_outputs_are_the_training_modules(self):
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import export_fixture
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        p = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "export_fixture.py"), d],
                           capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        self.assertEqual(p.returncode, 0, p.stderr)
        for name, (family, _, options) in export_fixture.FAMILIES.items():
            tensors, _ = safetensors_io.load(os.path.join(d, name, "block.safetensors"))
            acts, _ = safetensors_io.load(os.path.join(d, name, "activations.safetensors"))
            block = families.load_export(families.build(family, export_fixture.D, options), tensors)
            block.eval()
            with torch.no_grad():
                y = block(torch.from_numpy(acts["x"])).numpy()
            np.testing.assert_array_equal(acts["y"], y, err_msg=name)
            ref, margin = numpy_reference.forward(family, tensors, block.params(), acts["x"])
            err = numpy_reference.relative_error(acts["y"].astype(np.float64), ref)
            self.assertLess(err[margin > ROUTING_MARGIN].max(), 2e-5, name)


def run_tiny(out, *extra):
    buf = io.StringIO()
    with redirect_stdout(buf):
        status = train.main([TINY, "--out", out, *extra])
    return status, buf.getvalue()


class TinyTrainingRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.out = os.path.join(cls.dir, "models")
        cls.status, cls.log = run_tiny(cls.out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_every_model_has_every_file_behind_its_name(self):
        self.assertEqual(self.status, 0, self.log)
        names = ["dense", "lookup_bh4", "lookup_dense", "fff_ufb", "fff_leaf", "moe", "soft_lookup"]
        for name in names:
            link = os.path.join(self.out, name)
            self.assertTrue(os.path.islink(link), name)
            self.assertRegex(os.readlink(link), rf"^{name}-[0-9a-f]{{12}}$")
            for f in FILES:
                self.assertTrue(os.path.isfile(os.path.join(link, f)), f"{name}/{f}")

    def test_meta_json_holds_the_contract_keys(self):
        dense = json.load(open(os.path.join(self.out, "dense", "meta.json")))
        for name in ["lookup_bh4", "fff_leaf", "moe"]:
            meta = json.load(open(os.path.join(self.out, name, "meta.json")))
            for key in ["family", "params", "dataset", "epochs", "seed", "training_seconds", "test_accuracy",
                        "test_loss", "dense_test_accuracy", "dense_test_loss", "torch_version", "config_hash",
                        "block_includes_layernorm", "routing_training", "activations"]:
                self.assertIn(key, meta, f"{name}: {key}")
            self.assertEqual(meta["dataset"], "fashion-mnist")
            self.assertEqual(meta["dense_test_accuracy"], dense["test_accuracy"])
            self.assertEqual(meta["test_examples"], 500)
            self.assertTrue(0.5 < meta["test_accuracy"] <= 1.0, f"{name} learned nothing: {meta['test_accuracy']}")
        meta = json.load(open(os.path.join(self.out, "lookup_bh4", "meta.json")))
        self.assertEqual(meta["params"], {"d": 32, "d_out": 32, "h": 8, "tau": 4, "b": 8, "projection": "bh4"})

    def test_activations_are_the_block_inputs_and_pytorch_outputs(self):
        x_test = train.fashion_mnist.load("test", limit=64)[0].astype(np.float64)
        for name in ["dense", "lookup_bh4", "lookup_dense", "fff_ufb", "fff_leaf", "moe", "soft_lookup"]:
            folder = os.path.join(self.out, name)
            meta = json.load(open(os.path.join(folder, "meta.json")))
            block, _ = safetensors_io.load(os.path.join(folder, "block.safetensors"))
            rest, _ = safetensors_io.load(os.path.join(folder, "model.safetensors"))
            act, _ = safetensors_io.load(os.path.join(folder, "activations.safetensors"))
            self.assertEqual(act["x"].shape, (64, 32), name)
            self.assertEqual(act["x"].dtype, np.float32, name)
            h0 = x_test @ rest["inp.weight"].T.astype(np.float64) + rest["inp.bias"]
            expected_x = h0 if meta["block_includes_layernorm"] else numpy_reference.layer_norm(
                h0, rest["ln.weight"], rest["ln.bias"])
            self.assertEqual("ln.weight" in rest, not meta["block_includes_layernorm"], name)
            np.testing.assert_allclose(act["x"], expected_x, rtol=1e-4, atol=1e-4, err_msg=name)
            ref, margin = numpy_reference.forward(meta["family"], block, meta["params"], act["x"])
            err = numpy_reference.relative_error(act["y"].astype(np.float64), ref)
            decided = margin > ROUTING_MARGIN
            self.assertLess(err[decided].max(), 2e-5, name)

    def test_rerun_skips_training(self):
        meta_path = os.path.join(self.out, "moe", "meta.json")
        before = os.stat(meta_path).st_mtime_ns
        status, log = run_tiny(self.out)
        self.assertEqual(status, 0, log)
        self.assertEqual(log.count("cached in"), 7, log)
        self.assertNotIn("trained in", log)
        self.assertEqual(os.stat(meta_path).st_mtime_ns, before)

    def test_a_changed_configuration_trains_anew_and_only_what_changed(self):
        out = os.path.join(self.dir, "changed")
        shutil.copytree(self.out, out, symlinks=True)
        status, log = run_tiny(out, "--only", "soft_lookup", "--training.seed", "2")
        self.assertEqual(status, 0, log)
        self.assertIn("dense: trained in", log)  # the seed is shared: the twin retrains too
        self.assertIn("soft_lookup: trained in", log)
        self.assertNotIn("moe", log.split("\n\n")[0])
        folders = [f for f in os.listdir(out) if f.startswith("soft_lookup-")]
        self.assertEqual(len(folders), 2)


class Determinism(unittest.TestCase):
    def test_same_seed_same_bytes_other_seed_other_weights(self):
        d = tempfile.mkdtemp()
        try:
            runs = []
            for out, seed in (("a", "1"), ("b", "1"), ("c", "3")):
                status, log = run_tiny(os.path.join(d, out), "--only", "lookup_bh4,fff_leaf", "--training.seed", seed)
                self.assertEqual(status, 0, log)
                runs.append(os.path.join(d, out))
            for name in ["dense", "lookup_bh4", "fff_leaf"]:
                a, b, c = (open(os.path.join(r, name, "block.safetensors"), "rb").read() for r in runs)
                self.assertEqual(a, b, f"{name}: same seed, different weights")
                self.assertNotEqual(a, c, f"{name}: the seed changes nothing")
                acts = [open(os.path.join(r, name, "activations.safetensors"), "rb").read() for r in runs[:2]]
                self.assertEqual(acts[0], acts[1], name)
        finally:
            shutil.rmtree(d)


class BadConfiguration(unittest.TestCase):
    def write(self, text):
        fd, path = tempfile.mkstemp(suffix=".ini")
        os.write(fd, text.encode())
        os.close(fd)
        self.addCleanup(os.remove, path)
        return path

    def run_main(self, path):
        out = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, out)
        err = io.StringIO()
        with redirect_stderr(err):
            status = train.main([path, "--out", os.path.join(out, "m")])
        self.assertFalse(os.path.exists(os.path.join(out, "m")), "a bad configuration wrote a results folder")
        return status, err.getvalue()

    def test_shipped_configurations_are_valid_and_share_the_dense_twin(self):
        from training import config as cfg
        hashes = set()
        for name in ("quality.ini", "quality_large.ini", "tiny.ini"):
            training, models = cfg.read(os.path.join(ROOT, "training", "configs", name))
            for m in models.values():
                families.build(m["family"], training["d"], m["options"])
            if name != "tiny.ini":
                hashes.add(cfg.config_hash(cfg.hashed_config(training, models[training["dense"]])))
        self.assertEqual(len(hashes), 1, "quality_large.ini would retrain the dense twin")

    def test_the_command_line_exits_2_with_one_line(self):
        path = self.write("[training]\nepochs = 0\n[model.dense]\nfamily = gemm_ffn\n")
        p = subprocess.run([sys.executable, "-m", "training.train", path, "--out", tempfile.gettempdir() + "/never"],
                           cwd=ROOT, capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr, f"error: {path}: [training] epochs = 0: out of range (allowed: 1..10000)\n")

    def test_bad_values_name_the_key_the_value_and_what_is_allowed(self):
        dense = "[model.dense]\nfamily = gemm_ffn\n"
        cases = [
            ("[training]\nepochs = zero\n" + dense, "[training] epochs = zero: not an integer (allowed: 1..10000)"),
            ("[training]\nsteps = 3\n" + dense, "[training] steps = 3: unknown key"),
            (dense + "[model.x]\nfamily = lstm\n", "family = lstm: unknown (allowed: fff, gemm_ffn, lookup_ffn, moe, soft_lookup)"),
            (dense + "[model.x]\nfamily = lookup_ffn\nprojection = sparse\n",
             "lookup_ffn.projection = sparse: not allowed (allowed: bh4, dense)"),
            (dense + "[model.x]\nfamily = lookup_ffn\nb = 48\n", "lookup_ffn.b = 48: must be a power of two dividing d' = 128"),
            (dense + "[model.x]\nfamily = moe\nexperts = 2\ntop_k = 3\n", "moe.top_k = 3: more than experts = 2"),
            (dense + "[model.x]\nfamily = fff\ndepht = 3\n", "fff.depht = 3: unknown option for fff"),
            ("[model.x]\nfamily = fff\n", "[training] dense = dense: no [model.dense] section"),
        ]
        for text, message in cases:
            status, err = self.run_main(self.write(text))
            self.assertEqual(status, 2, text)
            self.assertIn(message, err, text)
            self.assertEqual(err.count("\n"), 1, err)


class QualityFigures(unittest.TestCase):
    def test_pareto_front_keeps_only_undominated_points(self):
        import quality_figures
        latency = [1.0, 2.0, 0.5, 3.0, 2.5]
        accuracy = [0.80, 0.85, 0.70, 0.84, 0.86]
        self.assertEqual(quality_figures.pareto_front(latency, accuracy), [2, 0, 1, 4])

    def test_every_figure_is_drawn_from_the_quality_columns(self):
        import pandas as pd
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        rows = []
        for weights, q, expert_tokens, leaf_tokens, t in (("random", "", "16|16|16|16", "8|8|8|8", 1.0e-3),
                                                           ("results/models/moe/block.safetensors", 0.87,
                                                            "40|10|8|6", "30|2|0|0", 1.1e-3)):
            for threads in (1, 2):
                base = {"status": "ok", "tokens": 64, "threads": threads, "impl": "grouped", "p_weights": weights,
                        "quality_value": q, "quality_dense": 0.88 if q else "", "flops_model": 64 * 1e5}
                rows.append({**base, "variant": "moe", "block": "moe", "time_median_s": t / threads,
                             "extras": f"expert_tokens={expert_tokens};max_over_mean=1.5"})
                rows.append({**base, "variant": "fff", "block": "fff", "time_median_s": 0.5 * t / threads,
                             "p_weights": weights.replace("moe", "fff_ufb"), "extras": f"leaf_tokens={leaf_tokens}"})
        pd.DataFrame(rows).to_csv(os.path.join(d, "points.csv"), index=False)
        p = subprocess.run([sys.executable, os.path.join(ROOT, "plots", "quality_figures.py"), d],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        for name in ["quality_accuracy_vs_latency_T1", "quality_accuracy_vs_latency_T2", "quality_accuracy_vs_flops_T1",
                     "quality_expert_load", "quality_leaf_histogram", "quality_random_vs_trained"]:
            self.assertTrue(os.path.isfile(os.path.join(d, "figures", name + ".png")), name + "\n" + p.stdout)


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main(verbosity=1, warnings="ignore")
