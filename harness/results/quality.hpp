// The quality a trained block was bought at: the export's meta.json beside its weights file
// (training/FORMAT.md §4), for the points.csv quality columns. Random weights have none.
#pragma once

#include <optional>
#include <string>

namespace ffnbench {

struct QualityFacts {
  std::string metric = "test_accuracy";  // fraction in [0, 1] on the test split of `dataset`
  std::string dataset;
  double value = 0;   // this model's
  double dense = 0;   // the dense twin's (gemm_ffn trained the same way)
  std::string model;  // meta.json's name
};

// From the meta.json in the folder of `weights_path`; nothing when the path is empty, there is no
// meta.json or it lacks test_accuracy. Throws FileContentError(key, meta.json, why) when the
// file is not JSON.
std::optional<QualityFacts> read_quality(const std::string& weights_path, const std::string& key);

}  // namespace ffnbench
