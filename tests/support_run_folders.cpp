#include "support_run_folders.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "results/csv.hpp"
#include "results/schema.hpp"

namespace fs = std::filesystem;

namespace ffnbench::testing {

std::string SyntheticPoint::point_id() const {
  std::string config = fmt::format("d={};d_ff={};impl={};precision={}", d, d_ff, impl, precision);
  for (const auto& [k, v] : params) config += ";" + k + "=" + v;
  return fmt::format("{}|{}|N={}|T={}", block, config, tokens, threads);
}

fs::path write_run(const fs::path& root, const SyntheticRun& run) {
  const fs::path dir = root / run.machine_id / run.run_id;
  fs::create_directories(dir);
  std::ofstream(dir / "experiment.ini") << run.experiment;
  nlohmann::json machine = {
      {"machine_id", run.machine_id},
      {"hostname", "host-" + run.machine_id},
      {"cpu",
       {{"model_name", run.model_name}, {"vendor", "GenuineIntel"}, {"microarchitecture", "Test Lake"},
        {"isa", {"avx2", "avx512f"}}, {"physical_cores", 2}, {"logical_cpus", 2}, {"sockets", 1},
        {"caches", {{{"level", 1}, {"type", "Data"}, {"size_bytes", 49152}},
                    {{"level", 2}, {"type", "Unified"}, {"size_bytes", 2097152}}}}}}};
  std::ofstream(dir / "machine.json") << machine.dump(2);
  if (run.ceilings)
    std::ofstream(dir / "ceilings.json")
        << nlohmann::json{{"schema", "ffnbench.ceilings/1"}, {"cpu", run.model_name},
                          {"peak_flops", {{{"isa", "avx512"}, {"threads", 1}, {"gflops", 100.0}},
                                          {{"isa", "avx512"}, {"threads", 2}, {"gflops", 200.0}}}},
                          {"bandwidth", {{{"level", "DRAM"}, {"kernel", "load"}, {"threads", 1}, {"gbs", 10.0}},
                                         {{"level", "DRAM"}, {"kernel", "load"}, {"threads", 2}, {"gbs", 16.0}}}}}
               .dump(2);

  const auto header = points_header(run.param_names);
  std::string points = csv_line(header), stages = csv_line(stages_header()), reps = csv_line(reps_header()),
              counters = csv_line(counters_header());
  for (const auto& p : run.points) {
    std::map<std::string, std::string> v = {
        {"run_id", run.run_id}, {"machine_id", run.machine_id}, {"git_commit", "abc123"},
        {"point_id", p.point_id()}, {"block", p.block}, {"variant", p.variant}, {"impl", p.impl},
        {"precision", p.precision}, {"d_in", std::to_string(p.d)}, {"d_out", std::to_string(p.d)},
        {"tokens", std::to_string(p.tokens)}, {"threads", std::to_string(p.threads)},
        {"cache_mode", "hot"}, {"repetitions", "2"}, {"iterations", "10"},
        {"time_median_s", fmt::format("{}", p.time_s)}, {"time_min_s", fmt::format("{}", p.time_s)},
        {"time_max_s", fmt::format("{}", p.time_s)}, {"time_cov", "0.01"},
        {"tokens_per_s", fmt::format("{}", p.tokens / p.time_s)},
        {"flops_model", fmt::format("{}", p.flops > 0 ? p.flops : 4.0 * p.tokens * p.d * p.d_ff)},
        {"bytes_model", fmt::format("{}", 8.0 * p.d * p.d_ff)},
        {"counter_backend", "none"}, {"status", "ok"}, {"extras", "a=1;b=2"},
        {"p_d", std::to_string(p.d)}, {"p_d_ff", std::to_string(p.d_ff)}};
    for (const auto& [k, val] : p.params) v["p_" + k] = val;
    std::vector<std::string> row;
    for (const auto& h : header) row.push_back(v.count(h) ? v[h] : "");
    points += csv_line(row);
    std::vector<std::string> stage = {run.run_id, p.point_id(), "all", v["time_median_s"], "1", v["flops_model"]};
    stage.resize(stages_header().size());  // no roofline columns: a synthetic stage has no traffic model
    stages += csv_line(stage);
    for (int r = 0; r < 2; ++r) {
      reps += csv_line({run.run_id, p.point_id(), std::to_string(r), "10", v["time_median_s"], "0", std::to_string(r), "0"});
      counters += csv_line({run.run_id, p.point_id(), std::to_string(r), "perf::TASK-CLOCK", "1000", "sw", "1", "1", "0", ""});
    }
  }
  std::ofstream(dir / "points.csv") << points;
  std::ofstream(dir / "stages.csv") << stages;
  std::ofstream(dir / "reps.csv") << reps;
  std::ofstream(dir / "counters.csv") << counters;
  return dir;
}

fs::path test_temp_dir(const std::string& tag) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::temp_directory_path() /
                 fmt::format("ffnbench_{}_{}_{}_{}", tag, ::getpid(), info->test_suite_name(), info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliResult run_cli(const std::string& args, const std::string& launcher) {
  CliResult r;
  const std::string command = (launcher.empty() ? "" : launcher + " ") + FFNBENCH_BINARY + " " + args + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string column(const std::vector<std::vector<std::string>>& rows, size_t row, const std::string& name) {
  auto at = std::find(rows.at(0).begin(), rows.at(0).end(), name);
  if (at == rows.at(0).end()) return "<no column " + name + ">";
  return rows.at(row).at(static_cast<size_t>(at - rows.at(0).begin()));
}

}  // namespace ffnbench::testing
