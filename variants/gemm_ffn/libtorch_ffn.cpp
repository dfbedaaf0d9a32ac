// impl = libtorch's loader: libffnbench_torch.so (torch/libtorch_module.cpp, built with
// FFNBENCH_LIBTORCH) is dlopen'ed on the first libtorch kernel, so only processes that run one
// load libtorch.
#include "gemm_ffn/libtorch_ffn.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace ffnbench {
namespace {

using Factory = LibtorchFfn* (*)(const DenseFfnWeights*, const char*, bool);

struct Module {
  Factory make = nullptr;
  std::string error;  // why it could not be loaded
};

#ifdef FFNBENCH_TORCH_MODULE
// Next to the executable (ffnbench), one folder up (tests/ffnbench_tests), else where it was built.
std::vector<std::string> module_candidates() {
  std::vector<std::string> paths;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string name = std::filesystem::path(FFNBENCH_TORCH_MODULE).filename().string();
  if (!ec) {
    paths.push_back((exe.parent_path() / name).string());
    paths.push_back((exe.parent_path().parent_path() / name).string());
  }
  paths.push_back(FFNBENCH_TORCH_MODULE);
  return paths;
}
#endif

const Module& module() {
  static Module m;
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef FFNBENCH_TORCH_MODULE
    for (const std::string& path : module_candidates()) {
      if (!std::filesystem::exists(path)) continue;
      void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        m.error = std::string("cannot load ") + path + ": " + dlerror();
        return;
      }
      m.make = reinterpret_cast<Factory>(dlsym(h, "ffnbench_make_libtorch_ffn"));
      if (!m.make) m.error = path + " has no ffnbench_make_libtorch_ffn";
      return;
    }
    m.error = std::string("its module ") + FFNBENCH_TORCH_MODULE + " is missing (rebuild)";
#else
    m.error = "this build has no libtorch (configure with -DFFNBENCH_LIBTORCH=ON, Debian package libtorch-dev)";
#endif
  });
  return m;
}

}  // namespace

bool libtorch_available() { return module().make != nullptr; }

std::string libtorch_unavailable_reason() { return module().error; }

std::unique_ptr<LibtorchFfn> make_libtorch_ffn(const DenseFfnWeights& w, const std::string& activation, bool bf16) {
  if (!module().make) throw std::logic_error("impl=libtorch: " + module().error + " (validate() refuses it first)");
  return std::unique_ptr<LibtorchFfn>(module().make(&w, activation.c_str(), bf16));
}

}  // namespace ffnbench
