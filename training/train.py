"""Trains every model of a training INI (cached by the hash of its configuration) and exports
each as FORMAT.md describes:
  /usr/bin/python3 -m training.train training/configs/quality.ini [--out results/models]
      [--only name,name] [--training.<key> value ...]
Exit status 2 with one message on a bad configuration; nothing is half-written (a model's
folder is built under a temporary name and renamed when complete)."""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
from torch import nn

from . import config as cfg
from . import fashion_mnist, families, safetensors_io
from .model import Classifier

EVAL_BATCH = 2000


def set_determinism(seed, threads):
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def evaluate(model, x, y):
    """(accuracy fraction, mean cross-entropy) in eval mode (hard routing)."""
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], EVAL_BATCH):
            logits = model(x[i:i + EVAL_BATCH])
            loss += nn.functional.cross_entropy(logits, y[i:i + EVAL_BATCH], reduction="sum").item()
            correct += int((logits.argmax(1) == y[i:i + EVAL_BATCH]).sum())
    return correct / x.shape[0], loss / x.shape[0]


def train_one(training, model_cfg, data):
    """Builds and trains one model; returns (classifier, seconds)."""
    set_determinism(training["seed"], training["threads"])
    block = families.build(model_cfg["family"], training["d"], model_cfg["options"])
    model = Classifier(training["d"], block)
    x_train, y_train = data["train"]
    steps_per_epoch = math.ceil(x_train.shape[0] / training["batch_size"])
    total = steps_per_epoch * training["epochs"]
    opt = torch.optim.AdamW(model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    shuffle = torch.Generator().manual_seed(training["seed"])
    start = time.perf_counter()
    for epoch in range(training["epochs"]):
        if hasattr(block, "set_hard_training"):
            block.set_hard_training(epoch >= training["epochs"] - model_cfg["hard_epochs"])
        model.train()
        order = torch.randperm(x_train.shape[0], generator=shuffle)
        for s in range(steps_per_epoch):
            idx = order[s * training["batch_size"]:(s + 1) * training["batch_size"]]
            logits = model(x_train[idx])
            loss = nn.functional.cross_entropy(logits, y_train[idx]) + block.aux_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model, time.perf_counter() - start


def export(model, folder, data, training):
    safetensors_io.save(os.path.join(folder, "block.safetensors"), model.block.export(),
                        {"format": "pt", "family": model.block.family})
    safetensors_io.save(os.path.join(folder, "model.safetensors"), model.export_outside_block(), {"format": "pt"})
    x_test = data["test"][0][:training["activations"]]
    model.eval()
    with torch.no_grad():
        _, x = model.residual_and_block_input(x_test)
        y = model.block(x)
    safetensors_io.save(os.path.join(folder, "activations.safetensors"),
                        {"x": x.numpy().astype(np.float32), "y": y.numpy().astype(np.float32)},
                        {"format": "pt", "split": "test", "first": "0", "n": str(x.shape[0])})
    return x.shape[0]


def write_json(path, obj):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def point_symlink(out, name, folder_name):
    link = os.path.join(out, name)
    tmp = f"{link}.tmp{os.getpid()}"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(folder_name, tmp)
    os.replace(tmp, link)


def run_model(name, training, model_cfg, data, out, dense_meta, log):
    hashed = cfg.hashed_config(training, model_cfg)
    h = cfg.config_hash(hashed)
    folder_name = f"{name}-{h}"
    folder = os.path.join(out, folder_name)
    meta_path = os.path.join(folder, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        point_symlink(out, name, folder_name)
        log(f"{name}: cached in {folder} (test accuracy {meta['test_accuracy']:.4f})")
        return meta, True
    model, seconds = train_one(training, model_cfg, data)
    accuracy, loss = evaluate(model, *data["test"])
    tmp = f"{folder}.partial{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    n = export(model, tmp, data, training)
    block = model.block
    meta = {
        "format": "ffnbench-trained-block/1", "name": name, "family": block.family, "params": block.params(),
        "block_includes_layernorm": block.includes_layernorm, "routing_training": block.routing_training,
        "dataset": training["dataset"], "dataset_files": data["files"],
        "train_examples": int(data["train"][0].shape[0]), "test_examples": int(data["test"][0].shape[0]),
        "epochs": training["epochs"], "batch_size": training["batch_size"], "optimizer": "adamw",
        "lr": training["lr"], "lr_schedule": "cosine to 0 over all steps", "weight_decay": training["weight_decay"],
        "seed": training["seed"], "threads": training["threads"], "training_seconds": round(seconds, 3),
        "test_accuracy": accuracy, "test_loss": loss, "dense_name": training["dense"],
        "dense_test_accuracy": dense_meta["test_accuracy"] if dense_meta else accuracy,
        "dense_test_loss": dense_meta["test_loss"] if dense_meta else loss,
        "activations": {"split": "test", "first": 0, "n": n},
        "config_hash": h, "config": hashed, "torch_version": torch.__version__, "numpy_version": np.__version__,
    }
    if model_cfg["family"] == "fff" and block.leaf_width > 0:
        meta["hard_epochs"] = model_cfg["hard_epochs"]
    write_json(os.path.join(tmp, "meta.json"), meta)
    if os.path.exists(folder):  # an incomplete folder left by an interrupted older run
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    point_symlink(out, name, folder_name)
    log(f"{name}: trained in {seconds:.1f} s, test accuracy {accuracy:.4f} (loss {loss:.4f}) -> {folder}")
    return meta, False


def load_data(training):
    data = {"files": {}}
    for split, limit in (("train", training["train_limit"]), ("test", training["test_limit"])):
        x, y, files = fashion_mnist.load(split, limit=limit)
        data[split] = (torch.from_numpy(x), torch.from_numpy(y))
        data["files"][split] = list(files)
    return data


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("config")
    p.add_argument("--out", default="results/models")
    p.add_argument("--only", default="", help="comma-separated model names (the dense twin is always included)")
    args, rest = p.parse_known_args(argv)
    overrides = {}
    while rest:
        key = rest.pop(0)
        if not key.startswith("--training.") or not rest:
            print(f"error: argument {key}: expected --training.<key> <value>", file=sys.stderr)
            return 2
        overrides[key[2:]] = rest.pop(0)
    try:
        training, models = cfg.read(args.config, overrides)
        wanted = [m for m in args.only.split(",") if m] or list(models)
        for m in wanted:
            if m not in models:
                raise cfg.ConfigError(f"--only {m}: no [model.{m}] section (allowed: {', '.join(models)})")
        for name, m in models.items():  # every section is checked before anything trains
            families.build(m["family"], training["d"], m["options"])
    except (cfg.ConfigError, ValueError) as e:
        print(f"error: {args.config}: {e}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    data = load_data(training)
    dense_name = training["dense"]
    dense_meta, _ = run_model(dense_name, training, models[dense_name], data, args.out, None, print)
    summary = [dense_meta]
    for name in wanted:
        if name != dense_name:
            summary.append(run_model(name, training, models[name], data, args.out, dense_meta, print)[0])
    print(f"\n{'model':<20}{'family':<13}{'accuracy':>9}{'gap (pts)':>11}{'train s':>9}")
    for m in summary:
        gap = 100 * (m["test_accuracy"] - m["dense_test_accuracy"])
        print(f"{m['name']:<20}{m['family']:<13}{100 * m['test_accuracy']:>8.2f}%{gap:>+11.2f}{m['training_seconds']:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
