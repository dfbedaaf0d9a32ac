"""The training INI (training/configs/*.ini): a [training] section shared by every model and one
[model.<name>] section per model; the cache hash of one model's configuration (FORMAT.md §5)."""
import configparser
import hashlib
import json

import torch

from . import FORMAT_VERSION

TRAINING_DEFAULTS = {"dataset": "fashion-mnist", "d": "128", "epochs": "4", "batch_size": "128", "lr": "0.002",
                     "weight_decay": "0", "seed": "1", "threads": "2", "activations": "1024",
                     "train_limit": "0", "test_limit": "0", "dense": "dense"}
INTEGER_KEYS = {"d": (1, 65536), "epochs": (1, 10000), "batch_size": (1, 1 << 20), "seed": (0, 2 ** 63 - 1),
                "threads": (1, 1024), "activations": (1, 1 << 24), "train_limit": (0, 1 << 30),
                "test_limit": (0, 1 << 30)}
REAL_KEYS = {"lr": (0.0, 10.0), "weight_decay": (0.0, 10.0)}
# Model-section keys the trainer reads itself (the rest go to the family's builder).
TRAINER_MODEL_KEYS = {"family": None, "hard_epochs": "0"}


class ConfigError(ValueError):
    pass


def _typed(section, key, raw):
    if key in INTEGER_KEYS:
        low, high = INTEGER_KEYS[key]
        try:
            v = int(raw)
        except ValueError:
            raise ConfigError(f"[{section}] {key} = {raw}: not an integer (allowed: {low}..{high})") from None
        if not low <= v <= high:
            raise ConfigError(f"[{section}] {key} = {raw}: out of range (allowed: {low}..{high})")
        return v
    if key in REAL_KEYS:
        low, high = REAL_KEYS[key]
        try:
            v = float(raw)
        except ValueError:
            raise ConfigError(f"[{section}] {key} = {raw}: not a number (allowed: {low}..{high})") from None
        if not low <= v <= high:
            raise ConfigError(f"[{section}] {key} = {raw}: out of range (allowed: {low}..{high})")
        return v
    return raw


def read(path, overrides=None):
    """(training dict, {name: model dict}) where a model dict is {family, hard_epochs, options}.
    overrides: {"training.<key>": value} applied on top of the file."""
    parser = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    parser.optionxform = str
    if not parser.read(path):
        raise ConfigError(f"{path}: cannot read the training configuration")
    raw = dict(TRAINING_DEFAULTS)
    if parser.has_section("training"):
        for key, value in parser.items("training"):
            if key not in TRAINING_DEFAULTS:
                raise ConfigError(f"[training] {key} = {value}: unknown key (allowed: {', '.join(sorted(TRAINING_DEFAULTS))})")
            raw[key] = value
    for key, value in (overrides or {}).items():
        name = key.split(".", 1)[1]
        if name not in TRAINING_DEFAULTS:
            raise ConfigError(f"--{key} {value}: unknown key (allowed: {', '.join(sorted(TRAINING_DEFAULTS))})")
        raw[name] = value
    if raw["dataset"] != "fashion-mnist":
        raise ConfigError(f"[training] dataset = {raw['dataset']}: unknown (allowed: fashion-mnist)")
    training = {k: _typed("training", k, v) for k, v in raw.items()}
    models = {}
    for section in parser.sections():
        if section == "training":
            continue
        if not section.startswith("model."):
            raise ConfigError(f"[{section}]: unknown section (allowed: [training], [model.<name>])")
        name = section[len("model."):]
        items = dict(parser.items(section))
        if "family" not in items:
            raise ConfigError(f"[{section}]: no family key (allowed: gemm_ffn, lookup_ffn, fff, moe, soft_lookup)")
        family = items.pop("family")
        hard_epochs = _typed(section, "hard_epochs", items.pop("hard_epochs", "0"))
        try:
            hard_epochs = int(hard_epochs)
        except ValueError:
            raise ConfigError(f"[{section}] hard_epochs = {hard_epochs}: not an integer") from None
        if not 0 <= hard_epochs <= training["epochs"]:
            raise ConfigError(f"[{section}] hard_epochs = {hard_epochs}: out of range (allowed: 0..{training['epochs']})")
        models[name] = {"family": family, "hard_epochs": hard_epochs, "options": items}
    if training["dense"] not in models:
        raise ConfigError(f"[training] dense = {training['dense']}: no [model.{training['dense']}] section")
    if models[training["dense"]]["family"] != "gemm_ffn":
        raise ConfigError(f"[model.{training['dense']}] family = {models[training['dense']]['family']}: "
                          "the dense twin must be gemm_ffn")
    return training, models


def hashed_config(training, model):
    """What one model's cache entry depends on (FORMAT.md §5); `dense` names the twin, not this model."""
    shared = {k: v for k, v in training.items() if k != "dense"}
    return {"format_version": FORMAT_VERSION, "torch": torch.__version__, "training": shared, "model": model}


def config_hash(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()[:12]
