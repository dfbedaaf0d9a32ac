// Per-machine views of a merged dataset, shaped like run folders, so that every figure script
// written for one run folder (plots/*_figures.py) draws each machine of a merged one unchanged.
#pragma once

#include <string>
#include <vector>

#include "merge/dataset.hpp"

namespace ffnbench {

// Writes <dataset>/by_machine/<machine_id>/: points.csv with that machine's rows, stages/reps/
// counters.csv with the rows of its runs, machine.json, ceilings.json where calibrated,
// experiment.ini. A view newer than the files it is cut from is kept as it is. Returns the view
// folders, in machine_id order.
std::vector<std::string> write_machine_views(const Dataset& dataset);

}  // namespace ffnbench
