// Backend selection: names, auto-detection order, fallback lines with their reasons, and bad
// names (backends, events, likwid groups) as ConfigErrors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "core/params.hpp"
#include "counters/backend.hpp"
#include "counters/factory.hpp"

namespace ffnbench {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The likwid backend can program counters here (bare metal with the msr module, as root).
bool likwid_counts_here() { return make_counter_backend("likwid")->probe().available; }

// likwid has performance groups for this CPU (a CPU newer than the installed likwid has none).
bool likwid_knows_this_cpu() {
  return !starts_with(make_counter_backend("likwid")->probe().reason, "likwid has no performance groups");
}

BackendStatus papi_status() { return make_counter_backend("papi")->probe(); }

TEST(CountersSelect, BackendsAreListedInAutoDetectionOrderThenOptInOnes) {
  const auto names = counter_backend_names();
  const std::vector<std::string> expected{"likwid", "papi", "perf", "none", "cachesim"};
  EXPECT_EQ(names, expected);
}

TEST(CountersSelect, UnknownBackendNameIsAConfigErrorListingTheKnownOnes) {
  try {
    make_counter_backend("perfctr");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "invalid value 'perfctr' for 'counters': must be one of: auto, likwid, papi, perf, none, cachesim");
  }
}

TEST(CountersSelect, LikwidUnavailableSaysWhyInOneLine) {
  if (likwid_counts_here()) GTEST_SKIP() << "likwid can access the MSRs on this machine";
  const BackendStatus status = make_counter_backend("likwid")->probe();
  EXPECT_FALSE(status.available);
  EXPECT_EQ(status.reason.find('\n'), std::string::npos);
  if (!likwid_knows_this_cpu()) {  // checked before the MSRs: without groups nothing could be counted
    EXPECT_TRUE(starts_with(status.reason, "likwid has no performance groups for this CPU (")) << status.reason;
    return;
  }
  EXPECT_TRUE(starts_with(status.reason, "cannot access MSRs: ")) << status.reason;
  if (access("/dev/cpu/0/msr", F_OK) != 0) {
    EXPECT_NE(status.reason.find("/dev/cpu/0/msr: No such file or directory"), std::string::npos)
        << status.reason;
  }
}

TEST(CountersSelect, AutoFallsBackWithOneReasonLinePerBackendPassedOver) {
  if (likwid_counts_here()) GTEST_SKIP() << "likwid can access the MSRs on this machine: it is chosen";
  std::vector<std::string> expected_log;
  std::string chosen = "none";
  for (const char* name : {"likwid", "papi", "perf"}) {
    const BackendStatus status = make_counter_backend(name)->probe();
    if (status.available) {
      chosen = name;
      break;
    }
    expected_log.push_back(std::string("counters: ") + name + " unavailable (" + status.reason +
                           "); trying the next backend");
  }
  std::vector<std::string> log;
  auto backend = detect_counter_backend(log);
  EXPECT_EQ(backend->name(), chosen);
  EXPECT_EQ(log, expected_log);
}

TEST(CountersSelect, AutoWithEventsPicksTheFirstBackendThatKnowsThem) {
  const bool papi = papi_status().available, perf = make_counter_backend("perf")->probe().available;
  if (!papi && !perf) GTEST_SKIP() << "neither papi nor perf counts software events on this machine";
  std::vector<std::string> log;
  auto backend = detect_counter_backend({"perf::TASK-CLOCK", "perf::PAGE-FAULTS"}, 2, log);
  EXPECT_EQ(backend->name(), papi ? "papi" : "perf");  // likwid has no perf:: events, here or anywhere
  ASSERT_FALSE(log.empty());
  EXPECT_TRUE(starts_with(log[0], "counters: likwid ")) << log[0];
  backend->start();
  backend->stop();
  EXPECT_EQ(backend->read().size(), 2u);
}

TEST(CountersSelect, AutoWithAnEventNoBackendKnowsIsAConfigErrorNotNone) {
  std::vector<std::string> log;
  try {
    detect_counter_backend({"perf::TASK-CLOCK", "NOT_AN_EVENT"}, 1, log);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "events");
    EXPECT_EQ(e.value(), "NOT_AN_EVENT");
  }
}

TEST(CountersSelect, AMisspeltPapiPresetIsAConfigErrorEvenWhereNothingCounts) {
  std::vector<std::string> log;
  try {
    detect_counter_backend({"perf::TASK-CLOCK", "PAPI_SP_OPZ"}, 1, log);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "events");
    EXPECT_EQ(e.value(), "PAPI_SP_OPZ");
  }
}

TEST(CountersSelect, LikwidRejectsAGroupThisCpuDoesNotHave) {
  if (!likwid_knows_this_cpu())
    GTEST_SKIP() << make_counter_backend("likwid")->probe().reason << ": no group to tell apart";
  auto likwid = make_counter_backend("likwid");
  try {
    likwid->configure({"FLOPS_SP", "NO_SUCH_GROUP"}, 1);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "events");
    EXPECT_EQ(e.value(), "NO_SUCH_GROUP");
    EXPECT_TRUE(starts_with(e.allowed(), "a likwid group of this CPU (")) << e.allowed();
    EXPECT_NE(e.allowed().find("FLOPS_SP"), std::string::npos) << e.allowed();
  }
}

TEST(CountersSelect, LikwidConfigureWithoutMsrAccessFailsWithTheReason) {
  if (likwid_counts_here()) GTEST_SKIP() << "likwid can access the MSRs on this machine";
  if (!likwid_knows_this_cpu())
    GTEST_SKIP() << make_counter_backend("likwid")->probe().reason << ": configure stops at the group";
  auto likwid = make_counter_backend("likwid");
  try {
    likwid->configure({"flops"}, 1);
    FAIL() << "expected an error";
  } catch (const ConfigError&) {
    FAIL() << "flops maps to FLOPS_SP, which every supported CPU has";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(starts_with(e.what(), "likwid: cannot access MSRs: ")) << e.what();
  }
}

TEST(CountersSelect, NoneCountsNothingAndSaysSoPerEvent) {
  auto none = make_counter_backend("none");
  none->configure({"perf::TASK-CLOCK"}, 1);
  none->start();
  none->stop();
  EXPECT_TRUE(none->read().empty());
  ASSERT_EQ(none->unavailable().size(), 1u);
  EXPECT_EQ(none->unavailable()[0].second, "counter backend 'none' counts nothing");
}

}  // namespace
}  // namespace ffnbench
