// Test support for counter backends: busy work whose CPU time is known, and the bracket that
// TASK-CLOCK between start() and stop() must fall into.
#pragma once

#include <string>
#include <vector>

#include "counters/backend.hpp"

namespace ffnbench::testing {

const CounterValue& find_value(const std::vector<CounterValue>& values, const std::string& event);

// Spins every worker until it has used `seconds` of CPU time (not wall time: the cores are
// shared with other tests); returns the CPU time the workers used in the loop.
double busy_loop(double seconds, int threads);

// TASK-CLOCK between start() and stop() lies between the CPU time of the work inside and that of
// a bracket around start..stop: it also counts what workers burn outside the work (OpenMP
// spin-waits, start/stop themselves), which grows when other processes share the cores.
struct Bracketed {
  double counted_s, inner_cpu_s, outer_cpu_s, wall_s;
};
Bracketed measure_task_clock(CounterBackend& backend, int threads, double busy_s);
void expect_bracketed(const Bracketed& m);

}  // namespace ffnbench::testing
