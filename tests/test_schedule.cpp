// Interleaved rounds: groups of points sharing tokens and threads, rounds in an order shuffled from
// the seed, every point visited once per round, and groups split when memory runs short.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/registry.hpp"
#include "counters/backend.hpp"
#include "sweep/schedule.hpp"

using namespace ffnbench;

namespace {

Point affine(const std::string& id, int64_t tokens, int threads, const std::string& impl = "good") {
  Point p;
  p.block = "test_affine";
  p.variant = "test_affine";
  p.config = resolve_variant_config(Registry::instance().get("test_affine"), {{"impl", impl}, {"d", "8"}}, "");
  p.tokens = tokens;
  p.threads = threads;
  p.point_id = id;
  return p;
}

}  // namespace

TEST(Schedule, GroupsArePointsSharingTokensAndThreadsByThreadsThenFirstAppearance) {
  std::vector<Point> pts = {affine("a", 64, 1), affine("b", 64, 2), affine("c", 64, 1), affine("d", 8, 1)};
  std::vector<const Point*> in;
  for (auto& p : pts) in.push_back(&p);
  auto groups = interleaving_groups(in);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].size(), 2u);
  EXPECT_EQ(groups[0][0]->point_id, "a");
  EXPECT_EQ(groups[0][1]->point_id, "c");
  EXPECT_EQ(groups[1][0]->point_id, "d");
  EXPECT_EQ(groups[2][0]->point_id, "b");
}

TEST(Schedule, RoundOrdersArePermutationsFixedByTheSeedAndVaryByRound) {
  std::set<std::vector<size_t>> seen;
  for (int r = 0; r < 8; ++r) {
    auto o = round_order(6, 42, r);
    EXPECT_EQ(o, round_order(6, 42, r));
    auto sorted = o;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
    seen.insert(o);
  }
  EXPECT_GT(seen.size(), 4u) << "8 rounds of 6 points should not repeat one order";
  EXPECT_NE(round_order(6, 42, 0), round_order(6, 43, 0));
}

TEST(Schedule, EveryPointIsVisitedOncePerRoundAndFailuresComeOutBeforeTheRounds) {
  initialize_timing_engine({});
  auto none = make_counter_backend("none");
  std::vector<Point> pts = {affine("a", 16, 1), affine("b", 16, 1, "broken"), affine("c", 16, 1)};
  std::vector<const Point*> group = {&pts[0], &pts[1], &pts[2]};
  MeasureSettings s{4, 0.0, 0.001, false, 3, true, 1 << 20};
  std::vector<std::pair<std::string, PointMeasurement>> out;
  std::vector<std::string> log;
  run_interleaved(group, s, *none, MemoryGuard{}, nullptr, [&](const Point& p, PointMeasurement m) { out.emplace_back(p.point_id, std::move(m)); },
                  [&](const std::string& line) { log.push_back(line); });
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].first, "b");  // its gate failed while the group was being built
  EXPECT_EQ(out[0].second.status, "gate_failed");
  std::map<int, std::set<int>> positions;  // round -> positions taken
  for (size_t i = 1; i < 3; ++i) {
    const auto& m = out[i].second;
    ASSERT_EQ(m.status, "ok") << m.reason;
    ASSERT_EQ(m.reps.size(), 4u);
    for (int r = 0; r < 4; ++r) {
      EXPECT_EQ(m.reps[r].round, r);
      positions[r].insert(m.reps[r].position);
    }
  }
  for (const auto& [round, taken] : positions) EXPECT_EQ(taken, (std::set<int>{0, 1})) << "round " << round;
  EXPECT_TRUE(log.empty());
}

TEST(Schedule, AGroupThatDoesNotFitIsSplitIntoTheLargestGroupsThatDoAndSaysSo) {
  initialize_timing_engine({});
  auto none = make_counter_backend("none");
  std::vector<Point> pts = {affine("a", 16, 1), affine("b", 16, 1), affine("c", 16, 1)};
  std::vector<const Point*> group = {&pts[0], &pts[1], &pts[2]};
  // Each built point takes 3 GiB of a fake 10 GiB; with a 2 GiB reserve two fit, the third waits.
  // available() is asked before and after each build: every second answer finds 3 GiB more in use.
  const int64_t gib = int64_t{1} << 30;
  int asked = 0;
  int64_t used = 0;
  MemoryGuard guard{2 * gib, [&] {
                      if (++asked % 2 == 0) used += 3 * gib;
                      return 10 * gib - used;
                    }};
  std::vector<std::string> order, log;
  MeasureSettings s{2, 0.0, 0.001, false, 3, true, 1 << 20};
  run_interleaved(group, s, *none, guard, nullptr, [&](const Point& p, PointMeasurement m) {
        EXPECT_EQ(m.status, "ok") << m.reason;
        EXPECT_EQ(m.reps.size(), 2u);
        order.push_back(p.point_id);
        used -= 3 * gib;  // its memory goes back
      },
      [&](const std::string& line) { log.push_back(line); });
  EXPECT_EQ(order.size(), 3u);
  ASSERT_EQ(log.size(), 1u) << "one split";
  EXPECT_NE(log[0].find("2 of the group's 3 points fit"), std::string::npos) << log[0];
}
