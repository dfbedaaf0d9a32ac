// `ffnbench merge`: run folders of several machines -> one dataset; every refusal names what
// differs, exits 2 and writes nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <nlohmann/json.hpp>

#include "core/params.hpp"
#include "merge/csv_table.hpp"
#include "merge/dataset.hpp"
#include "merge/experiment_diff.hpp"
#include "merge/merge.hpp"
#include "results/csv.hpp"
#include "results/schema.hpp"
#include "support_run_folders.hpp"

namespace fs = std::filesystem;
using namespace ffnbench;
using namespace ffnbench::testing;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

SyntheticRun machine(const std::string& id, const std::string& run_id, std::vector<int64_t> tokens) {
  SyntheticRun r;
  r.machine_id = id;
  r.run_id = run_id;
  r.model_name = "CPU of " + id;
  for (int64_t n : tokens) {
    SyntheticPoint p;
    p.tokens = n;
    r.points.push_back(p);
  }
  return r;
}

// Nothing but the inputs in the folder: no output, no partial sibling.
void expect_nothing_written(const fs::path& root, const fs::path& out) {
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(root))
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
}

class Merge : public ::testing::Test {
 protected:
  void SetUp() override { root = test_temp_dir("merge"); }
  void TearDown() override { fs::remove_all(root); }
  MergeSummary merge(std::vector<fs::path> inputs, const std::string& keep = "") {
    MergeOptions o;
    for (const auto& p : inputs) o.inputs.push_back(p.string());
    o.out = out().string();
    o.keep = keep;
    return merge_runs(o);
  }
  fs::path out() const { return root / "merged"; }
  std::vector<std::vector<std::string>> merged(const char* file) const {
    return read_csv_file((out() / file).string());
  }
  fs::path root;
};

}  // namespace

TEST_F(Merge, TwoMachinesIntoOneDataset) {
  auto a = machine("intel-a-2c-0001", "20240101-120000", {64, 128});
  a.ceilings = true;
  auto b = machine("amd-b-4c-0002", "20240102-090000", {64, 128, 256});
  fs::path ra = write_run(root / "in", a), rb = write_run(root / "in", b);

  MergeSummary s = merge({ra, rb});
  EXPECT_EQ(s.inputs, 2u);
  EXPECT_EQ(s.machines, 2u);
  EXPECT_EQ(s.points, 5u);
  EXPECT_EQ(s.duplicates_dropped, 0u);

  auto points = merged("points.csv");
  ASSERT_EQ(points.size(), 1u + 5u);
  EXPECT_EQ(points[0], points_header(a.param_names));
  EXPECT_EQ(column(points, 1, "machine_id"), "intel-a-2c-0001");
  EXPECT_EQ(column(points, 3, "machine_id"), "amd-b-4c-0002");
  EXPECT_EQ(column(points, 5, "tokens"), "256");
  EXPECT_EQ(column(points, 1, "extras"), "a=1;b=2");
  EXPECT_EQ(merged("stages.csv").size(), 1u + 5u);
  EXPECT_EQ(merged("reps.csv").size(), 1u + 10u);
  EXPECT_EQ(merged("counters.csv").size(), 1u + 10u);
  EXPECT_EQ(merged("counters.csv")[0], counters_header());

  auto ma = nlohmann::json::parse(slurp(out() / "machines" / "intel-a-2c-0001.json"));
  auto mb = nlohmann::json::parse(slurp(out() / "machines" / "amd-b-4c-0002.json"));
  EXPECT_EQ(ma["cpu"]["model_name"], "CPU of intel-a-2c-0001");
  EXPECT_EQ(mb["cpu"]["model_name"], "CPU of amd-b-4c-0002");
  EXPECT_TRUE(fs::exists(out() / "ceilings" / "intel-a-2c-0001.json"));
  EXPECT_FALSE(fs::exists(out() / "ceilings" / "amd-b-4c-0002.json"));
  EXPECT_EQ(slurp(out() / "experiment.ini"), a.experiment);
  auto manifest = nlohmann::json::parse(slurp(out() / "merge.json"));
  ASSERT_EQ(manifest["inputs"].size(), 2u);
  EXPECT_EQ(manifest["inputs"][1]["points"], 3);
  EXPECT_EQ(manifest["inputs"][1]["run_ids"][0], "20240102-090000");
  expect_nothing_written(root, root / "no-such");  // no partial folder left behind
}

