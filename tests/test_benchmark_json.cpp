// benchmark.json read back as Google Benchmark's tools read it: tools/gbench/util.py
// (load_benchmark_results, sort_benchmark_results: family_index, per_family_instance_index,
// run_type, repetition_index) and tools/gbench/report.py (partition_benchmarks by name and
// time_unit; real_time, cpu_time, time_unit present; run_type, aggregate_name; the U test over
// the iteration entries' real_time and cpu_time; repetitions).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/params.hpp"
#include "results/benchmark_json.hpp"
#include "results/csv.hpp"
#include "support_run_folders.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ffnbench {
namespace {

struct Folder {
  fs::path root, run;
  std::string three, one, failed;  // point_ids: 3 repetitions, 1 repetition, gate failed
};

Folder make_folder(const std::string& tag) {
  Folder f;
  f.root = testing::test_temp_dir(tag);
  testing::SyntheticRun run;
  testing::SyntheticPoint a, b, c, d;
  a.tokens = 64;
  b.tokens = 128;
  b.threads = 2;
  c.tokens = 256;
  d.block = "moe";
  d.variant = "moe";
  d.impl = "ref";
  f.three = a.point_id();
  f.one = b.point_id();
  f.failed = c.point_id();
  run.points = {a, b, c, d};
  f.run = testing::write_run(f.root, run);
  std::string reps = csv_line({"run_id", "point_id", "repetition", "iterations", "time_s", "overhead_s", "round", "position"});
  reps += csv_line({run.run_id, f.three, "0", "10", "0.001", "0", "0", "0"});
  reps += csv_line({run.run_id, f.one, "0", "7", "0.004", "0", "0", "1"});
  reps += csv_line({run.run_id, f.three, "1", "10", "0.003", "0", "1", "0"});
  reps += csv_line({run.run_id, f.three, "2", "12", "0.002", "0", "2", "0"});
  reps += csv_line({run.run_id, d.point_id(), "0", "5", "0.010", "0", "0", "2"});
  reps += csv_line({run.run_id, d.point_id(), "1", "5", "0.020", "0", "1", "2"});
  std::ofstream(f.run / "reps.csv") << reps;
  std::string points = testing::slurp(f.run / "points.csv");
  const size_t at = points.find(f.failed);
  const size_t ok = points.find(",ok,", at);
  points.replace(ok, 4, ",gate_failed,max error 1e-2 > 1e-3,");  // status, status_reason
  // The replacement filled status_reason; drop the (empty) field that followed.
  points.erase(ok + std::string(",gate_failed,max error 1e-2 > 1e-3,").size(), 1);
  std::ofstream(f.run / "points.csv") << points;
  return f;
}

std::vector<json> entries(const json& doc, const std::string& run_name) {
  std::vector<json> out;
  for (const auto& b : doc.at("benchmarks"))
    if (b.at("run_name") == run_name) out.push_back(b);
  return out;
}

TEST(BenchmarkJson, NameFromPointId) {
  EXPECT_EQ(benchmark_name("gemm_ffn|d=512;d_ff=2048;impl=openblas|N=64|T=1"), "gemm_ffn/d:512/d_ff:2048/impl:openblas/N:64/T:1");
  EXPECT_EQ(benchmark_name("moe"), "moe");
  EXPECT_EQ(benchmark_name("lk||N=1|T=2"), "lk/N:1/T:2");
}

TEST(BenchmarkJson, ContextHasGoogleBenchmarksKeysAndOurFacts) {
  Folder f = make_folder("bj_ctx");
  const std::string path = write_benchmark_json(f.run.string());
  EXPECT_EQ(fs::path(path), f.run / "benchmark.json");
  const json doc = json::parse(testing::slurp(path));
  const json& ctx = doc.at("context");
  EXPECT_TRUE(std::regex_match(ctx.at("date").get<std::string>(),
                               std::regex(R"(2024-01-01T12:00:00[+-]\d\d:\d\d)")))
      << ctx.at("date");
  EXPECT_EQ(ctx.at("host_name"), "host-intel-test-2c-0001");
  EXPECT_TRUE(ctx.at("executable").is_string());
  EXPECT_EQ(ctx.at("num_cpus"), 2);
  EXPECT_TRUE(ctx.at("mhz_per_cpu").is_number_integer());
  EXPECT_EQ(ctx.at("cpu_scaling_enabled"), false);  // no governor recorded
  ASSERT_EQ(ctx.at("caches").size(), 2u);
  EXPECT_EQ(ctx.at("caches")[0], (json{{"type", "Data"}, {"level", 1}, {"size", 49152}, {"num_sharing", 0}}));
  EXPECT_TRUE(ctx.at("load_avg").is_array());
  EXPECT_TRUE(ctx.at("library_build_type") == "release" || ctx.at("library_build_type") == "debug");
  EXPECT_EQ(ctx.at("machine_id"), "intel-test-2c-0001");
  EXPECT_EQ(ctx.at("git_commit"), "abc123");  // from points.csv: the synthetic machine.json has none
  EXPECT_EQ(ctx.at("cpu_model"), "Test CPU");
  EXPECT_EQ(ctx.at("run_id"), "20240101-120000");
  EXPECT_EQ(ctx.at("experiment"), "tiny");
  EXPECT_TRUE(ctx.at("libraries").is_object());
  EXPECT_NE(ctx.at("cpu_time_note").get<std::string>().find("real_time"), std::string::npos);
  fs::remove_all(f.root);
}

TEST(BenchmarkJson, OneEntryPerRepetitionThenTheAggregates) {
  Folder f = make_folder("bj_reps");
  write_benchmark_json(f.run.string());
  const json doc = json::parse(testing::slurp(f.run / "benchmark.json"));
  const std::string name = benchmark_name(f.three);
  const auto e = entries(doc, name);
  ASSERT_EQ(e.size(), 7u);  // 3 repetitions, mean, median, stddev, cv
  const double ms[] = {1.0, 3.0, 2.0};
  const int iterations[] = {10, 10, 12};
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(e[r].at("name"), name);
    EXPECT_EQ(e[r].at("run_type"), "iteration");
    EXPECT_EQ(e[r].at("repetitions"), 2);  // points.csv's repetitions column (the synthetic run says 2)
    EXPECT_EQ(e[r].at("repetition_index"), r);
    EXPECT_EQ(e[r].at("threads"), 1);
    EXPECT_EQ(e[r].at("iterations"), iterations[r]);
    EXPECT_DOUBLE_EQ(e[r].at("real_time").get<double>(), ms[r]);
    EXPECT_DOUBLE_EQ(e[r].at("cpu_time").get<double>(), ms[r]);
    EXPECT_EQ(e[r].at("time_unit"), "ms");
    EXPECT_EQ(e[r].at("family_index"), 0);
    EXPECT_EQ(e[r].at("per_family_instance_index"), 0);
    EXPECT_EQ(e[r].at("label"), f.three);
    EXPECT_FALSE(e[r].contains("aggregate_name"));
  }
  const std::pair<const char*, double> aggregates[] = {{"mean", 2.0}, {"median", 2.0}, {"stddev", 1.0}, {"cv", 0.5}};
  for (int k = 0; k < 4; ++k) {
    const json& a = e[3 + k];
    EXPECT_EQ(a.at("name"), name + "_" + aggregates[k].first);
    EXPECT_EQ(a.at("run_type"), "aggregate");
    EXPECT_EQ(a.at("aggregate_name"), aggregates[k].first);
    EXPECT_EQ(a.at("aggregate_unit"), k == 3 ? "percentage" : "time");
    EXPECT_EQ(a.at("iterations"), 3);  // GB: the number of repetitions aggregated
    EXPECT_DOUBLE_EQ(a.at("real_time").get<double>(), aggregates[k].second);
    EXPECT_DOUBLE_EQ(a.at("cpu_time").get<double>(), aggregates[k].second);
    EXPECT_EQ(a.at("time_unit"), "ms");
    EXPECT_FALSE(a.contains("repetition_index"));
  }
  // One repetition: no aggregates (GB computes them over 2+); kernel threads in the name.
  const auto one = entries(doc, benchmark_name(f.one));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].at("per_family_instance_index"), 1);
  EXPECT_EQ(one[0].at("kernel_threads"), 2);
  EXPECT_NE(one[0].at("name").get<std::string>().find("/T:2"), std::string::npos);
  // A failed point has no entry with a (zero) time; the context lists it.
  EXPECT_TRUE(entries(doc, benchmark_name(f.failed)).empty());
  ASSERT_EQ(doc.at("context").at("failed_points").size(), 1u);
  EXPECT_EQ(doc.at("context").at("failed_points")[0],
            (json{{"name", benchmark_name(f.failed)}, {"point_id", f.failed}, {"status", "gate_failed"},
                  {"reason", "max error 1e-2 > 1e-3"}}));
  // Another block is another family.
  const auto moe = entries(doc, "moe/d:512/d_ff:2048/impl:ref/precision:fp32/N:64/T:1");
  ASSERT_EQ(moe.size(), 6u);
  EXPECT_EQ(moe[0].at("family_index"), 1);
  EXPECT_EQ(moe[0].at("per_family_instance_index"), 0);
  fs::remove_all(f.root);
}

