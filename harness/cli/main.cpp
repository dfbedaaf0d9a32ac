// ffnbench entry point (subcommands land here as they are built).
#include <cstdio>
#include "core/registry.hpp"

int main() {
  std::printf("variants: %s\n", ffnbench::Registry::instance().names().c_str());
  return 0;
}
