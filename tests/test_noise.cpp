// harness/machine/noise: /proc parsers and the noise facts of an interval on fixed texts with
// known answers; the thresholds' wording; the drift probe's work (never its speed).
#include <gtest/gtest.h>

#include <cmath>

#include "calibrate/kernels.hpp"
#include "machine/noise.hpp"

using namespace ffnbench;

namespace {

// Two CPUs; between the snapshots 1 s of wall time at USER_HZ 100 (200 ticks in all):
// cpu0 user +60 system +10 idle +20 steal +10, cpu1 user +30 idle +70.
const char* kStatBefore =
    "cpu  1000 0 200 800 0 0 0 0 0 0\n"
    "cpu0 500 0 100 400 0 0 0 0 0 0\n"
    "cpu1 500 0 100 400 0 0 0 0 0 0\n"
    "intr 12345 0 0\n"
    "ctxt 999\n";
const char* kStatAfter =
    "cpu  1090 0 210 890 0 0 0 10 0 0\n"
    "cpu0 560 0 110 420 0 0 0 10 0 0\n"
    "cpu1 530 0 100 470 0 0 0 0 0 0\n"
    "intr 12399 0 0\n";

const char* kCpuinfo =
    "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2000.000\nflags\t\t: fpu\n\n"
    "processor\t: 1\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 3000.500\nflags\t\t: fpu\n\n";

NoiseProbe probe(const char* stat, double self_cpu_s, double wall_s) {
  return noise_probe_from(stat, self_cpu_s, wall_s, 100, {}, kCpuinfo);
}

}  // namespace

TEST(Noise, ParsesProcStatTotalsAndPerCpuLines) {
  const ProcStat s = parse_proc_stat(kStatAfter);
  EXPECT_EQ(s.all.user, 1090u);
  EXPECT_EQ(s.all.system, 210u);
  EXPECT_EQ(s.all.idle, 890u);
  EXPECT_EQ(s.all.steal, 10u);
  EXPECT_EQ(s.all.total(), 2200u);
  EXPECT_EQ(s.all.busy(), 1300u);
  ASSERT_EQ(s.per_cpu.size(), 2u);
  EXPECT_EQ(s.per_cpu.at(0).user, 560u);
  EXPECT_EQ(s.per_cpu.at(1).idle, 470u);
  // Old kernels write fewer fields: the missing ones are 0.
  const ProcStat old = parse_proc_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n");
  EXPECT_EQ(old.all.idle, 4u);
  EXPECT_EQ(old.all.steal, 0u);
  EXPECT_THROW(parse_proc_stat("intr 1 2 3\n"), std::runtime_error);
  EXPECT_THROW(parse_proc_stat(""), std::runtime_error);
}

TEST(Noise, ParsesProcPidStatAndCpuinfo) {
  EXPECT_EQ(parse_proc_pid_cpu_ticks("1234 (my (odd) prog) R 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 1 0\n"), 175u);
  EXPECT_THROW(parse_proc_pid_cpu_ticks("1234 no parens"), std::runtime_error);
  EXPECT_THROW(parse_proc_pid_cpu_ticks("1234 (x) R 1 2"), std::runtime_error);
  const auto mhz = parse_cpuinfo_mhz(kCpuinfo);
  ASSERT_EQ(mhz.size(), 2u);
  EXPECT_DOUBLE_EQ(mhz.at(0), 2000.0);
  EXPECT_DOUBLE_EQ(mhz.at(1), 3000.5);
  EXPECT_TRUE(parse_cpuinfo_mhz("processor : 0\nmodel name : ARM\n").empty());
}

