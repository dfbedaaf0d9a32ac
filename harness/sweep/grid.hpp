// Grid expansion: experiment blocks -> points (one cell each), validated before anything runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/params.hpp"
#include "sweep/experiment.hpp"

namespace ffnbench {

struct Point {
  size_t index = 0;       // position in the full grid (stable: shards and resume rely on it)
  std::string block;      // section label
  std::string variant;
  Config config;          // resolved variant parameters (defaults filled)
  int64_t tokens = 0;
  int threads = 1;
  std::string inputs = "fresh";  // fresh | repeat | an activations file (the block's, else the experiment's)
  std::string point_id;   // "block|k=v;k=v|N=tokens|T=threads": stable across runs
  std::optional<ConfigError> invalid;  // the variant's cross-check that rejected this cell
};

// Cartesian product of each block's parameter lists × tokens × threads, in file order.
// A value failing its parameter spec (type, range, unknown name) throws ConfigError: it is a
// mistake in the file, not a cell. A cell failing the variant's cross-checks is kept with
// valid = false and the reason.
std::vector<Point> expand_grid(const Experiment& experiment);

// Shard i of n (1-based): points whose grid index ≡ i-1 (mod n). Deterministic; shards are
// disjoint and their union is the grid. Throws ConfigError for specs like 0/0 or 3/2.
struct Shard {
  int index = 1, count = 1;
};
Shard parse_shard(const std::string& text);
std::vector<Point> select_shard(const std::vector<Point>& points, Shard shard);

}  // namespace ffnbench
