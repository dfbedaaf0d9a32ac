// `ffnbench report <run or merged folder> [--out report.md] [--refresh] [--plots DIR] [--python PATH]`
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/command.hpp"
#include "core/params.hpp"
#include "report/report.hpp"
#include "report/references.hpp"

namespace po = boost::program_options;

namespace ffnbench {
namespace {

int report_main(int argc, char** argv) {
  po::options_description opts(
      "ffnbench report <run folder or merged folder> [options]\n\n"
      "Writes a self-contained Markdown report: the machine table, the published claims checked\n"
      "against the measured numbers, every figure of the experiment as a relative image link, and\n"
      "the data files, and the reference machines (results/reference) side by side with it. Figures that are missing or older than the data or the scripts are drawn\n"
      "first with plots/*_figures.py.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("out,o", po::value<std::string>(), "the report to write (default: <folder>/report.md)")
      ("refresh", "redraw every figure even if it is up to date")
      ("plots", po::value<std::string>(), "the plots/ folder (default: the source tree ffnbench was built from)")
      ("python", po::value<std::string>()->default_value("/usr/bin/python3"), "Python with matplotlib and pandas")
      ("reference", po::value<std::vector<std::string>>()->composing(),
       "a folder of reference run folders to show side by side (repeatable; results/reference of the source "
       "tree always, unless one is `none`, which leaves them all out)")
      ("folder", po::value<std::string>(), "run folder or merged folder");
  po::positional_options_description positional;
  positional.add("folder", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
  } catch (const po::error& e) {
    std::vector<std::string> args(argv + 1, argv + argc);
    throw ConfigError("report", fmt::format("{}", fmt::join(args, " ")), e.what());
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kExitOk;
  }
  ReportOptions options;
  if (vm.count("folder")) options.folder = vm["folder"].as<std::string>();
  if (vm.count("out")) options.out = vm["out"].as<std::string>();
  if (vm.count("plots")) options.plots_dir = vm["plots"].as<std::string>();
  options.python = vm["python"].as<std::string>();
  options.refresh = vm.count("refresh") != 0;
  std::vector<std::string> references = {default_reference_root()};
  if (vm.count("reference"))
    for (const auto& r : vm["reference"].as<std::vector<std::string>>()) references.push_back(r);
  if (std::find(references.begin(), references.end(), "none") != references.end()) references.clear();
  // A clean clone has results/reference; a source tree without it has no default references.
  else if (!std::filesystem::is_directory(references.front())) references.erase(references.begin());
  options.references = references;

  ReportResult r = write_report(options);
  std::printf("report: %s (%zu figures; %s)\n", r.path.c_str(), r.figures.size(),
              r.scripts_run ? fmt::format("{} figure script runs", r.scripts_run).c_str() : "figures were up to date");
  if (!r.reference_machines.empty())
    std::printf("reference machines side by side: %s\n", fmt::format("{}", fmt::join(r.reference_machines, ", ")).c_str());
  for (const auto& f : r.failed_scripts) std::fprintf(stderr, "figure script failed: %s (its output is in the report)\n", f.c_str());
  return r.failed_scripts.empty() ? kExitOk : kExitFailure;
}

const CommandRegistrar registrar{{"report", "write a Markdown report of a run or merged folder, claims checked", report_main}};

}  // namespace
}  // namespace ffnbench
