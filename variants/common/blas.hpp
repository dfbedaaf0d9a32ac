// The one BLAS entry point the dense-shaped variants share (OpenBLAS, OpenMP build: it runs on
// the same OpenMP pool and thread count the harness pins).
#pragma once

#include <cblas.h>
#include <cstdint>

namespace ffnbench {

// C[m][n] = alpha * A[m][k] * op(B) + beta * C, row-major. B is [k][n], or [n][k] if b_transposed.
inline void sgemm_rowmajor(int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda,
                           const float* B, int64_t ldb, bool b_transposed, float beta, float* C,
                           int64_t ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, A,
              static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

}  // namespace ffnbench