TEST_F(Merge, AMergedFolderMergesAgainWithAnotherMachine) {
  fs::path ra = write_run(root / "in", machine("m1", "r1", {64}));
  fs::path rb = write_run(root / "in", machine("m2", "r2", {64}));
  fs::path rc = write_run(root / "in", machine("m3", "r3", {64, 128}));
  merge({ra, rb});
  MergeOptions o{{out().string(), rc.string()}, (root / "again").string(), "", {}};
  MergeSummary s = merge_runs(o);
  EXPECT_EQ(s.machines, 3u);
  EXPECT_EQ(s.points, 4u);
  EXPECT_EQ(read_csv_file((root / "again" / "points.csv").string()).size(), 5u);
  EXPECT_TRUE(fs::exists(root / "again" / "machines" / "m3.json"));
  EXPECT_TRUE(fs::exists(root / "again" / "machines" / "m1.json"));
}

TEST_F(Merge, AFolderStandsForTheRunFoldersBelowIt) {
  // results/<experiment>/<machine>/<run>/ from two machines, copied under one folder each, with an
  // earlier merged dataset (and its by_machine views) lying next to them: that one is not read.
  write_run(root / "intel" / "results", machine("m1", "r1", {64}));
  write_run(root / "intel" / "results", machine("m1", "r2", {128}));
  write_run(root / "amd" / "results", machine("m2", "r3", {64}));
  MergeOptions first{{(root / "intel").string()}, (root / "intel" / "results" / "merged").string(), "", {}};
  EXPECT_EQ(merge_runs(first).points, 2u);
  fs::create_directories(root / "intel" / "results" / "merged" / "by_machine" / "m1");
  fs::copy(root / "intel" / "results" / "m1" / "r1", root / "intel" / "results" / "merged" / "by_machine" / "m1",
           fs::copy_options::recursive);
  MergeSummary s = merge({root / "intel", root / "amd"});
  EXPECT_EQ(s.inputs, 3u);
  EXPECT_EQ(s.points, 3u);
  EXPECT_EQ(s.duplicates_dropped, 0u);
}

TEST_F(Merge, ShardsOfOneMachineShareItsMachineFile) {
  // Two array tasks on one node (or nodes pooled with FFNBENCH_MACHINE_ID): one machine, two runs.
  fs::path r1 = write_run(root / "in", machine("pool", "20240101-120000", {64}));
  fs::path r2 = write_run(root / "in", machine("pool", "20240101-120000-2", {128}));
  MergeSummary s = merge({r1, r2});
  EXPECT_EQ(s.machines, 1u);
  EXPECT_EQ(s.points, 2u);
  EXPECT_TRUE(fs::exists(out() / "machines" / "pool.json"));
}

TEST_F(Merge, OtherParametersAndOlderDetailFilesAreAlignedNotRefused) {
  auto a = machine("m1", "r1", {64});
  auto b = machine("m2", "r2", {64});
  b.param_names = {"b", "d", "d_ff", "depth", "h", "leaf_width", "order", "projection", "table_precision"};
  auto c = machine("m3", "r3", {64});
  fs::path ra = write_run(root / "in", a), rb = write_run(root / "in", b), rc = write_run(root / "in", c);
  // reps.csv of a version before interleaved rounds and the overhead column.
  std::ofstream(rc / "reps.csv") << "run_id,point_id,repetition,time_s\nr3," << c.points[0].point_id() << ",0,0.001\n";
  MergeSummary s = merge({ra, rb, rc});
  EXPECT_EQ(s.points, 3u);
  auto points = merged("points.csv");
  // The union of the parameters, sorted; each input's missing ones empty.
  const auto& h = points[0];
  const auto first_param = std::find(h.begin(), h.end(), "p_b");
  ASSERT_NE(std::find(first_param, h.end(), "p_leaf_width"), h.end());
  ASSERT_NE(std::find(first_param, h.end(), "p_tau"), h.end());
  EXPECT_TRUE(std::is_sorted(first_param, h.end()));
  EXPECT_EQ(column(points, 1, "p_leaf_width"), "");
  EXPECT_EQ(column(points, 1, "p_d"), "512");
  EXPECT_EQ(column(points, 2, "p_tau"), "");
  auto reps = merged("reps.csv");
  EXPECT_EQ(reps[0], reps_header());
  ASSERT_EQ(reps.size(), 1u + 2 + 2 + 1);  // two repetitions of each synthetic run, one of the old file
  EXPECT_EQ(column(reps, 5, "time_s"), "0.001");
  EXPECT_EQ(column(reps, 5, "round"), "");
  std::string notes;
  for (const auto& n : s.notes) notes += n + "\n";
  EXPECT_NE(notes.find((rb / "points.csv").string() + ": no p_tau column(s)"), std::string::npos) << notes;
  EXPECT_NE(notes.find((rc / "reps.csv").string() + " (schema 1, this ffnbench writes " +
                       std::to_string(kResultsSchema) +
                       "): empty (not measured by that version): iterations, overhead_s, round, position"),
            std::string::npos) << notes;
  EXPECT_EQ(slurp(out() / "schema.json"), schema_json_text());
}

