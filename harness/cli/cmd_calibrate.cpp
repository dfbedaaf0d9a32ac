// `ffnbench calibrate`: measures the roofline ceilings (peak FP32 FLOP/s per ISA, L1/L2/L3/DRAM
// bandwidth) per thread count and writes <out>/ceilings.json (schema in calibrate/calibrate.hpp).
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>

#include "calibrate/calibrate.hpp"
#include "cli/command.hpp"
#include "core/params.hpp"

namespace ffnbench {
namespace {

namespace po = boost::program_options;
namespace fs = std::filesystem;

std::vector<int> parse_thread_list(const std::string& text) {
  const int cores = usable_cores();
  const std::string allowed = fmt::format("a comma list of thread counts in [1, {}] or 'all'", cores);
  std::vector<int> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    int64_t n = 0;
    if (item == "all") n = cores;
    else if (!parse_int(item, n) || n < 1 || n > cores) throw ConfigError("threads", text, allowed);
    out.push_back(static_cast<int>(n));
  }
  if (out.empty()) throw ConfigError("threads", text, allowed);
  return out;
}

// Creates the folder and checks that a file can be written there, before anything is measured.
fs::path prepare_out(const std::string& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  const fs::path probe = fs::path(out) / ".ffnbench-write-test";
  std::ofstream f(probe);
  if (ec || !f) throw ConfigError("out", out, "a folder that can be created and written");
  f.close();
  fs::remove(probe, ec);
  return out;
}

int run_calibrate(int argc, char** argv) {
  std::string out, threads, dram_cap;
  double budget = 30;
  po::options_description opts(
      "ffnbench calibrate [options]\n\n"
      "Measures peak FP32 FLOP/s (FMA micro-kernel per ISA) and L1/L2/L3/DRAM bandwidth (load and\n"
      "triad kernels, working sets sized from the machine's caches) per thread count, on pinned\n"
      "threads, and writes <out>/ceilings.json for the roofline figure and % of peak columns.\n\n"
      "options");
  opts.add_options()
      ("help,h", "this help")
      ("out", po::value(&out)->default_value("results/calibrate"), "folder for ceilings.json")
      ("threads", po::value(&threads)->default_value("1,all"), "thread counts, e.g. 1,2,all")
      ("budget", po::value(&budget)->default_value(30), "seconds for all timed kernels (allocation not included)")
      ("dram-cap", po::value(&dram_cap)->default_value("1G"),
       "largest DRAM working set (the set is min(4 × LLC, this)), e.g. 512M")
      ("crosscheck", "also run likwid-bench on the same working sets and compare (exit 1 if any differs by > 15%)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "ffnbench calibrate: %s\n", e.what());
    return kExitBadInput;
  }
  if (vm.count("help")) {
    std::cout << opts << '\n';
    return kExitOk;
  }

  CalibrateOptions options;
  options.threads = parse_thread_list(threads);
  if (!(budget >= 0.01 && budget <= 3600)) throw ConfigError("budget", fmt::format("{}", budget), "seconds in [0.01, 3600]");
  options.budget_s = budget;
  if (!parse_byte_size(dram_cap, options.dram_cap_bytes) || options.dram_cap_bytes < (1 << 20))
    throw ConfigError("dram-cap", dram_cap, "a size of at least 1M, e.g. 512M or 2G");
  options.crosscheck = vm.count("crosscheck") != 0;
  const fs::path folder = prepare_out(out);

  const Ceilings ceilings = run_calibration(options, [](const std::string& line) {
    std::fprintf(stderr, "calibrate: %s\n", line.c_str());
  });
  for (const auto& note : ceilings.notes) std::fprintf(stderr, "calibrate: note: %s\n", note.c_str());
  const fs::path file = folder / "ceilings.json";
  std::ofstream(file) << to_json(ceilings).dump(2) << '\n';
  std::printf("%s\n", file.c_str());

  size_t outside = 0;
  for (const auto& x : ceilings.crosscheck) outside += x.ok ? 0 : 1;
  if (outside > 0) {
    std::fprintf(stderr, "calibrate: crosscheck: %zu of %zu differ from likwid-bench by more than 15%%\n", outside,
                 ceilings.crosscheck.size());
    return kExitFailure;
  }
  return kExitOk;
}

const CommandRegistrar registrar{{"calibrate", "measure roofline ceilings (peak FLOP/s, cache and DRAM bandwidth) -> ceilings.json",
                                  run_calibrate}};

}  // namespace
}  // namespace ffnbench
