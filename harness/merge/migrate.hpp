// Results written by older versions of ffnbench, read as the current schema: every table gets
// the current columns in the current order, a column the old version did not write filled with
// what that version did (or empty), and a note saying so. References stay readable as the
// schema grows; nothing is refused for being old.
#pragma once

#include <string>
#include <vector>

#include "merge/csv_table.hpp"

namespace ffnbench {

// The schema a folder was written with: schema.json's "results_schema", 1 for folders written
// before schema.json existed. A folder of a newer schema than this build's reads as it is (its
// extra columns are kept), with a note. A schema.json that is not JSON or has no integer
// "results_schema" throws ConfigError.
int folder_schema(const std::string& folder);

// Reshapes `table` to `columns` (the current columns of its file), then its own columns that are
// not among them (p_<param> columns and columns of a newer version), in their order. A missing
// column is filled with the value that version of ffnbench behaved as (inputs: "repeat (before
// fresh inputs)", schedule: "sequential"), else empty. Returns one note per file with missing
// columns: "<path> (schema N): no <columns> column(s): filled with ...; empty: ...".
std::vector<std::string> migrate_table(CsvTable& table, const std::vector<std::string>& columns, int schema);

// Gives every table the same columns: `tables[i]` reshaped to the union of their columns (the
// first table's order, then the new ones of each following table; p_<param> columns sorted at the
// end), the missing ones empty. Returns a note per table that gained columns.
std::vector<std::string> align_tables(const std::vector<CsvTable*>& tables);

}  // namespace ffnbench
