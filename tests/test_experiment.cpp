#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/params.hpp"
#include "sweep/experiment.hpp"
#include "sweep/grid.hpp"

using namespace ffnbench;

namespace {

// Experiment files live in one temporary folder per test process, removed at exit.
struct TempFolder {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("ffnbench_test_experiment_" + std::to_string(::getpid()));
  TempFolder() { std::filesystem::create_directories(path); }
  ~TempFolder() { std::filesystem::remove_all(path); }
};

std::string write_ini(const std::string& text) {
  static TempFolder folder;
  static int n = 0;
  auto path = folder.path / (std::to_string(n++) + ".ini");
  std::ofstream(path) << text;
  return path.string();
}

const char* kBasic = R"(name = tiny
tokens = 4,16
threads = 1
repetitions = 2

[test_affine]
d = 8,16
scale = 3
)";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(ExpandList, ListsAndRanges) {
  EXPECT_EQ(expand_list("k", "1,2, 4"), (std::vector<std::string>{"1", "2", "4"}));
  EXPECT_EQ(expand_list("k", "64..512*2"), (std::vector<std::string>{"64", "128", "256", "512"}));
  EXPECT_EQ(expand_list("k", "0..9+3"), (std::vector<std::string>{"0", "3", "6", "9"}));
  EXPECT_EQ(expand_list("k", "1,8..32*4"), (std::vector<std::string>{"1", "8", "32"}));
  EXPECT_THROW(expand_list("k", "1,,2"), ConfigError);
  EXPECT_THROW(expand_list("k", "8..1*2"), ConfigError);
  EXPECT_THROW(expand_list("k", "1..8*1"), ConfigError);
}

TEST(ParseThreads, AllMeansEveryCoreAndDuplicatesCollapse) {
  EXPECT_EQ(parse_threads("threads", "1,all", 16), (std::vector<int>{1, 16}));
  EXPECT_EQ(parse_threads("threads", "2,all", 2), (std::vector<int>{2}));
  EXPECT_EQ(parse_threads("threads", "1..all*2,all", 12), (std::vector<int>{1, 2, 4, 8, 12}));
  EXPECT_EQ(error_of([] { parse_threads("threads", "0", 2); }),
            "invalid value '0' for 'threads': must be a thread count or 'all' in [1, 4096]");
}

TEST(ParseThreads, MoreThreadsThanCoresAreRefusedNamingTheCores) {
  EXPECT_EQ(error_of([] { parse_threads("gemm_ffn.threads", "1,64", 2); }),
            "invalid value '64' for 'gemm_ffn.threads': is more threads than the 2 physical core(s) this process may "
            "use (ffnbench runs one pinned thread per core and does not oversubscribe): use at most 2 or 'all'");
  EXPECT_EQ(error_of([] { parse_threads("threads", "1..8*2", 4); }).find("invalid value '8' for 'threads'"), 0u);
  EXPECT_EQ(parse_threads("threads", "1..4*2", 4), (std::vector<int>{1, 2, 4}));
}

TEST(LoadExperiment, ReadsGlobalsAndBlocks) {
  Experiment x = load_experiment(write_ini(kBasic), {});
  EXPECT_EQ(x.name, "tiny");
  EXPECT_EQ(x.tokens, (std::vector<int64_t>{4, 16}));
  EXPECT_EQ(x.repetitions, 2);
  ASSERT_EQ(x.blocks.size(), 1u);
  EXPECT_EQ(x.blocks[0].variant, "test_affine");
  EXPECT_EQ(x.blocks[0].params.at("d"), (std::vector<std::string>{"8", "16"}));
}

TEST(LoadExperiment, CommandLineOverridesTheFile) {
  Experiment x = load_experiment(write_ini(kBasic), {"--tokens", "64", "--test_affine.d=32", "--seed=9"});
  EXPECT_EQ(x.tokens, (std::vector<int64_t>{64}));
  EXPECT_EQ(x.blocks[0].params.at("d"), (std::vector<std::string>{"32"}));
  EXPECT_EQ(x.seed, 9u);
  EXPECT_NE(x.source_text.find("d = 32"), std::string::npos) << x.source_text;
}

TEST(LoadExperiment, LabelledBlocksShareAVariant) {
  Experiment x = load_experiment(write_ini("[test_affine:a]\nd = 2\n[test_affine:b]\nd = 4\ntokens = 3\n"), {});
  ASSERT_EQ(x.blocks.size(), 2u);
  EXPECT_EQ(x.blocks[1].label, "test_affine:b");
  EXPECT_EQ(x.blocks[1].tokens, (std::vector<int64_t>{3}));
}

TEST(LoadExperiment, ASectionWithoutKeysRunsTheVariantAtItsDefaults) {
  Experiment x = load_experiment(write_ini("tokens = 4\n[test_affine:first]\n\n[test_affine:second]\nd = 6\n"), {});
  ASSERT_EQ(x.blocks.size(), 2u);
  EXPECT_EQ(x.blocks[0].label, "test_affine:first");
  EXPECT_TRUE(x.blocks[0].params.empty());
  EXPECT_EQ(expand_grid(x).size(), 2u);
}

