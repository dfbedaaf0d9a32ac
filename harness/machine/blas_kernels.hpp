// OpenBLAS chooses its kernels once, when the library loads, from the CPU model. A release older
// than the CPU (Debian 12's 0.3.21 on Emerald Rapids) does not know the model and falls back to
// Prescott's SSE3 kernels, several times slower: every variant compared with that dense baseline
// would look faster than it is. ffnbench therefore checks the choice at start-up and, when it is
// such a fallback on a CPU with AVX2 or AVX-512, runs itself again with OPENBLAS_CORETYPE naming
// the newest kernels the CPU can execute. A user-set OPENBLAS_CORETYPE is always respected.
#pragma once

#include <string>

namespace ffnbench {

// The OPENBLAS_CORETYPE this CPU should get when OpenBLAS chose `core` by itself, or "" when the
// choice is fine. `avx512_bf16`, `avx512`, `avx2` are the CPU's features.
std::string openblas_core_override(const std::string& core, bool avx512_bf16, bool avx512, bool avx2);

// At the top of main(): re-executes the program with the override when one is needed (returns
// only when none is, or when the re-execution failed, after saying so on stderr).
void ensure_openblas_kernels_match_cpu(char** argv);

// What was done, for machine.json ("" when OpenBLAS's own choice stands).
std::string openblas_core_note();

// The OPENBLAS_CORETYPE a child run under valgrind should get, or "" to leave the child's
// environment as it is: AVX kernels without FMA (Sandybridge). valgrind executes no AVX-512 and
// runs each FMA through a helper call, over 10x slower than the rest; the FMA-free kernels read
// and write the same data, which is what the cache simulation counts.
std::string openblas_core_for_valgrind();

}  // namespace ffnbench
