// `ffnbench report`: a self-contained Markdown report whose every image is on disk, with the
// published claims checked against the data, figures redrawn only when stale.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "merge/merge.hpp"
#include "report/figure_scripts.hpp"
#include "support_run_folders.hpp"

namespace fs = std::filesystem;
using namespace ffnbench;
using namespace ffnbench::testing;

namespace {

// A machine that measured gemm_ffn (two impls, two batches) and LookupFFN at the paper's shape.
SyntheticRun machine(const std::string& id, double lookup_time) {
  SyntheticRun r;
  r.machine_id = id;
  r.run_id = "run-" + id;
  r.model_name = "CPU " + id;
  for (int threads : {1, 2})
    for (int64_t tokens : {1024, 32768}) {
      const double scale = tokens / 1024.0 / threads;
      for (auto [impl, t] : {std::pair{"openblas", 1.2e-3}, std::pair{"onednn", 1.0e-3}}) {
        SyntheticPoint g;
        g.impl = impl;
        g.tokens = tokens;
        g.threads = threads;
        g.time_s = t * scale;
        r.points.push_back(g);
      }
      if (tokens != 32768) continue;  // LookupFFN at the paper's batch only, as lookupffn_paper.ini runs it
      SyntheticPoint l;
      l.block = l.variant = "lookup_ffn";
      l.impl = "table_major";
      l.tokens = tokens;
      l.threads = threads;
      l.time_s = lookup_time * scale;
      l.flops = 4.0 * tokens * 512 * 2048 / 6.06;
      l.params = {{"b", "64"}, {"h", "128"}, {"order", "table_major"}, {"projection", "bh4"},
                  {"table_precision", "fp32"}, {"tau", "8"}};
      r.points.push_back(l);
    }
  return r;
}

// The image links of a Markdown file, as written.
std::vector<std::string> image_links(const std::string& markdown) {
  std::vector<std::string> links;
  std::regex image(R"(!\[[^\]]*\]\(([^)]+)\))");
  for (auto it = std::sregex_iterator(markdown.begin(), markdown.end(), image); it != std::sregex_iterator(); ++it)
    links.push_back((*it)[1]);
  return links;
}

bool contains(const std::vector<std::string>& v, const std::string& part) {
  for (const auto& s : v)
    if (s.find(part) != std::string::npos) return true;
  return false;
}

class Report : public ::testing::Test {
 protected:
  void SetUp() override { root = test_temp_dir("report"); }
  void TearDown() override { fs::remove_all(root); }
  fs::path root;
};

}  // namespace

