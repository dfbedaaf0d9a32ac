// `ffnbench sweep` end to end, as a user runs it: a tiny experiment, the run folder it writes,
// --resume, and bad input (exit status 2, one clear message, nothing written).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fcntl.h>

#include <filesystem>
#include <set>
#include <fstream>
#include <nlohmann/json.hpp>

#include "calibrate/calibrate.hpp"
#include "counters/backend.hpp"
#include "machine/topology.hpp"
#include "results/csv.hpp"
#include "results/schema.hpp"

namespace fs = std::filesystem;

namespace {

struct Result {
  int status = -1;
  std::string output;  // stdout + stderr
};

Result run(const std::string& args) {
  std::string cmd = std::string(FFNBENCH_BINARY) + " " + args + " 2>&1";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class SweepE2E : public ::testing::Test {
 public:  // the helpers below drive a sweep of this fixture
  void SetUp() override {
    root = fs::temp_directory_path() / ("ffnbench_e2e_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root);
    ini = (root / "tiny.ini").string();
    std::ofstream(ini) << "name = tiny\ntokens = 3,17\nthreads = 1\nrepetitions = 2\nwarmup_s = 0\ninput_pool_mib = 4\n"
                          "min_time_s = 0.001\ncounters = papi\nevents = perf::TASK-CLOCK\n"
                          "output = " << (root / "results").string() << "\n\n"
                          "[gemm_ffn]\nimpl = openblas,naive\nd = 16\nd_ff = 24\n";
  }
  void TearDown() override { fs::remove_all(root); }

  std::vector<fs::path> run_folders() const {
    std::vector<fs::path> out;
    if (!fs::exists(root / "results")) return out;
    for (const auto& e : fs::recursive_directory_iterator(root / "results"))
      if (e.is_regular_file() && e.path().filename() == "points.csv") out.push_back(e.path().parent_path());
    return out;
  }

  fs::path root;
  std::string ini;
};

std::map<std::string, std::string> as_map(const std::vector<std::string>& header,
                                          const std::vector<std::string>& row) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i < header.size() && i < row.size(); ++i) m[header[i]] = row[i];
  return m;
}

}  // namespace

