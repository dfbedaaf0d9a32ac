#include "report/report.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "build_info.hpp"
#include "core/params.hpp"
#include "merge/dataset.hpp"
#include "merge/experiment_diff.hpp"
#include "report/figure_scripts.hpp"
#include "report/machine_views.hpp"
#include "report/references.hpp"

namespace fs = std::filesystem;

namespace ffnbench {

namespace {

constexpr const char* kCrossMachineScript = "crossmachine_figures.py";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string last_lines(const std::string& text, size_t n) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
  return lines.empty() ? "(no output)" : fmt::format("{}", fmt::join(lines, "\n"));
}

std::string machine_title(const nlohmann::json& m, const std::string& id) {
  const auto cpu = m.value("cpu", nlohmann::json::object());
  std::string name = cpu.value("model_name", id);
  std::string uarch = cpu.value("microarchitecture", "");
  return uarch.empty() ? name : fmt::format("{} ({})", name, uarch);
}

std::vector<fs::path> images_in(const fs::path& figures) {
  std::vector<fs::path> images;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(figures, ec))
    if (e.path().extension() == ".png") images.push_back(e.path());
  std::sort(images.begin(), images.end());
  return images;
}

ReportOptions checked(ReportOptions o) {
  if (o.plots_dir.empty()) o.plots_dir = (fs::path(build_info::kSourceDir) / "plots").string();
  if (!fs::is_regular_file(fs::path(o.plots_dir) / kCrossMachineScript))
    throw ConfigError("plots", o.plots_dir,
                      fmt::format("must be the plots/ folder of ffnbench's source (holding {}); give it with --plots",
                                  kCrossMachineScript));
  if (access(o.python.c_str(), X_OK) != 0)
    throw ConfigError("python", o.python,
                      "must be a Python 3 with matplotlib and pandas (Debian: python3-matplotlib python3-pandas)");
  for (const auto& root : o.references)
    if (!fs::is_directory(root))
      throw ConfigError("reference", root,
                        "must be a folder of reference run folders (results/reference/<machine_id>/<experiment>/), "
                        "or none to leave the reference machines out");
  if (o.out.empty()) o.out = (fs::path(o.folder) / "report.md").string();
  const fs::path parent = fs::absolute(o.out).parent_path();
  if (!fs::is_directory(parent)) throw ConfigError("out", o.out, "must be in an existing folder");
  return o;
}

std::string reference_section(const ReferenceSet& refs, const Dataset& d, const std::string& name, const fs::path& base,
                              std::vector<std::string>& figures) {
  std::string md = "## Next to the reference machines\n\n";
  if (refs.roots.empty()) return md + "Left out (`--reference none`).\n\n";
  const std::string where = fmt::format("{}", fmt::join(refs.roots, ", "));
  if (refs.runs.empty())
    return md + fmt::format("No reference run of experiment `{}` of another machine in {} (`--reference DIR` adds a "
                            "folder of them; `scripts/refresh_reference.sh RUN_DIR` makes one).\n\n", name, where);
  md += fmt::format("This data merged with the reference runs of `{}` (from {}) into `{}`:\n\n", name, where,
                    fs::relative(fs::absolute(refs.combined.empty() ? d.path : refs.combined), base).generic_string());
  for (size_t i = 0; i < refs.runs.size(); ++i) md += fmt::format("- `{}`: {}\n", refs.machines[i], refs.runs[i]);
  if (!refs.differing_keys.empty())
    md += fmt::format("\nTheir experiment differs from this one in: {}; compare points of equal parameters only.\n",
                      fmt::join(refs.differing_keys, ", "));
  for (const auto& note : refs.notes) md += fmt::format("\n- note: {}", note);
  md += "\n\n";
  if (!refs.error.empty()) return md + fmt::format("They could not be combined: {}\n\n", refs.error);
  const fs::path figs = fs::path(refs.combined) / "figures";
  if (fs::exists(figs / "crossmachine_table.md")) md += slurp(figs / "crossmachine_table.md") + "\n";
  if (fs::exists(figs / "claims.md")) md += "The claims on every machine:\n\n" + slurp(figs / "claims.md") + "\n";
  for (const auto& image : images_in(figs)) {
    const std::string link = fs::relative(fs::absolute(image), base).generic_string();
    figures.push_back(link);
    md += fmt::format("![{}]({})\n\n", image.stem().string(), link);
  }
  return md;
}

struct Section {
  std::string title;
  std::vector<fs::path> images;
};

}  // namespace