TEST_F(Merge, ExperimentMismatchNamesTheDifferingKeys) {
  auto a = machine("m1", "r1", {64});
  auto b = machine("m2", "r2", {64});
  b.experiment = "name = tiny\ntokens = 64,128\nthreads = 1\n\n[gemm_ffn]\nd = 512\nd_ff = 3072\nimpl = onednn\n";
  fs::path ra = write_run(root / "in", a), rb = write_run(root / "in", b);
  EXPECT_EQ(error_of([&] { merge({ra, rb}); }),
            "invalid value '" + (rb / "experiment.ini").string() + "' for 'experiment': must define the same "
            "experiment as " + (ra / "experiment.ini").string() + "; differing keys: gemm_ffn.d_ff ('2048' vs "
            "'3072'), gemm_ffn.impl (absent vs 'onednn'), tokens ('64' vs '64,128') (a key that may differ, "
            "e.g. a description: --ignore <key>)");
  expect_nothing_written(root, out());
}

TEST(ExperimentDiff, LayoutCommentsAndOutputFolderAreNotDifferences) {
  auto a = experiment_settings("name = x\ntokens = 1,2\noutput = results\n[gemm_ffn]\nd = 8\n");
  auto b = experiment_settings("# copied from the cluster\ntokens=1, 2   # two sizes\nname = x\noutput = /scratch/r\n\n"
                               "ceilings = /tmp/calib/ceilings.json\n[gemm_ffn]\n  d = 8\n");
  EXPECT_TRUE(experiment_differences(a, b).empty()) << "the calibration a run was given is not what it measured";
  auto c = experiment_settings("name = x\ndescription = new words\ntokens = 1,2\n[gemm_ffn]\nd = 8\n");
  EXPECT_EQ(experiment_differences(a, c), std::vector<std::string>{"description (absent vs 'new words')"});
  EXPECT_TRUE(experiment_differences(a, c, {"description"}).empty());
}

TEST_F(Merge, DuplicatedPointsAreRefusedUnlessKeepSaysWhich) {
  auto first = machine("m1", "20240101-120000", {64, 128});
  auto second = machine("m1", "20240105-080000", {128, 256});
  second.points[0].time_s = 7e-3;  // the re-measured point, told apart by its time
  fs::path r1 = write_run(root / "in", first), r2 = write_run(root / "in", second);
  const std::string id = first.points[1].point_id();
  EXPECT_EQ(error_of([&] { merge({r1, r2}); }),
            "invalid value '' for 'keep': 1 point(s) were measured in more than one run of the same machine, "
            "e.g. '" + id + "' of m1 in " + r1.string() + " (run 20240101-120000) and " + r2.string() +
            " (run 20240105-080000); say which to keep: --keep first, --keep last (in the order given) or "
            "--keep <run_id>");
  expect_nothing_written(root, out());
  EXPECT_EQ(error_of([&] { merge({r1, r2}, "20991231-000000"); }),
            "invalid value '20991231-000000' for 'keep': must be first, last or the run_id of an input (run_ids: "
            "20240101-120000, 20240105-080000)");

  struct Case {
    std::string keep, time_of_128;
  };
  for (const Case& c : {Case{"first", "0.001"}, Case{"last", "0.007"}, Case{"20240105-080000", "0.007"},
                        Case{"20240101-120000", "0.001"}}) {
    fs::remove_all(out());
    MergeSummary s = merge({r1, r2}, c.keep);
    EXPECT_EQ(s.duplicates_dropped, 1u) << c.keep;
    auto points = merged("points.csv");
    ASSERT_EQ(points.size(), 1u + 3u) << c.keep;
    int found = 0;
    for (size_t r = 1; r < points.size(); ++r)
      if (column(points, r, "tokens") == "128") {
        ++found;
        EXPECT_EQ(column(points, r, "time_median_s"), c.time_of_128) << c.keep;
      }
    EXPECT_EQ(found, 1) << c.keep;
    // The dropped point's details go with it.
    auto reps = merged("reps.csv");
    EXPECT_EQ(reps.size(), 1u + 3u * 2u) << c.keep;
    for (size_t r = 1; r < reps.size(); ++r) {
      if (column(reps, r, "point_id") != id) continue;
      EXPECT_EQ(column(reps, r, "time_s"), c.time_of_128) << c.keep;
    }
  }
}

