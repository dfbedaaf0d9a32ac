// Derived metrics on fixed inputs: which events make which quantity, and the arithmetic.
#include <gtest/gtest.h>

#include "counters/derived.hpp"

namespace ffnbench {
namespace {

CounterValue hw(const std::string& event, double value, Source source = Source::Hw) {
  CounterValue v;
  v.event = event;
  v.value = value;
  v.source = source;
  return v;
}

TEST(CountersDerived, PapiPresetsAreTakenAsTheyAre) {
  const auto q = find_counted_quantities({hw("PAPI_SP_OPS", 4e9), hw("PAPI_TOT_INS", 1e9),
                                          hw("PAPI_L3_TCM", 2e6), hw("PAPI_L3_TCA", 8e6),
                                          hw("perf::TASK-CLOCK", 5e8, Source::Sw)});
  ASSERT_TRUE(q.flops && q.instructions && q.llc_misses && q.llc_refs);
  EXPECT_EQ(q.flops->value, 4e9);
  EXPECT_EQ(q.flops->from, "PAPI_SP_OPS");
  EXPECT_EQ(q.instructions->value, 1e9);
  EXPECT_EQ(q.llc_misses->value, 2e6);
  EXPECT_EQ(q.llc_refs->value, 8e6);
  EXPECT_FALSE(q.mem_bytes);  // nothing measured the memory controller
}

TEST(CountersDerived, FpArithEventsAreWeightedByVectorWidth) {
  // likwid's FLOPS_SP group names: 1·10 + 4·100 + 8·1000 + 16·10000 = 168410 FLOPs.
  const auto likwid = find_counted_quantities({hw("FP_ARITH_INST_RETIRED_SCALAR_SINGLE:PMC1", 10),
                                               hw("FP_ARITH_INST_RETIRED_128B_PACKED_SINGLE:PMC0", 100),
                                               hw("FP_ARITH_INST_RETIRED_256B_PACKED_SINGLE:PMC2", 1000),
                                               hw("FP_ARITH_INST_RETIRED_512B_PACKED_SINGLE:PMC3", 10000),
                                               hw("INSTR_RETIRED_ANY:FIXC0", 5e4),
                                               hw("metric:FLOPS_SP:SP [MFLOP/s]", 123.0)});
  ASSERT_TRUE(likwid.flops);
  EXPECT_EQ(likwid.flops->value, 168410);
  ASSERT_TRUE(likwid.instructions);
  EXPECT_EQ(likwid.instructions->value, 5e4);
  // PAPI's native names for the same events; double-precision ones do not count.
  const auto papi = find_counted_quantities({hw("FP_ARITH_INST_RETIRED:512B_PACKED_SINGLE", 3),
                                             hw("FP_ARITH_INST_RETIRED:SCALAR_SINGLE", 2),
                                             hw("FP_ARITH_INST_RETIRED:512B_PACKED_DOUBLE", 1000)});
  ASSERT_TRUE(papi.flops);
  EXPECT_EQ(papi.flops->value, 16 * 3 + 2);
}

TEST(CountersDerived, PerfGenericCacheEventsAndCachesimEventsAreRecognised) {
  const auto perf = find_counted_quantities({hw("perf::LLC-LOAD-MISSES", 30), hw("perf::LLC-STORE-MISSES", 12),
                                             hw("perf::LLC-LOADS", 100), hw("perf::LLC-STORES", 40)});
  EXPECT_EQ(perf.llc_misses->value, 42);
  EXPECT_EQ(perf.llc_misses->from, "perf::LLC-LOAD-MISSES+perf::LLC-STORE-MISSES");
  EXPECT_EQ(perf.llc_refs->value, 140);
  const auto sim = find_counted_quantities({hw("Ir", 1e6, Source::Sim), hw("LL_misses", 500, Source::Sim),
                                            hw("LL_refs", 2000, Source::Sim), hw("DLmr", 450, Source::Sim)});
  EXPECT_EQ(sim.llc_misses->value, 500);
  EXPECT_EQ(sim.llc_misses->source, Source::Sim);
  EXPECT_EQ(sim.instructions->value, 1e6);
  EXPECT_EQ(sim.llc_refs->value, 2000);
}

TEST(CountersDerived, MemoryControllerCasCountsAreLines) {
  const auto likwid = find_counted_quantities({hw("CAS_COUNT_RD:MBOX0C0", 100), hw("CAS_COUNT_WR:MBOX0C1", 50),
                                               hw("CAS_COUNT_RD:MBOX1C0", 10)});
  EXPECT_EQ(likwid.mem_bytes->value, 160 * 64.0);
  const auto papi = find_counted_quantities({hw("skx_unc_imc0::UNC_M_CAS_COUNT:ALL", 7),
                                             hw("skx_unc_imc0::UNC_M_CAS_COUNT:RD", 5)});
  EXPECT_EQ(papi.mem_bytes->value, 7 * 64.0);  // ALL already holds reads and writes
}

TEST(CountersDerived, ArithmeticOnAFixedPoint) {
  PointInputs in;
  in.flops_model = 2e9;
  in.bytes_model = 5e8;
  in.tokens = 1000;
  in.time_s = 0.01;
  in.counted.flops = Counted{1.9e9, Source::Hw, "PAPI_SP_OPS"};
  in.counted.instructions = Counted{4e8, Source::Hw, "PAPI_TOT_INS"};
  in.counted.llc_misses = Counted{1e6, Source::Hw, "PAPI_L3_TCM"};
  in.counted.llc_refs = Counted{4e6, Source::Hw, "PAPI_L3_TCA"};
  const DerivedMetrics d = derive_metrics(in);
  EXPECT_DOUBLE_EQ(d.gflops_model_per_s, 200.0);
  EXPECT_DOUBLE_EQ(*d.gflops_counted_per_s, 190.0);
  EXPECT_DOUBLE_EQ(d.intensity_model, 4.0);
  EXPECT_DOUBLE_EQ(*d.llc_misses_per_token, 1000.0);
  EXPECT_DOUBLE_EQ(*d.llc_misses_per_kilo_instruction, 2.5);
  EXPECT_DOUBLE_EQ(*d.llc_miss_ratio, 0.25);
  // No memory-controller counter: LLC misses × 64 B, marked as an estimate.
  EXPECT_EQ(d.bandwidth_basis, BandwidthBasis::LlcMissEstimate);
  EXPECT_STREQ(to_string(d.bandwidth_basis), "llc_misses_x_line");
  EXPECT_DOUBLE_EQ(*d.mem_bytes, 6.4e7);
  EXPECT_DOUBLE_EQ(*d.mem_bw_gbs, 6.4);
  EXPECT_DOUBLE_EQ(*d.intensity_counted, 1.9e9 / 6.4e7);
  EXPECT_EQ(d.flop_agreement, FlopAgreement::Agrees);
  EXPECT_DOUBLE_EQ(*d.flop_ratio, 0.95);
  EXPECT_TRUE(d.flop_note.empty());
}

TEST(CountersDerived, MemoryControllerBeatsTheMissEstimate) {
  PointInputs in;
  in.flops_model = 1e6;
  in.time_s = 1e-3;
  in.counted.llc_misses = Counted{1000, Source::Hw, "PAPI_L3_TCM"};
  in.counted.mem_bytes = Counted{1e6, Source::Hw, "CAS_COUNT_RD:MBOX0C0"};
  const DerivedMetrics d = derive_metrics(in);
  EXPECT_EQ(d.bandwidth_basis, BandwidthBasis::MemoryController);
  EXPECT_DOUBLE_EQ(*d.mem_bw_gbs, 1.0);
  EXPECT_FALSE(d.llc_misses_per_token);  // tokens unknown (0): left empty, not divided by zero
}

TEST(CountersDerived, SimulatedMissesGiveMissRatesButNoBandwidth) {
  PointInputs in;
  in.flops_model = 1e6;
  in.tokens = 100;
  in.time_s = 1e-3;
  in.counted.llc_misses = Counted{500, Source::Sim, "LL_misses"};
  in.counted.llc_refs = Counted{2000, Source::Sim, "LL_refs"};
  const DerivedMetrics d = derive_metrics(in);
  EXPECT_DOUBLE_EQ(*d.llc_misses_per_token, 5.0);
  EXPECT_DOUBLE_EQ(*d.llc_miss_ratio, 0.25);
  EXPECT_FALSE(d.mem_bytes || d.mem_bw_gbs || d.intensity_counted);
  EXPECT_EQ(d.bandwidth_basis, BandwidthBasis::None);
}

TEST(CountersDerived, NothingMeasuredLeavesEverythingCountedEmpty) {
  PointInputs in;
  in.flops_model = 1e6;
  in.bytes_model = 1e6;
  in.tokens = 10;
  in.time_s = 1e-3;
  const DerivedMetrics d = derive_metrics(in);
  EXPECT_DOUBLE_EQ(d.gflops_model_per_s, 1.0);
  EXPECT_FALSE(d.gflops_counted_per_s || d.mem_bytes || d.mem_bw_gbs || d.llc_misses_per_token ||
               d.llc_miss_ratio || d.intensity_counted || d.flop_ratio);
  EXPECT_EQ(d.bandwidth_basis, BandwidthBasis::None);
  EXPECT_STREQ(to_string(d.bandwidth_basis), "");
  EXPECT_EQ(d.flop_agreement, FlopAgreement::Unmeasured);
}

TEST(CountersDerived, LargeShortfallFlagsAnElidedOrScalarKernel) {
  PointInputs in;
  in.flops_model = 4e9;
  in.time_s = 1;
  in.counted.flops = Counted{2.5e8, Source::Hw, "PAPI_SP_OPS"};
  DerivedMetrics d = derive_metrics(in);
  EXPECT_EQ(d.flop_agreement, FlopAgreement::Shortfall);
  EXPECT_EQ(d.flop_note,
            "counted FLOPs (PAPI_SP_OPS) are 6% of the model: work elided by the compiler, a scalar or "
            "non-FP kernel the event does not see, or a model that overcounts");
  in.counted.flops->value = 6e9;
  d = derive_metrics(in);
  EXPECT_EQ(d.flop_agreement, FlopAgreement::Excess);
  in.counted.flops->value = 4e9 * 0.81;  // inside the default 20% tolerance
  EXPECT_EQ(derive_metrics(in).flop_agreement, FlopAgreement::Agrees);
}

TEST(CountersDerived, RooflineIsTheLowerOfComputeAndBandwidth) {
  EXPECT_DOUBLE_EQ(roofline_attainable(0.5, 1000, 100), 50);
  EXPECT_DOUBLE_EQ(roofline_attainable(100, 1000, 100), 1000);
}

TEST(CountersDerived, IntervalMetricsAreMarked) {
  EXPECT_TRUE(is_interval_metric(hw("metric:MEM:Memory bandwidth [MBytes/s]", 1)));
  EXPECT_FALSE(is_interval_metric(hw("CAS_COUNT_RD:MBOX0C0", 1)));
}

}  // namespace
}  // namespace ffnbench
