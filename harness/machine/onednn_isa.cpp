#include "machine/onednn_isa.hpp"

#include <cpuid.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/params.hpp"

namespace ffnbench {
namespace {

struct IsaName {
  dnnl::cpu_isa isa;
  const char* name;
};

// Lowest first; avx2_vnni sits beside the AVX-512 chain (above avx2 only).
const IsaName kIsas[] = {
    {dnnl::cpu_isa::sse41, "sse41"},
    {dnnl::cpu_isa::avx, "avx"},
    {dnnl::cpu_isa::avx2, "avx2"},
    {dnnl::cpu_isa::avx2_vnni, "avx2_vnni"},
    {dnnl::cpu_isa::avx512_core, "avx512_core"},
    {dnnl::cpu_isa::avx512_core_vnni, "avx512_core_vnni"},
    {dnnl::cpu_isa::avx512_core_bf16, "avx512_core_bf16"},
    {dnnl::cpu_isa::avx512_core_amx, "avx512_core_amx"},
};

bool cpuid_bit(unsigned leaf, unsigned sub, int reg, int bit) {
  unsigned r[4] = {0, 0, 0, 0};
  if (!__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3])) return false;
  return (r[reg] >> bit) & 1u;
}

// What oneDNN's own CPUID checks ask for each ISA (cpu_isa_traits.hpp of oneDNN 2.6/2.7).
bool cpu_has(const std::string& name) {
  const bool avx512_core = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (name == "sse41") return __builtin_cpu_supports("sse4.1");
  if (name == "avx") return __builtin_cpu_supports("avx");
  if (name == "avx2") return __builtin_cpu_supports("avx2");
  if (name == "avx2_vnni") return __builtin_cpu_supports("avx2") && cpuid_bit(7, 1, 0, 4);  // AVX-VNNI
  if (name == "avx512_core") return avx512_core;
  if (name == "avx512_core_vnni") return avx512_core && __builtin_cpu_supports("avx512vnni");
  if (name == "avx512_core_bf16") return cpu_has("avx512_core_vnni") && __builtin_cpu_supports("avx512bf16");
  // AMX-TILE, AMX-INT8, AMX-BF16 (CPUID 7.0 EDX bits 24, 25, 22)
  if (name == "avx512_core_amx")
    return cpu_has("avx512_core_bf16") && cpuid_bit(7, 0, 3, 24) && cpuid_bit(7, 0, 3, 25) && cpuid_bit(7, 0, 3, 22);
  return false;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string onednn_effective_isa() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  for (const IsaName& i : kIsas)
    if (i.isa == isa) return i.name;
  return fmt::format("isa_0x{:x}", static_cast<unsigned>(isa));
}

const std::vector<std::string>& onednn_isa_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const IsaName& i : kIsas) n.push_back(i.name);
    return n;
  }();
  return names;
}

std::vector<std::string> onednn_isas_of_this_cpu() {
  std::vector<std::string> out;
  for (const std::string& n : onednn_isa_names())
    if (cpu_has(n)) out.push_back(n);
  return out;
}

void check_onednn_max_isa_env() {
  for (const char* var : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {
    const char* value = std::getenv(var);
    if (value == nullptr || *value == '\0') continue;
    const std::string name = lower(value);
    if (name == "all") continue;
    const std::vector<std::string> here = onednn_isas_of_this_cpu();
    const std::string allowed = fmt::format("one of ALL, {} (the ISAs of this CPU, in either case)", fmt::join(here, ", "));
    const auto& all = onednn_isa_names();
    if (std::find(all.begin(), all.end(), name) == all.end())
      throw ConfigError(var, value, fmt::format("not a oneDNN ISA; {}", allowed));
    if (std::find(here.begin(), here.end(), name) == here.end())
      throw ConfigError(var, value, fmt::format("this CPU has no {} (oneDNN would run a lower ISA); {}", name, allowed));
  }
}

}  // namespace ffnbench
