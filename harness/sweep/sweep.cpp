#include "sweep/sweep.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/memory.hpp"
#include "core/registry.hpp"
#include "counters/backend.hpp"
#include "counters/factory.hpp"
#include "machine/machine_info.hpp"
#include "machine/noise.hpp"
#include "machine/topology.hpp"
#include "results/benchmark_json.hpp"
#include "results/run_folder.hpp"
#include "results/schema.hpp"
#include "sweep/measure.hpp"
#include "sweep/memory_preflight.hpp"
#include "sweep/offline_reruns.hpp"
#include "sweep/pinning.hpp"
#include "sweep/point_rows.hpp"
#include "sweep/progress.hpp"
#include "sweep/pytorch_gate.hpp"
#include "sweep/roofline.hpp"
#include "sweep/row_labels.hpp"
#include "sweep/run_point.hpp"
#include "sweep/schedule.hpp"

namespace ffnbench {

namespace {

// The ceilings the stages are set against: the experiment's `ceilings` file (copied into the
// run folder, so the run says what it was compared with), else the run folder's own on resume.
void attach_ceilings(RunContext& run, const Experiment& x, const RunFolder& folder, bool resume) {
  const std::string own = folder.file("ceilings.json");
  if (!x.ceilings_path.empty()) {
    run.ceilings = read_ceilings_file(x.ceilings_path);
    if (!std::filesystem::exists(own) || !std::filesystem::equivalent(own, x.ceilings_path))
      folder.write_file("ceilings.json", to_json(*run.ceilings).dump(2) + "\n");
  } else if (resume && std::filesystem::exists(own)) {
    run.ceilings = read_ceilings_file(own);
  } else {
    run.ceilings_note = "no ceilings: run `ffnbench calibrate` and pass ceilings = <its ceilings.json>";
  }
}

void on_sigint(int) {
  if (g_interrupted.exchange(true)) std::_Exit(130);  // a second Ctrl-C: leave at once
}

std::vector<std::string> parameter_columns(const Experiment& x) {
  std::set<std::string> names;
  for (const auto& block : x.blocks)
    for (const auto& spec : Registry::instance().get(block.variant).params())
      if (spec.name != "impl" && spec.name != "precision") names.insert(spec.name);
  return {names.begin(), names.end()};
}

// The counter backend: as asked, or auto-detected; an unusable one falls back with its reason.
std::unique_ptr<CounterBackend> choose_backend(const Experiment& x, int max_threads,
                                               std::vector<std::string>& log) {
  if (x.counters != "auto") {
    auto backend = make_counter_backend(x.counters);  // ConfigError for unknown names
    BackendStatus status = backend->probe();
    if (status.available) return backend;
    log.push_back(fmt::format("counters: {} unavailable ({}); falling back to auto-detection",
                              x.counters, status.reason));
  }
  return detect_counter_backend(x.events, max_threads, log);  // the first that knows the events
}

// The files points read besides their weights (which the variants checked): an activations file
// as inputs (x of the point's width), and the export's activations beside trained weights (x and
// PyTorch's y, for the cross-framework gate). Widths come from the parameters d and d_out (0: d).
void check_trained_files(const Experiment& x, const std::vector<Point>& points) {
  std::set<std::string> checked;
  for (const auto& p : points) {
    if (p.invalid || !p.config.has("d")) continue;
    const int64_t d = p.config.integer("d");
    const int64_t d_out = p.config.has("d_out") && p.config.integer("d_out") > 0 ? p.config.integer("d_out") : d;
    const std::string key = p.inputs == x.inputs ? "inputs" : p.block + ".inputs";
    if (is_inputs_file(p.inputs) && checked.insert(p.inputs + "|" + std::to_string(d)).second)
      check_activations_file(p.inputs, key, d, 0);
    const std::string weights = p.config.has("weights") ? p.config.str("weights") : "";
    const std::string activations = pytorch_activations_for(weights);
    if (!activations.empty() && checked.insert(activations + "|" + std::to_string(d) + "|" + std::to_string(d_out)).second)
      check_activations_file(activations, p.block + ".weights", d, d_out);
  }
}

struct Tally {
  size_t ok = 0, failed = 0, invalid = 0, skipped = 0;
};


// One row per point: its label (block and the parameters that set it apart from the block's other
// points) and its measurement.
void print_summary(const std::vector<std::pair<std::string, std::vector<std::string>>>& rows, const Tally& tally,
                   const std::string& folder) {
  size_t width = 5;
  for (const auto& [label, r] : rows) width = std::max(width, label.size());
  std::printf("\n%-*s %-10s %-6s %8s %3s %12s %10s  %s\n", static_cast<int>(width), "point", "impl", "prec", "tokens",
              "T", "median_ms", "GFLOP/s", "status");
  const auto& cols = points_core_columns();
  auto at = [&](const std::vector<std::string>& r, const char* c) {
    return r[std::find(cols.begin(), cols.end(), c) - cols.begin()];
  };
  for (const auto& [label, r] : rows) {
    double t = at(r, "time_median_s").empty() ? 0 : std::stod(at(r, "time_median_s"));
    std::printf("%-*s %-10s %-6s %8s %3s %12s %10s  %s\n", static_cast<int>(width), label.c_str(),
                at(r, "impl").c_str(), at(r, "precision").c_str(), at(r, "tokens").c_str(),
                at(r, "threads").c_str(), t > 0 ? fmt::format("{:.4f}", t * 1e3).c_str() : "-",
                at(r, "gflops_model_per_s").empty() ? "-" : at(r, "gflops_model_per_s").c_str(),
                at(r, "status").c_str());
  }
  std::printf("\n%zu ok, %zu failed, %zu invalid, %zu already done; results in %s\n", tally.ok,
              tally.failed, tally.invalid, tally.skipped, folder.c_str());
}

}  // namespace

int run_sweep(const Experiment& x, const SweepOptions& opt) {
  // Everything that can be wrong with the input is found before the run folder exists.
  const std::vector<Point> grid = expand_grid(x);
  if (static_cast<size_t>(opt.shard.count) > grid.size())
    throw ConfigError("shard", fmt::format("{}/{}", opt.shard.index, opt.shard.count),
                      fmt::format("the grid of {} has {} point(s): use at most that many shards", x.name, grid.size()));
  std::vector<Point> points = select_shard(grid, opt.shard);
  // The input pool of every point must fit (a width is known from the variant's `d`).
  // input_pool_mib stands for twice the LLC.
  const double llc = x.input_pool_mib > 0 ? x.input_pool_mib * (1 << 20) / 2 : last_level_cache_bytes();
  check_trained_files(x, points);
  for (const auto& p : points) {
    if (p.invalid || !p.config.has("d") || is_inputs_file(p.inputs)) continue;
    const int64_t d = p.config.integer("d");
    const double pool_bytes = 4.0 * static_cast<double>(d) *
                              static_cast<double>(input_pool_tokens(p.tokens, d, x.inputs == "fresh", llc));
    check_fits_in_memory("inputs", x.inputs,
                         pool_bytes, fmt::format("the input pool of {} ({} tokens of width {})", p.point_id,
                                                 p.tokens, d));
  }
  // A point whose whole working set cannot fit is an invalid cell, refused before it is built.
  preflight_memory(points, llc);
  size_t invalid = 0;
  for (const auto& p : points) {
    if (!p.invalid) continue;
    ++invalid;
    if (x.on_invalid == "error") throw *p.invalid;
    std::fprintf(stderr, "invalid cell skipped: %s: %s\n", p.point_id.c_str(), p.invalid->what());
  }
  if (invalid == points.size())
    throw ConfigError("experiment", x.name, "no valid point to run (every cell is invalid)");
  if (opt.dry_run) {
    for (const auto& p : points)
      std::printf("%s%s\n", p.point_id.c_str(), p.invalid ? "  [invalid]" : "");
    return 0;
  }
  initialize_timing_engine(opt.benchmark_flags);

  std::vector<std::string> log;
  int max_threads = 1;
  for (const auto& p : points) max_threads = std::max(max_threads, p.threads);
  auto backend = choose_backend(x, max_threads, log);
  for (const auto& [key, value] : x.counter_options) backend->set_option(key, value);
  backend->configure(x.events, max_threads);  // unknown events: ConfigError, nothing written yet
  for (const auto& line : log) std::fprintf(stderr, "%s\n", line.c_str());
  for (const auto& [event, reason] : backend->unavailable())
    std::fprintf(stderr, "counters: %s not counted: %s\n", event.c_str(), reason.c_str());

  const std::string mid = machine_id();
  RunFolder folder = opt.resume ? RunFolder::open_existing(x.output, x.name, mid, opt.resume_dir)
                                : RunFolder::create(x.output, x.name, mid);
  try {
    check_benchmark_json_writable(folder.path());
  } catch (const ConfigError&) {
    if (!opt.resume) std::filesystem::remove_all(folder.path());  // a new folder leaves nothing behind
    throw;
  }
  if (opt.remeasure_noisy) {
    const auto noisy = folder.noisy_points();
    std::fprintf(stderr, "remeasuring %zu noisy point(s)\n", noisy.size());
    folder.remove_points(noisy);
  }
  std::set<std::string> finished = opt.resume ? folder.finished_points() : std::set<std::string>{};

  RunContext run;
  run.run_id = folder.run_id();
  run.machine_id = mid;
  run.git_commit = git_commit();
  run.counter_backend = backend->name();
  for (const auto& line : log) {  // "counters: likwid unavailable (...); trying the next backend"
    std::string said = line.rfind("counters: ", 0) == 0 ? line.substr(10) : line;
    run.counter_fallbacks += (run.counter_fallbacks.empty() ? "" : " | ") + said;
  }
  run.param_names = parameter_columns(x);
  attach_ceilings(run, x, folder, opt.resume);
  run.unavailable_events = backend->unavailable();
  for (const auto& c : cpu_info().caches)
    if (c.type != "Instruction" && c.line_bytes > 0) run.llc_line_bytes = c.line_bytes;

  // The machine's speed at the start and the end of the run: a fixed FMA probe on one core.
  const DriftProbe drift_start = drift_probe(1);
  auto machine = machine_json(opt.command_line);
  machine["pinning"] = configure_pinning();
  machine["counters"] = {{"backend", backend->name()}, {"fallbacks", log}, {"events", x.events}};
  if (!opt.resume) {
    folder.write_file("experiment.ini", x.source_text);
    folder.write_file("machine.json", machine.dump(2) + "\n");
    folder.write_file("schema.json", schema_json_text());
  }
  CsvAppender points_csv(folder.file("points.csv"), points_header(run.param_names));
  CsvAppender stages_csv(folder.file("stages.csv"), stages_header());
  CsvAppender reps_csv(folder.file("reps.csv"), reps_header());
  CsvAppender counters_csv(folder.file("counters.csv"), counters_header());
  if (!opt.run_folder_file.empty()) {
    std::ofstream out(opt.run_folder_file);
    out << folder.path() << "\n";
  }
  std::fprintf(stderr, "run folder: %s (counters: %s)\n", folder.path().c_str(), backend->name().c_str());

  // Each point's own inputs (Point::inputs: the block's or the experiment's) say fresh or repeat.
  MeasureSettings settings{x.repetitions, x.warmup_s, x.min_time_s, x.cache_mode == "cold", x.seed, true, llc};
  auto previous = std::signal(SIGINT, on_sigint);
  Tally tally;
  std::vector<std::pair<std::string, std::vector<std::string>>> summary;
  const auto varying = varying_parameters(points);
  Progress progress(points.size());
  // Rows of a measured point: details first, the point row last, so a point in points.csv has
  // all its rows on disk.
  auto write_point = [&](const Point& p, const PointMeasurement& m) {
    PointRows rows = make_rows(run, x, p, m);
    stages_csv.append_rows(rows.stages);
    reps_csv.append_rows(rows.reps);
    counters_csv.append_rows(rows.counters);
    points_csv.append(rows.point);
    summary.emplace_back(row_label(p, varying), rows.point);
    if (m.status == "ok") {
      ++tally.ok;
    } else {
      ++tally.failed;
      progress.finish();
      std::fprintf(stderr, "point %s: %s: %s\n", p.point_id.c_str(), m.status.c_str(), m.reason.c_str());
    }
  };
  // Points timed whose counters a re-running backend (cachesim) still has to measure: the
  // re-runs come after every timing, in parallel, so they never share the cores with a timing.
  std::vector<OfflineRerun> reruns;
  auto on_measured = [&](const Point& p, PointMeasurement m) {
    if (m.status == "ok" && backend->measures_offline() && !m.needs_isa.empty()) {
      const std::string why = fmt::format("{} counters empty: the kernel needs {}, which valgrind's simulated CPU lacks",
                                          backend->name(), m.needs_isa);
      m.reason = m.reason.empty() ? why : m.reason + "; " + why;
      write_point(p, m);
      return;
    }
    if (m.status == "ok" && backend->measures_offline()) {
      const int rerun_threads = backend->offline_threads(p.threads);
      if (rerun_threads != p.threads)
        m.reason = m.reason.empty() ? backend->offline_threads_note() : m.reason + "; " + backend->offline_threads_note();
      reruns.push_back({&p, std::move(m), run_point_args(p, x.seed, settings.cold_cache, settings.fresh_inputs, rerun_threads)});
      return;
    }
    write_point(p, m);
  };
  std::vector<const Point*> todo;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    if (finished.count(p.point_id)) { ++tally.skipped; continue; }
    if (p.invalid) {
      points_csv.append(make_unmeasured_row(run, x, p, "invalid", p.invalid->what()));
      ++tally.invalid;
      continue;
    }
    todo.push_back(&p);
  }
  auto label = [&](const Point& p) {
    return fmt::format("{} [{}] {} N={} T={}", row_label(p, varying), p.config.has("impl") ? p.config.str("impl") : "",
                       p.config.has("precision") ? p.config.str("precision") : "", p.tokens, p.threads);
  };
  size_t started = 0;
  PoolCache pools;
  if (x.schedule == "sequential") {
    for (const Point* p : todo) {
      if (g_interrupted.load()) break;
      progress.start_point(started++, label(*p));
      PointMeasurement m;
      try {
        backend->configure(x.events, p->threads);
        m = measure_point(*p, settings, *backend, pools.source(p->threads, settings.seed));
      } catch (const std::bad_alloc&) {
        m.status = "error";
        m.reason = "out of memory building or running this point";
      } catch (const std::exception& e) {
        m.status = "error";
        m.reason = e.what();
      }
      if (m.status == "interrupted") break;  // an unfinished point is not written: --resume reruns it
      on_measured(*p, std::move(m));
    }
  } else {
    MemoryGuard guard;
    for (const auto& group : interleaving_groups(todo)) {
      if (g_interrupted.load()) break;
      std::vector<std::string> members;
      for (const Point* p : group)
        members.push_back(fmt::format("{} [{}]", row_label(*p, varying), p->config.has("impl") ? p->config.str("impl") : ""));
      progress.start_point(started, fmt::format("{} points at N={} T={} in {} interleaved rounds: {}", group.size(),
                                                group.front()->tokens, group.front()->threads, x.repetitions,
                                                fmt::join(members, ", ")));
      started += group.size();
      try {
        backend->configure(x.events, group.front()->threads);
        run_interleaved(group, settings, *backend, guard, pools.source(group.front()->threads, settings.seed),
                        on_measured, [&](const std::string& line) {
          progress.finish();
          std::fprintf(stderr, "%s\n", line.c_str());
        });
      } catch (const std::exception& e) {  // a visit that throws ends its group: its points are not written
        progress.finish();
        std::fprintf(stderr, "group N=%lld T=%d: %s\n", static_cast<long long>(group.front()->tokens),
                     group.front()->threads, e.what());
        tally.failed += group.size();
      }
    }
  }
  progress.finish();
  // Interleaved groups come by thread count: the re-runs write their rows in grid order.
  std::stable_sort(reruns.begin(), reruns.end(),
                   [](const OfflineRerun& a, const OfflineRerun& b) { return a.point->index < b.point->index; });
  if (!reruns.empty() && !g_interrupted.load())
    run_offline_counters(*backend, reruns, [&](const OfflineRerun& r) { write_point(*r.point, r.measurement); });
  std::signal(SIGINT, previous);
  if (!g_interrupted.load()) {
    const DriftProbe drift_end = drift_probe(1);
    const std::string drift = drift_reason(drift_start, drift_end);
    auto& d = machine["drift"];
    d = {{"probe", "calibrate's FMA kernel, 1 thread"}, {"isa", drift_start.isa},
         {"start_gflops", drift_start.gflops}, {"end_gflops", drift_end.gflops},
         {"change", drift_rel(drift_start, drift_end)}, {"noisy", drift}};
    if (opt.resume) machine["drift"]["note"] = "this session's probes; the run folder's machine.json kept the first session's facts";
    else folder.write_file("machine.json", machine.dump(2) + "\n");
    if (!drift.empty()) std::fprintf(stderr, "%s\n", drift.c_str());
  }
  if (tally.ok + tally.failed + tally.skipped > 0) write_benchmark_json(folder.path());
  print_summary(summary, tally, folder.path());
  if (g_interrupted.load()) {
    std::fprintf(stderr, "interrupted: finished points are saved; continue with --resume\n");
    return 130;
  }
  return tally.failed > 0 ? 1 : 0;
}

}  // namespace ffnbench
