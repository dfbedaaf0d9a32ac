#include "support_counting.hpp"

#include <gtest/gtest.h>
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace ffnbench::testing {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// CPU time of every worker of a `threads` team, summed.
double team_cpu_seconds(int threads) {
  double sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
  sum += thread_cpu_seconds();
  return sum;
}

}  // namespace

const CounterValue& find_value(const std::vector<CounterValue>& values, const std::string& event) {
  auto it = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.event == event; });
  if (it == values.end()) throw std::runtime_error("no value for " + event);
  return *it;
}

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

Bracketed measure_task_clock(CounterBackend& backend, int threads, double busy_s) {
  const double before = team_cpu_seconds(threads);
  const auto t0 = std::chrono::steady_clock::now();
  backend.start();
  const double inner = busy_s > 0 ? busy_loop(busy_s, threads) : 0.0;
  backend.stop();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double outer = team_cpu_seconds(threads) - before;
  return {find_value(backend.read(), "perf::TASK-CLOCK").value * 1e-9, inner, outer, wall};
}

void expect_bracketed(const Bracketed& m) {
  // The counter and the thread CPU clocks are read at different instants and account scheduler
  // ticks separately; on a loaded machine (ctest -j2, a neighbour VM) they drift apart by a few
  // percent. What the tests check survives a relative slack: a count missing a worker is off by
  // half, a cumulative one by the whole previous interval.
  const double slack = 2e-3 + 0.05 * m.outer_cpu_s;
  EXPECT_GE(m.counted_s, m.inner_cpu_s - slack) << "inner " << m.inner_cpu_s << " outer " << m.outer_cpu_s;
  EXPECT_LE(m.counted_s, m.outer_cpu_s + slack) << "inner " << m.inner_cpu_s << " outer " << m.outer_cpu_s;
}

}  // namespace ffnbench::testing
