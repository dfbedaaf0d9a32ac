// Per-point noise facts: how much of the machine a point had while it was measured.
//
// The sweep takes a NoiseProbe right before a point's repetitions and one right after, and
// measure(before, after, cpus) turns the pair into the point's noise facts:
//   - steal_frac: steal ticks / all ticks of the point's CPUs over the interval (/proc/stat; the
//     hypervisor ran someone else on our virtual CPUs);
//   - other_frac: the share of the point's CPUs that other processes (and the kernel on their
//     behalf) used: (busy ticks of those CPUs / USER_HZ − this process's CPU time) / (wall × CPUs),
//     clamped to [0, 1];
//   - freq_mhz: the mean clock of those CPUs at the two snapshots, from cpufreq's scaling_cur_freq,
//     else /proc/cpuinfo "cpu MHz"; empty with the reason where neither is readable.
// /proc/stat counts in ticks of 1/USER_HZ s (10 ms): over intervals of a few ticks the fractions
// are coarse, and an interval without a single tick gives empty fractions with a note.
//
// drift_probe() is a fixed amount of FMA work (calibrate's register-only kernel, ~50 ms on one
// core) to run at the start and the end of a run: a changed GFLOP/s says the machine changed
// under the run (clock, thermal limit, a neighbour), whatever the points measured.
//
// Thresholds (the bounds a point or run is called noisy at):
//   kNoisyCiRelHalfwidth = 0.05  the 95% CI of the median wider than ±5% of the median;
//   kNoisyStealFrac      = 0.02  more than 2% of the point's CPU ticks stolen;
//   kDriftRelBound       = 0.05  start and end drift probes more than 5% apart.
// All parsers are pure functions over text, so tests feed them fixed /proc files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ffnbench {

inline constexpr double kNoisyCiRelHalfwidth = 0.05;
inline constexpr double kNoisyStealFrac = 0.02;
inline constexpr double kDriftRelBound = 0.05;

// One "cpu" / "cpuN" line of /proc/stat, in ticks (guest time is already inside user and nice).
struct CpuTicks {
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  uint64_t total() const { return user + nice + system + idle + iowait + irq + softirq + steal; }
  // Time some task (ours or another's) or the kernel ran: everything but idle, iowait and steal.
  uint64_t busy() const { return user + nice + system + irq + softirq; }
};
CpuTicks operator-(const CpuTicks& a, const CpuTicks& b);  // per field, 0 where b > a
CpuTicks& operator+=(CpuTicks& a, const CpuTicks& b);

struct ProcStat {
  CpuTicks all;                    // the "cpu" line (every CPU)
  std::map<int, CpuTicks> per_cpu; // "cpuN" lines by N
};

// Parses /proc/stat text. Missing trailing fields (old kernels) count as 0. Throws
// std::runtime_error when there is no "cpu " line.
ProcStat parse_proc_stat(const std::string& text);

// utime + stime of /proc/<pid>/stat text in ticks (fields 14 and 15; the command name in
// parentheses may hold spaces and parentheses). Throws std::runtime_error when malformed.
uint64_t parse_proc_pid_cpu_ticks(const std::string& text);

// "cpu MHz" of each "processor : N" block of /proc/cpuinfo text (x86; empty where absent).
std::map<int, double> parse_cpuinfo_mhz(const std::string& text);

// One snapshot. Cheap (a few /proc and /sys reads); take it outside the timed region.
struct NoiseProbe {
  bool ok = false;             // /proc/stat was read
  std::string error;           // why not
  ProcStat stat;
  double self_cpu_s = 0;       // this process's user + system CPU time (getrusage), all threads
  double wall_s = 0;           // steady clock
  double ticks_per_s = 100;    // USER_HZ (sysconf(_SC_CLK_TCK))
  std::map<int, double> mhz;   // CPU -> current MHz where readable
  std::string mhz_source;      // "scaling_cur_freq", "/proc/cpuinfo", or "" (then mhz_reason)
  std::string mhz_reason;
};

// Reads this machine now. Never throws: a failure is ok = false with the error.
NoiseProbe take_noise_probe();

// The pure part of take_noise_probe(): a probe from given texts (scaling_cur_freq values in kHz
// by CPU, empty when sysfs has none; cpuinfo text may be empty).
NoiseProbe noise_probe_from(const std::string& proc_stat, double self_cpu_s, double wall_s, double ticks_per_s,
                            const std::map<int, double>& scaling_cur_khz, const std::string& cpuinfo);

struct NoiseFacts {
  double wall_s = 0;
  int cpus = 0;                          // CPUs the fractions are over
  std::optional<double> steal_frac;      // [0, 1]
  std::optional<double> other_frac;      // [0, 1]
  std::optional<double> freq_mhz;
  std::string note;                      // why a fraction is empty, or what it is over; "" when plain
  std::string freq_note;                 // where freq_mhz came from, or why it is empty
};

// The facts of the interval between two probes on `cpus_used` (the point's pinned CPUs; empty:
// machine-wide, every CPU of /proc/stat). CPUs /proc/stat does not list are left out and named
// in the note.
NoiseFacts measure(const NoiseProbe& before, const NoiseProbe& after, const std::vector<int>& cpus_used);

// "noisy: 95% CI ±7.1% of the median > ±5%; steal 3.0% of CPU time > 2%", or "" when neither
// bound is exceeded. A NaN argument means "not known" and is not judged.
std::string noisy_reason(double ci_rel_halfwidth, double steal_frac);

struct DriftProbe {
  double gflops = 0;      // FP32 GFLOP/s of the fixed work, summed over threads
  double flops = 0;       // the work done (exact: kernel iterations × FLOPs per iteration)
  double seconds = 0;
  int threads = 1;
  std::string isa;        // "avx512" / "avx2"
};

// Fixed FMA work: kDriftIterations iterations of calibrate's fma_peak (widest ISA) per thread:
// 6.4 GFLOP with AVX-512, 3.2 with AVX2, ~50 ms per core at peak. `threads` > 1 runs one copy per
// OpenMP worker (pinned as the run pins them) and sums. Takes ~50 ms: not for unit tests'
// default arguments (pass few iterations there).
inline constexpr int64_t kDriftIterations = int64_t{1} << 24;
DriftProbe drift_probe(int threads = 1, int64_t iterations = kDriftIterations);

// end / start − 1 of two probes' GFLOP/s (NaN when either is not positive).
double drift_rel(const DriftProbe& start, const DriftProbe& end);

// "drift: the FMA probe ran 7.3% slower at the end of the run than at its start (> 5%)", or "".
std::string drift_reason(const DriftProbe& start, const DriftProbe& end);

}  // namespace ffnbench
