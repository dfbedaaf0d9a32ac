// Hugging Face's safetensors format: an 8-byte little-endian header length n, n bytes of JSON
// ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}),
// then the raw little-endian data, offsets relative to its start. Every size the header states is
// checked against the file when it is opened, so a truncated file or a header that lies fails
// there, before anything is built; the data is read only when a tensor is asked for.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ffnbench {

struct TensorInfo {
  std::string name;
  std::string dtype;           // "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // byte range in the data section
  int64_t elements() const;
};

class SafetensorsFile {
 public:
  // Opens and checks `path`. Errors are FileContentError(key, path, what is wrong): unreadable,
  // shorter than its header, a header that is not JSON or not safetensors, a tensor whose
  // data_offsets disagree with its shape and dtype or overlap another's, data past the end.
  static SafetensorsFile open(const std::string& path, const std::string& key);

  const std::string& path() const { return path_; }
  const std::string& key() const { return key_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;

  // The tensor `name`, required to be F32 of exactly `shape`; a missing tensor, another dtype or
  // another shape throws FileContentError naming the file, the tensor, what it has and what
  // `needed_by` (e.g. "d = 256, d_ff = 1024") needs.
  const TensorInfo& expect(const std::string& name, const std::vector<int64_t>& shape,
                           const std::string& needed_by) const;

  // Reads an F32 tensor's data into out[0..elements) (threads of the current OpenMP team read
  // their static share, so pages are first touched as a static loop over them would).
  void read_f32(const TensorInfo& tensor, float* out) const;
  std::vector<float> read_f32(const std::string& name) const;

 private:
  std::string path_, key_;
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: name, shape and its F32 values (row-major).
struct TensorToWrite {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;
};

// Writes a safetensors file (tensors in the given order, the header padded with spaces to a
// multiple of 8 bytes, as Hugging Face's writer does). Throws std::runtime_error when it cannot.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

std::string shape_text(const std::vector<int64_t>& shape);  // "[256, 1024]"

}  // namespace ffnbench
