#include "counters/factory.hpp"

#include <algorithm>
#include <optional>
#include <fmt/format.h>

#include "core/params.hpp"

namespace ffnbench {
namespace {

struct Entry {
  std::string name;
  int rank;
  std::function<std::unique_ptr<CounterBackend>()> make;
};

std::vector<Entry>& entries() {
  static std::vector<Entry> e;
  return e;
}

std::vector<Entry> sorted_entries() {
  auto e = entries();
  std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.rank < b.rank; });
  return e;
}

}  // namespace

const char* to_string(Source s) {
  switch (s) {
    case Source::Hw: return "hw";
    case Source::Sw: return "sw";
    case Source::Sim: return "sim";
    case Source::Model: return "model";
  }
  return "?";
}

CounterBackendRegistrar::CounterBackendRegistrar(std::string name, int auto_rank,
                                                 std::function<std::unique_ptr<CounterBackend>()> make) {
  entries().push_back({std::move(name), auto_rank, std::move(make)});
}

void CounterBackend::set_option(const std::string& key, const std::string& value) {
  throw ConfigError("counters." + key, value, "counter backend '" + name() + "' takes no options");
}

std::vector<std::string> counter_backend_names() {
  std::vector<std::string> out;
  for (const auto& e : sorted_entries()) out.push_back(e.name);
  return out;
}

std::unique_ptr<CounterBackend> make_counter_backend(const std::string& name) {
  for (const auto& e : entries())
    if (e.name == name) return e.make();
  throw ConfigError("counters", name,
                    fmt::format("must be one of: auto, {}", fmt::join(counter_backend_names(), ", ")));
}

std::unique_ptr<CounterBackend> detect_counter_backend(std::vector<std::string>& log) {
  for (const auto& e : sorted_entries()) {
    if (e.rank >= kOptInOnly) continue;
    auto backend = e.make();
    BackendStatus status = backend->probe();
    if (status.available) return backend;
    log.push_back(fmt::format("counters: {} unavailable ({}); trying the next backend", e.name, status.reason));
  }
  return make_counter_backend("none");
}

std::unique_ptr<CounterBackend> detect_counter_backend(const std::vector<std::string>& events, int threads,
                                                       std::vector<std::string>& log) {
  std::optional<ConfigError> first_refusal;
  for (const auto& e : sorted_entries()) {
    if (e.rank >= kOptInOnly) continue;
    auto backend = e.make();
    BackendStatus status = backend->probe();
    if (!status.available) {
      log.push_back(fmt::format("counters: {} unavailable ({}); trying the next backend", e.name, status.reason));
      continue;
    }
    if (e.name == "none") {  // nothing counts here: still refuse every name that is surely wrong
      if (first_refusal) throw *first_refusal;
      for (const auto& other : sorted_entries()) other.make()->check_event_names(events);
    }
    try {
      backend->configure(events, threads);
      return backend;
    } catch (const ConfigError& err) {
      if (!first_refusal) first_refusal = err;
      log.push_back(fmt::format("counters: {} does not know {} '{}'; trying the next backend", e.name,
                                err.key(), err.value()));
    } catch (const std::exception& err) {
      log.push_back(fmt::format("counters: {} failed ({}); trying the next backend", e.name, err.what()));
    }
  }
  if (first_refusal) throw *first_refusal;
  auto none = make_counter_backend("none");
  none->configure(events, threads);
  return none;
}

}  // namespace ffnbench
