// The timing path in-process, on the test-only affine variant: gate, repetitions, stages, rows.
#include <gtest/gtest.h>

#include <cmath>

#include "common/aligned.hpp"
#include "core/registry.hpp"
#include "counters/backend.hpp"
#include "results/schema.hpp"
#include "sweep/gate.hpp"
#include "sweep/measure.hpp"
#include "sweep/point_rows.hpp"

using namespace ffnbench;

namespace {

constexpr double kSmallLlc = 1 << 20;  // pools of 2 MiB: the machine's LLC would make each test fill ~1 GB

Point affine_point(const std::string& impl, int64_t tokens) {
  Point p;
  p.block = "test_affine";
  p.variant = "test_affine";
  p.config = resolve_variant_config(Registry::instance().get("test_affine"), {{"impl", impl}, {"d", "8"}}, "");
  p.tokens = tokens;
  p.threads = 1;
  p.point_id = "id-" + impl;
  return p;
}

}  // namespace

TEST(Gate, PassesAnExactKernelAndNamesTheWorstElementOfABrokenOne) {
  auto kernel = Registry::instance().get("test_affine").build(
      resolve_variant_config(Registry::instance().get("test_affine"), {{"impl", "broken"}}, ""), 1, 64);
  std::vector<float> X(64 * 8, 0.5f), Y(64 * 8);
  kernel->forward(X.data(), Y.data(), 64, nullptr);
  GateResult g = check_against_reference(*kernel, X.data(), Y.data(), 64);
  EXPECT_FALSE(g.passed);
  EXPECT_NEAR(g.max_error, 0.01 * 2.0 / 4.0, 1e-4);  // |0.02| / (|2| + rms 2)
  EXPECT_NE(g.detail.find("reference 2"), std::string::npos) << g.detail;
  EXPECT_EQ(g.rows_checked, 16);

  std::vector<float> Yok(64 * 8);
  kernel->reference(X.data(), Yok.data(), 64);
  EXPECT_TRUE(check_against_reference(*kernel, X.data(), Yok.data(), 64).passed);
}

TEST(Gate, ANanOutputFails) {
  auto kernel = Registry::instance().get("test_affine").build(
      resolve_variant_config(Registry::instance().get("test_affine"), {}, ""), 1, 4);
  std::vector<float> X(4 * 8, 0.5f), Y(4 * 8);
  kernel->reference(X.data(), Y.data(), 4);
  Y[3 * 8 + 5] = std::nanf("");
  EXPECT_FALSE(check_against_reference(*kernel, X.data(), Y.data(), 4).passed);
}

TEST(MeasurePoint, KeepsEveryRepetitionWithStagesAndOverhead) {
  initialize_timing_engine({});
  auto none = make_counter_backend("none");
  MeasureSettings s{3, 0.0, 0.002, false, 7, true, kSmallLlc};
  PointMeasurement m = measure_point(affine_point("good", 32), s, *none);
  ASSERT_EQ(m.status, "ok") << m.reason;
  ASSERT_EQ(m.reps.size(), 3u);
  for (const auto& r : m.reps) {
    EXPECT_GT(r.iterations, 0);
    EXPECT_GT(r.time_per_call_s, 0);
    ASSERT_EQ(r.stage_s_per_call.size(), 1u);
    EXPECT_LE(r.stage_s_per_call[0], r.time_per_call_s * 1.5);
    EXPECT_GE(r.overhead_s, 0);
  }
  EXPECT_EQ(m.cost.flops, 2.0 * 32 * 8);
  EXPECT_EQ(m.stage_names, std::vector<std::string>{"affine"});
}

TEST(MeasurePoint, AGateFailureIsNotTimed) {
  initialize_timing_engine({});
  auto none = make_counter_backend("none");
  PointMeasurement m = measure_point(affine_point("broken", 8), MeasureSettings{5, 0.1, 0.2, false, 1, true, kSmallLlc}, *none);
  EXPECT_EQ(m.status, "gate_failed");
  EXPECT_TRUE(m.reps.empty());
}

TEST(PointRows, ModelColumnsFilledAndCounterColumnsEmptyWithoutMeasurements) {
  initialize_timing_engine({});
  auto none = make_counter_backend("none");
  Point p = affine_point("good", 16);
  PointMeasurement m = measure_point(p, MeasureSettings{2, 0.0, 0.001, false, 1, true, kSmallLlc}, *none);
  Experiment x;
  RunContext run{"r1", "m1", "abc", "none", "", {"d", "scale"}, {}, 64};
  PointRows rows = make_rows(run, x, p, m);
  auto header = points_header(run.param_names);
  ASSERT_EQ(rows.point.size(), header.size());
  auto col = [&](const std::string& name) {
    return rows.point[std::find(header.begin(), header.end(), name) - header.begin()];
  };
  EXPECT_EQ(col("status"), "ok");
  EXPECT_EQ(col("flops_model"), "256");
  EXPECT_EQ(col("p_d"), "8");
  EXPECT_EQ(col("impl"), "good");
  EXPECT_EQ(col("precision"), "fp32");
  EXPECT_EQ(col("intensity_model"), "0.25");  // 256 FLOP / (8 B x 8 x 16)
  EXPECT_EQ(col("flop_agreement"), "unmeasured");
  for (const char* hw : {"flops_hw", "llc_misses", "llc_refs", "mem_bytes", "mem_bw_gbs", "gflops_hw_per_s",
                         "llc_misses_per_token", "llc_mpki", "llc_miss_ratio", "bandwidth_basis"})
    EXPECT_EQ(col(hw), "") << hw << " must stay empty when nothing was counted";
  EXPECT_EQ(rows.reps.size(), 2u);
  ASSERT_EQ(rows.stages.size(), 1u);
  EXPECT_EQ(rows.stages[0][2], "affine");
}

