// Writing safetensors files the C++ writer would never write (other dtypes, lying headers,
// truncated data) for the bad-file tests.
#pragma once

#include <string>

namespace ffnbench::test_support {

// The 8-byte little-endian length of `header_json`, the JSON as given, then `data` as given.
void write_raw_safetensors(const std::string& path, const std::string& header_json, const std::string& data);

}  // namespace ffnbench::test_support
