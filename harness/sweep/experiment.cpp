#include "sweep/experiment.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fstream>
#include <set>
#include <sstream>

#include "core/params.hpp"
#include "core/registry.hpp"
#include "core/text.hpp"
#include "machine/topology.hpp"
#include "sweep/roofline.hpp"

namespace po = boost::program_options;

namespace ffnbench {

const std::vector<std::pair<std::string, std::string>>& experiment_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys = {
      {"name", "experiment name: results go to <output>/<name>/<machine_id>/<run_id>/"},
      {"description", "one line saying what the experiment tests"},
      {"tokens", "token counts N: list (1,128) or range (1..16384*2, 0..64+8)"},
      {"threads", "thread counts: integers, 'all' (one per physical core), ranges like 1..all*2"},
      {"repetitions", "Google Benchmark repetitions per point, every one kept (1..1000)"},
      {"warmup_s", "warm-up seconds per point before the repetitions (0..60)"},
      {"min_time_s", "minimum seconds per repetition; sets the iterations per repetition (0..600)"},
      {"cache_mode", "hot (weights stay cached between calls) or cold (flushed before each call)"},
      {"inputs", "fresh (each call reads the next batch of distinct tokens from a pool of at least twice the LLC), repeat (every call reads one batch), or a safetensors file of real activations (tensor x [n, d]: each call reads the next batch of its rows, cycled like the fresh pool); also a key of a [variant] section"},
      {"input_pool_mib", "fresh inputs: the pool's least size in MiB (auto: twice the last-level cache; set it where the reported LLC is not the one this guest sees)"},
      {"schedule", "interleaved (the points sharing tokens and threads are built once and visited in rounds, each round in an order shuffled from the seed) or sequential (each point's repetitions in a row)"},
      {"ceilings", "ceilings.json of this machine (ffnbench calibrate): stages.csv then gives each stage's fraction of the ceiling that bounds it, and the run folder keeps a copy (empty: the run folder's own when resuming, else no fractions)"},
      {"counters", "counter backend: auto, or one of the backends `ffnbench list` shows"},
      {"events", "comma list of counter events (PAPI, likwid, perf:: or cachesim names; flops, llc, mem); empty: the backend's defaults"},
      {"seed", "seed of weights and inputs (non-negative integer)"},
      {"on_invalid", "skip (report invalid grid cells and go on) or error (exit 2)"},
      {"output", "results root folder"},
  };
  return keys;
}

namespace {


std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(trim(item));
  return out;
}

bool is_global_key(const std::string& key) {
  for (const auto& [k, doc] : experiment_keys())
    if (k == key) return true;
  return false;
}

std::string known_keys() {
  std::vector<std::string> names;
  for (const auto& [k, doc] : experiment_keys()) names.push_back(k);
  return fmt::format("{}, <variant>.<parameter> in a [variant] or [variant:label] section, or "
                     "counters.<option> in a [counters] section",
                     fmt::join(names, ", "));
}

// Range items "a..b*k" (geometric) and "a..b+k" (arithmetic) over integers.
bool expand_range(const std::string& key, const std::string& item, std::vector<std::string>& out) {
  size_t dots = item.find("..");
  if (dots == std::string::npos) return false;
  size_t op = item.find_first_of("*+", dots);
  const std::string allowed = "a range must read a..b*k (geometric, k > 1) or a..b+k (k > 0) over integers";
  int64_t a = 0, b = 0, k = 0;
  if (op == std::string::npos || !parse_int(item.substr(0, dots), a) ||
      !parse_int(item.substr(dots + 2, op - dots - 2), b) || !parse_int(item.substr(op + 1), k) ||
      a > b)
    throw ConfigError(key, item, allowed);
  if (item[op] == '*') {
    if (k < 2 || a < 1) throw ConfigError(key, item, allowed + " and a >= 1");
    for (int64_t v = a; v <= b; v *= k) out.push_back(std::to_string(v));
  } else {
    if (k < 1) throw ConfigError(key, item, allowed);
    for (int64_t v = a; v <= b; v += k) out.push_back(std::to_string(v));
  }
  return true;
}

template <class T>
T parse_number(const std::string& key, const std::string& text, double lo, double hi,
               const std::string& what) {
  const std::string allowed = fmt::format("must be {} in [{}, {}]", what, lo, hi);
  if constexpr (std::is_integral_v<T>) {
    int64_t v = 0;
    if (!parse_int(text, v) || v < lo || v > hi) throw ConfigError(key, text, allowed);
    return static_cast<T>(v);
  } else {
    double v = 0;
    if (!parse_real(text, v) || v < lo || v > hi) throw ConfigError(key, text, allowed);
    return v;
  }
}