TEST_F(SweepE2E, WritesTheRunFolderAsDesigned) {
  // Where PAPI counts nothing (e.g. its libpfm4 predates the CPU) the sweep falls back to the
  // next backend that counts the software events: perf.
  const std::string backend = ffnbench::make_counter_backend("papi")->probe().available   ? "papi"
                              : ffnbench::make_counter_backend("perf")->probe().available ? "perf"
                                                                                          : "none";
  const bool counts = backend != "none";
  Result r = run("sweep " + ini);
  ASSERT_EQ(r.status, 0) << r.output;
  auto folders = run_folders();
  ASSERT_EQ(folders.size(), 1u) << r.output;
  const fs::path f = folders[0];
  for (const char* file : {"points.csv", "stages.csv", "reps.csv", "counters.csv", "machine.json", "experiment.ini"})
    EXPECT_TRUE(fs::exists(f / file)) << file;

  auto points = ffnbench::read_csv_file((f / "points.csv").string());
  ASSERT_EQ(points.size(), 1u + 4u);  // header + 2 impls × 2 token counts
  const auto& header = points[0];
  const auto& core = ffnbench::points_core_columns();
  ASSERT_GE(header.size(), core.size());
  EXPECT_TRUE(std::equal(core.begin(), core.end(), header.begin()));
  EXPECT_NE(std::find(header.begin(), header.end(), "p_d_ff"), header.end());
  for (size_t i = 1; i < points.size(); ++i) {
    auto row = as_map(header, points[i]);
    EXPECT_EQ(row["status"], "ok") << row["status_reason"];
    EXPECT_EQ(row["variant"], "gemm_ffn");
    EXPECT_EQ(row["p_d"], "16");
    EXPECT_GT(std::stod(row["time_median_s"]), 0.0);
    EXPECT_DOUBLE_EQ(std::stod(row["flops_model"]), 4.0 * std::stod(row["tokens"]) * 16 * 24);
    EXPECT_EQ(row["counter_backend"], backend);
    EXPECT_EQ(row["counter_source"], counts ? "sw" : "");
    if (backend == "papi") {
      EXPECT_EQ(row["counter_fallbacks"], "");
    } else {  // the experiment asked for papi: why it was passed over is in every row
      EXPECT_EQ(row["counter_fallbacks"].rfind("papi unavailable (", 0), 0u) << row["counter_fallbacks"];
    }
    EXPECT_EQ(row["flops_hw"], "") << "no PMU here: never the model's number";
    EXPECT_EQ(row["run_id"], f.filename().string());
  }
  auto reps = ffnbench::read_csv_file((f / "reps.csv").string());
  EXPECT_EQ(reps.size(), 1u + 4u * 2u);  // every repetition kept

  auto counters = ffnbench::read_csv_file((f / "counters.csv").string());
  bool task_clock = false;
  for (size_t i = 1; i < counters.size(); ++i) {
    auto row = as_map(counters[0], counters[i]);
    if (row["event"] == "perf::TASK-CLOCK") {
      task_clock = true;
      if (counts) {
        EXPECT_GT(std::stod(row["value"]), 0.0);
        EXPECT_EQ(row["source"], "sw");
      } else {
        EXPECT_EQ(row["value"], "") << "not counted: empty, with the reason";
        EXPECT_EQ(row["note"], "counter backend 'none' counts nothing");
      }
    }
  }
  EXPECT_TRUE(task_clock);

  auto machine = nlohmann::json::parse(std::ifstream(f / "machine.json"));
  EXPECT_EQ(machine["machine_id"].get<std::string>(), f.parent_path().filename().string());
  EXPECT_TRUE(machine["cpu"]["physical_cores"].get<int>() >= 1);
  EXPECT_TRUE(machine.contains("pinning"));

  // The figures of the main job draw from this folder.
  std::string plot = std::string("/usr/bin/python3 ") + FFNBENCH_SOURCE_DIR + "/plots/sweep_figures.py " +
                     f.string() + " > /dev/null";
  ASSERT_EQ(std::system(plot.c_str()), 0);
  EXPECT_TRUE(fs::exists(f / "figures" / "latency_vs_tokens_T1_fp32.png"));
  EXPECT_TRUE(fs::exists(f / "figures" / "latency_vs_tokens_T1_fp32.pdf"));
}

TEST_F(SweepE2E, ResumeSkipsFinishedPointsAndRerunsMissingOnes) {
  ASSERT_EQ(run("sweep " + ini).status, 0);
  auto f = run_folders().at(0);
  auto points_path = (f / "points.csv").string();
  // Drop the last point, as if the sweep had been interrupted before it.
  auto rows = ffnbench::read_csv_file(points_path);
  std::string lost = rows.back()[3];
  rows.pop_back();
  {
    std::ofstream out(points_path, std::ios::trunc);
    for (const auto& r : rows) out << ffnbench::csv_line(r);
  }
  Result r = run("sweep " + ini + " --resume");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("1 ok, 0 failed, 0 invalid, 3 already done"), std::string::npos) << r.output;
  auto after = ffnbench::read_csv_file(points_path);
  ASSERT_EQ(after.size(), 5u);
  EXPECT_EQ(after.back()[3], lost);
  EXPECT_EQ(run_folders().size(), 1u);
}

