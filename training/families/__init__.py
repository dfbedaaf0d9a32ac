"""One PyTorch module per ffnbench layer family, each computing exactly DESIGN.md §4's math in
eval mode (FORMAT.md §3 names its tensors). Every block has:
  family                     the C++ variant name
  includes_layernorm         whether the block starts with its own LayerNorm (FORMAT.md §2)
  routing_training           how its routing learns, one sentence (meta.json)
  params()                   its shape under the C++ parameter names
  export()                   name -> float32 numpy array, as FORMAT.md lays them out
  exported_parameters()      name -> the nn.Parameter export() writes under that name
  aux_loss                   a training-only loss term set by the last forward (0 if none)
"""
import numpy as np
import torch

from . import fff, gemm_ffn, lookup_ffn, moe, soft_lookup

FAMILIES = {m.FAMILY: m for m in (gemm_ffn, lookup_ffn, fff, moe, soft_lookup)}


def build(family, d, options):
    """The family's block of width d from its INI options (strings); unknown options are errors."""
    if family not in FAMILIES:
        raise ValueError(f"family = {family}: unknown (allowed: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[family].build(d, options)


def load_export(block, tensors):
    """Sets every parameter of `block` from an export (name -> array, FORMAT.md §3): the inverse of
    block.export(). The names must be exactly the block's and the shapes its own; every parameter
    of the block must be one of them (nothing keeps its initial value)."""
    named = block.exported_parameters()
    if set(named) != set(tensors):
        raise ValueError(f"{block.family}: export has tensors {sorted(tensors)}, the block needs {sorted(named)}")
    if {id(p) for p in named.values()} != {id(p) for p in block.parameters()}:
        raise ValueError(f"{block.family}: exported_parameters() does not cover every parameter")
    with torch.no_grad():
        for name, p in named.items():
            a = np.asarray(tensors[name], dtype=np.float32)
            if tuple(a.shape) != tuple(p.shape):
                raise ValueError(f"{block.family}: tensor {name} has shape {list(a.shape)}, the block needs {list(p.shape)}")
            p.copy_(torch.from_numpy(a.copy()))
    return block
