// Runs the figure scripts (plots/*_figures.py) on a folder when its figures are missing or stale.
#pragma once

#include <string>
#include <vector>

namespace ffnbench {

struct ScriptRun {
  std::string script;   // file name, e.g. sweep_figures.py
  std::string folder;   // what it drew
  int status = 0;       // exit status (0 ok); -1: not run (figures were up to date)
  std::string output;   // its stdout + stderr (the tail is shown when it failed)
};

// All plots/*_figures.py, sorted by name.
std::vector<std::string> figure_scripts(const std::string& plots_dir);

// Runs each of `scripts` as `<python> <script> <folder>` unless <folder>/figures/ is up to date:
// newer than the folder's points.csv and ceilings.json and than every plots/*.py (the scripts
// and their helpers). Before running, the old figure files (png, pdf, md, csv) are removed, so
// none outlives the data it was drawn from. `refresh` runs them regardless.
std::vector<ScriptRun> draw_figures(const std::string& folder, const std::vector<std::string>& scripts,
                                    const std::string& plots_dir, const std::string& python, bool refresh);

// Whether <folder>/figures/ is up to date in the sense above.
bool figures_up_to_date(const std::string& folder, const std::string& plots_dir);

}  // namespace ffnbench