TEST(MeasurePoint, FreshInputsGiveEveryCallTheNextBatchOfAPoolTwiceTheLlc) {
  initialize_timing_engine({});
  auto none = make_counter_backend("none");
  const double llc = kSmallLlc;
  const int64_t pool_tokens = input_pool_tokens(64, 8, true, llc);
  const int64_t batches = pool_tokens / 64;
  EXPECT_GE(static_cast<double>(batches) * 64 * 8 * 4, 2 * llc) << "the batches cycled through hold 2x the LLC";
  EXPECT_EQ(input_pool_tokens(64, 8, false, llc), 64);  // repeat: one batch
  const int64_t big = input_pool_tokens(1 << 20, 1024, true, 32 << 20);  // a batch larger than the LLC
  EXPECT_EQ(big / (1 << 20), 2) << "two batches alternate";

  MeasureSettings fresh{2, 0.0, 0.001, false, 7, true, kSmallLlc};
  PointMeasurement m = measure_point(affine_point("good", 64), fresh, *none);
  ASSERT_EQ(m.status, "ok") << m.reason;
  EXPECT_EQ(m.input_batches, batches);
  int64_t timed = 0;
  for (const auto& r : m.reps) timed += r.iterations;
  // The gated first call, one warm-up call (warmup_s = 0) and every timed call: each the next
  // batch, until the pool comes round again.
  EXPECT_EQ(std::stoll(m.extras.at("distinct_inputs")), std::min(timed + 2, batches));
  EXPECT_GT(std::stoll(m.extras.at("distinct_inputs")), 2);

  MeasureSettings repeat = fresh;
  repeat.fresh_inputs = false;
  m = measure_point(affine_point("good", 64), repeat, *none);
  EXPECT_EQ(m.input_batches, 1);
  EXPECT_EQ(m.extras.at("distinct_inputs"), "1");
}

TEST(InputPool, BatchZeroIsTheSingleBatchOfOneSeedAndBatchesDiffer) {
  InputPool pool(22, 3, 9);  // four batches of 5 tokens (and 2 left over), or seven of 3
  InputPool one_batch(5, 3, 9);
  const float* single_begin = one_batch.batch(0, 5);
  std::vector<float> single(single_begin, single_begin + 5 * 3);
  EXPECT_TRUE(std::equal(single.begin(), single.end(), pool.batch(0, 5))) << "token i is the same whatever the pool's size";
  EXPECT_EQ(pool.batches(5), 4);
  EXPECT_EQ(pool.batch(4, 5), pool.batch(0, 5));  // cycling
  EXPECT_EQ(pool.batch(1, 5), pool.batch(0, 5) + 5 * 3);
  EXPECT_FALSE(std::equal(single.begin(), single.end(), pool.batch(1, 5)));
  EXPECT_EQ(pool.batches(3), 7);
  EXPECT_EQ(pool.bytes(), 22u * 3 * sizeof(float));
  EXPECT_EQ(InputPool(5, 3, 9).batches(5), 1);
}

TEST(InputPool, ACacheSharesAPoolPerWidthGrowsItAndStartsAfreshForAnotherTeam) {
  PoolCache cache;
  auto a = cache.get(1, 8, 100, 3);
  EXPECT_EQ(cache.get(1, 8, 50, 3), a) << "a smaller need is served by the pool there";
  EXPECT_NE(cache.get(1, 16, 50, 3), a) << "another width, another pool";
  auto grown = cache.get(1, 8, 200, 3);
  EXPECT_EQ(grown->pool_tokens(), 200);
  EXPECT_NE(cache.get(2, 8, 50, 3), grown) << "another thread count touches its own pages";
}

TEST(MeasurePoint, TheGateAlsoChecksATimedCall) {
  initialize_timing_engine({});
  auto none = make_counter_backend("none");
  PointMeasurement m = measure_point(affine_point("late_broken", 16), MeasureSettings{2, 0.0, 0.001, false, 1, true, kSmallLlc}, *none);
  EXPECT_EQ(m.status, "gate_failed");
  EXPECT_NE(m.reason.find("a timed call"), std::string::npos) << m.reason;
  EXPECT_EQ(m.gate.rows_checked, 32);  // 16 rows of the first call, 16 of the last timed one
}

TEST(TimeSummary, MedianMinMaxCov) {
  TimeSummary t = summarize_times({3, 1, 2, 4});
  EXPECT_DOUBLE_EQ(t.median, 2.5);
  EXPECT_DOUBLE_EQ(t.min, 1);
  EXPECT_DOUBLE_EQ(t.max, 4);
  EXPECT_NEAR(t.cov, 1.2909944 / 2.5, 1e-6);
}