TEST_F(Merge, CorruptRowsAreNamedByFileAndLine) {
  fs::path ra = write_run(root / "in", machine("m1", "r1", {64, 128}));
  fs::path rb = write_run(root / "in", machine("m2", "r2", {64, 128}));
  const std::string points = (rb / "points.csv").string();
  const std::string good = slurp(points);
  const size_t header_fields = points_header(SyntheticRun{}.param_names).size();

  // Line 3 loses its last two fields.
  std::string text = good;
  size_t line3_end = text.find('\n', text.find('\n', text.find('\n') + 1) + 1);
  size_t cut = text.rfind(',', text.rfind(',', line3_end - 1) - 1);
  text.erase(cut, line3_end - cut);
  std::ofstream(points, std::ios::trunc) << text;
  std::string message = error_of([&] { merge({ra, rb}); });
  EXPECT_NE(message.find("for '" + points + ":3': a row must have " + std::to_string(header_fields) +
                         " fields like the header; this one has " + std::to_string(header_fields - 2) +
                         " (a corrupt row; fix or delete it)"),
            std::string::npos)
      << message;
  expect_nothing_written(root, out());

  // An unterminated quote opened on line 2 of stages.csv.
  std::ofstream(points, std::ios::trunc) << good;
  const std::string stages = (rb / "stages.csv").string();
  std::string st = slurp(stages);
  st.insert(st.find('\n') + 1, "\"");
  std::ofstream(stages, std::ios::trunc) << st;
  EXPECT_EQ(error_of([&] { merge({ra, rb}); }),
            "invalid value '\"' for '" + stages + ":2': a quote opened on this line is never closed (a corrupt "
            "row; fix or delete it)");

  // A last line cut short by an interrupted write.
  write_run(root / "in", machine("m2", "r2", {64, 128}));
  std::string cut_text = good.substr(0, good.size() - 5);
  std::ofstream(points, std::ios::trunc) << cut_text;
  message = error_of([&] { merge({ra, rb}); });
  EXPECT_NE(message.find("for '" + points + ":3': the last line has no end of line"), std::string::npos) << message;
  expect_nothing_written(root, out());
}

TEST(CsvTable, RowLinesFollowQuotedLineBreaks) {
  auto rows = parse_csv("a,b\n\"x\ny\",1\nz,2\n");
  EXPECT_EQ(csv_row_lines(rows), (std::vector<size_t>{1, 2, 4}));
}

TEST_F(Merge, MissingMachineFileOrExperimentIsRefused) {
  fs::path ra = write_run(root / "in", machine("m1", "r1", {64}));
  fs::path rb = write_run(root / "in", machine("m2", "r2", {64}));
  fs::remove(rb / "machine.json");
  EXPECT_EQ(error_of([&] { merge({ra, rb}); }),
            "invalid value '" + (rb / "machine.json").string() + "' for 'machine.json': is missing: every run "
            "folder needs the machine.json its sweep wrote (copy it along with the CSVs)");
  write_run(root / "in", machine("m2", "r2", {64}));
  std::ofstream(rb / "machine.json", std::ios::trunc) << "{\"cpu\": ";
  EXPECT_NE(error_of([&] { merge({ra, rb}); }).find("for 'machine.json': is not valid JSON"), std::string::npos);
  write_run(root / "in", machine("m2", "r2", {64}));
  fs::remove(rb / "experiment.ini");
  EXPECT_EQ(error_of([&] { merge({ra, rb}); }),
            "invalid value '" + (rb / "experiment.ini").string() + "' for 'experiment.ini': is missing: every "
            "run folder holds the experiment as it ran (copy it along with the CSVs)");
  fs::create_directories(root / "empty" / "figures");
  EXPECT_EQ(error_of([&] { merge({ra, root / "empty"}); }),
            "invalid value '" + (root / "empty").string() + "' for 'run folder': must be a run folder written by `ffnbench "
            "sweep` or a folder written by `ffnbench merge` (there is no points.csv in it, nor a run folder below "
            "it)");
  expect_nothing_written(root, out());
}

