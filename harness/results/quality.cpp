#include "results/quality.hpp"

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/params.hpp"

namespace ffnbench {

std::optional<QualityFacts> read_quality(const std::string& weights_path, const std::string& key) {
  if (weights_path.empty()) return std::nullopt;
  const auto meta_path = std::filesystem::path(weights_path).parent_path() / "meta.json";
  std::ifstream in(meta_path);
  if (!in) return std::nullopt;
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FileContentError(key, meta_path.string(), std::string("is not valid JSON (") + e.what() + ")");
  }
  if (!meta.is_object() || !meta.contains("test_accuracy") || !meta["test_accuracy"].is_number()) return std::nullopt;
  QualityFacts q;
  q.value = meta["test_accuracy"].get<double>();
  const auto number = [&](const char* k) {
    return meta.contains(k) && meta[k].is_number() ? meta[k].get<double>() : std::numeric_limits<double>::quiet_NaN();
  };
  const auto text = [&](const char* k) { return meta.contains(k) && meta[k].is_string() ? meta[k].get<std::string>() : ""; };
  q.dense = number("dense_test_accuracy");
  q.dataset = text("dataset");
  q.model = text("name");
  return q;
}

}  // namespace ffnbench
