// The summary table's and progress lines' row names: the block and the parameters that differ
// between its points, so four "lookup_ffn optimized fp32" rows read as four different points.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sweep/experiment.hpp"
#include "sweep/grid.hpp"
#include "sweep/row_labels.hpp"
#include "support_run_folders.hpp"

namespace fs = std::filesystem;
using namespace ffnbench;

TEST(RowLabels, NameTheBlockAndTheParametersThatDifferWithinIt) {
  const fs::path dir = ffnbench::testing::test_temp_dir("row_labels");
  const fs::path ini = dir / "x.ini";
  std::ofstream(ini) << "name = x\ntokens = 64\nthreads = 1\n\n[lookup_ffn]\nd = 64\nh = 8\n"
                        "order = table_major,tiled\ntable_precision = fp32,bf16\n\n[gemm_ffn]\nd = 64\nd_ff = 256\n"
                        "impl = openblas,onednn\n";
  const auto points = expand_grid(load_experiment(ini.string(), {}));
  const auto varying = varying_parameters(points);
  EXPECT_EQ(varying.at("lookup_ffn"), (std::vector<std::string>{"order", "table_precision"}));
  EXPECT_TRUE(varying.at("gemm_ffn").empty());  // impl has a column of its own
  std::vector<std::string> labels;
  for (const auto& p : points) labels.push_back(row_label(p, varying));
  EXPECT_EQ(labels, (std::vector<std::string>{"lookup_ffn order=table_major table_precision=fp32",
                                              "lookup_ffn order=table_major table_precision=bf16",
                                              "lookup_ffn order=tiled table_precision=fp32",
                                              "lookup_ffn order=tiled table_precision=bf16", "gemm_ffn", "gemm_ffn"}));
  fs::remove_all(dir);
}
