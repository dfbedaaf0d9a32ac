#include "common/safetensors.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/params.hpp"

namespace ffnbench {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; this reader copies it as is");

namespace {

// Bytes per element of the dtypes safetensors defines.
int64_t dtype_bytes(const std::string& dtype) {
  static const std::map<std::string, int64_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
      {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

// Closes the descriptor on every way out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

int64_t TensorInfo::elements() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

SafetensorsFile SafetensorsFile::open(const std::string& path, const std::string& key) {
  auto fail = [&](const std::string& what) { return FileContentError(key, path, what); };
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY);
  if (f.fd < 0) throw fail(fmt::format("must be a readable safetensors file ({})", std::strerror(errno)));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) throw fail("must be a regular safetensors file");
  const auto file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < 8)
    throw fail(fmt::format("is truncated: {} bytes, fewer than the 8 of the header length", file_bytes));
  uint64_t header_bytes = 0;
  if (::pread(f.fd, &header_bytes, 8, 0) != 8) throw fail("is truncated: its header length cannot be read");
  if (header_bytes > file_bytes - 8)
    throw fail(fmt::format("is truncated: its header length says {} bytes of JSON, but only {} bytes follow it",
                           header_bytes, file_bytes - 8));
  std::string header(header_bytes, '\0');
  if (::pread(f.fd, header.data(), header_bytes, 8) != static_cast<ssize_t>(header_bytes))
    throw fail("is truncated: its header cannot be read whole");

  SafetensorsFile out;
  out.path_ = path;
  out.key_ = key;
  out.data_start_ = 8 + header_bytes;
  const uint64_t data_bytes = file_bytes - out.data_start_;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    throw fail(fmt::format("has a header that is not JSON ({})", e.what()));
  }
  if (!j.is_object()) throw fail("has a header that is not a JSON object of tensors");
  for (const auto& [name, entry] : j.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("has a __metadata__ entry that is not an object of strings");
      for (const auto& [k, v] : entry.items())
        out.metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    const auto bad_entry = [&](const std::string& what) {
      return fail(fmt::format("has a header entry for tensor '{}' that {}", name, what));
    };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw bad_entry("lacks dtype, shape or data_offsets");
    TensorInfo t;
    t.name = name;
    if (!entry["dtype"].is_string() || dtype_bytes(entry["dtype"].get<std::string>()) == 0)
      throw bad_entry(fmt::format("names an unknown dtype {}", entry["dtype"].dump()));
    t.dtype = entry["dtype"].get<std::string>();
    if (!entry["shape"].is_array()) throw bad_entry("has a shape that is not a list");
    for (const auto& s : entry["shape"]) {
      if (!s.is_number_unsigned()) throw bad_entry(fmt::format("has a shape {} that is not a list of sizes", entry["shape"].dump()));
      t.shape.push_back(s.get<int64_t>());
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad_entry("has data_offsets that are not two byte offsets");
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    const double needed = static_cast<double>(t.elements()) * static_cast<double>(dtype_bytes(t.dtype));
    if (t.end < t.begin || static_cast<double>(t.end - t.begin) != needed)
      throw fail(fmt::format("has a header that lies about its sizes: tensor '{}' of shape {} and dtype {} "
                             "holds {:.0f} bytes, but its data_offsets [{}, {}] span {}",
                             name, shape_text(t.shape), t.dtype, needed, t.begin, t.end,
                             t.end < t.begin ? std::string("a negative range") : fmt::format("{} bytes", t.end - t.begin)));
    if (t.end > data_bytes)
      throw fail(fmt::format("is truncated: tensor '{}' needs bytes [{}, {}) of the data, but the file holds "
                             "only {} bytes of data after its header",
                             name, t.begin, t.end, data_bytes));
    out.tensors_.push_back(std::move(t));
  }
  // Tensors must not share bytes: a header whose ranges overlap describes no real file.
  std::vector<const TensorInfo*> by_begin;
  for (const auto& t : out.tensors_) by_begin.push_back(&t);
  std::sort(by_begin.begin(), by_begin.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_begin.size(); ++i)
    if (by_begin[i]->begin < by_begin[i - 1]->end)
      throw fail(fmt::format("has a header that lies about its sizes: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap",
                             by_begin[i - 1]->name, by_begin[i - 1]->begin, by_begin[i - 1]->end, by_begin[i]->name,
                             by_begin[i]->begin, by_begin[i]->end));
  return out;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorInfo& SafetensorsFile::expect(const std::string& name, const std::vector<int64_t>& shape,
                                          const std::string& needed_by) const {
  const TensorInfo* t = find(name);
  if (t == nullptr) {
    std::vector<std::string> names;
    for (const auto& u : tensors_) names.push_back(u.name);
    throw FileContentError(key_, path_,
                           fmt::format("has no tensor '{}' (it has: {}); {} needs it as F32 {}", name,
                                       names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")),
                                       needed_by, shape_text(shape)));
  }
  if (t->dtype != "F32" || t->shape != shape)
    throw FileContentError(key_, path_,
                           fmt::format("tensor '{}' is {} {}, but {} needs F32 {}", name, t->dtype,
                                       shape_text(t->shape), needed_by, shape_text(shape)));
  return *t;
}

void SafetensorsFile::read_f32(const TensorInfo& tensor, float* out) const {
  if (tensor.dtype != "F32") throw std::logic_error("read_f32 of a " + tensor.dtype + " tensor");
  Fd f;
  f.fd = ::open(path_.c_str(), O_RDONLY);
  if (f.fd < 0) throw FileContentError(key_, path_, fmt::format("cannot be read any more ({})", std::strerror(errno)));
  const int64_t n = tensor.elements();
  bool ok = true;
#pragma omp parallel reduction(&& : ok) if (n > (1 << 16))
  {
    const int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t first = n * me / threads, last = n * (me + 1) / threads;
    auto* dst = reinterpret_cast<char*>(out + first);
    uint64_t at = data_start_ + tensor.begin + 4 * static_cast<uint64_t>(first);
    for (uint64_t left = 4 * static_cast<uint64_t>(last - first); left > 0 && ok;) {
      const ssize_t got = ::pread(f.fd, dst, left, static_cast<off_t>(at));
      if (got <= 0) ok = false;
      else {
        dst += got;
        at += static_cast<uint64_t>(got);
        left -= static_cast<uint64_t>(got);
      }
    }
  }
  if (!ok)
    throw FileContentError(key_, path_, fmt::format("is truncated: tensor '{}' could not be read whole", tensor.name));
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (t == nullptr) throw std::logic_error("read_f32 of a missing tensor " + name);
  std::vector<float> v(static_cast<size_t>(t->elements()));
  read_f32(*t, v.data());
  return v;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t at = 0;
  for (const auto& t : tensors) {
    int64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {at, at + 4 * static_cast<uint64_t>(n)}}};
    at += 4 * static_cast<uint64_t>(n);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint64_t length = text.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : tensors) {
    int64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    out.write(reinterpret_cast<const char*>(t.data), static_cast<std::streamsize>(4 * n));
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace ffnbench
