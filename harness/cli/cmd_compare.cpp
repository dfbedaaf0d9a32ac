// `ffnbench compare <run A> <run B> [--threshold 5%] [--match col,...]`
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "cli/command.hpp"
#include "compare/compare.hpp"
#include "core/params.hpp"

namespace po = boost::program_options;

namespace ffnbench {
namespace {

int compare_main(int argc, char** argv) {
  po::options_description opts(
      "ffnbench compare <run A> <run B> [options]\n\n"
      "Compares two run folders point by point: the time ratio B/A (above 1: B is slower) with its\n"
      "95% CI (Hodges-Lehmann estimate, Moses interval over the two runs' repetitions: the runs were\n"
      "not paired in time) and the Mann-Whitney two-sided p-value. A point is a regression when\n"
      "p < 0.05 and the whole CI lies above 1 + threshold, an improvement when p < 0.05 and it lies\n"
      "below 1 / (1 + threshold). Points are paired by point_id, and runs of different experiments\n"
      "or points.csv columns are refused, unless --match names the columns to pair on.\n"
      "Exit status: 0 no significant regression, 1 at least one, 2 bad input. Writes nothing.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("threshold", po::value<std::string>()->default_value("5%"),
       "smallest change reported, in percent: '5%', '5' (both 5%), '0.5%'; any value >= 0 (100% = 2x)")
      ("match", po::value<std::vector<std::string>>(),
       "points.csv columns to pair points on, comma-separated (repeatable), e.g. variant,impl,tokens,threads; "
       "allows runs of different experiments or columns")
      ("runs", po::value<std::vector<std::string>>(), "run A and run B");
  po::positional_options_description positional;
  positional.add("runs", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
  } catch (const po::error& e) {
    std::vector<std::string> args(argv + 1, argv + argc);
    throw ConfigError("compare", fmt::format("{}", fmt::join(args, " ")), e.what());
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kExitOk;
  }
  CompareOptions options;
  std::vector<std::string> runs;
  if (vm.count("runs")) runs = vm["runs"].as<std::vector<std::string>>();
  if (runs.size() != 2)
    throw ConfigError("runs", fmt::format("{}", fmt::join(runs, " ")),
                      fmt::format("exactly two run folders, A then B (got {}): ffnbench compare <run A> <run B>",
                                  runs.size()));
  options.run_a = runs[0];
  options.run_b = runs[1];
  options.threshold = parse_threshold(vm["threshold"].as<std::string>());
  if (vm.count("match"))
    for (const auto& m : vm["match"].as<std::vector<std::string>>())
      for (auto& column : parse_match(m)) options.match.push_back(std::move(column));

  const Comparison c = compare_runs(options);
  for (const auto& w : c.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::fputs(format_comparison(c, options).c_str(), stdout);
  return c.count(Change::regression) > 0 ? kExitFailure : kExitOk;
}

const CommandRegistrar registrar{{"compare", "compare two runs point by point: ratio B/A, 95% CI, U test", compare_main}};

}  // namespace
}  // namespace ffnbench
