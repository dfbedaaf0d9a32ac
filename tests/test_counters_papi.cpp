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

// Spins every worker until it has used `seconds` of CPU time (not wall time: the cores are
// shared with other tests); returns the CPU time the workers used in the loop.
double busy_loop(double seconds, int threads) {
  double cpu = 0;
#pragma omp parallel num_threads(threads) reduction(+ : cpu)
  {
    const double c0 = thread_cpu_seconds();
    volatile double sink = 1.0;
    double used = 0;
    while (used < seconds) {
      for (int i = 0; i < 1000; ++i) sink = sink * 1.0000001 + 1e-9;
      used = thread_cpu_seconds() - c0;
    }
    cpu += used;
  }
  return cpu;
}

bool machine_has_pmu() {
  auto papi = make_counter_backend("papi");
  papi->configure({"PAPI_TOT_INS"}, 1);
  return papi->unavailable().empty();
}

TEST(CountersPapiProbe, SaysWhetherOnlySoftwareEventsCountOrWhyNothingDoes) {
  auto papi = make_counter_backend("papi");
  BackendStatus status = papi->probe();
  EXPECT_EQ(status.reason.find('\n'), std::string::npos);
  if (!status.available) {  // e.g. a libpfm4 older than this CPU: PAPI switched its CPU component off
    EXPECT_TRUE(status.reason.rfind("PAPI's perf_event component is disabled: ", 0) == 0) << status.reason;
    GTEST_SKIP() << "PAPI counts nothing on this machine: " << status.reason;
  }
  if (machine_has_pmu())
    EXPECT_NE(status.reason.find("presets available"), std::string::npos) << status.reason;
  else
    EXPECT_EQ(status.reason,
              "no PMU: hardware presets unavailable (papi_avail lists none); software events only");
}

// The tests below need PAPI to count at least perf's software events.
class CountersPapi : public ::testing::Test {
 protected:
  void SetUp() override {
    const BackendStatus status = make_counter_backend("papi")->probe();
    if (!status.available) GTEST_SKIP() << "PAPI counts nothing on this machine: " << status.reason;
  }
};

// CPU time of every worker of a `threads` team, summed. TASK-CLOCK between start() and stop()
// lies between the CPU time of the work inside and that of a bracket around start..stop: it
// also counts what workers burn outside the work (OpenMP spin-waits, start/stop themselves),
// which grows when other processes share the cores (ctest -j2).
double team_cpu_seconds(int threads) {
  double sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
  sum += thread_cpu_seconds();
  return sum;
}

struct Bracketed {
  double counted_s, inner_cpu_s, outer_cpu_s, wall_s;
};

Bracketed measure_task_clock(CounterBackend& papi, int threads, double busy_s) {
  const double before = team_cpu_seconds(threads);
  const auto t0 = std::chrono::steady_clock::now();
  papi.start();
  const double inner = busy_s > 0 ? busy_loop(busy_s, threads) : 0.0;
  papi.stop();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double outer = team_cpu_seconds(threads) - before;
  return {find_value(papi.read(), "perf::TASK-CLOCK").value * 1e-9, inner, outer, wall};
}

void expect_bracketed(const Bracketed& m) {
  const double slack = 1e-3;
  EXPECT_GE(m.counted_s, m.inner_cpu_s - slack) << "inner " << m.inner_cpu_s << " outer " << m.outer_cpu_s;
  EXPECT_LE(m.counted_s, m.outer_cpu_s + slack) << "inner " << m.inner_cpu_s << " outer " << m.outer_cpu_s;
}

TEST_F(CountersPapi, TaskClockIsTheWorkersCpuTime) {
  auto papi = make_counter_backend("papi");
  papi->configure({"perf::TASK-CLOCK", "perf::PAGE-FAULTS"}, kThreads);
  EXPECT_TRUE(papi->unavailable().empty());

  const Bracketed m = measure_task_clock(*papi, kThreads, 0.05);
  expect_bracketed(m);
  // Summed over both workers: each burnt 50 ms of CPU inside the interval.
  EXPECT_GE(m.counted_s, kThreads * 0.05 - 1e-3);
  EXPECT_LE(m.counted_s, m.wall_s * kThreads + 1e-3);

  const auto values = papi->read();
  ASSERT_EQ(values.size(), 2u);
  const CounterValue& clock = find_value(values, "perf::TASK-CLOCK");
  EXPECT_EQ(clock.source, Source::Sw);
  EXPECT_FALSE(clock.multiplexed);
  EXPECT_GE(clock.enabled_s, 0.05);
  EXPECT_LE(clock.enabled_s, m.wall_s);
  EXPECT_DOUBLE_EQ(clock.running_s, clock.enabled_s);
}

TEST_F(CountersPapi, PageFaultsCountEveryFirstTouchedPageInEveryWorker) {
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

TEST_F(CountersPapi, EachIntervalStartsFromZero) {
  auto papi = make_counter_backend("papi");
  papi->configure({"perf::TASK-CLOCK"}, kThreads);
  const Bracketed busy = measure_task_clock(*papi, kThreads, 0.03);
  const Bracketed idle = measure_task_clock(*papi, kThreads, 0);
  expect_bracketed(busy);
  expect_bracketed(idle);  // a cumulative count would carry the busy interval's CPU time over
  EXPECT_GE(busy.counted_s, kThreads * 0.03 - 1e-3);
}

TEST_F(CountersPapi, ReconfiguringForAnotherThreadCountCountsEveryWorker) {
  auto papi = make_counter_backend("papi");
  papi->configure({"perf::TASK-CLOCK"}, kThreads);
  papi->configure({"perf::TASK-CLOCK"}, 1);
  expect_bracketed(measure_task_clock(*papi, 1, 0.02));
  papi->configure({"perf::TASK-CLOCK"}, kThreads);
  const Bracketed two = measure_task_clock(*papi, kThreads, 0.02);
  expect_bracketed(two);
  EXPECT_GE(two.counted_s, kThreads * 0.02 - 1e-3);
}

TEST_F(CountersPapi, UnknownEventIsAConfigErrorNamingIt) {
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

TEST_F(CountersPapi, HardwareEventsWithoutPmuAreUnavailableWithPapisReason) {
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

TEST_F(CountersPapi, BackendNeutralAliasesExpandToPresets) {
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

TEST_F(CountersPapi, HardwareInstructionsCountWhereAPmuExists) {
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