TEST_F(Merge, OneMachineIdMustMeanOneCpu) {
  auto a = machine("pool", "r1", {64});
  auto b = machine("pool", "r2", {128});
  b.model_name = "Another CPU";
  fs::path ra = write_run(root / "a", a), rb = write_run(root / "b", b);
  EXPECT_EQ(error_of([&] { merge({ra, rb}); }),
            "invalid value 'pool' for 'machine_id': names different CPUs in " + ra.string() + " and " + rb.string() +
                " (differing: cpu.model_name); one machine_id must mean one CPU");
}

TEST_F(Merge, RunIdsSharedByTwoMachinesAreRenamedWithTheirDetails) {
  fs::path ra = write_run(root / "in", machine("m1", "20240101-120000", {64}));
  fs::path rb = write_run(root / "in", machine("m2", "20240101-120000", {64}));
  MergeSummary s = merge({ra, rb});
  ASSERT_EQ(s.notes.size(), 1u);
  auto points = merged("points.csv");
  EXPECT_EQ(column(points, 1, "run_id"), "20240101-120000");
  EXPECT_EQ(column(points, 2, "run_id"), "20240101-120000@m2");
  auto reps = merged("reps.csv");
  EXPECT_EQ(column(reps, 3, "run_id"), "20240101-120000@m2");
}

TEST_F(Merge, OutputFolderMustBeNew) {
  fs::path ra = write_run(root / "in", machine("m1", "r1", {64}));
  fs::create_directories(out());
  EXPECT_EQ(error_of([&] { merge({ra}); }),
            "invalid value '" + out().string() + "' for 'out': must not exist yet: merge writes a new folder "
            "(remove it or choose another name)");
  fs::remove(out());
  EXPECT_EQ(error_of([&] { merge({ra, ra}); }), "invalid value '" + ra.string() + "' for 'run folder': is given twice");
}

TEST_F(Merge, CommandLineExitsTwoOnBadInputAndZeroOnSuccess) {
  fs::path ra = write_run(root / "in", machine("m1", "r1", {64}));
  fs::path rb = write_run(root / "in", machine("m1", "r2", {64}));
  CliResult dup = run_cli("merge " + ra.string() + " " + rb.string() + " --out " + out().string());
  EXPECT_EQ(dup.status, 2) << dup.output;
  EXPECT_NE(dup.output.find("ffnbench merge: invalid value '' for 'keep'"), std::string::npos) << dup.output;
  expect_nothing_written(root, out());
  EXPECT_EQ(run_cli("merge " + ra.string()).status, 2);
  EXPECT_EQ(run_cli("merge --frobnicate").status, 2);

  CliResult ok = run_cli("merge " + ra.string() + " " + rb.string() + " --keep last --out " + out().string());
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("merged 2 run folder(s) of 1 machine(s): 1 points (1 duplicates dropped)"),
            std::string::npos)
      << ok.output;
  EXPECT_EQ(column(merged("points.csv"), 1, "run_id"), "r2");
}

// Sharding as a job array uses it: n real sweeps, each --shard i/n, merged back into one dataset.
#include "sweep/experiment.hpp"
#include "sweep/sweep.hpp"

