#include "results/benchmark_json.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "core/params.hpp"
#include "merge/dataset.hpp"
#include "merge/experiment_diff.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;  // keys in the order GB writes them
using machine_json_t = nlohmann::json;

namespace ffnbench {

namespace {

constexpr const char* kFile = "benchmark.json";

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno != ERANGE && std::isfinite(out);
}

int64_t parse_int(const std::string& s, int64_t fallback) {
  double v;
  return parse_double(s, v) && v == std::floor(v) ? static_cast<int64_t>(v) : fallback;
}

// GB 1.7's LocalDateTimeString: "2024-01-01T12:00:00+01:00".
std::string gb_date(std::time_t t) {
  std::tm local{};
  localtime_r(&t, &local);
  char buf[64], zone[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &local);
  std::strftime(zone, sizeof zone, "%z", &local);  // "+0100"
  std::string z = zone;
  if (z.size() == 5) z.insert(3, ":");
  return std::string(buf) + z;
}

// The run's start from its run_id ("YYYYmmdd-HHMMSS", local time, maybe suffixed); else now.
std::string run_date(const std::string& run_id) {
  std::tm tm{};
  if (run_id.size() >= 15 && strptime(run_id.substr(0, 15).c_str(), "%Y%m%d-%H%M%S", &tm) != nullptr) {
    tm.tm_isdst = -1;
    const std::time_t t = std::mktime(&tm);
    if (t != static_cast<std::time_t>(-1)) return gb_date(t);
  }
  return gb_date(std::time(nullptr));
}

const machine_json_t& at_or_null(const machine_json_t& j, const std::string& key) {
  static const machine_json_t null;
  return j.is_object() && j.contains(key) ? j.at(key) : null;
}

std::string string_or(const machine_json_t& j, const std::string& fallback) { return j.is_string() ? j.get<std::string>() : fallback; }

json context_of(const machine_json_t& machine, const std::string& run_id, const std::string& experiment,
                const std::string& git_commit_column) {
  const machine_json_t& cpu = at_or_null(machine, "cpu");
  const machine_json_t& freq = at_or_null(machine, "frequency");
  const machine_json_t& build = at_or_null(machine, "build");

  std::string executable = "ffnbench";
  if (const machine_json_t& cl = at_or_null(machine, "command_line"); cl.is_string() && !cl.get<std::string>().empty()) {
    const std::string s = cl.get<std::string>();
    executable = s.substr(0, s.find(' '));
  }
  double mhz = 0;
  for (const char* key : {"current_mhz", "max_mhz"})
    if (const machine_json_t& v = at_or_null(freq, key); v.is_number() && mhz == 0) mhz = v.get<double>();
  // GB: cpu_scaling_enabled is true unless the governor is "performance" (false when unknown).
  const std::string governor = string_or(at_or_null(freq, "governor"), "");
  const bool scaling = !governor.empty() && !governor.starts_with("unknown") && governor != "performance";

  json caches = json::array();
  if (const machine_json_t& cs = at_or_null(cpu, "caches"); cs.is_array())
    for (const auto& c : cs)
      caches.push_back({{"type", string_or(at_or_null(c, "type"), "")},
                        {"level", at_or_null(c, "level").is_number() ? at_or_null(c, "level").get<int64_t>() : 0},
                        {"size", at_or_null(c, "size_bytes").is_number() ? at_or_null(c, "size_bytes").get<int64_t>() : 0},
                        {"num_sharing", at_or_null(c, "shared_by_cpus").is_number()
                                            ? at_or_null(c, "shared_by_cpus").get<int64_t>()
                                            : 0}});
  // machine.json records no load; the load now, when the sweep calls this at its end, is the
  // closest GB's "load_avg" (taken as it reports) has.
  double load[3] = {0, 0, 0};
  json load_avg = json::array();
  if (getloadavg(load, 3) == 3)
    load_avg = {load[0], load[1], load[2]};

  std::string build_type = string_or(at_or_null(build, "build_type"), "");
  std::string library_build_type;
  if (build_type.empty()) {
#ifdef NDEBUG
    library_build_type = "release";
#else
    library_build_type = "debug";
#endif
  } else {
    library_build_type = build_type == "Debug" ? "debug" : "release";
  }

  std::string commit = string_or(at_or_null(machine, "git_commit"), git_commit_column);
  json ctx = {
      {"date", run_date(run_id)},
      {"host_name", string_or(at_or_null(machine, "hostname"), "")},
      {"executable", executable},
      {"num_cpus", at_or_null(cpu, "logical_cpus").is_number() ? at_or_null(cpu, "logical_cpus").get<int64_t>() : 0},
      {"mhz_per_cpu", static_cast<int64_t>(std::llround(mhz))},
      {"cpu_scaling_enabled", scaling},
      {"caches", caches},
      {"load_avg", load_avg},
      {"library_build_type", library_build_type},
      // ffnbench's facts, as GB's custom context (AddCustomContext) adds keys.
      {"machine_id", string_or(at_or_null(machine, "machine_id"), "")},
      {"run_id", run_id},
      {"experiment", experiment},
      {"git_commit", commit.empty() ? "unknown" : commit},
      {"cpu_model", string_or(at_or_null(cpu, "model_name"), "")},
      {"microarchitecture", string_or(at_or_null(cpu, "microarchitecture"), "")},
      {"compiler", string_or(at_or_null(build, "compiler"), "")},
      {"ffnbench_version", string_or(at_or_null(build, "ffnbench_version"), "")},
      {"libraries", at_or_null(machine, "libraries").is_object() ? json::parse(at_or_null(machine, "libraries").dump())
                                                                   : json::object()},
      {"cpu_time_note",
       "cpu_time repeats real_time: ffnbench measures wall-clock time per call (UseRealTime) of a kernel that runs "
       "on its own threads; per-repetition CPU time is not recorded"},
  };
  return ctx;
}

std::string experiment_of(const Dataset& d) {
  const auto settings = experiment_settings(d.experiment_text);
  auto it = settings.find("name");
  return it == settings.end() ? "" : it->second;
}

struct Rep {
  int64_t index;
  int64_t iterations;
  double time_s;
};

}  // namespace

