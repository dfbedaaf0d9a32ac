#include "common/trained_weights.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ffnbench {

namespace {

// meta.json's value as the configuration spells values: numbers without a fraction as integers,
// booleans as true/false, strings as they are.
std::string config_spelling(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer() || v.is_number_unsigned()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) {
    const double x = v.get<double>();
    if (x == static_cast<double>(static_cast<int64_t>(x))) return std::to_string(static_cast<int64_t>(x));
    return fmt::format("{}", x);
  }
  return v.dump();
}

bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  double x = 0, y = 0;
  return parse_real(a, x) && parse_real(b, y) && x == y;
}

// The configuration's value of `key` as trained: d_out = 0 stands for d.
std::string effective_value(const Config& c, const std::string& key) {
  if (key == "d_out" && c.has("d") && c.str("d_out") == "0") return c.str("d");
  return c.str(key);
}

void check_meta(const Config& c, const std::string& family, const std::vector<std::string>& keys,
                const std::string& weights_path) {
  const std::string meta_path = meta_json_path(weights_path);
  if (meta_path.empty()) return;
  nlohmann::json meta;
  try {
    std::ifstream in(meta_path);
    meta = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FileContentError(kWeightsParam, meta_path, fmt::format("is not valid JSON ({})", e.what()));
  }
  if (!meta.is_object()) throw FileContentError(kWeightsParam, meta_path, "must be a JSON object (the export's metadata)");
  if (meta.contains("family") && config_spelling(meta["family"]) != family)
    throw FileContentError(kWeightsParam, weights_path,
                           fmt::format("was trained as family {} ({}), but this is a {} block",
                                       config_spelling(meta["family"]), meta_path, family));
  if (!meta.contains("params") || !meta["params"].is_object()) return;
  for (const auto& [key, value] : meta["params"].items()) {
    // Only what the trained function depends on (lookup_ffn's b means nothing with projection = dense).
    if (!c.has(key) || std::find(keys.begin(), keys.end(), key) == keys.end()) continue;
    const std::string trained = config_spelling(value), configured = effective_value(c, key);
    if (!same_value(trained, configured))
      throw FileContentError(kWeightsParam, weights_path,
                             fmt::format("was trained with {} = {} ({}), but the configuration has {} = {}", key,
                                         trained, meta_path, key, c.str(key)));
  }
}

}  // namespace

ParamSpec weights_param() {
  return ParamSpec::text(kWeightsParam, "",
                         "trained weights: a safetensors file of the export format (training/FORMAT.md); "
                         "empty: seeded random weights");
}

std::string meta_json_path(const std::string& weights_path) {
  const std::filesystem::path meta = std::filesystem::path(weights_path).parent_path() / "meta.json";
  std::error_code ec;
  return std::filesystem::is_regular_file(meta, ec) ? meta.string() : "";
}

std::string describe_params(const Config& config, const std::vector<std::string>& keys) {
  std::vector<std::string> parts;
  for (const auto& k : keys) parts.push_back(fmt::format("{} = {}", k, effective_value(config, k)));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::optional<SafetensorsFile> open_trained_weights(const Config& config, const std::string& family,
                                                    const std::vector<TensorNeed>& needs,
                                                    const std::vector<std::string>& keys) {
  if (!config.has(kWeightsParam) || config.str(kWeightsParam).empty()) return std::nullopt;
  const std::string& path = config.str(kWeightsParam);
  SafetensorsFile file = SafetensorsFile::open(path, kWeightsParam);
  const std::string by = fmt::format("{} with {}", family, describe_params(config, keys));
  for (const auto& need : needs) file.expect(need.name, need.shape, by);
  for (const auto& t : file.tensors()) {
    bool used = false;
    for (const auto& need : needs) used = used || need.name == t.name;
    if (!used) {
      std::vector<std::string> names;
      for (const auto& need : needs) names.push_back(need.name);
      throw FileContentError(kWeightsParam, path,
                             fmt::format("has tensor '{}' ({} {}), which {} does not use (it needs: {}): "
                                         "trained with another configuration",
                                         t.name, t.dtype, shape_text(t.shape), by, fmt::join(names, ", ")));
    }
  }
  check_meta(config, family, keys, path);
  return file;
}

AlignedVector<float> load_tensor(const SafetensorsFile& file, const std::string& name) {
  const TensorInfo* t = file.find(name);
  if (t == nullptr) throw std::logic_error("load_tensor: " + name + " was not checked by open_trained_weights");
  AlignedVector<float> out(static_cast<size_t>(t->elements()));
  file.read_f32(*t, out.data());
  return out;
}

AlignedVector<float> load_transposed(const SafetensorsFile& file, const std::string& name) {
  const TensorInfo* t = file.find(name);
  if (t == nullptr || t->shape.size() < 2)
    throw std::logic_error("load_transposed: " + name + " is not a checked tensor of two or more axes");
  const AlignedVector<float> stored = load_tensor(file, name);
  const int64_t rows = t->shape[t->shape.size() - 2], cols = t->shape.back();
  const int64_t matrices = t->elements() / std::max<int64_t>(rows * cols, 1);
  AlignedVector<float> out(stored.size());
#pragma omp parallel for schedule(static) if (stored.size() > (1u << 16))
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) out[m * rows * cols + c * rows + r] = stored[m * rows * cols + r * cols + c];
  return out;
}

}  // namespace ffnbench
