// Test support: running the ffnbench binary, and small synthetic run folders with the real CSV headers (results/schema.hpp), as
// `ffnbench sweep` writes them, for the merge and report tests.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ffnbench::testing {

struct SyntheticPoint {
  std::string block = "gemm_ffn", variant = "gemm_ffn", impl = "openblas", precision = "fp32";
  int64_t d = 512, d_ff = 2048, tokens = 64;
  int threads = 1;
  double time_s = 1e-3;
  double flops = 0;                           // 0: the dense FFN's 4·N·d·d_ff
  std::map<std::string, std::string> params;  // p_<name> values beyond d and d_ff
  std::string point_id() const;
};

struct SyntheticRun {
  std::string machine_id = "intel-test-2c-0001";
  std::string run_id = "20240101-120000";
  std::string model_name = "Test CPU";
  std::string experiment = "name = tiny\ntokens = 64\nthreads = 1\n\n[gemm_ffn]\nd = 512\nd_ff = 2048\n";
  std::vector<std::string> param_names = {"b", "d", "d_ff", "depth", "h", "order", "projection", "table_precision", "tau"};
  std::vector<SyntheticPoint> points;
  bool ceilings = false;
};

// Writes <root>/<machine_id>/<run_id>/ and returns its path.
std::filesystem::path write_run(const std::filesystem::path& root, const SyntheticRun& run);

// A fresh temporary folder named after the running test; removed by the caller.
std::filesystem::path test_temp_dir(const std::string& tag);

std::string slurp(const std::filesystem::path& path);

// `ffnbench <args>` as a user runs it: exit status and stdout + stderr.
struct CliResult {
  int status = -1;
  std::string output;
};
// `launcher` runs in front of the binary, e.g. "taskset -c 0" or "env OMP_PROC_BIND=close".
CliResult run_cli(const std::string& args, const std::string& launcher = "");
std::string column(const std::vector<std::vector<std::string>>& rows, size_t row, const std::string& name);

}  // namespace ffnbench::testing