TEST(Noise, MachineWideFactsOfAnInterval) {
  // Busy 100 ticks = 1.0 s of CPU, ours 0.5 s: others had 0.5 s of 2 CPU-seconds.
  const NoiseFacts f = measure(probe(kStatBefore, 2.0, 10.0), probe(kStatAfter, 2.5, 11.0), {});
  EXPECT_DOUBLE_EQ(f.wall_s, 1.0);
  EXPECT_EQ(f.cpus, 2);
  ASSERT_TRUE(f.steal_frac);
  EXPECT_DOUBLE_EQ(*f.steal_frac, 10.0 / 200.0);
  ASSERT_TRUE(f.other_frac);
  EXPECT_DOUBLE_EQ(*f.other_frac, 0.25);
  ASSERT_TRUE(f.freq_mhz);
  EXPECT_DOUBLE_EQ(*f.freq_mhz, (2000.0 + 3000.5) / 2);
  EXPECT_EQ(f.freq_note, "/proc/cpuinfo");
  EXPECT_EQ(f.note, "");
}

TEST(Noise, FactsOnThePointsCpusOnly) {
  // cpu0: 100 ticks, 10 stolen, 70 busy (0.7 s) of which 0.5 s ours.
  const NoiseFacts f = measure(probe(kStatBefore, 2.0, 10.0), probe(kStatAfter, 2.5, 11.0), {0});
  EXPECT_EQ(f.cpus, 1);
  EXPECT_DOUBLE_EQ(*f.steal_frac, 0.1);
  EXPECT_NEAR(*f.other_frac, 0.2, 1e-12);
  EXPECT_DOUBLE_EQ(*f.freq_mhz, 2000.0);
  // cpu1 was idle but for 30 ticks; a CPU /proc/stat lacks is named.
  const NoiseFacts g = measure(probe(kStatBefore, 2.0, 10.0), probe(kStatAfter, 2.0, 11.0), {1, 7});
  EXPECT_EQ(g.cpus, 1);
  EXPECT_DOUBLE_EQ(*g.steal_frac, 0.0);
  EXPECT_NEAR(*g.other_frac, 0.3, 1e-12);
  EXPECT_NE(g.note.find("CPUs 7 not in /proc/stat"), std::string::npos) << g.note;
}

TEST(Noise, OtherShareIsClampedAndShortIntervalsSayWhy) {
  // More CPU time of ours than the ticks show (tick rounding): clamped to 0, not negative.
  const NoiseFacts f = measure(probe(kStatBefore, 0.0, 10.0), probe(kStatAfter, 5.0, 11.0), {});
  EXPECT_DOUBLE_EQ(*f.other_frac, 0.0);
  // Everything busy and none of it ours over half the wall time: clamped to 1.
  const NoiseFacts g = measure(probe(kStatBefore, 0.0, 10.0), probe(kStatAfter, 0.0, 10.25), {});
  EXPECT_DOUBLE_EQ(*g.other_frac, 1.0);
  // No tick between the snapshots.
  const NoiseFacts h = measure(probe(kStatBefore, 0.0, 10.0), probe(kStatBefore, 0.0, 10.001), {});
  EXPECT_FALSE(h.steal_frac);
  EXPECT_FALSE(h.other_frac);
  EXPECT_NE(h.note.find("shorter than one /proc/stat tick"), std::string::npos) << h.note;
  // A few ticks only: the values are given with a caveat.
  const NoiseFacts k = measure(probe("cpu 0 0 0 0 0 0 0 0\ncpu0 0 0 0 0\n", 0, 0),
                               probe("cpu 3 0 0 1 0 0 0 0\ncpu0 3 0 0 1\n", 0, 0.04), {});
  EXPECT_NE(k.note.find("4 ticks over 1 CPU(s): fractions are coarse"), std::string::npos) << k.note;
}

TEST(Noise, FrequencyPrefersCpufreqAndSaysWhyWhenAbsent) {
  NoiseProbe a = noise_probe_from(kStatBefore, 0, 0, 100, {{0, 2400000.0}, {1, 2600000.0}}, kCpuinfo);
  NoiseProbe b = noise_probe_from(kStatAfter, 0, 1, 100, {{0, 2400000.0}, {1, 2600000.0}}, kCpuinfo);
  NoiseFacts f = measure(a, b, {});
  EXPECT_DOUBLE_EQ(*f.freq_mhz, 2500.0);
  EXPECT_EQ(f.freq_note, "scaling_cur_freq");
  NoiseProbe c = noise_probe_from(kStatBefore, 0, 0, 100, {}, "");
  NoiseProbe d = noise_probe_from(kStatAfter, 0, 1, 100, {}, "");
  NoiseFacts g = measure(c, d, {});
  EXPECT_FALSE(g.freq_mhz);
  EXPECT_NE(g.freq_note.find("no cpufreq in sysfs"), std::string::npos) << g.freq_note;
  EXPECT_TRUE(g.steal_frac);  // the rest does not depend on it
}