TEST(LoadExperiment, BadInputNamesKeyValueAndWhatIsAllowed) {
  EXPECT_EQ(error_of([] { load_experiment("/nonexistent/x.ini", {}); }),
            "invalid value '/nonexistent/x.ini' for 'experiment file': must be a readable INI file");
  std::string unknown_key = error_of([] { load_experiment(write_ini("tokenz = 4\n[test_affine]\n"), {}); });
  EXPECT_EQ(unknown_key.rfind("invalid value '4' for 'tokenz': unknown key; known: name, description, tokens", 0), 0u)
      << unknown_key;
  std::string unknown_variant = error_of([] { load_experiment(write_ini("[gemm_fnn]\nd = 4\n"), {}); });
  EXPECT_NE(unknown_variant.find("for '[gemm_fnn]': a section must name a variant"), std::string::npos)
      << unknown_variant;
  EXPECT_EQ(error_of([] { load_experiment(write_ini(kBasic), {"--repetitions", "many"}); }),
            "invalid value 'many' for 'repetitions': must be an integer in [1, 1000]");
  EXPECT_EQ(error_of([] { load_experiment(write_ini(kBasic), {"--cache_mode=lukewarm"}); }),
            "invalid value 'lukewarm' for 'cache_mode': must be one of: hot, cold");
  std::string malformed = error_of([] { load_experiment(write_ini("[test_affine\nd = 4\n"), {}); });
  EXPECT_NE(malformed.find("is not valid INI"), std::string::npos) << malformed;
  std::string empty = error_of([] { load_experiment(write_ini("tokens = 4\n"), {}); });
  EXPECT_NE(empty.find("defines no [variant] section"), std::string::npos) << empty;
}

TEST(ExpandGrid, CartesianProductTimesTokensTimesThreads) {
  Experiment x = load_experiment(write_ini(kBasic), {"--threads", "1,2"});
  auto points = expand_grid(x);
  ASSERT_EQ(points.size(), 2u * 2u * 2u);  // d × tokens × threads
  EXPECT_EQ(points[0].point_id, "test_affine|d=8;impl=good;scale=3|N=4|T=1");
  EXPECT_EQ(points[7].point_id, "test_affine|d=16;impl=good;scale=3|N=16|T=2");
  for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(points[i].index, i);
}

TEST(ExpandGrid, CrossCheckFailuresAreInvalidCellsWithTheReason) {
  Experiment x = load_experiment(write_ini(kBasic), {"--test_affine.d", "7,8", "--tokens", "4"});
  auto points = expand_grid(x);
  ASSERT_EQ(points.size(), 2u);
  ASSERT_TRUE(points[0].invalid.has_value());
  EXPECT_STREQ(points[0].invalid->what(), "invalid value '7' for 'test_affine.d': must be even with impl=good");
  EXPECT_FALSE(points[1].invalid.has_value());
}

TEST(ExpandGrid, SpecViolationsAreInputErrorsNotCells) {
  Experiment x = load_experiment(write_ini(kBasic), {"--test_affine.d", "0"});
  EXPECT_EQ(error_of([&] { expand_grid(x); }),
            "invalid value '0' for 'test_affine.d': must be an integer in [1, 4096]");
  Experiment y = load_experiment(write_ini(kBasic), {"--test_affine.width", "3"});
  EXPECT_EQ(error_of([&] { expand_grid(y); }),
            "invalid value '3' for 'test_affine.width': unknown parameter of test_affine; known: d, "
            "scale, impl, tokens, threads");
}

TEST(Shards, DisjointAndTheirUnionIsTheGrid) {
  Experiment x = load_experiment(write_ini(kBasic), {"--tokens", "1..64*2", "--threads", "1,2"});
  auto grid = expand_grid(x);
  ASSERT_EQ(grid.size(), 2u * 7u * 2u);
  for (int n : {1, 3, 5, 28, 40}) {
    std::multiset<std::string> seen;
    for (int i = 1; i <= n; ++i)
      for (const auto& p : select_shard(grid, parse_shard(std::to_string(i) + "/" + std::to_string(n))))
        seen.insert(p.point_id);
    EXPECT_EQ(seen.size(), grid.size()) << n;
    for (const auto& p : grid) EXPECT_EQ(seen.count(p.point_id), 1u) << n;
  }
}

TEST(Shards, BadSpecsAreRejected) {
  for (const char* bad : {"3/2", "0/0", "0/4", "1/0", "a/b", "2", "-1/3"})
    EXPECT_EQ(error_of([&] { parse_shard(bad); }),
              std::string("invalid value '") + bad + "' for 'shard': must read i/n with integers 1 <= i <= n (e.g. 2/8)");
}