TEST(BenchmarkJson, EveryEntryHasWhatComparePyReads) {
  Folder f = make_folder("bj_cmp");
  const auto doc = benchmark_json(f.run.string());
  std::map<std::string, std::set<std::string>> units_of_name;
  for (const auto& b : doc.at("benchmarks")) {
    for (const char* key : {"name", "run_name", "run_type", "family_index", "per_family_instance_index",
                            "repetitions", "threads", "iterations", "real_time", "cpu_time", "time_unit"})
      EXPECT_TRUE(b.contains(key)) << key << " in " << b.dump();
    EXPECT_TRUE(b.at("real_time").is_number());
    EXPECT_TRUE(b.at("cpu_time").is_number());
    const bool aggregate = b.at("run_type") == "aggregate";
    EXPECT_TRUE(aggregate || b.at("run_type") == "iteration");
    EXPECT_EQ(b.contains("aggregate_name"), aggregate);
    EXPECT_EQ(b.contains("aggregate_unit"), aggregate);
    EXPECT_EQ(b.contains("repetition_index"), !aggregate);
    units_of_name[b.at("name")].insert(b.at("time_unit"));
  }
  for (const auto& [name, units] : units_of_name) EXPECT_EQ(units.size(), 1u) << name;
  fs::remove_all(f.root);
}