ReportResult write_report(const ReportOptions& given) {
  // Every input check before anything is drawn or written.
  if (given.folder.empty()) throw ConfigError("folder", "", "give a run folder or a merged folder to report on");
  const Dataset d = load_dataset(given.folder);
  const ReportOptions o = checked(given);
  const auto settings = experiment_settings(d.experiment_text);
  auto setting = [&](const char* key) {
    auto it = settings.find(key);
    return it == settings.end() ? std::string() : it->second;
  };

  // Figures: across machines on the dataset itself; the per-run scripts on each machine.
  std::vector<std::string> scripts = figure_scripts(o.plots_dir);
  std::vector<std::string> per_machine;
  for (const auto& s : scripts)
    if (s != kCrossMachineScript) per_machine.push_back(s);
  ReportResult result;
  std::vector<ScriptRun> runs;
  std::vector<Section> sections;
  if (d.merged) {
    runs = draw_figures(d.path, {kCrossMachineScript}, o.plots_dir, o.python, o.refresh);
    sections.push_back({"Across machines", images_in(fs::path(d.path) / "figures")});
    std::vector<std::string> views = write_machine_views(d);
    for (const auto& view : views) {
      auto more = draw_figures(view, per_machine, o.plots_dir, o.python, o.refresh);
      runs.insert(runs.end(), more.begin(), more.end());
      const std::string id = fs::path(view).filename().string();
      sections.push_back({fmt::format("{} (`{}`)", machine_title(d.machines.at(id), id), id),
                          images_in(fs::path(view) / "figures")});
    }
  } else {
    runs = draw_figures(d.path, scripts, o.plots_dir, o.python, o.refresh);
    const auto& [id, machine] = *d.machines.begin();
    sections.push_back({fmt::format("{} (`{}`)", machine_title(machine, id), id), images_in(fs::path(d.path) / "figures")});
  }
  const ReferenceSet refs = combine_with_references(d, o.references);
  if (!refs.combined.empty()) {
    auto more = draw_figures(refs.combined, {kCrossMachineScript}, o.plots_dir, o.python, o.refresh);
    runs.insert(runs.end(), more.begin(), more.end());
  }
  result.reference_machines = refs.machines;
  for (const auto& r : runs) {
    if (r.status > 0) result.failed_scripts.push_back(fmt::format("{} on {}", r.script, r.folder));
    if (r.status >= 0) ++result.scripts_run;
  }

  const fs::path out = fs::absolute(o.out);
  const fs::path base = out.parent_path();
  const fs::path figures = fs::path(d.path) / "figures";
  std::string md;
  const std::string name = setting("name").empty() ? fs::path(d.path).filename().string() : setting("name");
  md += fmt::format("# ffnbench report: {}\n\n", name);
  if (!setting("description").empty()) md += setting("description") + "\n\n";
  md += fmt::format("{} of {} machine(s), {} points; written {} by ffnbench {}.\n\n",
                    d.merged ? "Merged dataset" : "Run folder", d.machines.size(), d.points.rows.size(),
                    fmt::format("{:%Y-%m-%d %H:%M}", fmt::localtime(std::time(nullptr))), build_info::kVersion);

  md += "## Machines\n\n";
  if (fs::exists(figures / "crossmachine_table.md")) md += slurp(figures / "crossmachine_table.md") + "\n";
  else
    for (const auto& [id, m] : d.machines) md += fmt::format("- `{}`: {}\n", id, machine_title(m, id));
  md += "\n";

  md += "## Published claims, checked\n\n";
  if (fs::exists(figures / "claims.md"))
    md += "Each claim against this data: the best point of the variant at equal tokens, threads and d "
          "against two baselines, each paired in time with its own CI and verdict: the best dense at the "
          "same precision (the fastest gemm_ffn impl at the variant's precision; LookupFFN's bf16 or int8 "
          "tables count as that precision) and the best dense at any precision this machine ran (the "
          "fastest gemm_ffn over every impl and precision). A claim whose baseline is another impl of its "
          "variant is measured against that impl alone (plots/claims.py, plots/ffndataset.py).\n\n" +
          slurp(figures / "claims.md") + "\n";
  else md += "Not evaluated: crossmachine_figures.py did not run (see below).\n\n";

  md += reference_section(refs, d, name, base, result.figures);

  md += "## Points\n\n| machine | ok | other status |\n|---|---|---|\n";
  {
    const size_t mc = d.points.column("machine_id");
    const auto status_col = std::find(d.points.header.begin(), d.points.header.end(), "status");
    std::map<std::string, std::map<std::string, size_t>> counts;
    for (const auto& row : d.points.rows)
      ++counts[row[mc]][status_col == d.points.header.end() ? "?" : row[status_col - d.points.header.begin()]];
    for (const auto& [id, by_status] : counts) {
      std::vector<std::string> other;
      for (const auto& [status, n] : by_status)
        if (status != "ok") other.push_back(fmt::format("{} {}", n, status));
      md += fmt::format("| `{}` | {} | {} |\n", id, by_status.count("ok") ? by_status.at("ok") : 0,
                        other.empty() ? "—" : fmt::format("{}", fmt::join(other, ", ")));
    }
  }
  md += "\n";

  md += "## Figures\n\n";
  for (const auto& section : sections) {
    md += fmt::format("### {}\n\n", section.title);
    if (section.images.empty()) md += "No figure for this data.\n\n";
    for (const auto& image : section.images) {
      const std::string link = fs::relative(fs::absolute(image), base).generic_string();
      result.figures.push_back(link);
      md += fmt::format("![{}]({})\n\n", image.stem().string(), link);
    }
  }
  if (!result.failed_scripts.empty()) {
    md += "### Figure scripts that failed\n\n";
    for (const auto& r : runs)
      if (r.status > 0)
        md += fmt::format("- `{}` on `{}` (exit status {}):\n\n```\n{}\n```\n\n", r.script, r.folder, r.status,
                          last_lines(r.output, 12));
  }

  md += "## Data\n\n";
  for (const char* file : {"points.csv", "stages.csv", "reps.csv", "counters.csv", "experiment.ini"})
    md += fmt::format("- [{}]({})\n", file, fs::relative(fs::absolute(fs::path(d.path) / file), base).generic_string());
  if (d.merged) md += fmt::format("- [merge.json]({}) (which run each point came from)\n",
                                  fs::relative(fs::absolute(fs::path(d.path) / "merge.json"), base).generic_string());
  md += "\nThe experiment as run:\n\n```ini\n" + d.experiment_text + (d.experiment_text.ends_with("\n") ? "" : "\n") +
        "```\n";

  const fs::path tmp = base / fmt::format(".{}.partial-{}", out.filename().string(), ::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    f << md;
    if (!f) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, out);
  result.path = out.string();
  return result;
}

}  // namespace ffnbench
