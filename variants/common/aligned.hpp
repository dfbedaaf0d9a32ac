// 64-byte aligned storage for weights, tables and activations (one cache line, one zmm).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
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
  template <class U>
  bool operator==(const AlignedAllocator<U, Alignment>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U, Alignment>&) const noexcept { return false; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace ffnbench
