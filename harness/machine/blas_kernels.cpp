#include "machine/blas_kernels.hpp"

#include <cblas.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

#include "machine/topology.hpp"

namespace ffnbench {
namespace {

constexpr const char* kNoteVariable = "FFNBENCH_OPENBLAS_CORE_NOTE";

// OpenBLAS's DYNAMIC_ARCH falls back to these when it does not recognise the CPU.
bool is_generic_fallback(const std::string& core) {
  return core == "Prescott" || core == "Core2" || core == "Nehalem" || core == "generic";
}

}  // namespace

std::string openblas_core_override(const std::string& core, bool avx512_bf16, bool avx512, bool avx2) {
  if (!is_generic_fallback(core)) return {};
  if (avx512_bf16) return "Cooperlake";  // AVX-512 with BF16: Cooper Lake's kernels and up
  if (avx512) return "SkylakeX";
  if (avx2) return "Haswell";
  return {};
}

void ensure_openblas_kernels_match_cpu(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const char* name = openblas_get_corename();
  const std::string core = name != nullptr ? name : "";
  const std::string target =
      openblas_core_override(core, __builtin_cpu_supports("avx512bf16"), __builtin_cpu_supports("avx512f"),
                             __builtin_cpu_supports("avx2"));
  if (target.empty()) return;
  std::string version = OPENBLAS_VERSION;  // " OpenBLAS 0.3.21 "
  version.erase(0, version.find_first_not_of(' '));
  version.erase(version.find_last_not_of(' ') + 1);
  const std::string note =
      fmt::format("{} chose its generic {} kernels for this CPU; OPENBLAS_CORETYPE={} set by ffnbench", version,
                  core, target);
  setenv("OPENBLAS_CORETYPE", target.c_str(), 1);
  setenv(kNoteVariable, note.c_str(), 1);
  widen_affinity_to_usable_cpus();
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "ffnbench: warning: could not re-run with OPENBLAS_CORETYPE=%s (%s); OpenBLAS runs its %s "
               "kernels\n", target.c_str(), std::strerror(errno), core.c_str());
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kNoteVariable);
}

std::string openblas_core_note() {
  const char* note = std::getenv(kNoteVariable);
  return note != nullptr ? note : "";
}

std::string openblas_core_for_valgrind() {
  const bool chosen_by_us = std::getenv(kNoteVariable) != nullptr;
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr && !chosen_by_us) return {};  // the user's
  return __builtin_cpu_supports("avx") ? "Sandybridge" : "";
}

}  // namespace ffnbench
