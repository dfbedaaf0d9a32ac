// The papi backend: software events really count in every OpenMP worker, hardware events are
// reported unavailable with PAPI's reason where there is no PMU, bad names are ConfigErrors.
#include <gtest/gtest.h>
#include <omp.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "core/params.hpp"
#include "counters/backend.hpp"

namespace ffnbench {
namespace {

constexpr int kThreads = 2;

const CounterValue& find_value(const std::vector<CounterValue>& values, const std::string& event) {
  auto it = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.event == event; });
  if (it == values.end()) throw std::runtime_error("no value for " + event);
  return *it;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Spins every worker for `seconds` of wall time; returns the CPU time the workers used.
double busy_loop(double seconds, int threads) {
  double cpu = 0;
#pragma omp parallel num_threads(threads) reduction(+ : cpu)
  {
    const double c0 = thread_cpu_seconds();
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    volatile double sink = 1.0;
    while (std::chrono::steady_clock::now() < end)
      for (int i = 0; i < 1000; ++i) sink = sink * 1.0000001 + 1e-9;
    cpu += thread_cpu_seconds() - c0;
  }
  return cpu;
}

bool machine_has_pmu() {
  auto papi = make_counter_backend("papi");
  papi->configure({"PAPI_TOT_INS"}, 1);
  return papi->unavailable().empty();
}

TEST(CountersPapi, ProbeSaysWhetherOnlySoftwareEventsCount) {
  auto papi = make_counter_backend("papi");
  BackendStatus status = papi->probe();
  ASSERT_TRUE(status.available) << status.reason;
  if (machine_has_pmu())
    EXPECT_NE(status.reason.find("presets available"), std::string::npos) << status.reason;
  else
    EXPECT_EQ(status.reason,
              "no PMU: hardware presets unavailable (papi_avail lists none); software events only");
}

TEST(CountersPapi, TaskClockIsTheWorkersCpuTime) {
  auto papi = make_counter_backend("papi");
  papi->configure({"perf::TASK-CLOCK", "perf::PAGE-FAULTS"}, kThreads);
  EXPECT_TRUE(papi->unavailable().empty());

  papi->start();
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu = busy_loop(0.05, kThreads);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  papi->stop();

  const auto values = papi->read();
  ASSERT_EQ(values.size(), 2u);
  const CounterValue& clock = find_value(values, "perf::TASK-CLOCK");
  const double counted_s = clock.value * 1e-9;  // TASK-CLOCK counts nanoseconds
  EXPECT_EQ(clock.source, Source::Sw);
  EXPECT_FALSE(clock.multiplexed);
  EXPECT_GE(clock.enabled_s, wall * 0.99);
  EXPECT_DOUBLE_EQ(clock.running_s, clock.enabled_s);
  // Summed over both workers: the CPU time they measured themselves, plus the region's edges.
  EXPECT_NEAR(counted_s, cpu, 0.1 * cpu + 2e-3) << "wall " << wall;
  // ...and, loosely (the 2 cores are shared), wall time × threads.
  EXPECT_GT(counted_s, 0.2 * wall * kThreads);
  EXPECT_LT(counted_s, 1.1 * wall * kThreads + 2e-3);
}

TEST(CountersPapi, PageFaultsCountEveryFirstTouchedPageInEveryWorker) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t pages = 8192;  // 32 MiB of 4 KiB pages
  void* mem = mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  madvise(mem, pages * page, MADV_NOHUGEPAGE);  // one fault per base page
  auto* bytes = static_cast<char*>(mem);

  auto papi = make_counter_backend("papi");
  papi->configure({"perf::PAGE-FAULTS"}, kThreads);
  papi->start();
#pragma omp parallel for num_threads(kThreads) schedule(static)
  for (size_t p = 0; p < pages; ++p) bytes[p * page] = 1;
  papi->stop();
  const double faults = find_value(papi->read(), "perf::PAGE-FAULTS").value;
  munmap(mem, pages * page);

  EXPECT_GE(faults, static_cast<double>(pages));
  EXPECT_LT(faults, 1.5 * pages + 1000);
}

TEST(CountersPapi, EachIntervalStartsFromZero) {
  auto papi = make_counter_backend("papi");
  papi->configure({"perf::TASK-CLOCK"}, kThreads);
  papi->start();
  busy_loop(0.03, kThreads);
  papi->stop();
  const double busy = papi->read().at(0).value;
  papi->start();
  papi->stop();
  const double idle = papi->read().at(0).value;
  EXPECT_GT(busy, 1e7);  // > 10 ms of CPU
  EXPECT_LT(idle, 0.1 * busy);
}

