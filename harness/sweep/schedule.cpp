#include "sweep/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <random>

#include "common/memory.hpp"

namespace ffnbench {

std::vector<std::vector<const Point*>> interleaving_groups(const std::vector<const Point*>& points) {
  std::vector<std::vector<const Point*>> groups;
  std::map<std::pair<int64_t, int>, size_t> index;
  for (const Point* p : points) {
    auto key = std::make_pair(p->tokens, p->threads);
    auto it = index.find(key);
    if (it == index.end()) {
      index[key] = groups.size();
      groups.push_back({p});
    } else {
      groups[it->second].push_back(p);
    }
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.front()->threads < b.front()->threads; });
  return groups;
}

std::vector<size_t> round_order(size_t n, uint64_t seed, int round) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(round) + 1);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher-Yates
  return order;
}

namespace {

void run_rounds(std::vector<std::unique_ptr<PreparedPoint>>& built, const MeasureSettings& settings,
                CounterBackend& counters) {
  std::vector<size_t> live;
  for (size_t i = 0; i < built.size(); ++i)
    if (built[i]->ready()) live.push_back(i);
  for (int round = 0; round < settings.repetitions && !g_interrupted.load(); ++round) {
    const auto order = round_order(live.size(), settings.seed, round);
    for (size_t pos = 0; pos < order.size() && !g_interrupted.load(); ++pos) {
      PreparedPoint& p = *built[live[order[pos]]];
      if (!p.ready()) continue;  // failed in an earlier round
      p.visit(counters, round, static_cast<int>(pos), /*warm=*/true);
    }
  }
}

}  // namespace

void run_interleaved(const std::vector<const Point*>& group, const MeasureSettings& settings,
                     CounterBackend& counters, const MemoryGuard& guard, const PoolSource& pools,
                     const std::function<void(const Point&, PointMeasurement)>& on_measured,
                     const std::function<void(const std::string&)>& log) {
  std::function<int64_t()> available = guard.available;
  if (!available) available = [] { return available_memory_bytes(); };
  std::vector<std::unique_ptr<PreparedPoint>> built;
  int64_t largest_footprint = 0;

  auto run_built = [&] {
    run_rounds(built, settings, counters);
    if (g_interrupted.load()) return;
    for (auto& p : built) on_measured(p->point(), p->finish());
    built.clear();
  };

  for (size_t i = 0; i < group.size() && !g_interrupted.load(); ++i) {
    const Point& point = *group[i];
    const int64_t before = available();
    if (!built.empty() && before > 0 && before - largest_footprint < guard.reserve_bytes) {
      log(fmt::format("interleaving: N={} T={}: {} of the group's {} points fit in memory at once "
                      "({} available); the rest run in a group of their own",
                      point.tokens, point.threads, built.size(), group.size(), format_bytes(before)));
      run_built();
      if (g_interrupted.load()) return;
    }
    std::unique_ptr<PreparedPoint> prepared;
    try {
      prepared = std::make_unique<PreparedPoint>(point, settings, pools);
    } catch (const std::bad_alloc&) {
      PointMeasurement m;
      m.status = "error";
      m.reason = "out of memory building this point";
      on_measured(point, std::move(m));
      continue;
    } catch (const std::exception& e) {
      PointMeasurement m;
      m.status = "error";
      m.reason = e.what();
      on_measured(point, std::move(m));
      continue;
    }
    const int64_t after = available();
    if (before > 0 && after > 0) largest_footprint = std::max(largest_footprint, before - after);
    if (!prepared->ready()) {  // gate failed or error: nothing to time, its row goes out now
      on_measured(point, prepared->finish());
      continue;
    }
    built.push_back(std::move(prepared));
  }
  if (!built.empty() && !g_interrupted.load()) run_built();
}

}  // namespace ffnbench
