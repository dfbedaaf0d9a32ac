// Subcommands register themselves (one file each under harness/cli/); main() dispatches.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace ffnbench {

struct Command {
  std::string name;
  std::string summary;  // one line for `ffnbench --help`
  // argv[0] is the subcommand name. Returns the exit status: 0 ok, 1 run failure,
  // 2 bad input (ConfigError escaping a command is turned into exit status 2 by main).
  std::function<int(int argc, char** argv)> run;
};

std::vector<Command>& commands();

struct CommandRegistrar {
  explicit CommandRegistrar(Command c) { commands().push_back(std::move(c)); }
};

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

}  // namespace ffnbench
