// BLIS (Debian's libblis, OpenMP flavour) next to OpenBLAS. Both libraries export sgemm_ and
// cblas_sgemm, so BLIS is never linked: libblis.so.4 is dlopen'ed RTLD_LOCAL on first use (none
// of its symbols enters the global scope, so no cblas_sgemm call anywhere can bind to it, nor can
// OpenBLAS's bind to BLIS's) and called through its own typed API, bli_sgemm_ex, whose name only
// BLIS exports. Every call carries its own runtime object with the thread count, so no global
// BLIS state is shared between points.
#pragma once

#include <cstdint>
#include <string>

namespace ffnbench {

// C[m][n] = alpha * A[m][k] * op(B) + beta * C, row-major, as sgemm_rowmajor (blas.hpp), on
// `threads` BLIS threads (1 inside an OpenMP parallel region).
void blis_sgemm_rowmajor(int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B,
                         int64_t ldb, bool b_transposed, float beta, float* C, int64_t ldc, int threads);

// "0.9.0": bli_info_get_version_str of the loaded library. Throws if BLIS cannot be loaded.
std::string blis_version();

// The sub-configuration (kernel set) BLIS chose for this CPU at load: "zen3", "skx", "haswell",
// or "generic" (portable C reference kernels) for a CPU it does not know.
std::string blis_arch();

// The file each library's gemm entry point really lives in (dladdr): bli_sgemm_ex as loaded
// here, and cblas_sgemm as the process's global symbol lookup binds it (what sgemm_rowmajor calls).
std::string blis_gemm_library_file();
std::string cblas_sgemm_library_file();

}  // namespace ffnbench
