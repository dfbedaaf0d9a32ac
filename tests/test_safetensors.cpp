// The safetensors reader and writer: known bytes both ways, and every way a file can be wrong
// (each one message naming the file and what is wrong, as a FileContentError).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/safetensors.hpp"
#include "core/params.hpp"
#include "support_safetensors.hpp"

namespace fs = std::filesystem;
using namespace ffnbench;
using ffnbench::test_support::write_raw_safetensors;

namespace {

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("ffnbench_st_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
    path = (dir / "t.safetensors").string();
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string open_error() {
    try {
      SafetensorsFile::open(path, "weights");
    } catch (const FileContentError& e) {
      return e.what();
    }
    return "no error";
  }
  fs::path dir;
  std::string path;
};

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST_F(Safetensors, TheWriterProducesHuggingFacesBytes) {
  const float a[2] = {1.0f, -2.0f};
  write_safetensors(path, {{"a", {2}, a}});
  std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";  // 54 bytes
  json.append(2, ' ');                                                                // padded to 56
  std::string expected("\x38\0\0\0\0\0\0\0", 8);
  expected += json;
  expected += std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);  // 1.0f, -2.0f little-endian
  EXPECT_EQ(file_bytes(path), expected);
}

TEST_F(Safetensors, RoundTripOfShapesDataAndMetadata) {
  std::vector<float> w(2 * 3 * 4), b(5);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i) - 3.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = -static_cast<float>(i);
  write_safetensors(path, {{"w", {2, 3, 4}, w.data()}, {"b", {5}, b.data()}}, {{"format", "pt"}});
  const SafetensorsFile f = SafetensorsFile::open(path, "weights");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.expect("w", {2, 3, 4}, "test").elements(), 24);
  EXPECT_EQ(f.read_f32("w"), w);
  EXPECT_EQ(f.read_f32("b"), b);
}

TEST_F(Safetensors, ReadsAFileWrittenByAnotherWriterWithOffsetsOutOfKeyOrder) {
  // Python's safetensors sorts keys by name but places data by dtype alignment: offsets need not
  // follow the JSON order. Here "z" comes first in the data.
  const float z = 7.5f, a[2] = {1.0f, 2.0f};
  std::string data(reinterpret_cast<const char*>(&z), 4);
  data.append(reinterpret_cast<const char*>(a), 8);
  write_raw_safetensors(path,
                        R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]},)"
                        R"("z":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                        data);
  const SafetensorsFile f = SafetensorsFile::open(path, "weights");
  EXPECT_EQ(f.read_f32("a"), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(f.read_f32("z"), (std::vector<float>{7.5f}));
}

TEST_F(Safetensors, AMissingFileShorterThanItsLengthOrItsHeaderIsTruncated) {
  EXPECT_EQ(open_error(), "invalid value '" + path + "' for 'weights': must be a readable safetensors file (No such file or directory)");
  std::ofstream(path, std::ios::binary) << "abc";
  EXPECT_EQ(open_error(), "invalid value '" + path + "' for 'weights': is truncated: 3 bytes, fewer than the 8 of the header length");
  std::ofstream(path, std::ios::binary) << std::string("\x40\0\0\0\0\0\0\0{}", 10);
  EXPECT_EQ(open_error(), "invalid value '" + path +
                              "' for 'weights': is truncated: its header length says 64 bytes of JSON, but only 2 bytes follow it");
}

TEST_F(Safetensors, DataCutShortIsTruncatedAndNamesTheTensor) {
  write_raw_safetensors(path, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(12, '\0'));
  EXPECT_EQ(open_error(), "invalid value '" + path +
                              "' for 'weights': is truncated: tensor 'w' needs bytes [0, 16) of the data, but the file "
                              "holds only 12 bytes of data after its header");
}

TEST_F(Safetensors, AHeaderThatLiesAboutSizesIsNamedSo) {
  write_raw_safetensors(path, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", std::string(16, '\0'));
  EXPECT_EQ(open_error(), "invalid value '" + path +
                              "' for 'weights': has a header that lies about its sizes: tensor 'w' of shape [4] and "
                              "dtype F32 holds 16 bytes, but its data_offsets [0, 12] span 12 bytes");
  write_raw_safetensors(path,
                        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                        std::string(12, '\0'));
  EXPECT_EQ(open_error(), "invalid value '" + path +
                              "' for 'weights': has a header that lies about its sizes: tensors 'a' [0, 8) and 'b' [4, 12) overlap");
}

TEST_F(Safetensors, HeadersThatAreNotSafetensorsAreRefused) {
  write_raw_safetensors(path, "[1, 2]", "");
  EXPECT_EQ(open_error(), "invalid value '" + path + "' for 'weights': has a header that is not a JSON object of tensors");
  write_raw_safetensors(path, R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  EXPECT_EQ(open_error(), "invalid value '" + path +
                              "' for 'weights': has a header entry for tensor 'w' that names an unknown dtype \"F33\"");
  write_raw_safetensors(path, R"({"w":{"dtype":"F32","shape":[1]}})", "");
  EXPECT_EQ(open_error(), "invalid value '" + path +
                              "' for 'weights': has a header entry for tensor 'w' that lacks dtype, shape or data_offsets");
}

TEST_F(Safetensors, ExpectNamesTheTensorWhatItHasAndWhatIsNeeded) {
  const std::vector<float> w(6, 1.0f);
  write_safetensors(path, {{"w", {2, 3}, w.data()}});
  write_raw_safetensors((dir / "half.safetensors").string(), R"({"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}})",
                        std::string(12, '\0'));
  const SafetensorsFile f = SafetensorsFile::open(path, "weights");
  auto error = [](auto&& call) {
    try {
      call();
    } catch (const FileContentError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error([&] { f.expect("v", {3}, "x with d = 3"); }),
            "invalid value '" + path + "' for 'weights': has no tensor 'v' (it has: w); x with d = 3 needs it as F32 [3]");
  EXPECT_EQ(error([&] { f.expect("w", {3, 2}, "x with d = 3"); }),
            "invalid value '" + path + "' for 'weights': tensor 'w' is F32 [2, 3], but x with d = 3 needs F32 [3, 2]");
  const SafetensorsFile half = SafetensorsFile::open((dir / "half.safetensors").string(), "weights");
  EXPECT_EQ(error([&] { half.expect("w", {2, 3}, "x with d = 3"); }),
            "invalid value '" + (dir / "half.safetensors").string() +
                "' for 'weights': tensor 'w' is F16 [2, 3], but x with d = 3 needs F32 [2, 3]");
}

}  // namespace
