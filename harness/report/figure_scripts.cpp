#include "report/figure_scripts.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace ffnbench {

namespace {

constexpr const char* kStamp = ".drawn";  // written after a complete drawing

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_capturing(const std::string& command, std::string& output) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return 127;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

std::vector<std::string> figure_scripts(const std::string& plots_dir) {
  std::vector<std::string> scripts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(plots_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 11 && name.ends_with("_figures.py")) scripts.push_back(name);
  }
  std::sort(scripts.begin(), scripts.end());
  return scripts;
}

bool figures_up_to_date(const std::string& folder, const std::string& plots_dir) {
  std::error_code ec;
  const fs::path stamp = fs::path(folder) / "figures" / kStamp;
  const auto drawn = fs::last_write_time(stamp, ec);
  if (ec) return false;
  std::vector<fs::path> inputs = {fs::path(folder) / "points.csv", fs::path(folder) / "ceilings.json"};
  for (const auto& e : fs::directory_iterator(plots_dir, ec))
    if (e.path().extension() == ".py") inputs.push_back(e.path());
  for (const auto& input : inputs) {
    auto t = fs::last_write_time(input, ec);
    if (!ec && t > drawn) return false;
  }
  return true;
}

std::vector<ScriptRun> draw_figures(const std::string& folder, const std::vector<std::string>& scripts,
                                    const std::string& plots_dir, const std::string& python, bool refresh) {
  std::vector<ScriptRun> runs;
  if (!refresh && figures_up_to_date(folder, plots_dir)) {
    for (const auto& s : scripts) runs.push_back({s, folder, -1, ""});
    return runs;
  }
  const fs::path figures = fs::path(folder) / "figures";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(figures, ec)) {
    const auto ext = e.path().extension();
    if (ext == ".png" || ext == ".pdf" || ext == ".md" || ext == ".csv" || e.path().filename() == kStamp)
      fs::remove(e.path(), ec);
  }
  bool all_ok = true;
  for (const auto& s : scripts) {
    ScriptRun run{s, folder, 0, ""};
    run.status = run_capturing(shell_quote(python) + " " + shell_quote((fs::path(plots_dir) / s).string()) + " " +
                                   shell_quote(folder),
                               run.output);
    all_ok = all_ok && run.status == 0;
    runs.push_back(std::move(run));
  }
  if (all_ok) {
    fs::create_directories(figures);
    std::ofstream(figures / kStamp) << "figures drawn by ffnbench report\n";
  }
  return runs;
}

}  // namespace ffnbench