TEST_F(SweepE2E, BadInputExitsTwoWithOneMessageAndWritesNothing) {
  struct Case {
    std::string args, message;
  };
  std::vector<Case> cases = {
      {"sweep " + ini + " --gemm_ffn.impl mkl", "invalid value 'mkl' for 'gemm_ffn.impl': must be one of:"},
      {"sweep " + ini + " --gemm_ffn.d 0", "invalid value '0' for 'gemm_ffn.d': must be an integer"},
      {"sweep " + ini + " --gemm_ffn.d abc", "invalid value 'abc' for 'gemm_ffn.d'"},
      {"sweep " + ini + " --gemm_ffn.dd 3", "for 'gemm_ffn.dd': unknown parameter of gemm_ffn"},
      {"sweep " + ini + " --tokens -4", "invalid value '-4' for 'tokens'"},
      {"sweep " + ini + " --events PAPI_NOT_AN_EVENT", "'PAPI_NOT_AN_EVENT' for 'events'"},
      {"sweep " + ini + " --counters perfctr", "invalid value 'perfctr' for 'counters': must be one of: auto"},
      {"sweep " + ini + " --output /proc/ffnbench", "for 'output': must be a writable folder"},
      {"sweep " + (root / "missing.ini").string(), "for 'experiment file': must be a readable INI file"},
      {"sweep " + ini + " --shard 3/2", "invalid value '3/2' for 'shard'"},
      {"sweep " + ini + " --benchmark_nonsense=1", "benchmark"},
      {"sweep " + ini + " --inputs recycled", "invalid value 'recycled' for 'inputs': must be fresh, repeat, or a readable safetensors file of activations (x [n, d], y [n, d_out])"},
      {"sweep " + ini + " --schedule shuffled", "invalid value 'shuffled' for 'schedule': must be one of: interleaved, sequential"},
      {"sweep " + ini + " --input_pool_mib 1048576", "invalid value 'fresh' for 'inputs': the input pool of gemm_ffn|"},
      {"sweep " + ini + " --input_pool_mib lots", "invalid value 'lots' for 'input_pool_mib': must be auto or a size in MiB"},
      {"sweep " + ini + " --gemm_ffn.layernorm yes", "invalid value 'yes' for 'gemm_ffn.layernorm': must be one of: true, false"},
      {"sweep " + ini + " --remeasure-noisy", "for 'remeasure-noisy': goes with --resume"},
      // No oversubscription: more threads than usable cores are refused, naming the cores.
      {"sweep " + ini + " --threads 4096",
       "invalid value '4096' for 'threads': is more threads than the " + std::to_string(ffnbench::physical_cores()) +
           " physical core(s) this process may use"},
  };
  std::ofstream(root / "unknown_variant.ini") << "[lookup]\nh = 4\n";
  cases.push_back({"sweep " + (root / "unknown_variant.ini").string(), "for '[lookup]': a section must name a variant"});
  for (const auto& c : cases) {
    Result r = run(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_TRUE(run_folders().empty()) << c.args << " left a run folder";
  }
}

// Starts a sweep of 12 points (~30 ms each, `tokens`), sends `signal` once `rows_before` lines
// of points.csv are on disk, and returns the exit status and the log.
struct Interrupted {
  int wait_status = 0;
  std::string log;
};
Interrupted interrupt_mid_sweep(SweepE2E& t, const std::string& tokens, int signal, size_t rows_before) {
  std::string out = (t.root / "log.txt").string();
  std::vector<std::string> args = {FFNBENCH_BINARY, "sweep", t.ini, "--tokens", tokens,
                                   "--min_time_s", "0.03", "--repetitions", "1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  Interrupted r;
  if (posix_spawn(&pid, FFNBENCH_BINARY, &actions, nullptr, argv.data(), environ) != 0) return r;
  for (int i = 0; i < 2400; ++i) {  // up to a minute (a sanitized build is slow): a deadline, not a timing
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    auto folders = t.run_folders();
    if (!folders.empty() && ffnbench::read_csv_file((folders[0] / "points.csv").string()).size() >= rows_before) break;
  }
  kill(pid, signal);
  waitpid(pid, &r.wait_status, 0);
  posix_spawn_file_actions_destroy(&actions);
  std::ifstream log_in(out);
  r.log.assign(std::istreambuf_iterator<char>(log_in), std::istreambuf_iterator<char>());
  return r;
}

// Every line of points.csv whole (it ends in a line break, every row as wide as the header), and
// after --resume the whole grid with no point twice.
void expect_whole_rows_then_resume_finishes(SweepE2E& t, const std::string& tokens, size_t grid) {
  auto f = t.run_folders().at(0);
  const std::string path = (f / "points.csv").string();
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "a torn last row";
  auto rows = ffnbench::read_csv_file(path);
  ASSERT_GE(rows.size(), 3u);
  ASSERT_LT(rows.size(), grid + 1);
  for (const auto& r : rows) EXPECT_EQ(r.size(), rows[0].size()) << "every row whole";

  Result resumed = run("sweep " + t.ini + " --tokens " + tokens + " --min_time_s 0.03 --repetitions 1 --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  auto all = ffnbench::read_csv_file(path);
  EXPECT_EQ(all.size(), grid + 1);
  std::set<std::string> ids;
  for (size_t i = 1; i < all.size(); ++i) ids.insert(all[i][3]);
  EXPECT_EQ(ids.size(), grid) << "no point measured twice";
  EXPECT_EQ(t.run_folders().size(), 1u);
}

TEST_F(SweepE2E, CtrlCLeavesAValidCsvAndResumeFinishesTheGrid) {
  const std::string tokens = "3,5,7,9,11,13";  // 12 points of ~30 ms each
  Interrupted r = interrupt_mid_sweep(*this, tokens, SIGINT, 3);
  ASSERT_TRUE(WIFEXITED(r.wait_status)) << r.log;
  if (WEXITSTATUS(r.wait_status) == 0) GTEST_SKIP() << "the sweep finished before the interrupt landed";
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 130) << r.log;
  EXPECT_NE(r.log.find("continue with --resume"), std::string::npos) << r.log;
  expect_whole_rows_then_resume_finishes(*this, tokens, 12);
}

// SIGKILL cannot be caught: what survives is what each finished point wrote when it finished.
TEST_F(SweepE2E, SigkillMidSweepLeavesWholeRowsAndResumeAddsNoDuplicate) {
  const std::string tokens = "3,5,7,9,11,13,15,17,19,21,23,25,27,29,31";  // 30 points of ~30 ms each
  Interrupted r = interrupt_mid_sweep(*this, tokens, SIGKILL, 4);
  ASSERT_TRUE(WIFSIGNALED(r.wait_status)) << "the sweep finished before SIGKILL landed:\n" << r.log;
  EXPECT_EQ(WTERMSIG(r.wait_status), SIGKILL);
  expect_whole_rows_then_resume_finishes(*this, tokens, 30);
}

TEST(Cli, HelpOnEverySubcommandAndListShowsBackends) {
  for (const char* cmd : {"sweep", "list", "info"}) {
    Result r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd << r.output;
    EXPECT_NE(r.output.find(cmd), std::string::npos) << r.output;
  }
  Result list = run("list");
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.output.find("gemm_ffn"), std::string::npos);
  EXPECT_NE(list.output.find("papi"), std::string::npos);
  EXPECT_NE(list.output.find("d_ff"), std::string::npos);
  EXPECT_EQ(run("frobnicate").status, 2);
}

// With `ceilings`, each stage of stages.csv names its bound and the fraction of it reached, and
// the run folder keeps the ceilings it was compared with; without, the columns say why not.
TEST_F(SweepE2E, StagesSitOnTheRooflineOfTheGivenCeilings) {
  ffnbench::Ceilings c;
  c.cpu = ffnbench::cpu_info().model_name;
  c.caches = {{1, "Data", 48 << 10, 12, 64, 1}, {2, "Unified", 1 << 20, 8, 64, 1}, {3, "Unified", 32 << 20, 16, 64, 1}};
  c.peak_flops = {{"avx512", 1, 100, "fma"}};
  for (const char* level : {"L1", "L2", "L3", "DRAM"}) c.bandwidth.push_back({level, "load", "avx512", 1, 1 << 20, 1 << 20, 50});
  const std::string file = (root / "ceilings.json").string();
  std::ofstream(file) << ffnbench::to_json(c).dump(2);
  std::ofstream(ini, std::ios::app) << "layernorm = true\n";

  Result with = run("sweep " + ini + " --ceilings " + file + " --gemm_ffn.impl openblas");
  ASSERT_EQ(with.status, 0) << with.output;
  auto folders = run_folders();
  ASSERT_EQ(folders.size(), 1u);
  EXPECT_TRUE(fs::exists(folders[0] / "ceilings.json"));
  auto stages = ffnbench::read_csv_file((folders[0] / "stages.csv").string());
  ASSERT_EQ(stages.size(), 1u + 2u * 2u);  // 2 token counts × (layernorm, ffn)
  for (size_t i = 1; i < stages.size(); ++i) {
    auto row = as_map(stages[0], stages[i]);
    SCOPED_TRACE(row["point_id"] + " " + row["stage"]);
    EXPECT_NE(row["bound"], "") << row["roofline_note"];
    EXPECT_GT(std::stod(row["ceiling_fraction"]), 0.0);
    EXPECT_GT(std::stod(row["bound_time_s"]), 0.0);
    EXPECT_GT(std::stod(row["bytes_model"]) + std::stod(row["stream_bytes_model"]), 0.0);
    if (row["stage"] == "ffn") EXPECT_EQ(row["level"], "L1");  // 16×24 weights: 3.2 KB
  }

  fs::remove_all(root / "results");
  Result without = run("sweep " + ini + " --gemm_ffn.impl openblas");
  ASSERT_EQ(without.status, 0) << without.output;
  folders = run_folders();
  ASSERT_EQ(folders.size(), 1u);
  stages = ffnbench::read_csv_file((folders[0] / "stages.csv").string());
  auto row = as_map(stages[0], stages[1]);
  EXPECT_EQ(row["bound"], "");
  EXPECT_EQ(row["roofline_note"], "no ceilings: run `ffnbench calibrate` and pass ceilings = <its ceilings.json>");

  Result bad = run("sweep " + ini + " --ceilings " + (root / "missing.json").string());
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("'ceilings'"), std::string::npos) << bad.output;
  c.cpu = "Some Other CPU";
  std::ofstream(file) << ffnbench::to_json(c).dump(2);
  bad = run("sweep " + ini + " --ceilings " + file);
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("not of 'Some Other CPU'"), std::string::npos) << bad.output;
}

