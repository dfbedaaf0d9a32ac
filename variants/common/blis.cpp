#include "common/blis.hpp"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>

// blis.h brings BLIS's own cblas.h declarations: it must never share a translation unit with
// OpenBLAS's cblas.h (blas.hpp). Only types and prototypes are used here; nothing links to BLIS.
#include <blis.h>

#ifndef FFNBENCH_BLIS_LIBRARY
#error "FFNBENCH_BLIS_LIBRARY (the path of libblis.so.4, OpenMP flavour) is set by cmake/dependencies.cmake"
#endif

namespace ffnbench {
namespace {

struct BlisApi {
  void* handle = nullptr;
  decltype(&bli_sgemm_ex) sgemm_ex = nullptr;
  decltype(&bli_info_get_version_str) version = nullptr;
  decltype(&bli_arch_query_id) arch_id = nullptr;
  decltype(&bli_arch_string) arch_name = nullptr;
};

void* symbol(void* handle, const char* name) {
  void* f = dlsym(handle, name);
  if (!f) throw std::runtime_error(std::string("BLIS: ") + FFNBENCH_BLIS_LIBRARY + " has no symbol " + name);
  return f;
}

const BlisApi& blis() {
  static BlisApi api;
  static std::once_flag once;
  std::call_once(once, [] {
    // RTLD_LOCAL: BLIS's sgemm_/cblas_* stay out of the global scope. bli_* names are BLIS's own,
    // so its internal calls cannot be interposed by OpenBLAS either.
    void* h = dlopen(FFNBENCH_BLIS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h)
      throw std::runtime_error(std::string("BLIS: cannot load ") + FFNBENCH_BLIS_LIBRARY + ": " + dlerror() +
                               " (Debian: apt-get install libblis-openmp-dev)");
    api.sgemm_ex = reinterpret_cast<decltype(&bli_sgemm_ex)>(symbol(h, "bli_sgemm_ex"));
    api.version = reinterpret_cast<decltype(&bli_info_get_version_str)>(symbol(h, "bli_info_get_version_str"));
    api.arch_id = reinterpret_cast<decltype(&bli_arch_query_id)>(symbol(h, "bli_arch_query_id"));
    api.arch_name = reinterpret_cast<decltype(&bli_arch_string)>(symbol(h, "bli_arch_string"));
    api.handle = h;
  });
  return api;
}

std::string file_of(const void* address) {
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

}  // namespace

void blis_sgemm_rowmajor(int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B,
                         int64_t ldb, bool b_transposed, float beta, float* C, int64_t ldc, int threads) {
  const BlisApi& api = blis();
  rntm_t rntm;
  bli_rntm_init(&rntm);
  bli_rntm_set_num_threads(threads, &rntm);
  // Row-major: row stride = leading dimension, column stride 1. B^T is [n][k] read with swapped strides.
  const inc_t rsb = b_transposed ? 1 : ldb, csb = b_transposed ? ldb : 1;
  api.sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, const_cast<float*>(A), lda, 1,
               const_cast<float*>(B), rsb, csb, &beta, C, ldc, 1, nullptr, &rntm);
}

std::string blis_version() { return blis().version(); }

std::string blis_arch() { return blis().arch_name(blis().arch_id()); }

std::string blis_gemm_library_file() { return file_of(reinterpret_cast<const void*>(blis().sgemm_ex)); }

std::string cblas_sgemm_library_file() { return file_of(dlsym(RTLD_DEFAULT, "cblas_sgemm")); }

}  // namespace ffnbench
