// `ffnbench list [variant ...]`: variants, their parameters and impls; counter backends.
#include <fmt/format.h>

#include <cstring>
#include <iostream>

#include "cli/command.hpp"
#include "core/registry.hpp"
#include "counters/backend.hpp"

namespace ffnbench {
namespace {

std::string describe(const ParamSpec& s) {
  switch (s.type) {
    case ParamType::Int:
      return fmt::format("int{} [{}, {}]", s.power_of_two ? " pow2" : "", static_cast<int64_t>(s.min),
                         static_cast<int64_t>(s.max));
    case ParamType::Real: return fmt::format("real [{}, {}]", s.min, s.max);
    case ParamType::Choice: return fmt::format("{{{}}}", fmt::join(s.choices, ", "));
    case ParamType::Text: return "text";
  }
  return {};
}

int list_main(int argc, char** argv) {
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::cout << "ffnbench list [variant ...]\n  Variants with their impls and parameters (type, "
                 "range, default, doc),\n  and the counter backends with whether each works here.\n";
    return kExitOk;
  }
  std::vector<const Variant*> variants;
  for (int i = 1; i < argc; ++i) variants.push_back(&Registry::instance().get(argv[i]));
  if (variants.empty()) variants = Registry::instance().all();

  std::cout << "Variants\n";
  for (const Variant* v : variants) {
    std::cout << fmt::format("\n  {}: {}\n", v->name(), v->doc());
    for (const auto& s : v->params())
      std::cout << fmt::format("    {:<16} {:<34} default {:<10} {}\n", s.name, describe(s),
                               s.default_value, s.doc);
  }
  if (argc > 1) return kExitOk;
  std::cout << "\nCounter backends (auto tries them in this order)\n";
  for (const auto& name : counter_backend_names()) {
    auto backend = make_counter_backend(name);
    BackendStatus st = backend->probe();
    std::cout << fmt::format("  {:<9} {:<13} {}\n", name, st.available ? "works here" : "unavailable", st.reason);
  }
  return kExitOk;
}

const CommandRegistrar registrar{{"list", "variants, impls, parameters; counter backends and whether they work here", list_main}};

}  // namespace
}  // namespace ffnbench
