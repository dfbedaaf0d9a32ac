// The papi backend: what its probe says, hardware events reported unavailable with PAPI's reason
// where there is no PMU, aliases, bad names as ConfigErrors. Its software-event counting is
// tested with the perf backend's in test_counters_software.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/params.hpp"
#include "counters/backend.hpp"
#include "support_counting.hpp"

namespace ffnbench {
namespace {

using testing::busy_loop;

constexpr int kThreads = 2;

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