TEST(Noise, UnreadableProcStatGivesEmptyFractionsWithTheReason) {
  NoiseProbe bad = noise_probe_from("", 0, 0, 100, {}, kCpuinfo);
  EXPECT_FALSE(bad.ok);
  NoiseFacts f = measure(bad, probe(kStatAfter, 0, 1), {});
  EXPECT_FALSE(f.steal_frac);
  EXPECT_FALSE(f.other_frac);
  EXPECT_NE(f.note.find("no /proc/stat"), std::string::npos) << f.note;
}

TEST(Noise, ThisMachinesProbeReadsProcStat) {
  const NoiseProbe p = take_noise_probe();
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_FALSE(p.stat.per_cpu.empty());
  EXPECT_GT(p.stat.all.total(), 0u);
  EXPECT_TRUE(!p.mhz.empty() || !p.mhz_reason.empty());
  const NoiseFacts f = measure(p, take_noise_probe(), {});
  EXPECT_GE(f.wall_s, 0.0);
  if (f.steal_frac) {
    EXPECT_GE(*f.steal_frac, 0.0);
    EXPECT_LE(*f.steal_frac, 1.0);
  }
}

TEST(Noise, NoisyReasonNamesEachBoundExceeded) {
  EXPECT_EQ(noisy_reason(0.01, 0.0), "");
  EXPECT_EQ(noisy_reason(0.05, 0.02), "");  // at the bound is not over it
  EXPECT_EQ(noisy_reason(0.071, 0.0), "noisy: 95% CI ±7.1% of the median > ±5.0%");
  EXPECT_EQ(noisy_reason(0.01, 0.03), "noisy: steal 3.0% of CPU time > 2.0%");
  EXPECT_EQ(noisy_reason(0.2, 0.5), "noisy: 95% CI ±20.0% of the median > ±5.0%; steal 50.0% of CPU time > 2.0%");
  EXPECT_EQ(noisy_reason(NAN, NAN), "");
  EXPECT_EQ(noisy_reason(NAN, 0.03), "noisy: steal 3.0% of CPU time > 2.0%");
}

TEST(Noise, DriftProbeDoesFixedWorkAndJudgesTheChange) {
  const DriftProbe one = drift_probe(1, 1000);
  EXPECT_DOUBLE_EQ(one.flops, 1000 * fma_flops_per_iteration(widest_isa()));
  EXPECT_EQ(one.isa, to_string(widest_isa()));
  EXPECT_GT(one.gflops, 0.0);
  const DriftProbe two = drift_probe(2, 1000);
  EXPECT_DOUBLE_EQ(two.flops, 2 * one.flops);
  EXPECT_EQ(two.threads, 2);

  DriftProbe start, same, slow, fast;
  start.gflops = 100;
  same.gflops = 104;
  slow.gflops = 92.7;
  fast.gflops = 110;
  EXPECT_NEAR(drift_rel(start, slow), -0.073, 1e-12);
  EXPECT_EQ(drift_reason(start, same), "");
  EXPECT_EQ(drift_reason(start, slow), "drift: the FMA probe ran 7.3% slower at the end of the run than at its start (> 5.0%)");
  EXPECT_EQ(drift_reason(start, fast), "drift: the FMA probe ran 10.0% faster at the end of the run than at its start (> 5.0%)");
  EXPECT_TRUE(std::isnan(drift_rel(DriftProbe{}, start)));
  EXPECT_EQ(drift_reason(DriftProbe{}, start), "");
}