// A point that cannot fit is refused before it is built: reported invalid with what it needs
// (on_invalid = skip), or the sweep exits 2 and writes nothing (on_invalid = error).
TEST_F(SweepE2E, APointThatCannotFitIsRefusedBeforeItIsBuilt) {
  ::setenv("FFNBENCH_AVAILABLE_MEMORY_MIB", "1024", 1);
  Result error = run("sweep " + ini + " --gemm_ffn.d 16,16384 --gemm_ffn.d_ff 16384 --on_invalid error");
  EXPECT_EQ(error.status, 2) << error.output;
  EXPECT_NE(error.output.find("for 'memory': this point needs 2.0 GiB"), std::string::npos) << error.output;
  EXPECT_NE(error.output.find("1.0 GiB available (FFNBENCH_AVAILABLE_MEMORY_MIB)"), std::string::npos) << error.output;
  EXPECT_TRUE(run_folders().empty());

  Result skip = run("sweep " + ini + " --gemm_ffn.d 16,16384 --gemm_ffn.d_ff 16384 --tokens 3");
  ::unsetenv("FFNBENCH_AVAILABLE_MEMORY_MIB");
  ASSERT_EQ(skip.status, 0) << skip.output;
  auto rows = ffnbench::read_csv_file((run_folders().at(0) / "points.csv").string());
  const auto& header = rows.at(0);
  size_t refused = 0, measured = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    auto r = as_map(header, rows[i]);
    if (r["p_d"] == "16384") {
      ++refused;
      EXPECT_EQ(r["status"], "invalid");
      EXPECT_NE(r["status_reason"].find("this point needs 2.0 GiB"), std::string::npos) << r["status_reason"];
    } else {
      ++measured;
      EXPECT_EQ(r["status"], "ok") << r["status_reason"];
    }
  }
  EXPECT_EQ(refused, 2u);  // impl openblas and naive
  EXPECT_EQ(measured, 2u);
}