TEST_F(Report, MergedDatasetRendersWithEveryReferencedFigureOnDisk) {
  fs::path a = write_run(root / "in", machine("intel-a-2c-0001", 4.0e-4));
  fs::path b = write_run(root / "in", machine("amd-b-2c-0002", 8.0e-4));
  const fs::path merged = root / "merged";
  MergeOptions o{{a.string(), b.string()}, merged.string(), "", {}};
  merge_runs(o);

  CliResult r = run_cli("report " + merged.string());
  ASSERT_EQ(r.status, 0) << r.output << slurp(merged / "report.md");
  const fs::path report = merged / "report.md";
  ASSERT_TRUE(fs::exists(report)) << r.output;
  const std::string md = slurp(report);
  auto links = image_links(md);
  ASSERT_FALSE(links.empty()) << md;
  for (const auto& link : links) EXPECT_TRUE(fs::exists(merged / link)) << link;
  // Across machines on the dataset, the single-run figures on each machine's view.
  EXPECT_TRUE(contains(links, "figures/speedup_by_machine.png")) << md;
  EXPECT_TRUE(contains(links, "figures/ceiling_fractions.png")) << md;
  EXPECT_TRUE(contains(links, "by_machine/intel-a-2c-0001/figures/latency_vs_tokens")) << md;
  EXPECT_TRUE(contains(links, "by_machine/amd-b-2c-0002/figures/latency_vs_tokens")) << md;

  // The machine table and the claims with the numbers of the data: onednn is gemm's best impl.
  EXPECT_NE(md.find("| `intel-a-2c-0001` | CPU intel-a-2c-0001 | Test Lake |"), std::string::npos) << md;
  // Two repetitions a point: too few rounds for a 95% CI of the ratio, so no verdict either way.
  const std::string lookup = "LookupFFN vs gemm_ffn: 2.51× claimed, 2.50× measured on intel-a-2c-0001 (Test Lake, 2c) "
                             "at 2 threads, 32768 tokens (lookup_ffn [table_major] vs gemm_ffn [onednn] d_ff=2048, fp32; 2 rounds ";
  const size_t at = md.find(lookup);
  ASSERT_NE(at, std::string::npos) << md;
  const std::string sentence = md.substr(at, md.find('\n', at) - at);
  // Seeded random weights: the sentence says their quality is unknown.
  EXPECT_NE(sentence.find("no 95% CI from fewer than 6 rounds; random weights; quality not measured): inconclusive"),
            std::string::npos)
      << sentence;
  // Only fp32 dense in this data: the best dense at any precision is the same point, and says so.
  EXPECT_NE(sentence.find("; the best dense at any precision is that same fp32 point"), std::string::npos) << sentence;
  EXPECT_NE(md.find("the best dense at the same precision (the fastest gemm_ffn impl at the variant's precision"),
            std::string::npos) << md;
  EXPECT_NE(md.find("2.51× claimed, 1.25× measured on amd-b-2c-0002 (Test Lake, 2c) at 1 thread, 32768 tokens"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("6× fewer claimed, 6.06× fewer in the cost models"), std::string::npos) << md;
  EXPECT_NE(md.find("UltraFastBERT 1×11 vs gemm_ffn: 78× claimed, not measured in this run (no fff points in this data)"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("MoE grouped vs per_token: ≥ 5× claimed, not measured in this run"), std::string::npos) << md;
  EXPECT_NE(md.find("no ceilings.json"), std::string::npos) << md;
  EXPECT_NE(md.find("| `amd-b-2c-0002` | 10 | — |"), std::string::npos) << md;

  // Up to date: nothing redrawn. Newer data: stale again.
  CliResult again = run_cli("report " + merged.string());
  EXPECT_EQ(again.status, 0);
  EXPECT_NE(again.output.find("figures were up to date"), std::string::npos) << again.output;
  const std::string plots = std::string(FFNBENCH_SOURCE_DIR) + "/plots";
  EXPECT_TRUE(figures_up_to_date(merged.string(), plots));
  fs::last_write_time(merged / "points.csv", fs::file_time_type::clock::now() + std::chrono::seconds(5));
  EXPECT_FALSE(figures_up_to_date(merged.string(), plots));
}

TEST_F(Report, ARunFolderIsADatasetOfOneMachineAndLinksFollowTheReport) {
  fs::path run = write_run(root / "results", machine("intel-a-2c-0001", 4.0e-4));
  const fs::path out = root / "elsewhere" / "report.md";
  fs::create_directories(out.parent_path());
  CliResult r = run_cli("report " + run.string() + " --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.output << slurp(out);
  const std::string md = slurp(out);
  auto links = image_links(md);
  EXPECT_TRUE(contains(links, "../results/intel-a-2c-0001/run-intel-a-2c-0001/figures/speedup_by_machine.png")) << md;
  EXPECT_TRUE(contains(links, "figures/latency_vs_tokens_T2_fp32.png")) << md;
  for (const auto& link : links) EXPECT_TRUE(fs::exists(out.parent_path() / link)) << link;
  EXPECT_NE(md.find("Run folder of 1 machine(s), 10 points"), std::string::npos) << md;
  EXPECT_FALSE(fs::exists(run / "by_machine"));
}

TEST_F(Report, BadInputExitsTwoAndWritesNoReport) {
  fs::path run = write_run(root / "results", machine("m1", 4.0e-4));
  struct Case {
    std::string args, message;
  };
  fs::path broken = write_run(root / "broken", machine("m2", 4.0e-4));
  fs::remove(broken / "machine.json");
  const std::vector<Case> cases = {
      {"report " + (root / "nothing").string(), "for 'run folder': must be a run folder"},
      {"report " + broken.string(), "for 'machine.json': is missing"},
      {"report " + run.string() + " --python /no/python3", "invalid value '/no/python3' for 'python'"},
      {"report " + run.string() + " --plots " + root.string(), "for 'plots': must be the plots/ folder"},
      {"report " + run.string() + " --out " + (root / "no" / "dir" / "r.md").string(), "for 'out': must be in an existing folder"},
      {"report", "for 'folder'"},
  };
  for (const auto& c : cases) {
    CliResult r = run_cli(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(run / "report.md"));
  EXPECT_FALSE(fs::exists(run / "figures"));
  EXPECT_FALSE(fs::exists(broken / "report.md"));
}

TEST_F(Report, FailingFigureScriptsAreShownAndExitOne) {
  fs::path run = write_run(root / "results", machine("m1", 4.0e-4));
  CliResult r = run_cli("report " + run.string() + " --python /bin/false");
  EXPECT_EQ(r.status, 1) << r.output;
  const std::string md = slurp(run / "report.md");
  EXPECT_TRUE(image_links(md).empty()) << md;
  EXPECT_NE(md.find("### Figure scripts that failed\n"), std::string::npos) << md;
  EXPECT_NE(md.find("- `crossmachine_figures.py` on `" + run.string() + "` (exit status 1):\n\n```\n(no output)\n```"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("Not evaluated: crossmachine_figures.py did not run"), std::string::npos) << md;
  EXPECT_FALSE(figures_up_to_date(run.string(), std::string(FFNBENCH_SOURCE_DIR) + "/plots"))
      << "a failed drawing must be retried next time";
}

// The reference machines of the same experiment next to the user's run, by default from the
// source tree's results/reference, more with --reference DIR, none with --reference none.
TEST_F(Report, ReferenceMachinesOfTheSameExperimentAreShownSideBySide) {
  fs::path run = write_run(root / "results", machine("user-m-2c-0001", 4.0e-4));
  SyntheticRun other = machine("ref-m-2c-0002", 8.0e-4);
  other.experiment = "repetitions = 9\n" + other.experiment;  // made with other settings: still shown
  write_run(root / "refs", other);
  SyntheticRun unrelated = machine("ref-x-2c-0003", 8.0e-4);
  unrelated.experiment = "name = another\ntokens = 64\nthreads = 1\n\n[gemm_ffn]\nd = 512\nd_ff = 2048\n";
  write_run(root / "refs", unrelated);

  CliResult r = run_cli("report " + run.string() + " --reference " + (root / "refs").string());
  ASSERT_EQ(r.status, 0) << r.output << slurp(run / "report.md");
  EXPECT_NE(r.output.find("reference machines side by side: ref-m-2c-0002\n"), std::string::npos) << r.output;
  std::string md = slurp(run / "report.md");
  const size_t section = md.find("## Next to the reference machines\n");
  ASSERT_NE(section, std::string::npos) << md;
  EXPECT_NE(md.find("- `ref-m-2c-0002`: " + (root / "refs" / "ref-m-2c-0002" / "run-ref-m-2c-0002").string(), section),
            std::string::npos) << md;
  EXPECT_EQ(md.find("ref-x-2c-0003"), std::string::npos) << md;
  EXPECT_NE(md.find("Their experiment differs from this one in: repetitions"), std::string::npos) << md;
  // Both machines in the table and in the claims, and the cross-machine figure of the two on disk.
  EXPECT_NE(md.find("| `ref-m-2c-0002` | CPU ref-m-2c-0002 |", section), std::string::npos) << md;
  EXPECT_NE(md.find("| `user-m-2c-0001` | CPU user-m-2c-0001 |", section), std::string::npos) << md;
  EXPECT_NE(md.find("2.51× claimed, 1.25× measured on ref-m-2c-0002", section), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(run / "with_references" / "figures" / "speedup_by_machine.png"));
  EXPECT_NE(md.find("(with_references/figures/speedup_by_machine.png)"), std::string::npos) << md;

  r = run_cli("report " + run.string() + " --reference none --reference " + (root / "refs").string());
  ASSERT_EQ(r.status, 0) << r.output;
  md = slurp(run / "report.md");
  EXPECT_NE(md.find("## Next to the reference machines\n\nLeft out (`--reference none`)."), std::string::npos) << md;
  EXPECT_EQ(md.find("ref-m-2c-0002"), std::string::npos) << md;

  r = run_cli("report " + run.string() + " --reference " + (root / "nowhere").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("invalid value '" + (root / "nowhere").string() + "' for 'reference': must be a folder"),
            std::string::npos) << r.output;
}

// With no --reference at all, a run of quick.ini meets the committed references of the other
// microarchitectures (a clean clone has them in results/reference).
TEST_F(Report, ByDefaultTheCommittedReferencesAreShown) {
  const fs::path zen5 = fs::path(FFNBENCH_SOURCE_DIR) / "results" / "reference" / "amd-zen-5-2c-c08a" / "moe_grouped";
  const fs::path run = root / "moe_grouped";
  fs::copy(zen5, run, fs::copy_options::recursive);
  CliResult r = run_cli("report " + run.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("reference machines side by side: amd-zen-4-2c-415a\n"), std::string::npos) << r.output;
  const std::string md = slurp(run / "report.md");
  EXPECT_NE(md.find("- `amd-zen-4-2c-415a`: "), std::string::npos) << md;
  // The Zen 4 run is of schema 1: migrated, and the report says so.
  EXPECT_NE(md.find("(schema 1, this ffnbench writes"), std::string::npos) << md;
}
