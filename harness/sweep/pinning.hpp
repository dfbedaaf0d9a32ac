// Thread pinning: one OpenMP thread per physical core, bound in order, recorded per point.
#pragma once

#include <string>

namespace ffnbench {

// Sets OMP_PLACES (one place per physical core) and OMP_PROC_BIND=close unless the user set
// them. Must first run before the first OpenMP region (main does it); later calls return the
// same description, for machine.json.
std::string configure_pinning();

// Runs one parallel region of `threads` threads and returns the CPUs they ran on ("0,1").
std::string pinned_cpus(int threads);

}  // namespace ffnbench
