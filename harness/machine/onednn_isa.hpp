// oneDNN's CPU dispatch: the ISA its primitives are generated for (what ran, per point in
// points.csv), and the cap a user may set with ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA).
#pragma once

#include <string>
#include <vector>

namespace ffnbench {

// dnnl::get_effective_cpu_isa() by oneDNN's own lower-case names ("avx512_core_bf16",
// "avx512_core_amx", "avx2", ...).
std::string onednn_effective_isa();

// The names ONEDNN_MAX_CPU_ISA accepts, lowest first (oneDNN's partial order: sse41 < avx <
// avx2 < avx2_vnni and avx2 < avx512_core < avx512_core_vnni < avx512_core_bf16 < avx512_core_amx).
const std::vector<std::string>& onednn_isa_names();

// The ISAs of onednn_isa_names() this CPU runs (oneDNN's CPUID checks), lowest first.
std::vector<std::string> onednn_isas_of_this_cpu();

// Checks ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA when set: an unknown name, or an ISA this CPU does
// not have (oneDNN would silently run a lower one: the cap would not be what ran), throws
// ConfigError naming the variable, the value and the ISAs allowed here. "ALL" and the names in
// either case are accepted.
void check_onednn_max_isa_env();

}  // namespace ffnbench