std::vector<int64_t> parse_tokens(const std::string& key, const std::string& text) {
  std::vector<int64_t> out;
  for (const auto& item : expand_list(key, text))
    out.push_back(parse_number<int64_t>(key, item, 1, 1 << 24, "a token count (integer)"));
  return out;
}

std::string choice(const std::string& key, const std::string& value,
                   const std::vector<std::string>& allowed) {
  for (const auto& a : allowed)
    if (a == value) return value;
  throw ConfigError(key, value, fmt::format("must be one of: {}", fmt::join(allowed, ", ")));
}

// Pulls "--key=value" / "--key value" pairs out of the override tokens.
std::vector<std::pair<std::string, std::string>> parse_overrides(const std::vector<std::string>& args) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0)
      throw ConfigError("command line", a, "expected --key=value or --key value after the experiment file");
    std::string body = a.substr(2);
    size_t eq = body.find('=');
    if (eq != std::string::npos) {
      out.emplace_back(body.substr(0, eq), body.substr(eq + 1));
    } else if (i + 1 < args.size()) {
      out.emplace_back(body, args[++i]);
    } else {
      throw ConfigError(body, "", "a value must follow --" + body);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> expand_list(const std::string& key, const std::string& text) {
  std::vector<std::string> out;
  for (const auto& item : split(text, ',')) {
    if (item.empty()) throw ConfigError(key, text, "empty item in a comma list");
    if (!expand_range(key, item, out)) out.push_back(item);
  }
  if (out.empty()) throw ConfigError(key, text, "must list at least one value");
  return out;
}

bool is_inputs_file(const std::string& inputs) { return inputs != "fresh" && inputs != "repeat"; }

std::string parse_inputs(const std::string& key, const std::string& text) {
  if (!is_inputs_file(text)) return text;
  std::ifstream probe(text, std::ios::binary);
  if (!probe)
    throw ConfigError(key, text,
                      "must be fresh, repeat, or a readable safetensors file of activations (x [n, d], y [n, d_out])");
  return text;
}

std::vector<int> parse_threads(const std::string& key, const std::string& text, int all_cores) {
  // "all" may also end a range: "1..all*2" = powers of two up to the core count.
  std::string spelled = text;
  for (size_t at; (at = spelled.find("..all")) != std::string::npos;)
    spelled.replace(at, 5, ".." + std::to_string(all_cores));
  std::vector<int> out;
  for (const auto& item : expand_list(key, spelled)) {
    int t = item == "all" ? all_cores
                          : parse_number<int>(key, item, 1, 4096, "a thread count or 'all'");
    // One pinned thread per physical core, never more: oversubscribed threads would time the
    // scheduler's time slicing, not the kernel.
    if (t > all_cores)
      throw ConfigError(key, item,
                        fmt::format("is more threads than the {} physical core(s) this process may use (ffnbench runs "
                                    "one pinned thread per core and does not oversubscribe): use at most {} or 'all'",
                                    all_cores, all_cores));
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError("experiment file", path, "must be a readable INI file");

  // Boost.Program_options reads the file: every key, sections flattened to "section.key".
  std::map<std::string, std::string> values;
  std::vector<std::string> order;  // first appearance, keeps blocks in file order
  try {
    po::options_description none;
    auto parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
    for (const auto& opt : parsed.options) {
      if (opt.value.empty()) continue;
      if (values.count(opt.string_key))
        throw ConfigError(opt.string_key, opt.value.front(), "appears twice in " + path);
      values[opt.string_key] = trim(opt.value.front());
      order.push_back(opt.string_key);
    }
  } catch (const po::error& e) {
    throw ConfigError("experiment file", path, std::string("is not valid INI: ") + e.what());
  }
  for (const auto& [key, value] : parse_overrides(overrides)) {
    if (!values.count(key)) order.push_back(key);
    values[key] = value;  // the command line wins
  }

  Experiment x;
  const int cores = physical_cores();
  std::map<std::string, size_t> block_index;
  auto add_block = [&](const std::string& section) -> Block& {
    const std::string variant = section.substr(0, section.find(':'));
    if (!Registry::instance().has(variant))
      throw ConfigError("[" + section + "]", variant,
                        "a section must name a variant: " + Registry::instance().names());
    if (!block_index.count(section)) {
      block_index[section] = x.blocks.size();
      x.blocks.push_back(Block{section, variant, {}, {}, {}, {}});
    }
    return x.blocks[block_index[section]];
  };
  // Sections in file order, also those without keys (a variant at its defaults), which
  // Boost.Program_options does not report.
  in.clear();
  in.seekg(0);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.size() > 2 && line.front() == '[' && line.back() == ']' && line != "[counters]")
      add_block(trim(line.substr(1, line.size() - 2)));
  }
  for (const auto& key : order) {
    const std::string& value = values[key];
    size_t dot = key.find('.');
    if (dot == std::string::npos) {
      if (!is_global_key(key)) throw ConfigError(key, value, "unknown key; known: " + known_keys());
      continue;
    }
    const std::string section = key.substr(0, dot), param = key.substr(dot + 1);
    if (section == "counters") {  // backend options, checked by the chosen backend
      x.counter_options[param] = value;
      continue;
    }
    Block& block = add_block(section);
    if (param == "tokens") block.tokens = parse_tokens(key, value);
    else if (param == "threads") block.threads = parse_threads(key, value, cores);
    else if (param == "inputs") block.inputs = parse_inputs(key, value);
    else block.params[param] = expand_list(key, value);
  }

  auto get = [&](const std::string& k) -> const std::string* {
    auto it = values.find(k);
    return it == values.end() ? nullptr : &it->second;
  };
  if (auto* v = get("name")) x.name = *v;
  if (x.name.empty()) {
    std::string stem = path.substr(path.find_last_of('/') + 1);
    x.name = stem.substr(0, stem.rfind('.'));
  }
  for (char c : x.name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      throw ConfigError("name", x.name, "must use letters, digits, '_' and '-' only");
  if (auto* v = get("description")) x.description = *v;
  if (auto* v = get("tokens")) x.tokens = parse_tokens("tokens", *v);
  if (auto* v = get("threads")) x.threads = parse_threads("threads", *v, cores);
  if (auto* v = get("repetitions")) x.repetitions = parse_number<int>("repetitions", *v, 1, 1000, "an integer");
  if (auto* v = get("warmup_s")) x.warmup_s = parse_number<double>("warmup_s", *v, 0, 60, "a number");
  if (auto* v = get("min_time_s")) x.min_time_s = parse_number<double>("min_time_s", *v, 0, 600, "a number");
  if (auto* v = get("cache_mode")) x.cache_mode = choice("cache_mode", *v, {"hot", "cold"});
  if (auto* v = get("inputs")) x.inputs = parse_inputs("inputs", *v);
  if (auto* v = get("input_pool_mib"))
    x.input_pool_mib = *v == "auto" ? 0 : parse_number<double>("input_pool_mib", *v, 1, 1 << 20, "auto or a size in MiB");
  if (auto* v = get("schedule")) x.schedule = choice("schedule", *v, {"interleaved", "sequential"});
  if (auto* v = get("ceilings")) {
    x.ceilings_path = *v;
    if (!v->empty()) {  // a bad file stops the run before anything is written
      const Ceilings c = read_ceilings_file(*v);
      // Another CPU's ceilings would place this machine's stages under the wrong roofs.
      if (!c.cpu.empty() && c.cpu != cpu_info().model_name)
        throw ConfigError("ceilings", *v, fmt::format("ceilings of this CPU ('{}'), not of '{}': run `ffnbench calibrate` here",
                                                      cpu_info().model_name, c.cpu));
    }
  }
  if (auto* v = get("counters")) x.counters = *v;  // checked against the backends by the runner
  if (auto* v = get("events")) {
    x.events.clear();
    for (const auto& e : split(*v, ','))
      if (!e.empty()) x.events.push_back(e);
  }
  if (auto* v = get("seed")) x.seed = parse_number<uint64_t>("seed", *v, 0, 9.0e15, "an integer");
  if (auto* v = get("on_invalid")) x.on_invalid = choice("on_invalid", *v, {"skip", "error"});
  if (auto* v = get("output")) x.output = *v;
  if (x.blocks.empty())
    throw ConfigError("experiment file", path,
                      "defines no [variant] section; known variants: " + Registry::instance().names());

  // The effective experiment, globals then sections, as it will be run.
  std::string text;
  for (const auto& key : order)
    if (key.find('.') == std::string::npos) text += fmt::format("{} = {}\n", key, values[key]);
  std::vector<std::string> sections;
  if (!x.counter_options.empty()) sections.push_back("counters");
  for (const auto& block : x.blocks) sections.push_back(block.label);
  for (const auto& label : sections) {
    text += fmt::format("\n[{}]\n", label);
    for (const auto& key : order)
      if (key.rfind(label + ".", 0) == 0)
        text += fmt::format("{} = {}\n", key.substr(label.size() + 1), values[key]);
  }
  x.source_text = text;
  return x;
}

}  // namespace ffnbench