std::string benchmark_name(const std::string& point_id) {
  std::string out;
  size_t start = 0;
  bool first = true;
  while (start <= point_id.size()) {
    size_t bar = point_id.find('|', start);
    const std::string part = point_id.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    if (first) {
      out = part;
      first = false;
    } else {
      size_t s = 0;
      while (s <= part.size()) {
        size_t semi = part.find(';', s);
        std::string kv = part.substr(s, semi == std::string::npos ? std::string::npos : semi - s);
        if (!kv.empty()) {
          if (size_t eq = kv.find('='); eq != std::string::npos) kv[eq] = ':';
          out += "/" + kv;
        }
        if (semi == std::string::npos) break;
        s = semi + 1;
      }
    }
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return out;
}

nlohmann::ordered_json benchmark_json(const std::string& run_folder) {
  const Dataset d = load_dataset(run_folder);
  if (d.machines.size() != 1)
    throw ConfigError(kFile, run_folder,
                      fmt::format("is written for one machine's run folder; this folder holds runs of {} machines "
                                  "(write it in each run folder before merging)",
                                  d.machines.size()));
  const CsvTable& points = d.points;
  const CsvTable& reps = d.reps;
  auto col = [](const CsvTable& t, const std::string& name) -> std::optional<size_t> {
    auto it = std::find(t.header.begin(), t.header.end(), name);
    if (it == t.header.end()) return std::nullopt;
    return static_cast<size_t>(it - t.header.begin());
  };
  auto cell = [&](const CsvTable& t, const std::vector<std::string>& row, const std::string& name) -> std::string {
    auto c = col(t, name);
    return c ? row[*c] : std::string();
  };

  std::map<std::pair<std::string, std::string>, std::vector<Rep>> reps_of;  // (run_id, point_id)
  for (const auto& row : reps.rows) {
    double t;
    if (!parse_double(cell(reps, row, "time_s"), t)) continue;
    auto& v = reps_of[{cell(reps, row, "run_id"), cell(reps, row, "point_id")}];
    v.push_back({parse_int(cell(reps, row, "repetition"), static_cast<int64_t>(v.size())),
                 parse_int(cell(reps, row, "iterations"), 1), t});
  }

  std::string run_id = points.rows.empty() ? fs::path(run_folder).lexically_normal().filename().string()
                                           : cell(points, points.rows.front(), "run_id");
  json doc;
  doc["context"] = context_of(d.machines.begin()->second, run_id, experiment_of(d),
                              points.rows.empty() ? "" : cell(points, points.rows.front(), "git_commit"));
  json benchmarks = json::array(), failed = json::array();
  std::map<std::string, int64_t> family_of_block, instances_of_family;
  for (const auto& row : points.rows) {
    const std::string point_id = cell(points, row, "point_id");
    std::string block = cell(points, row, "block");
    if (block.empty()) block = point_id.substr(0, point_id.find('|'));
    auto [fam, fresh] = family_of_block.try_emplace(block, static_cast<int64_t>(family_of_block.size()));
    const int64_t family = fam->second;
    const int64_t instance = instances_of_family[block]++;
    const std::string name = benchmark_name(point_id);
    const int64_t kernel_threads = parse_int(cell(points, row, "threads"), 1);
    const auto it = reps_of.find({cell(points, row, "run_id"), point_id});
    const std::vector<Rep> rs = it == reps_of.end() ? std::vector<Rep>{} : it->second;
    const int64_t repetitions = parse_int(cell(points, row, "repetitions"), static_cast<int64_t>(rs.size()));
    auto entry = [&](const std::string& entry_name) {
      return json{{"name", entry_name}, {"family_index", family}, {"per_family_instance_index", instance},
                  {"run_name", name}};
    };
    const std::string status = cell(points, row, "status");
    if ((!status.empty() && status != "ok") || rs.empty()) {
      // Not in benchmarks[]: GB would write a zero time with error_occurred, which dashboards
      // and compare.py's geometric mean read as a time. Listed in the context instead.
      const std::string reason = cell(points, row, "status_reason");
      failed.push_back({{"name", name},
                        {"point_id", point_id},
                        {"status", status.empty() || status == "ok" ? "no repetition recorded" : status},
                        {"reason", reason}});
      continue;
    }
    std::vector<double> ms;
    for (const auto& r : rs) {
      json e = entry(name);
      e["run_type"] = "iteration";
      e["repetitions"] = repetitions;
      e["repetition_index"] = r.index;
      e["threads"] = 1;  // GB's benchmark threads: one drives the internally parallel kernel
      e["iterations"] = r.iterations;
      e["real_time"] = r.time_s * 1e3;
      e["cpu_time"] = r.time_s * 1e3;
      e["time_unit"] = "ms";
      e["label"] = point_id;
      e["kernel_threads"] = kernel_threads;
      benchmarks.push_back(std::move(e));
      ms.push_back(r.time_s * 1e3);
    }
    if (ms.size() < 2) continue;  // GB computes aggregates over 2+ repetitions only
    const double n = static_cast<double>(ms.size());
    double mean = 0;
    for (double v : ms) mean += v;
    mean /= n;
    double ss = 0;
    for (double v : ms) ss += (v - mean) * (v - mean);
    const double stddev = std::sqrt(ss / (n - 1));  // GB: sample standard deviation
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const size_t k = sorted.size();
    const double median = k % 2 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
    const double cv = mean != 0 ? stddev / mean : 0.0;
    for (const auto& [agg, value] : std::vector<std::pair<std::string, double>>{
             {"mean", mean}, {"median", median}, {"stddev", stddev}, {"cv", cv}}) {
      json e = entry(name + "_" + agg);
      e["run_type"] = "aggregate";
      e["repetitions"] = repetitions;
      e["threads"] = 1;
      e["aggregate_name"] = agg;
      e["aggregate_unit"] = agg == "cv" ? "percentage" : "time";
      e["iterations"] = static_cast<int64_t>(ms.size());  // GB: the count of repetitions aggregated
      e["real_time"] = value;
      e["cpu_time"] = value;
      e["time_unit"] = "ms";
      e["label"] = point_id;
      benchmarks.push_back(std::move(e));
    }
  }
  doc["context"]["failed_points"] = std::move(failed);
  doc["benchmarks"] = std::move(benchmarks);
  return doc;
}

void check_benchmark_json_writable(const std::string& run_folder) {
  const fs::path dir = run_folder, target = dir / kFile;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw ConfigError(kFile, target.string(), fmt::format("cannot be written: the folder {} does not exist", run_folder));
  if (fs::is_directory(target, ec))
    throw ConfigError(kFile, target.string(), "cannot be written: a folder of that name is in the way");
  const fs::path probe = dir / fmt::format(".{}.probe.{}", kFile, ::getpid());
  {
    std::ofstream out(probe, std::ios::binary);
    if (!out)
      throw ConfigError(kFile, target.string(),
                        fmt::format("cannot be written: creating a file in {} fails: {}", run_folder, std::strerror(errno)));
    out << "{}";
    if (!out.flush()) {
      const std::string why = std::strerror(errno);
      fs::remove(probe, ec);
      throw ConfigError(kFile, target.string(), "cannot be written: " + why);
    }
  }
  fs::remove(probe, ec);
}

std::string write_benchmark_json(const std::string& run_folder) {
  check_benchmark_json_writable(run_folder);
  const json doc = benchmark_json(run_folder);
  const fs::path target = fs::path(run_folder) / kFile;
  const fs::path tmp = fs::path(run_folder) / fmt::format(".{}.tmp.{}", kFile, ::getpid());
  std::error_code ec;
  {
    std::ofstream out(tmp, std::ios::binary);
    if (out) out << doc.dump(2) << "\n";
    if (!out || !out.flush()) {
      const std::string why = std::strerror(errno);
      out.close();
      fs::remove(tmp, ec);
      throw ConfigError(kFile, target.string(), "cannot be written: " + why);
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    throw ConfigError(kFile, target.string(), "cannot be written: " + ec.message());
  }
  return target.string();
}

}  // namespace ffnbench
