#include "cli/command.hpp"

namespace ffnbench {

std::vector<Command>& commands() {
  static std::vector<Command> c;
  return c;
}

}  // namespace ffnbench
