#include "calibrate/likwid_bench.hpp"

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <sstream>
#include <stdexcept>

namespace ffnbench {
namespace {

// The number after "<label>:" at the start of a line, if any.
bool field(const std::string& line, const std::string& label, double& out) {
  if (line.rfind(label + ":", 0) != 0) return false;
  out = std::strtod(line.c_str() + label.size() + 1, nullptr);
  return true;
}

}  // namespace

bool likwid_bench_available() { return std::system("command -v likwid-bench >/dev/null 2>&1") == 0; }

std::string likwid_bench_command(const std::string& test, int64_t bytes, int threads, int64_t iterations) {
  std::string cmd = fmt::format("likwid-bench -t {} -w S0:{}B:{}", test, bytes, threads);
  if (iterations > 0) cmd += fmt::format(" -i {}", iterations);
  return cmd;
}

LikwidBenchResult parse_likwid_bench(const std::string& output) {
  LikwidBenchResult r;
  bool flops = false, bytes = false;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    flops |= field(line, "MFlops/s", r.mflops_per_s);
    bytes |= field(line, "MByte/s", r.mbytes_per_s);
  }
  if (!flops && !bytes) throw std::runtime_error("likwid-bench printed no MFlops/s or MByte/s line");
  return r;
}

LikwidBenchResult run_likwid_bench(const std::string& test, int64_t bytes, int threads, int64_t iterations) {
  const std::string cmd = likwid_bench_command(test, bytes, threads, iterations);
  std::FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + cmd);
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
  const int status = pclose(pipe);
  try {
    if (status != 0) throw std::runtime_error("exit status");
    return parse_likwid_bench(output);
  } catch (const std::runtime_error&) {
    std::string last = output;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
    throw std::runtime_error(fmt::format("'{}' failed: {}", cmd, last));
  }
}

}  // namespace ffnbench
