#include "machine/noise.hpp"
#include "core/text.hpp"

#include <dirent.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "calibrate/kernels.hpp"

namespace ffnbench {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double self_cpu_seconds() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}


std::string percent(double frac) { return fmt::format("{:.1f}%", 100 * frac); }

}  // namespace

CpuTicks operator-(const CpuTicks& a, const CpuTicks& b) {
  auto d = [](uint64_t x, uint64_t y) { return x > y ? x - y : uint64_t{0}; };
  return {d(a.user, b.user),     d(a.nice, b.nice), d(a.system, b.system),   d(a.idle, b.idle),
          d(a.iowait, b.iowait), d(a.irq, b.irq),   d(a.softirq, b.softirq), d(a.steal, b.steal)};
}

CpuTicks& operator+=(CpuTicks& a, const CpuTicks& b) {
  a.user += b.user;
  a.nice += b.nice;
  a.system += b.system;
  a.idle += b.idle;
  a.iowait += b.iowait;
  a.irq += b.irq;
  a.softirq += b.softirq;
  a.steal += b.steal;
  return a;
}

ProcStat parse_proc_stat(const std::string& text) {
  ProcStat out;
  bool seen_all = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("cpu", 0) != 0) continue;
    std::istringstream in(line);
    std::string label;
    in >> label;
    uint64_t f[8] = {};
    for (auto& v : f)
      if (!(in >> v)) break;  // older kernels have fewer fields
    const CpuTicks t{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]};
    if (label == "cpu") {
      out.all = t;
      seen_all = true;
    } else {
      char* end = nullptr;
      const long n = std::strtol(label.c_str() + 3, &end, 10);
      if (end != label.c_str() + 3 && *end == '\0' && n >= 0) out.per_cpu[static_cast<int>(n)] = t;
    }
  }
  if (!seen_all) throw std::runtime_error("/proc/stat: no 'cpu ' line");
  return out;
}

uint64_t parse_proc_pid_cpu_ticks(const std::string& text) {
  const size_t close = text.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("/proc/<pid>/stat: no ')' after the command name");
  std::istringstream in(text.substr(close + 1));
  // After the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 13; ++i)
    if (!(in >> field)) throw std::runtime_error("/proc/<pid>/stat: too few fields");
  if (!(in >> utime >> stime)) throw std::runtime_error("/proc/<pid>/stat: no utime and stime");
  return utime + stime;
}

std::map<int, double> parse_cpuinfo_mhz(const std::string& text) {
  std::map<int, double> out;
  int processor = -1;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "processor") processor = std::atoi(value.c_str());
    else if (key == "cpu MHz" && processor >= 0) {
      char* end = nullptr;
      const double mhz = std::strtod(value.c_str(), &end);
      if (end != value.c_str() && mhz > 0) out[processor] = mhz;
    }
  }
  return out;
}

NoiseProbe noise_probe_from(const std::string& proc_stat, double self_cpu_s, double wall_s, double ticks_per_s,
                            const std::map<int, double>& scaling_cur_khz, const std::string& cpuinfo) {
  NoiseProbe p;
  p.self_cpu_s = self_cpu_s;
  p.wall_s = wall_s;
  p.ticks_per_s = ticks_per_s > 0 ? ticks_per_s : 100;
  try {
    p.stat = parse_proc_stat(proc_stat);
    p.ok = true;
  } catch (const std::exception& e) {
    p.error = e.what();
  }
  if (!scaling_cur_khz.empty()) {
    for (const auto& [cpu, khz] : scaling_cur_khz) p.mhz[cpu] = khz / 1000.0;
    p.mhz_source = "scaling_cur_freq";
  } else if (auto mhz = parse_cpuinfo_mhz(cpuinfo); !mhz.empty()) {
    p.mhz = std::move(mhz);
    p.mhz_source = "/proc/cpuinfo";
  } else {
    p.mhz_reason = "no cpufreq in sysfs (scaling_cur_freq) and no 'cpu MHz' in /proc/cpuinfo";
  }
  return p;
}

NoiseProbe take_noise_probe() {
  const double wall = now_s(), self = self_cpu_seconds();
  const std::string stat = slurp("/proc/stat");
  std::map<int, double> khz;
  if (DIR* d = opendir("/sys/devices/system/cpu")) {
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind("cpu", 0) != 0 || name.size() < 4 || !std::isdigit(static_cast<unsigned char>(name[3])))
        continue;
      const std::string text = slurp("/sys/devices/system/cpu/" + name + "/cpufreq/scaling_cur_freq");
      const double v = std::atof(text.c_str());
      if (v > 0) khz[std::atoi(name.c_str() + 3)] = v;
    }
    closedir(d);
  }
  const std::string cpuinfo = khz.empty() ? slurp("/proc/cpuinfo") : std::string();
  NoiseProbe p = noise_probe_from(stat, self, wall, static_cast<double>(sysconf(_SC_CLK_TCK)), khz, cpuinfo);
  if (stat.empty()) p.error = "/proc/stat is not readable";
  return p;
}

