#include "sweep/offline_reruns.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
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
  const size_t workers = std::min<size_t>(n, static_cast<size_t>(std::max(1, physical_cores())));
  std::vector<char> done(n, 0);
  std::atomic<size_t> next{0};
  size_t active = workers;
  std::mutex mutex;
  std::condition_variable ready;
  auto work = [&] {
    for (size_t k; !g_interrupted.load() && (k = next++) < n;) {
      OfflineRerun& r = reruns[k];
      bool finished = true;
      try {
        r.measurement.offline_counters = backend.measure_offline(r.run_point_args, kOfflineIterations);
      } catch (const std::exception& e) {
        finished = !g_interrupted.load();  // Ctrl-C reaches the valgrind child too: not its failure
        r.measurement.reason = fmt::format("{} re-run failed, counters empty: {}", backend.name(), e.what());
      }
      std::lock_guard lock(mutex);
      done[k] = finished;
      ready.notify_all();
    }
    std::lock_guard lock(mutex);
    --active;
    ready.notify_all();
  };
  std::fprintf(stderr, "%s: re-running %zu points, %zu at a time\n", backend.name().c_str(), n, workers);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (size_t w = 0; w < workers; ++w) pool.emplace_back(work);
  for (size_t k = 0; k < n; ++k) {
    std::unique_lock lock(mutex);
    ready.wait(lock, [&] { return done[k] || active == 0; });
    if (!done[k]) break;
    lock.unlock();
    write(reruns[k]);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[re-run %zu/%zu] %s | %s\n", k + 1, n, reruns[k].point->point_id.c_str(),
                 format_duration(elapsed).c_str());
  }
  for (auto& t : pool) t.join();
}

}  // namespace ffnbench
