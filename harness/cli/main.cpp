// ffnbench: sweep FFN kernel variants over sizes and threads, with counters, into CSVs.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/command.hpp"
#include "core/params.hpp"
#include "machine/blas_kernels.hpp"
#include "sweep/pinning.hpp"

namespace {

void print_usage() {
  std::printf("usage: ffnbench <command> [options]   (ffnbench <command> --help for each)\n\ncommands:\n");
  auto cmds = ffnbench::commands();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (const auto& c : cmds) std::printf("  %-10s %s\n", c.name.c_str(), c.summary.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  ffnbench::ensure_openblas_kernels_match_cpu(argv);  // may run the program again, before anything else
  ffnbench::configure_pinning();  // before any OpenMP region starts the runtime
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_usage();
    return argc < 2 ? ffnbench::kExitBadInput : ffnbench::kExitOk;
  }
  const std::string name = argv[1];
  for (const auto& c : ffnbench::commands()) {
    if (c.name != name) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const ffnbench::ConfigError& e) {
      std::fprintf(stderr, "ffnbench %s: %s\n", name.c_str(), e.what());
      return ffnbench::kExitBadInput;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ffnbench %s: error: %s\n", name.c_str(), e.what());
      return ffnbench::kExitFailure;
    }
  }
  std::fprintf(stderr, "ffnbench: unknown command '%s'\n", name.c_str());
  print_usage();
  return ffnbench::kExitBadInput;
}