TEST(CountersPapi, ReconfiguringForAnotherThreadCountCountsEveryWorker) {
  auto papi = make_counter_backend("papi");
  papi->configure({"perf::TASK-CLOCK"}, kThreads);
  papi->configure({"perf::TASK-CLOCK"}, 1);
  papi->start();
  const double cpu_one = busy_loop(0.02, 1);
  papi->stop();
  EXPECT_NEAR(papi->read().at(0).value * 1e-9, cpu_one, 0.1 * cpu_one + 2e-3);

  papi->configure({"perf::TASK-CLOCK"}, kThreads);
  papi->start();
  const double cpu_two = busy_loop(0.02, kThreads);
  papi->stop();
  EXPECT_NEAR(papi->read().at(0).value * 1e-9, cpu_two, 0.1 * cpu_two + 2e-3);
}

TEST(CountersPapi, UnknownEventIsAConfigErrorNamingIt) {
  auto papi = make_counter_backend("papi");
  try {
    papi->configure({"perf::TASK-CLOCK", "NO_SUCH_EVENT_XYZ"}, 1);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "events");
    EXPECT_EQ(e.value(), "NO_SUCH_EVENT_XYZ");
    EXPECT_EQ(std::string(e.what()),
              "invalid value 'NO_SUCH_EVENT_XYZ' for 'events': a PAPI preset (papi_avail, e.g. "
              "PAPI_SP_OPS) or native event (papi_native_avail, e.g. perf::TASK-CLOCK) known on "
              "this machine");
  }
}

TEST(CountersPapi, HardwareEventsWithoutPmuAreUnavailableWithPapisReason) {
  if (machine_has_pmu()) GTEST_SKIP() << "this machine has a PMU: PAPI_SP_OPS may count here";
  auto papi = make_counter_backend("papi");
  papi->configure({"PAPI_SP_OPS", "perf::TASK-CLOCK", "perf::INSTRUCTIONS"}, kThreads);
  const auto missing = papi->unavailable();
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].first, "PAPI_SP_OPS");
  EXPECT_EQ(missing[0].second,
            "PAPI preset PAPI_SP_OPS is not available here: Event does not exist (no PMU: hardware "
            "presets unavailable (papi_avail lists none); software events only)");
  EXPECT_EQ(missing[1].first, "perf::INSTRUCTIONS");
  EXPECT_EQ(missing[1].second,
            "PAPI cannot count perf::INSTRUCTIONS here: Event does not exist (the PMU does not "
            "expose it)");
  papi->start();
  busy_loop(0.005, kThreads);
  papi->stop();
  const auto values = papi->read();
  ASSERT_EQ(values.size(), 1u);  // never a placeholder for what was not measured
  EXPECT_EQ(values[0].event, "perf::TASK-CLOCK");
  EXPECT_GT(values[0].value, 0);
}

TEST(CountersPapi, BackendNeutralAliasesExpandToPresets) {
  auto papi = make_counter_backend("papi");
  papi->configure({"flops", "llc", "mem", "perf::TASK-CLOCK"}, 1);
  std::vector<std::string> asked;  // every alias shows up as counted or as unavailable, by its PAPI name
  for (const auto& [event, reason] : papi->unavailable()) asked.push_back(event);
  for (const auto& v : papi->read()) asked.push_back(v.event);
  std::sort(asked.begin(), asked.end());
  EXPECT_EQ(asked, (std::vector<std::string>{"PAPI_L3_TCA", "PAPI_L3_TCM", "PAPI_SP_OPS", "mem",
                                             "perf::TASK-CLOCK"}));
  const auto missing = papi->unavailable();
  auto mem = std::find_if(missing.begin(), missing.end(), [](const auto& m) { return m.first == "mem"; });
  ASSERT_NE(mem, missing.end());
  EXPECT_NE(mem->second.find("no portable memory-controller event"), std::string::npos);
}

TEST(CountersPapi, HardwareInstructionsCountWhereAPmuExists) {
  if (!machine_has_pmu())
    GTEST_SKIP() << "no PMU on this machine (papi_avail lists no presets): hardware counting untestable";
  auto papi = make_counter_backend("papi");
  papi->configure({"PAPI_TOT_INS"}, kThreads);
  papi->start();
  busy_loop(0.01, kThreads);
  papi->stop();
  const CounterValue v = papi->read().at(0);
  EXPECT_EQ(v.source, Source::Hw);
  EXPECT_GT(v.value, 1e6);
}

}  // namespace
}  // namespace ffnbench
