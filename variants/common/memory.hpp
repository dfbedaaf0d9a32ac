// Memory checks for variants whose weights can outgrow the machine (tables, deep trees).
#pragma once

#include <cstdint>
#include <string>

namespace ffnbench {

// MemAvailable from /proc/meminfo, in bytes (0 if unknown).
int64_t available_memory_bytes();

// Throws ConfigError(key, value, "<what> would need X, more than the Y available") when `bytes`
// exceeds 90% of available memory.
void check_fits_in_memory(const std::string& key, const std::string& value, double bytes,
                          const std::string& what);

}  // namespace ffnbench
