#include "stats/verdict.hpp"

#include <cmath>

namespace ffnbench::stats {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::holds: return "holds";
    case Verdict::fails: return "fails";
    case Verdict::inconclusive: break;
  }
  return "inconclusive";
}

Verdict verdict(const Interval& ci, double claimed, Claim claim) {
  if (!ci.attainable || !std::isfinite(ci.low) || !std::isfinite(ci.high) || !std::isfinite(claimed))
    return Verdict::inconclusive;
  if (claim == Claim::at_least) {
    if (ci.low > claimed) return Verdict::holds;
    if (ci.high < claimed) return Verdict::fails;
  } else {
    if (ci.high < claimed) return Verdict::holds;
    if (ci.low > claimed) return Verdict::fails;
  }
  return Verdict::inconclusive;
}

}  // namespace ffnbench::stats
