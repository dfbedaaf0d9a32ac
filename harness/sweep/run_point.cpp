#include "sweep/run_point.hpp"

#include "sweep/experiment.hpp"

namespace ffnbench {

std::vector<std::string> run_point_args(const Point& point, uint64_t seed, bool cold, bool fresh_inputs, int threads) {
  if (point.inputs == "repeat") fresh_inputs = false;
  std::vector<std::string> args = {"run-point", "--variant", point.variant};
  for (const auto& [k, v] : point.config.values()) {
    args.push_back("--set");
    args.push_back(k + "=" + v);
  }
  for (const auto& extra : {std::pair<const char*, std::string>{"--tokens", std::to_string(point.tokens)},
                            {"--threads", std::to_string(threads)},
                            {"--seed", std::to_string(seed)}}) {
    args.push_back(extra.first);
    args.push_back(extra.second);
  }
  if (cold) args.push_back("--cold");
  if (is_inputs_file(point.inputs)) {
    args.push_back("--inputs-file");
    args.push_back(point.inputs);
  } else if (!fresh_inputs) {
    args.push_back("--repeat-inputs");
  }
  return args;
}

}  // namespace ffnbench