TEST(BenchmarkJson, WritesAtomicallyAndRefusesAFolderItCannotWriteTo) {
  Folder f = make_folder("bj_write");
  write_benchmark_json(f.run.string());
  write_benchmark_json(f.run.string());  // again: replaces it
  for (const auto& e : fs::directory_iterator(f.run))
    EXPECT_EQ(e.path().filename().string().find(".benchmark.json"), std::string::npos) << e.path();
  EXPECT_NO_THROW(check_benchmark_json_writable(f.run.string()));

  const std::string missing = (f.root / "no_such_run").string();
  try {
    check_benchmark_json_writable(missing);
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "benchmark.json");
    EXPECT_EQ(e.value(), (fs::path(missing) / "benchmark.json").string());
    EXPECT_NE(e.allowed().find("does not exist"), std::string::npos);
  }
  fs::remove(f.run / "benchmark.json");
  fs::create_directory(f.run / "benchmark.json");
  EXPECT_THROW(check_benchmark_json_writable(f.run.string()), ConfigError);
  EXPECT_THROW(write_benchmark_json(f.run.string()), ConfigError);
  fs::remove(f.run / "benchmark.json");
  if (::geteuid() != 0) {  // root writes anywhere
    fs::permissions(f.run, fs::perms::owner_write, fs::perm_options::remove);
    try {
      write_benchmark_json(f.run.string());
      ADD_FAILURE() << "no ConfigError";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key(), "benchmark.json");
      EXPECT_NE(e.allowed().find("cannot be written"), std::string::npos);
    }
    fs::permissions(f.run, fs::perms::owner_write, fs::perm_options::add);
  }
  // Not a run folder at all: the reader's own error.
  EXPECT_THROW(benchmark_json(f.root.string()), ConfigError);
  fs::remove_all(f.root);
}

}  // namespace
}  // namespace ffnbench
