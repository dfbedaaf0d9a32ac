// An experiment: global settings plus blocks of variant-parameter grids, read from an INI file
// with Boost.Program_options. Every key of the file is also a command-line flag that overrides it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ffnbench {

// One [variant] or [variant:label] section: each parameter maps to its list of values.
struct Block {
  std::string label;    // section name as written ("lookup_ffn:bh4")
  std::string variant;  // part before ':'
  std::map<std::string, std::vector<std::string>> params;  // in the file's spelling, expanded lists
  std::vector<int64_t> tokens;   // empty: the experiment's
  std::vector<int> threads;      // empty: the experiment's
  std::string inputs;            // empty: the experiment's (fresh | repeat | an activations file)
};

struct Experiment {
  std::string name;
  std::string description;
  std::vector<int64_t> tokens = {1024};
  std::vector<int> threads = {1};
  int repetitions = 10;                 // 10: enough for a 95% order-statistic CI of the median
  double warmup_s = 0.1;
  double min_time_s = 0.2;
  std::string cache_mode = "hot";      // hot | cold
  std::string inputs = "fresh";        // fresh (each call the next batch of a pool) | repeat |
                                       // an activations file (x [n, d], cycled like the fresh pool)
  double input_pool_mib = 0;           // fresh inputs: the least pool size; 0 (auto): twice the LLC
  std::string schedule = "interleaved";  // interleaved (rounds over each group) | sequential
  std::string ceilings_path;           // ceilings.json for the stages' roofline fractions; empty: none
  std::string counters = "auto";       // auto | <backend name>
  std::vector<std::string> events;     // counter events; empty: the backend's defaults
  std::map<std::string, std::string> counter_options;  // the [counters] section
  uint64_t seed = 1;
  std::string on_invalid = "skip";     // skip | error
  std::string output = "results";      // results root
  std::vector<Block> blocks;
  std::string source_text;             // the effective experiment, as INI, for experiment.ini
};

// Reads `path` and applies `overrides` ("--key=value" / "--key value" tokens, keys as in the
// file: "tokens", "gemm_ffn.d"). Throws ConfigError for anything bad: a missing or malformed
// file, an unknown key, section or variant, a value that does not parse.
Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides);

// Value lists: "1,2,4", "64..16384*2" (geometric), "0..12+1" (arithmetic); `key` names errors.
std::vector<std::string> expand_list(const std::string& key, const std::string& text);
// inputs: "fresh", "repeat" or the path of an activations file (checked when the grid is known).
std::string parse_inputs(const std::string& key, const std::string& text);
bool is_inputs_file(const std::string& inputs);

// Threads: integers or "all" (one per physical core).
std::vector<int> parse_threads(const std::string& key, const std::string& text, int all_cores);

// The experiment's global keys with their one-line docs (for --help and unknown-key messages).
const std::vector<std::pair<std::string, std::string>>& experiment_keys();

}  // namespace ffnbench
