// The reference machines a report shows next to its data: committed runs of the same experiment
// on other microarchitectures (results/reference/<machine_id>/<experiment>/), merged with the
// dataset into <dataset>/with_references/ for the cross-machine figures, table and claims.
#pragma once

#include <string>
#include <vector>

#include "merge/dataset.hpp"

namespace ffnbench {

// results/reference of the source tree ffnbench was built from.
std::string default_reference_root();

struct ReferenceSet {
  std::vector<std::string> roots;           // where references were looked for
  std::vector<std::string> runs;            // those of the dataset's experiment, one per machine not in it
  std::vector<std::string> machines;        // their machine_ids, in the order of runs
  std::string combined;                     // the dataset merged with them; empty when there is none
  std::vector<std::string> differing_keys;  // experiment keys the references set otherwise
  std::vector<std::string> notes;           // merge notes (older schemas migrated, columns aligned)
  std::string error;                        // why they could not be combined (then combined is empty)
};

// Finds the reference runs below `roots` whose experiment.ini has the dataset's `name` and whose
// machine is not in the dataset, and (re)writes <dataset>/with_references/ when it is missing or
// older than any of its inputs. A root that is not a folder throws ConfigError("reference", ...).
ReferenceSet combine_with_references(const Dataset& dataset, const std::vector<std::string>& roots);

}  // namespace ffnbench
