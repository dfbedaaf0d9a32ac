#include "sweep/offline_reruns.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "machine/topology.hpp"
#include "sweep/progress.hpp"

namespace ffnbench {
namespace {

// Forward calls counted per point (after its warm-up call). The simulated counts are
// deterministic, and each simulated call costs ~100x a native one: one suffices.
constexpr int kOfflineIterations = 1;

}  // namespace

void run_offline_counters(CounterBackend& backend, std::vector<OfflineRerun>& reruns,
                          const std::function<void(const OfflineRerun&)>& write) {
  const size_t n = reruns.size();
  // source[k]: the first point with k's command, whose re-run k shares.
  std::vector<size_t> source(n), unique;
  std::map<std::vector<std::string>, size_t> first;
  for (size_t k = 0; k < n; ++k) {
    source[k] = first.emplace(reruns[k].run_point_args, k).first->second;
    if (source[k] == k) unique.push_back(k);
  }
  // Longest first (native CPU time of a call as the estimate), so that the last re-runs to
  // finish are short ones and no core idles while one long re-run ends the sweep.
  auto native_cpu_s = [&](size_t k) {
    double best = 0;
    for (const auto& rep : reruns[k].measurement.reps)
      best = best == 0 ? rep.time_per_call_s : std::min(best, rep.time_per_call_s);
    return best * reruns[k].point->threads;
  };
  std::stable_sort(unique.begin(), unique.end(), [&](size_t a, size_t b) { return native_cpu_s(a) > native_cpu_s(b); });
  const size_t workers = std::min<size_t>(unique.size(), static_cast<size_t>(std::max(1, physical_cores())));
  std::vector<char> done(n, 0);
  std::vector<std::string> failure(n);
  std::atomic<size_t> next{0};
  size_t active = workers;
  std::mutex mutex;
  std::condition_variable ready;
  auto work = [&] {
    widen_affinity_to_usable_cpus();  // children inherit this thread's mask: not the main thread's one CPU
    for (size_t u; !g_interrupted.load() && (u = next++) < unique.size();) {
      OfflineRerun& r = reruns[unique[u]];
      bool finished = true;
      std::string why;
      try {
        r.measurement.offline_counters = backend.measure_offline(r.run_point_args, kOfflineIterations);
      } catch (const std::exception& e) {
        finished = !g_interrupted.load();  // Ctrl-C reaches the valgrind child too: not its failure
        why = fmt::format("{} re-run failed, counters empty: {}", backend.name(), e.what());
      }
      std::lock_guard lock(mutex);
      failure[unique[u]] = std::move(why);
      done[unique[u]] = finished;
      ready.notify_all();
    }
    std::lock_guard lock(mutex);
    --active;
    ready.notify_all();
  };
  std::fprintf(stderr, "%s: re-running %zu points (%zu distinct re-runs), %zu at a time\n", backend.name().c_str(), n,
               unique.size(), workers);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (size_t w = 0; w < workers; ++w) pool.emplace_back(work);
  for (size_t k = 0; k < n; ++k) {
    std::unique_lock lock(mutex);
    ready.wait(lock, [&] { return done[source[k]] || active == 0; });
    if (!done[source[k]]) continue;  // interrupted before its re-run: --resume measures it
    lock.unlock();
    OfflineRerun& r = reruns[k];
    if (source[k] != k) r.measurement.offline_counters = reruns[source[k]].measurement.offline_counters;
    if (const std::string& why = failure[source[k]]; !why.empty())
      r.measurement.reason = r.measurement.reason.empty() ? why : r.measurement.reason + "; " + why;
    write(r);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[re-run %zu/%zu] %s | %s\n", k + 1, n, r.point->point_id.c_str(), format_duration(elapsed).c_str());
  }
  for (auto& t : pool) t.join();
}

}  // namespace ffnbench
