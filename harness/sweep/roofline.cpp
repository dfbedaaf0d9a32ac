#include "sweep/roofline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>

#include "core/params.hpp"

namespace ffnbench {

namespace {

const char* const kLevels[] = {"L1", "L2", "L3", "DRAM"};

int level_index(const std::string& level) {
  for (int i = 0; i < 4; ++i)
    if (level == kLevels[i]) return i;
  return 3;
}

}  // namespace

std::string working_set_level(const std::vector<CacheInfo>& caches, double working_set_bytes) {
  std::vector<const CacheInfo*> data;
  for (const auto& c : caches)
    if (c.type != "Instruction" && c.level >= 1 && c.level <= 3) data.push_back(&c);
  std::sort(data.begin(), data.end(), [](auto* a, auto* b) { return a->level < b->level; });
  for (const auto* c : data)
    if (working_set_bytes <= static_cast<double>(c->size_bytes)) return kLevels[c->level - 1];
  return "DRAM";
}

Ceilings read_ceilings_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("ceilings", path, "a readable ceilings.json written by `ffnbench calibrate`");
  try {
    return ceilings_from_json(nlohmann::json::parse(in));
  } catch (const std::exception& e) {
    throw ConfigError("ceilings", path, fmt::format("a ceilings.json written by `ffnbench calibrate` ({})", e.what()));
  }
}

StageBound stage_bound(const Ceilings& ceilings, int threads, const StageModel& s, double measured_s) {
  StageBound out;
  if (!(measured_s > 0)) {
    out.note = "no measured time";
    return out;
  }
  if (s.flops <= 0 && s.bytes <= 0 && s.stream_bytes <= 0) {
    out.note = "no cost model for this stage";
    return out;
  }
  out.level = working_set_level(ceilings.caches, s.working_set_bytes);
  if (s.flops > 0 && !s.compute_precision.empty() && s.compute_precision != "fp32") {
    // A bf16 dot product does twice the multiply-adds of an fp32 FMA per instruction, an int8 one
    // four times: the fp32 peak does not bound them, and no other peak is measured.
    out.note = fmt::format("its multiply-adds are {}: calibrate measures the fp32 FMA peak only, so no compute ceiling "
                           "bounds them",
                           s.compute_precision);
    return out;
  }
  const std::optional<double> peak = ceilings.peak_gflops(threads);
  // The level's bandwidth at this thread count; a level calibrate skipped (an L3 no larger than
  // the L2 shares) takes the next slower level that was measured, and the note says so.
  std::optional<double> level_gbs;
  std::string measured_level;
  for (int i = level_index(out.level); i < 4 && !level_gbs; ++i)
    if ((level_gbs = ceilings.bandwidth_gbs(kLevels[i], threads))) measured_level = kLevels[i];
  const std::optional<double> dram_gbs = ceilings.bandwidth_gbs("DRAM", threads);

  std::vector<std::string> missing;
  auto consider = [&](double seconds, const std::string& name) {
    if (seconds > out.bound_s) {
      out.bound_s = seconds;
      out.bound = name;
    }
  };
  if (s.flops > 0) {
    if (peak) consider(s.flops / (*peak * 1e9), "compute");
    else missing.push_back(fmt::format("peak at {} threads", threads));
  }
  if (s.bytes > 0) {
    if (level_gbs) consider(s.bytes / (*level_gbs * 1e9), measured_level);
    else missing.push_back(fmt::format("{} bandwidth at {} threads", out.level, threads));
  }
  if (s.stream_bytes > 0) {
    if (dram_gbs) consider(s.stream_bytes / (*dram_gbs * 1e9), "DRAM");
    else missing.push_back(fmt::format("DRAM bandwidth at {} threads", threads));
  }
  if (!missing.empty()) {
    out.note = fmt::format("ceilings.json lacks {}", fmt::join(missing, ", "));
    out.bound.clear();
    out.bound_s = 0;
    return out;
  }
  out.fraction = out.bound_s / measured_s;
  if (!measured_level.empty() && measured_level != out.level)
    out.note = fmt::format("{} not calibrated at {} threads: {} bandwidth used", out.level, threads, measured_level);
  return out;
}

}  // namespace ffnbench
