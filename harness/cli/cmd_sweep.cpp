// `ffnbench sweep <experiment.ini> [--key value ...] [--resume[=DIR]] [--shard i/n] [--dry-run]`
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <iostream>

#include "cli/command.hpp"
#include "core/params.hpp"
#include "machine/onednn_isa.hpp"
#include "sweep/experiment.hpp"
#include "sweep/sweep.hpp"

namespace po = boost::program_options;

namespace ffnbench {
namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

int sweep_main(int argc, char** argv) {
  po::options_description opts("ffnbench sweep <experiment.ini> [options] [--<key> <value> ...]");
  opts.add_options()
      ("help,h", "show this help")
      ("resume", po::value<std::string>()->implicit_value(""),
       "continue the newest run of this experiment on this machine (or --resume=DIR), skipping finished points")
      ("remeasure-noisy", "with --resume: measure again the points whose status_reason says noisy (their old rows are removed)")
      ("shard", po::value<std::string>(), "run shard i of n of the grid (i/n), for job arrays")
      ("dry-run", "list the grid's points and exit")
      ("run-folder-file", po::value<std::string>(), "write the run folder's path to this file (for scripts)")
      ("experiment", po::value<std::string>(), "the experiment file");
  po::positional_options_description positional;
  positional.add("experiment", 1);

  // Split the command line: our options, --benchmark_* for Google Benchmark, the rest override
  // experiment keys ("--tokens 64", "--gemm_ffn.d=256").
  std::vector<std::string> ours, overrides, benchmark_flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (starts_with(a, "--benchmark_")) benchmark_flags.push_back(a);
    else if (a == "-h" || a == "--help" || a == "--dry-run" || a == "--remeasure-noisy" || starts_with(a, "--resume")) ours.push_back(a);
    else if (starts_with(a, "--shard") || starts_with(a, "--run-folder-file")) {
      ours.push_back(a);
      if (a.find('=') == std::string::npos && i + 1 < argc) ours.push_back(argv[++i]);
    } else if (starts_with(a, "--")) {
      overrides.push_back(a);
      if (a.find('=') == std::string::npos && i + 1 < argc) overrides.push_back(argv[++i]);
    } else ours.push_back(a);
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(ours).options(opts).positional(positional).run(), vm);
  } catch (const po::error& e) {
    throw ConfigError("sweep", fmt::format("{}", fmt::join(ours, " ")), e.what());
  }
  if (vm.count("help")) {
    std::cout << opts << "\nExperiment keys (in the file, or as --<key> <value> to override it):\n";
    for (const auto& [k, doc] : experiment_keys()) std::cout << fmt::format("  {:<13} {}\n", k, doc);
    std::cout << "  <block>.<param>  a variant parameter in a [variant] or [variant:label] section\n"
                 "                   (see `ffnbench list`), e.g. --gemm_ffn.d 256\n"
                 "\nUnknown --benchmark_* flags pass through to Google Benchmark.\n";
    return kExitOk;
  }
  if (!vm.count("experiment")) throw ConfigError("experiment file", "", "give the experiment file, e.g. experiments/quick.ini");

  SweepOptions options;
  if (vm.count("resume")) {
    options.resume = true;
    options.resume_dir = vm["resume"].as<std::string>();
  }
  options.remeasure_noisy = vm.count("remeasure-noisy") != 0;
  if (options.remeasure_noisy && !options.resume)
    throw ConfigError("remeasure-noisy", "", "goes with --resume (it re-runs noisy points of an existing run folder)");
  if (vm.count("shard")) options.shard = parse_shard(vm["shard"].as<std::string>());
  options.dry_run = vm.count("dry-run") != 0;
  if (vm.count("run-folder-file")) options.run_folder_file = vm["run-folder-file"].as<std::string>();
  options.benchmark_flags = benchmark_flags;
  for (int i = 0; i < argc; ++i) options.command_line += (i ? " " : "ffnbench ") + std::string(argv[i]);

  check_onednn_max_isa_env();  // a cap this CPU cannot honour would not be what ran
  Experiment experiment = load_experiment(vm["experiment"].as<std::string>(), overrides);
  return run_sweep(experiment, options);
}

const CommandRegistrar registrar{{"sweep", "run an experiment's grid into a results folder", sweep_main}};

}  // namespace
}  // namespace ffnbench