NoiseFacts measure(const NoiseProbe& before, const NoiseProbe& after, const std::vector<int>& cpus_used) {
  NoiseFacts f;
  f.wall_s = std::max(0.0, after.wall_s - before.wall_s);
  std::vector<std::string> notes;

  // Frequency: the mean over the CPUs (and both snapshots) that have a value.
  std::vector<int> freq_cpus = cpus_used;
  if (freq_cpus.empty())
    for (const auto& [cpu, mhz] : after.mhz) freq_cpus.push_back(cpu);
  double sum = 0;
  int n = 0;
  for (const NoiseProbe* p : {&before, &after})
    for (int cpu : freq_cpus)
      if (auto it = p->mhz.find(cpu); it != p->mhz.end()) {
        sum += it->second;
        ++n;
      }
  if (n > 0) {
    f.freq_mhz = sum / n;
    f.freq_note = after.mhz_source.empty() ? before.mhz_source : after.mhz_source;
  } else {
    f.freq_note = !after.mhz_reason.empty() ? after.mhz_reason
                  : !before.mhz_reason.empty() ? before.mhz_reason
                                               : "no frequency readable for the point's CPUs";
  }

  if (!before.ok || !after.ok) {
    f.note = "no /proc/stat: " + (before.ok ? after.error : before.error);
    return f;
  }
  CpuTicks d;
  if (cpus_used.empty()) {
    d = after.stat.all - before.stat.all;
    f.cpus = static_cast<int>(std::max<size_t>(1, after.stat.per_cpu.size()));
  } else {
    std::vector<int> missing;
    for (int cpu : cpus_used) {
      auto a = after.stat.per_cpu.find(cpu), b = before.stat.per_cpu.find(cpu);
      if (a == after.stat.per_cpu.end() || b == before.stat.per_cpu.end()) {
        missing.push_back(cpu);
        continue;
      }
      d += a->second - b->second;
      ++f.cpus;
    }
    if (!missing.empty()) notes.push_back(fmt::format("CPUs {} not in /proc/stat", fmt::join(missing, ",")));
  }
  const uint64_t all = d.total();
  if (all == 0 || f.cpus == 0) {
    notes.push_back("interval shorter than one /proc/stat tick: no steal or load fractions");
    f.note = fmt::format("{}", fmt::join(notes, "; "));
    return f;
  }
  f.steal_frac = static_cast<double>(d.steal) / static_cast<double>(all);
  const double capacity_s = f.wall_s * f.cpus;
  if (capacity_s > 0) {
    const double busy_s = static_cast<double>(d.busy()) / before.ticks_per_s;
    const double own_s = std::max(0.0, after.self_cpu_s - before.self_cpu_s);
    f.other_frac = std::clamp((busy_s - own_s) / capacity_s, 0.0, 1.0);
  }
  if (all < 10ull * static_cast<uint64_t>(f.cpus))
    notes.push_back(fmt::format("{} ticks over {} CPU(s): fractions are coarse", all, f.cpus));
  f.note = fmt::format("{}", fmt::join(notes, "; "));
  return f;
}

std::string noisy_reason(double ci_rel_halfwidth, double steal_frac) {
  std::vector<std::string> why;
  if (std::isfinite(ci_rel_halfwidth) && ci_rel_halfwidth > kNoisyCiRelHalfwidth)
    why.push_back(fmt::format("95% CI ±{} of the median > ±{}", percent(ci_rel_halfwidth), percent(kNoisyCiRelHalfwidth)));
  if (std::isfinite(steal_frac) && steal_frac > kNoisyStealFrac)
    why.push_back(fmt::format("steal {} of CPU time > {}", percent(steal_frac), percent(kNoisyStealFrac)));
  return why.empty() ? std::string() : fmt::format("noisy: {}", fmt::join(why, "; "));
}

DriftProbe drift_probe(int threads, int64_t iterations) {
  DriftProbe p;
  p.threads = std::max(1, threads);
  const Isa isa = widest_isa();
  p.isa = to_string(isa);
  const double t0 = now_s();
  double flops = 0;
  if (p.threads == 1) {
    flops = fma_peak(isa, iterations);
  } else {
#pragma omp parallel num_threads(p.threads) reduction(+ : flops)
    flops += fma_peak(isa, iterations);
  }
  p.seconds = now_s() - t0;
  p.flops = flops;
  p.gflops = p.seconds > 0 ? flops / p.seconds / 1e9 : 0;
  return p;
}

double drift_rel(const DriftProbe& start, const DriftProbe& end) {
  if (!(start.gflops > 0) || !(end.gflops > 0)) return NAN;
  return end.gflops / start.gflops - 1;
}

std::string drift_reason(const DriftProbe& start, const DriftProbe& end) {
  const double rel = drift_rel(start, end);
  if (!std::isfinite(rel) || std::fabs(rel) <= kDriftRelBound) return {};
  return fmt::format("drift: the FMA probe ran {} {} at the end of the run than at its start (> {})",
                     percent(std::fabs(rel)), rel < 0 ? "slower" : "faster", percent(kDriftRelBound));
}

}  // namespace ffnbench
