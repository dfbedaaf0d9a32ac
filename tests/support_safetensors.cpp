#include "support_safetensors.hpp"

#include <cstdint>
#include <fstream>

namespace ffnbench::test_support {

void write_raw_safetensors(const std::string& path, const std::string& header_json, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint64_t length = header_json.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << header_json << data;
}

}  // namespace ffnbench::test_support
