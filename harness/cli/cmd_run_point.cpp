// `ffnbench run-point --variant V --set k=v ... --tokens N [--iterations I] [--cold] [--repeat-inputs | --inputs-file F]`: one point's
// kernel, its forward calls bracketed for valgrind's callgrind (the cachesim backend's child).
#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <omp.h>

#include <iostream>

#include "cli/command.hpp"
#include "core/registry.hpp"
#include "counters/cachesim.hpp"
#include "sweep/measure.hpp"

namespace po = boost::program_options;

namespace ffnbench {
namespace {

int run_point_main(int argc, char** argv) {
  po::options_description opts("ffnbench run-point (used by the cachesim counter backend)");
  opts.add_options()
      ("help,h", "show this help")
      ("variant", po::value<std::string>()->required(), "variant name")
      ("set", po::value<std::vector<std::string>>()->default_value({}, ""), "parameter as name=value (repeatable)")
      ("tokens", po::value<int64_t>()->required(), "tokens per call")
      ("threads", po::value<int>()->default_value(1), "OpenMP threads (valgrind serializes them)")
      ("seed", po::value<uint64_t>()->default_value(1), "seed of weights and inputs")
      ("iterations", po::value<int>()->default_value(1), "forward calls counted")
      ("cold", "no warm-up call: count a cold-cache call")
      ("repeat-inputs", "every call reads the same batch (inputs = repeat); default: each call a batch not read before")
      ("inputs-file", po::value<std::string>(), "the calls read the rows of this activations file (x [n, d]), cycled");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << opts;
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError("run-point", fmt::format("{}", fmt::join(argv + 1, argv + argc, " ")), e.what());
  }
  std::map<std::string, std::string> given;
  for (const auto& kv : vm["set"].as<std::vector<std::string>>()) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) throw ConfigError("set", kv, "must read name=value");
    given[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  const std::string name = vm["variant"].as<std::string>();
  const Variant& variant = Registry::instance().get(name);
  Config config = resolve_variant_config(variant, given, name + ".");
  const int64_t tokens = vm["tokens"].as<int64_t>();
  const uint64_t seed = vm["seed"].as<uint64_t>();
  const int iterations = vm["iterations"].as<int>();
  omp_set_num_threads(vm["threads"].as<int>());

  auto kernel = variant.build(config, seed, tokens);
  const bool fresh = !vm.count("repeat-inputs");
  // Fresh inputs: the warm-up reads batch 0 and each counted call a batch the kernel never read.
  // Under valgrind the instrumentation is off while the pool is filled, so the simulated caches
  // never saw those batches: a pool of 2x the LLC would add nothing but a long fill.
  // An activations file: its rows in the order the sweep's calls read them.
  std::shared_ptr<const InputPool> pool =
      vm.count("inputs-file")
          ? InputPool::from_file(vm["inputs-file"].as<std::string>(), "inputs-file", kernel->d_in(), tokens)
          : std::make_shared<const InputPool>(fresh ? (iterations + 1) * tokens : tokens, kernel->d_in(), seed);
  AlignedVector<float> Y(tokens * kernel->d_out());
  int64_t calls = 0;
  auto call = [&] { kernel->forward(pool->batch(calls++, tokens), Y.data(), tokens, nullptr); };
  std::function<void()> warm;
  if (!vm.count("cold")) warm = call;
  cachesim_kernel_region(warm, [&] {
    for (int i = 0; i < iterations; ++i) call();
  });
  return kExitOk;
}

const CommandRegistrar registrar{{"run-point", "run one point's kernel (the cachesim backend's child process)", run_point_main}};

}  // namespace
}  // namespace ffnbench