namespace {

std::multiset<std::string> point_ids(const fs::path& points_csv) {
  auto rows = read_csv_file(points_csv.string());
  std::multiset<std::string> ids;
  for (size_t r = 1; r < rows.size(); ++r) ids.insert(column(rows, r, "point_id"));
  return ids;
}

std::vector<fs::path> run_folders_under(const fs::path& root) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().filename() == "points.csv") out.push_back(e.path().parent_path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_F(Merge, UnionOfRealShardSweepsIsTheUnshardedGridAndShardsAreDisjoint) {
  const fs::path ini = root / "shards.ini";
  std::ofstream(ini) << "name = shards\ntokens = 1,3,8\nthreads = 1\nrepetitions = 1\nwarmup_s = 0\ninput_pool_mib = 4\n"
                        "min_time_s = 0\ncounters = none\n\n[test_affine]\nd = 2,4\nscale = 1,3\n";
  auto sweep = [&](const std::string& results, const std::string& shard) {
    Experiment x = load_experiment(ini.string(), {"--output", (root / results).string()});
    SweepOptions o;
    if (!shard.empty()) o.shard = parse_shard(shard);
    ASSERT_EQ(run_sweep(x, o), 0) << shard;
  };
  sweep("whole", "");
  const auto whole = point_ids(run_folders_under(root / "whole").at(0) / "points.csv");
  ASSERT_EQ(whole.size(), 2u * 2u * 3u);

  const int n = 5;  // more shards than divide the grid evenly
  for (int i = 1; i <= n; ++i) sweep("sharded", std::to_string(i) + "/" + std::to_string(n));
  const auto shards = run_folders_under(root / "sharded");
  ASSERT_EQ(shards.size(), static_cast<size_t>(n)) << "each shard in a run folder of its own";
  std::multiset<std::string> united;
  for (const auto& f : shards) {
    auto ids = point_ids(f / "points.csv");
    EXPECT_GE(ids.size(), whole.size() / n) << f;
    united.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(united, whole) << "disjoint (no point twice) and complete";

  MergeOptions o;
  for (const auto& f : shards) o.inputs.push_back(f.string());
  o.out = out().string();
  MergeSummary s = merge_runs(o);
  EXPECT_EQ(s.machines, 1u);
  EXPECT_EQ(s.duplicates_dropped, 0u);
  EXPECT_EQ(point_ids(out() / "points.csv"), whole);
  EXPECT_EQ(read_csv_file((out() / "reps.csv").string()).size(), 1u + whole.size());
}

TEST_F(Merge, BadShardSpecsOnTheCommandLineExitTwoAndWriteNothing) {
  const fs::path ini = root / "tiny.ini";
  std::ofstream(ini) << "name = tiny\ntokens = 4\nthreads = 1\noutput = " << (root / "results").string()
                     << "\n\n[gemm_ffn]\nd = 16\nd_ff = 16\n";
  for (const char* bad : {"3/2", "0/0", "1/0", "0/4", "two/4", "2"}) {
    CliResult r = run_cli("sweep " + ini.string() + " --shard " + bad);
    EXPECT_EQ(r.status, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find(std::string("ffnbench sweep: invalid value '") + bad +
                            "' for 'shard': must read i/n with integers 1 <= i <= n (e.g. 2/8)"),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(root / "results")) << bad;
  }
  // More shards than points would leave shards with nothing to run: refused before anything runs.
  CliResult r = run_cli("sweep " + ini.string() + " --shard 1/2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("invalid value '1/2' for 'shard': the grid of tiny has 1 point(s): use at most that many shards"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(root / "results"));
}

TEST_F(Merge, ShardsOfTheCommandLineSweepUniteIntoItsGrid) {
  const fs::path ini = root / "tiny.ini";
  std::ofstream(ini) << "name = tiny\ntokens = 3,17\nthreads = 1,all\nrepetitions = 1\nwarmup_s = 0\n"
                        "min_time_s = 0\ncounters = none\noutput = " << (root / "results").string()
                     << "\n\n[gemm_ffn]\nimpl = openblas,naive\nd = 8,16\nd_ff = 24\n";
  CliResult grid = run_cli("sweep " + ini.string() + " --dry-run");
  ASSERT_EQ(grid.status, 0) << grid.output;
  std::multiset<std::string> whole;
  std::istringstream lines(grid.output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("gemm_ffn|", 0) == 0) whole.insert(line);
  ASSERT_GE(whole.size(), 2u * 2u * 2u);

  std::vector<std::string> folders;
  for (int i = 1; i <= 3; ++i) {
    const fs::path where = root / ("shard" + std::to_string(i) + ".path");
    CliResult r = run_cli("sweep " + ini.string() + " --shard " + std::to_string(i) + "/3 --run-folder-file " +
                          where.string());
    ASSERT_EQ(r.status, 0) << r.output;
    std::string folder = slurp(where);
    folders.push_back(folder.substr(0, folder.find('\n')));
  }
  std::multiset<std::string> united;
  for (const auto& f : folders) {
    auto ids = point_ids(fs::path(f) / "points.csv");
    united.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(united, whole) << "disjoint and complete";

  CliResult merged = run_cli("merge " + folders[0] + " " + folders[1] + " " + folders[2] + " --out " + out().string());
  ASSERT_EQ(merged.status, 0) << merged.output;
  EXPECT_EQ(point_ids(out() / "points.csv"), whole);
}

TEST_F(Merge, CeilingsOfAnotherCpuAreRefused) {
  auto a = machine("m1", "r1", {64});
  a.ceilings = true;
  fs::path ra = write_run(root / "in", a);
  auto ceilings = nlohmann::json::parse(slurp(ra / "ceilings.json"));
  ceilings["cpu"] = "Some Other CPU";
  std::ofstream(ra / "ceilings.json", std::ios::trunc) << ceilings.dump();
  EXPECT_EQ(error_of([&] { merge({ra}); }),
            "invalid value '" + (ra / "ceilings.json").string() + "' for 'ceilings.json': was calibrated on 'Some "
            "Other CPU' but the run is of 'CPU of m1': calibrate on the machine that ran (ffnbench calibrate --out "
            "<run folder>)");
}

// The committed Zen 4 reference predates schema.json and the columns since: it reads as the
// current schema, with what that code did filled in and the rest empty, and merges with a run of
// today's code.
TEST_F(Merge, TheZen4ReferenceOfSchemaOneReadsAsTheCurrentSchema) {
  const fs::path refs = fs::path(FFNBENCH_SOURCE_DIR) / "results" / "reference";
  // moe_grouped: the Zen 4 reference still made by the code before schema versions (commit 298de07).
  const fs::path zen4 = refs / "amd-zen-4-2c-415a" / "moe_grouped", zen5 = refs / "amd-zen-5-2c-c08a" / "moe_grouped";
  const Dataset d = load_dataset(zen4.string());
  EXPECT_EQ(d.schema, 1);
  const auto& core = points_core_columns();
  ASSERT_GE(d.points.header.size(), core.size());
  EXPECT_TRUE(std::equal(core.begin(), core.end(), d.points.header.begin()));
  ASSERT_FALSE(d.points.rows.empty());
  for (const auto& row : d.points.rows) {
    EXPECT_EQ(row[d.points.column("inputs")], "repeat (before fresh inputs)");
    EXPECT_EQ(row[d.points.column("schedule")], "sequential");
    EXPECT_EQ(row[d.points.column("time_ci_low_s")], "");
    EXPECT_EQ(row[d.points.column("gate_rows_checked")], "");
    EXPECT_NE(row[d.points.column("time_median_s")], "");
  }
  EXPECT_EQ(d.reps.header, reps_header());
  std::string notes;
  for (const auto& n : d.migration_notes) notes += n + "\n";
  EXPECT_NE(notes.find((zen4 / "points.csv").string() + " (schema 1, this ffnbench writes " +
                       std::to_string(kResultsSchema) + "): columns that version did not write, filled with what it "
                       "did: inputs = 'repeat (before fresh inputs)', schedule = 'sequential'; empty (not measured "
                       "by that version): input_batches, time_ci_low_s, time_ci_high_s, onednn_isa, gate_rows_checked"),
            std::string::npos) << notes;

  // With a run of newer code: the experiments differ in repetitions, inputs, schedule, gemm_ffn.layernorm.
  MergeOptions o{{zen4.string(), zen5.string()}, out().string(), "", {"repetitions", "inputs", "schedule", "gemm_ffn.layernorm"}};
  MergeSummary s = merge_runs(o);
  EXPECT_EQ(s.machines, 2u);
  const Dataset m = load_dataset(out().string());
  EXPECT_EQ(m.schema, kResultsSchema);
  EXPECT_TRUE(m.migration_notes.empty());
  const size_t layernorm = m.points.column("p_layernorm"), mid = m.points.column("machine_id");
  for (const auto& row : m.points.rows)
    if (row[mid] == "amd-zen-4-2c-415a") EXPECT_EQ(row[layernorm], "");
}
