// The verdict on a claimed factor (DESIGN.md §8): `holds` only when the interval clears the
// claimed factor, `fails` when it lies on the wrong side of it, `inconclusive` otherwise.
#pragma once

#include <string_view>

#include "stats/order_stats.hpp"

namespace ffnbench::stats {

enum class Verdict { holds, fails, inconclusive };

// "holds", "fails", "inconclusive".
std::string_view to_string(Verdict v);

// Which side of the claimed factor the claim puts the quantity on.
enum class Claim {
  at_least,  // e.g. "speedup >= 2": ratio baseline time / variant time
  at_most,   // e.g. "slowdown <= 1.1", "time ratio variant / baseline <= 0.5"
};

// at_least: holds when ci.low > claimed, fails when ci.high < claimed.
// at_most:  holds when ci.high < claimed, fails when ci.low > claimed.
// inconclusive when the interval straddles the factor, when it is not attainable at its level
// (too few values: [min, max] with less coverage than asked says nothing at that level), or when
// it or the factor is not a number.
Verdict verdict(const Interval& ci, double claimed, Claim claim = Claim::at_least);

}  // namespace ffnbench::stats
