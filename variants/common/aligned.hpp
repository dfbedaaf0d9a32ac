// 64-byte aligned storage for weights, tables and activations (one cache line, one zmm).
// Elements are default-initialised: `AlignedVector<float> v(n)` allocates without writing, so the
// first write (first touch, which decides a page's NUMA node) is made by the threads that fill
// it. Zero it explicitly (zero_parallel) where zeros are meant.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace ffnbench {

template <class T, size_t Alignment = 64>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, Alignment>;
  };
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, Alignment>&) noexcept {}
  T* allocate(size_t n) {
    size_t bytes = (n * sizeof(T) + Alignment - 1) / Alignment * Alignment;
    void* p = std::aligned_alloc(Alignment, bytes == 0 ? Alignment : bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept { std::free(p); }
  // Default-initialisation for resize(n) and vector(n): trivial types stay unwritten.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const AlignedAllocator<U, Alignment>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U, Alignment>&) const noexcept { return false; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// Writes `value` to p[0..n) with a static OpenMP schedule over the current thread count, so
// each page is first touched by the thread that a static loop over the same range gives it.
template <class T>
void fill_parallel(T* p, size_t n, T value) {
#pragma omp parallel for schedule(static) if (n > (1u << 14))
  for (size_t i = 0; i < n; ++i) p[i] = value;
}
template <class T>
void zero_parallel(T* p, size_t n) {
  fill_parallel(p, n, T{});
}

}  // namespace ffnbench
