// `ffnbench merge <run folder>... --out <folder> [--keep first|last|<run_id>] [--ignore <key>]...`
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <iostream>

#include "cli/command.hpp"
#include "core/params.hpp"
#include "merge/merge.hpp"

namespace po = boost::program_options;

namespace ffnbench {
namespace {

int merge_main(int argc, char** argv) {
  po::options_description opts(
      "ffnbench merge <run folder>... --out <folder> [options]\n\n"
      "Combines run folders of one experiment, from any number of machines (copied here: no\n"
      "network needed), into one dataset folder: the four CSVs concatenated, experiment.ini,\n"
      "machines/<machine_id>.json, ceilings/<machine_id>.json where calibrated, merge.json.\n"
      "Refuses runs whose CSV columns or experiment differ (naming what differs) and points\n"
      "measured twice on one machine unless --keep says which to keep. A merged folder can be\n"
      "merged again with more runs. A folder that is neither (e.g. results/<experiment>) stands for\n"
      "every run folder below it.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("out,o", po::value<std::string>(), "the dataset folder to create (must not exist)")
      ("keep", po::value<std::string>(),
       "a point measured in several runs of one machine: keep the one from the 'first' or 'last' "
       "input given, or from the run with this run_id")
      ("ignore", po::value<std::vector<std::string>>(),
       "an experiment key allowed to differ between the runs (repeatable), e.g. description")
      ("inputs", po::value<std::vector<std::string>>(), "run folders, merged folders, or folders holding run folders");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
  } catch (const po::error& e) {
    std::vector<std::string> args(argv + 1, argv + argc);
    throw ConfigError("merge", fmt::format("{}", fmt::join(args, " ")), e.what());
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kExitOk;
  }
  MergeOptions options;
  if (vm.count("inputs")) options.inputs = vm["inputs"].as<std::vector<std::string>>();
  if (vm.count("out")) options.out = vm["out"].as<std::string>();
  if (vm.count("keep")) options.keep = vm["keep"].as<std::string>();
  if (vm.count("ignore"))
    for (const auto& k : vm["ignore"].as<std::vector<std::string>>()) options.ignored_keys.insert(k);

  MergeSummary s = merge_runs(options);
  for (const auto& note : s.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  std::printf("merged %zu run folder(s) of %zu machine(s): %zu points%s into %s\n", s.inputs, s.machines,
              s.points, s.duplicates_dropped ? fmt::format(" ({} duplicates dropped)", s.duplicates_dropped).c_str() : "",
              options.out.c_str());
  return kExitOk;
}

const CommandRegistrar registrar{{"merge", "combine run folders of one experiment from several machines", merge_main}};

}  // namespace
}  // namespace ffnbench
