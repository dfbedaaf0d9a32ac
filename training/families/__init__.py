"""One PyTorch module per ffnbench layer family, each computing exactly DESIGN.md §4's math in
eval mode (FORMAT.md §3 names its tensors). Every block has:
  family                     the C++ variant name
  includes_layernorm         whether the block starts with its own LayerNorm (FORMAT.md §2)
  routing_training           how its routing learns, one sentence (meta.json)
  params()                   its shape under the C++ parameter names
  export()                   name -> float32 numpy array, as FORMAT.md lays them out
  aux_loss                   a training-only loss term set by the last forward (0 if none)
"""
from . import fff, gemm_ffn, lookup_ffn, moe, soft_lookup

FAMILIES = {m.FAMILY: m for m in (gemm_ffn, lookup_ffn, fff, moe, soft_lookup)}


def build(family, d, options):
    """The family's block of width d from its INI options (strings); unknown options are errors."""
    if family not in FAMILIES:
        raise ValueError(f"family = {family}: unknown (allowed: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[family].build(d, options)
