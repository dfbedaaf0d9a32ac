// threads = all means the cores this process may use (a SLURM allocation, a cpuset, taskset),
// also when libgomp has already bound the initial thread (OMP_PROC_BIND set at start-up).
#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "machine/topology.hpp"
#include "support_run_folders.hpp"

namespace fs = std::filesystem;
using namespace ffnbench;
using namespace ffnbench::testing;

namespace {

std::set<int> threads_in_grid(const std::string& output) {
  std::set<int> threads;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    auto at = line.rfind("|T=");
    if (line.rfind("gemm_ffn|", 0) == 0 && at != std::string::npos) threads.insert(std::stoi(line.substr(at + 3)));
  }
  return threads;
}

}  // namespace

TEST(Affinity, UsableCpusAreTheAffinityMaskAndAllCountsTheirCores) {
  if (std::getenv("OMP_PROC_BIND") != nullptr) GTEST_SKIP() << "OMP_PROC_BIND set: this thread's mask is one place";
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  std::set<int> expected;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &mask)) expected.insert(cpu);
  EXPECT_EQ(usable_cpus(), expected);
  for (int cpu : one_cpu_per_core()) EXPECT_TRUE(expected.count(cpu)) << cpu;
  EXPECT_EQ(physical_cores(), static_cast<int>(one_cpu_per_core().size()));
}

TEST(Affinity, AllFollowsTasksetAndSurvivesLibgompBindingTheInitialThread) {
  const fs::path dir = test_temp_dir("affinity");
  const fs::path ini = dir / "all.ini";
  std::ofstream(ini) << "name = all\ntokens = 4\nthreads = 1,all\ncounters = none\n\n[gemm_ffn]\nd = 16\nd_ff = 16\n";
  const int first = *usable_cpus().begin();
  CliResult one = run_cli("sweep " + ini.string() + " --dry-run", "taskset -c " + std::to_string(first));
  ASSERT_EQ(one.status, 0) << one.output;
  EXPECT_EQ(threads_in_grid(one.output), std::set<int>{1}) << "one CPU allowed: all = 1\n" << one.output;

  CliResult bound = run_cli("sweep " + ini.string() + " --dry-run", "env OMP_PROC_BIND=close OMP_PLACES=cores");
  ASSERT_EQ(bound.status, 0) << bound.output;
  std::set<int> want = {1, physical_cores()};
  EXPECT_EQ(threads_in_grid(bound.output), want) << bound.output;
  fs::remove_all(dir);
}

// The cachesim re-run pool and the OpenBLAS re-exec start from a thread libgomp may have bound
// to one CPU; widening gives it every usable CPU back, so children do not all share that one.
TEST(Affinity, WideningAThreadBoundToOneCpuGivesItEveryUsableCpu) {
  const std::set<int> usable = usable_cpus();
  if (usable.size() < 2) GTEST_SKIP() << "this process may use one CPU: nothing to widen";
  std::set<int> seen;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(*usable.begin(), &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    widen_affinity_to_usable_cpus();
    cpu_set_t mask;
    CPU_ZERO(&mask);
    ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &mask)) seen.insert(cpu);
  }).join();
  EXPECT_EQ(seen, usable);
}
