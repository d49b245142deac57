// Readers keep fields and scenarios: libsvm field ranges and libFM meta files
// as slots (so DeepFM's FM term has pairs), FFM field counts inferred from the
// train files, scenario ids mapped from a column or a MovieLens user attribute
// and checked against model.num_scenarios, data files checked before training.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/job_config.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/worker/model_test_util.h"
#include "tests/worker/reader_test_util.h"
#include "worker/data/avazu_reader.h"
#include "worker/data/libsvm_reader.h"
#include "worker/data/movielens_reader.h"
#include "worker/data/scenario_map.h"
#include "worker/data/scenario_reader.h"
#include "worker/dataset.h"
#include "worker/model.h"

namespace metaps {
namespace {

using testing_util::Drained;
using testing_util::DrainReader;
using testing_util::FixtureDir;
using testing_util::WriteTempFile;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A fresh directory under the test temp dir.
std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/metaps_fields_" + name;
  EXPECT_TRUE(Env::Default()->CreateDir(dir).ok());
  return dir;
}

// ---- libsvm fields ----

LibsvmOptions ThreeFields() {
  LibsvmOptions format;
  format.raw_keys = true;
  format.binary_label = false;
  format.fields = {{"user", 0, 9}, {"item", 10, 19}, {"ctx", 20, 29}};
  return format;
}

TEST(LibsvmFieldsTest, RangesBecomeSlots) {
  const std::string path = WriteTempFile("fields.libsvm", "1 3:1 12:0.5 25:2\n0 11:1\n");
  auto reader = OpenLibsvmReader({path}, ThreeFields(), ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  const BatchSchema& schema = (*reader)->schema();
  ASSERT_EQ(schema.num_slots(), 3u);
  EXPECT_EQ(schema.slots[0].name, "user");
  EXPECT_EQ(schema.slots[2].name, "ctx");
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  const Batch& b = all.batches[0];
  EXPECT_EQ(b.slots[0].keys, (std::vector<uint64_t>{3}));
  EXPECT_EQ(b.slots[0].offsets, (std::vector<uint32_t>{0, 1, 1}));  // line 2: no user key
  EXPECT_EQ(b.slots[1].keys, (std::vector<uint64_t>{12, 11}));
  EXPECT_EQ(b.slots[1].values, (std::vector<float>{0.5f, 1.0f}));
  EXPECT_EQ(b.slots[2].keys, (std::vector<uint64_t>{25}));
}

TEST(LibsvmFieldsTest, IndexInNoFieldIsABadLineNamingIt) {
  const std::string path = WriteTempFile("nofield.libsvm", "1 3:1\n1 3:1 30:1\n");
  ReaderOptions options;
  options.max_bad_fraction = 0;
  auto reader = OpenLibsvmReader({path}, ThreeFields(), options);
  ASSERT_TRUE(reader.ok());
  Drained all = DrainReader(reader->get());
  ASSERT_FALSE(all.status.ok());
  EXPECT_TRUE(Contains(all.status.message(), path + ":2:")) << all.status;
  EXPECT_TRUE(Contains(all.status.message(), "feature index 30 is in no field")) << all.status;
}

TEST(LibsvmFieldsTest, OverlappingRangesAreAnError) {
  LibsvmOptions format;
  format.fields = {{"a", 0, 10}, {"b", 10, 20}};
  auto reader = OpenLibsvmReader({"x"}, format, ReaderOptions{});
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(Contains(reader.status().message(), "overlap at index 10")) << reader.status();
}

TEST(LibsvmFieldsTest, LibfmMetaFileGivesRangesPerGroup) {
  // Features 0-1 in group 0, 2-4 in group 1, 5 in group 0 again.
  const std::string meta = WriteTempFile("meta.txt", "0\n0\n1\n1\n1\n0\n");
  auto fields = LoadLibsvmFieldMap(meta);
  ASSERT_TRUE(fields.ok()) << fields.status();
  ASSERT_EQ(fields->size(), 3u);
  EXPECT_EQ((*fields)[1].name, "1");
  EXPECT_EQ((*fields)[1].first, 2u);
  EXPECT_EQ((*fields)[1].last, 4u);
  LibsvmOptions format;
  format.raw_keys = true;
  format.fields = *fields;
  const std::string data = WriteTempFile("meta.libsvm", "1 0:1 5:1 3:1\n");
  auto reader = OpenLibsvmReader({data}, format, ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->schema().num_slots(), 2u);  // groups "0" and "1"
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok());
  EXPECT_EQ(all.batches[0].slots[0].keys, (std::vector<uint64_t>{0, 5}));
  EXPECT_EQ(all.batches[0].slots[1].keys, (std::vector<uint64_t>{3}));

  const std::string bad = WriteTempFile("badmeta.txt", "0\n\n1\n");
  auto bad_fields = LoadLibsvmFieldMap(bad);
  ASSERT_FALSE(bad_fields.ok());
  EXPECT_TRUE(Contains(bad_fields.status().message(), bad + ":2:")) << bad_fields.status();
}

// ---- the FM term over fields ----

float Row(uint64_t key, int j) { return 0.1f * static_cast<float>((key * 7 + j * 3) % 11) - 0.5f; }

// fm_only DeepFM (squared loss, so predictions are z) over `batch`, every
// key's rows a fixed function of the key: the same weights whatever the slots.
std::vector<float> FmPredictions(const Batch& batch, const BatchSchema& schema, int dim) {
  auto backend = MakeCpuBackend();
  ModelOptions options;
  options.family = "deepfm";
  options.embedding_dim = dim;
  options.use_mlp = false;
  options.loss = LossKind::kSquared;
  auto model = CreateModel(options, schema, backend.get());
  EXPECT_TRUE(model.ok()) << model.status();
  std::vector<float> dense((*model)->num_dense(), 0.0f);
  EmbeddingBatch emb = testing_util::MakeEmbeddingBatch(batch, dim, true, 1);
  for (TableRows& t : emb.tables) {
    for (size_t k = 0; k < t.keys.size(); ++k) {
      for (int j = 0; j < t.dim; ++j) {
        t.rows[k * t.dim + j] = Row(t.keys[k], j);
      }
    }
  }
  std::vector<float> predictions(batch.size());
  EXPECT_TRUE((*model)->Forward(batch, emb, dense.data(), predictions.data()).ok());
  return predictions;
}

TEST(LibsvmFieldsTest, FmTermSumsFieldPairsAndIsZeroWithOneField) {
  // Line 1: three fields; line 2: only field "item"; line 3: user and ctx,
  // nothing in item; line 4: no features at all.
  const std::string path =
      WriteTempFile("fm.libsvm", "1 3:1 12:0.5 25:2\n0 11:1 14:1\n1 2:1 27:1\n0\n");
  const int dim = 3;
  auto fielded = OpenLibsvmReader({path}, ThreeFields(), ReaderOptions{});
  LibsvmOptions one = ThreeFields();
  one.fields.clear();
  auto single = OpenLibsvmReader({path}, one, ReaderOptions{});
  ASSERT_TRUE(fielded.ok() && single.ok());
  Drained f = DrainReader(fielded->get());
  Drained s = DrainReader(single->get());
  ASSERT_TRUE(f.status.ok() && s.status.ok());
  const std::vector<float> p_fields = FmPredictions(f.batches[0], (*fielded)->schema(), dim);
  const std::vector<float> p_single = FmPredictions(s.batches[0], (*single)->schema(), dim);
  const Batch& b = f.batches[0];
  // Expected: first order (bias 0) plus sum over field pairs of <e_f, e_g>.
  for (size_t i = 0; i < b.size(); ++i) {
    double linear = 0;
    std::vector<std::vector<double>> e(3, std::vector<double>(dim, 0.0));
    for (int slot = 0; slot < 3; ++slot) {
      const SparseSlot& sl = b.slots[slot];
      for (uint32_t p = sl.offsets[i]; p < sl.offsets[i + 1]; ++p) {
        linear += sl.values[p] * Row(sl.keys[p], 0);
        for (int j = 0; j < dim; ++j) e[slot][j] += sl.values[p] * Row(sl.keys[p], j);
      }
    }
    double pairs = 0;
    for (int x = 0; x < 3; ++x)
      for (int y = x + 1; y < 3; ++y)
        for (int j = 0; j < dim; ++j) pairs += e[x][j] * e[y][j];
    EXPECT_NEAR(p_fields[i], linear + pairs, 1e-4) << "example " << i;
    // One slot: the FM term is identically 0 (the model is logistic regression).
    EXPECT_NEAR(p_single[i], linear, 1e-4) << "example " << i;
    if (i == 0 || i == 2) {
      EXPECT_GT(std::fabs(pairs), 1e-3) << "example " << i;
    } else {
      EXPECT_EQ(pairs, 0.0) << "example " << i;  // one field / none
    }
  }
  EXPECT_NE(p_fields[0], p_single[0]);
}

// ---- FFM ----

TEST(FfmFieldsTest, NumFieldsInferredFromTrainAndOutOfRangeNamesFileLine) {
  const std::string dir = TempDir("ffm");
  {
    std::ofstream(dir + "/train.ffm") << "1 0:1:1 3:7:1\n0 1:2:1 junk\n";
    std::ofstream(dir + "/test.ffm") << "1 0:1:1\n0 2:5:1 4:1:1\n";
  }
  auto inferred = InferFfmNumFields({dir + "/train.ffm"});
  ASSERT_TRUE(inferred.ok()) << inferred.status();
  EXPECT_EQ(*inferred, 4);
  auto job = ParseJobConfig(R"(data { format: "ffm" train: "train.ffm" test: "test.ffm"
                                      max_bad_fraction: 0 }
                               model { family: "deepfm" })",
                            "ffm.pbtxt");
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(CheckDataSources(*job, dir).ok());
  auto data = OpenDataSources(*job, dir);
  ASSERT_TRUE(data.ok()) << data.status();
  auto train = data->train(ReaderOptions{});
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ((*train)->schema().num_slots(), 4u);
  auto test = data->test(ReaderOptions{});
  ASSERT_TRUE(test.ok());
  Drained all = DrainReader(test->get());
  ASSERT_FALSE(all.status.ok());
  EXPECT_TRUE(Contains(all.status.message(), dir + "/test.ffm:2:")) << all.status;
  EXPECT_TRUE(Contains(all.status.message(), "not below num_fields 4")) << all.status;
}

TEST(FfmFieldsTest, NoFieldTokenToInferFromIsAnErrorNamingTheField) {
  const std::string path = WriteTempFile("empty.ffm", "1\n0 # nothing\n");
  auto inferred = InferFfmNumFields({path});
  ASSERT_FALSE(inferred.ok());
  EXPECT_TRUE(Contains(inferred.status().message(), "data.num_fields")) << inferred.status();
}

// ---- scenario mapping ----

TEST(ScenarioMapTest, ValuesBoundsCatchAllAndRawIds) {
  uint32_t id = 99;
  std::string why;
  ScenarioMap values(ScenarioMapSpec{"device_type", {"1", "0|4"}, {}});
  EXPECT_TRUE(values.Map("4", &id, &why));
  EXPECT_EQ(id, 1u);
  EXPECT_FALSE(values.Map("7", &id, &why));
  EXPECT_TRUE(Contains(why, "device_type '7'")) << why;
  ScenarioMap catch_all(ScenarioMapSpec{"c", {"a", "*"}, {}});
  EXPECT_TRUE(catch_all.Map("zzz", &id, &why));
  EXPECT_EQ(id, 1u);
  ScenarioMap bounds(ScenarioMapSpec{"age", {}, {25, 45}});
  for (auto [age, want] : std::vector<std::pair<const char*, uint32_t>>{
           {"1", 0}, {"18", 0}, {"24", 0}, {"25", 1}, {"44", 1}, {"45", 2}, {"56", 2}}) {
    EXPECT_TRUE(bounds.Map(age, &id, &why));
    EXPECT_EQ(id, want) << age;
  }
  EXPECT_FALSE(bounds.Map("old", &id, &why));
  ScenarioMap raw(ScenarioMapSpec{"scenario", {}, {}});
  EXPECT_TRUE(raw.Map("3", &id, &why));
  EXPECT_EQ(id, 3u);
  EXPECT_FALSE(raw.Map("x", &id, &why));
}

// ml-100k: u.data and u.user (raw ages) in a temp dir.
std::string Write100K(const std::string& name) {
  const std::string dir = TempDir(name);
  std::ofstream(dir + "/u.data") << "1\t10\t5\t100\n2\t10\t3\t101\n3\t11\t4\t102\n9\t11\t4\t103\n";
  std::ofstream(dir + "/u.user") << "1|20|M|student|111\n2|30|F|writer|222\n3|50|M|doctor|333\n";
  return dir;
}

TEST(ScenarioMappingTest, MovieLensAgeBracketsAndGenderFromUUser) {
  const std::string dir = Write100K("ml100k");
  auto files = DetectMovieLens(dir);
  ASSERT_TRUE(files.ok());
  MovieLensOptions format;
  format.scenario = ScenarioMap(ScenarioMapSpec{"age", {}, {25, 45}});
  ReaderOptions options;
  options.max_bad_fraction = 1.0;
  auto reader = OpenMovieLensReader(*files, format, options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.batches[0].scenario_ids, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ((*reader)->stats().bad_lines, 1u);  // user 9 is not in u.user

  format.scenario = ScenarioMap(ScenarioMapSpec{"gender", {"F", "M"}, {}});
  auto by_gender = OpenMovieLensReader(*files, format, options);
  ASSERT_TRUE(by_gender.ok());
  Drained g = DrainReader(by_gender->get());
  EXPECT_EQ(g.batches[0].scenario_ids, (std::vector<uint32_t>{1, 0, 1}));

  // An attribute value no scenario takes: an error naming u.user:line.
  format.scenario = ScenarioMap(ScenarioMapSpec{"occupation", {"student", "writer"}, {}});
  auto unmapped = OpenMovieLensReader(*files, format, options);
  ASSERT_FALSE(unmapped.ok());
  EXPECT_TRUE(Contains(unmapped.status().message(), dir + "/u.user:3:")) << unmapped.status();
}

TEST(ScenarioMappingTest, MovieLens1MAgeCodesUseTheSameBounds) {
  const std::string dir = TempDir("ml1m");
  std::ofstream(dir + "/ratings.dat") << "1::10::5::100\n2::10::3::101\n3::11::4::102\n";
  std::ofstream(dir + "/users.dat") << "1::M::18::4::111\n2::F::25::3::222\n3::M::56::1::333\n";
  auto files = DetectMovieLens(dir);
  ASSERT_TRUE(files.ok());
  MovieLensOptions format;
  format.scenario = ScenarioMap(ScenarioMapSpec{"age", {}, {25, 45}});
  auto reader = OpenMovieLensReader(*files, format, ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.batches[0].scenario_ids, (std::vector<uint32_t>{0, 1, 2}));
}

TEST(ScenarioMappingTest, MovieLensWithoutUsersFileNamesIt) {
  const std::string dir = FixtureDir() + "/movielens/ml-latest";
  auto job = ParseJobConfig(R"(data { format: "movielens" scenario_from: "age"
                                      scenario_bounds: [25, 45] }
                               model { family: "multi_scenario" num_scenarios: 3 })",
                            "ml.pbtxt");
  ASSERT_TRUE(job.ok()) << job.status();
  Status status = CheckDataSources(*job, dir);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(Contains(status.message(), "data.scenario_from")) << status;
  EXPECT_TRUE(Contains(status.message(), "users file")) << status;
  auto files = DetectMovieLens(dir);
  ASSERT_TRUE(files.ok());
  MovieLensOptions format;
  format.scenario = ScenarioMap(ScenarioMapSpec{"age", {}, {25}});
  auto reader = OpenMovieLensReader(*files, format, ReaderOptions{});
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(Contains(reader.status().message(), "users file")) << reader.status();
}

constexpr char kScenarioCsv[] =
    "label,scenario,user,item,device\n"
    "1,0,1,10,phone\n"
    "0,5,2,11,tablet\n"
    "1,0,3,12,pc\n"
    "0,0,4,13,phone\n";

TEST(ScenarioMappingTest, ScenarioCsvMapsAnyColumn) {
  const std::string path = WriteTempFile("scen_map.csv", kScenarioCsv);
  auto reader = OpenScenarioReader({path}, ReaderOptions{},
                                   ScenarioMap(ScenarioMapSpec{"device", {"phone", "*"}, {}}));
  ASSERT_TRUE(reader.ok()) << reader.status();
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.batches[0].scenario_ids, (std::vector<uint32_t>{0, 1, 1, 0}));
  // Without a mapping: the scenario column as written.
  auto plain = OpenScenarioReader({path}, ReaderOptions{});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(DrainReader(plain->get()).batches[0].scenario_ids, (std::vector<uint32_t>{0, 5, 0, 0}));
  auto missing =
      OpenScenarioReader({path}, ReaderOptions{}, ScenarioMap(ScenarioMapSpec{"browser", {}, {}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), "data.scenario_from: column 'browser'"))
      << missing.status();
}

TEST(ScenarioMappingTest, AvazuColumnByValueList) {
  const std::string path = FixtureDir() + "/ctr/avazu_head30.csv";
  auto reader = OpenAvazuReader({path}, ReaderOptions{},
                                ScenarioMap(ScenarioMapSpec{"device_type", {"1", "0|4|5"}, {}}));
  ASSERT_TRUE(reader.ok()) << reader.status();
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  std::vector<uint32_t> want(29, 0);
  want[9] = want[25] = 1;  // device_type 0 and 4
  EXPECT_EQ(all.batches[0].scenario_ids, want);
}

TEST(ScenarioMappingTest, ScenarioIdNotBelowNumScenariosNamesFileLine) {
  const std::string path = WriteTempFile("scen_ids.csv", kScenarioCsv);
  for (int threads : {1, 2}) {
    ReaderOptions options;
    options.num_scenarios = 2;
    options.threads = threads;
    auto reader = OpenScenarioReader({path}, options);
    ASSERT_TRUE(reader.ok());
    Drained all = DrainReader(reader->get());
    ASSERT_FALSE(all.status.ok()) << "threads " << threads;
    EXPECT_TRUE(Contains(all.status.message(), path + ":3: scenario id 5 is not below "
                                                      "model.num_scenarios 2"))
        << all.status;
  }
  // Mapped into range: counted per scenario, tower 2 gets nothing.
  ReaderOptions options;
  options.num_scenarios = 3;
  auto reader = OpenScenarioReader({path}, options,
                                   ScenarioMap(ScenarioMapSpec{"device", {"phone", "*"}, {}}));
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(DrainReader(reader->get()).status.ok());
  EXPECT_EQ((*reader)->stats().scenario_examples, (std::vector<size_t>{2, 2, 0}));
}

TEST(ScenarioMappingTest, OpenDataSourcesChecksMultiScenarioIds) {
  const std::string dir = TempDir("scen_job");
  std::ofstream(dir + "/train.csv") << kScenarioCsv;
  auto job = ParseJobConfig(R"(data { format: "datagen-scenarios" }
                               model { family: "multi_scenario" num_scenarios: 3 })",
                            "s.pbtxt");
  ASSERT_TRUE(job.ok()) << job.status();
  auto data = OpenDataSources(*job, dir);
  ASSERT_TRUE(data.ok());
  auto train = data->train(ReaderOptions{});
  ASSERT_TRUE(train.ok());
  Drained all = DrainReader(train->get());
  ASSERT_FALSE(all.status.ok());
  EXPECT_TRUE(Contains(all.status.message(), dir + "/train.csv:3: scenario id 5")) << all.status;
}

// ---- data files checked before training ----

TEST(CheckDataSourcesTest, MissingTrainFileNamesFieldAndPath) {
  const std::string dir = TempDir("missing");
  auto scen = ParseJobConfig(R"(data { format: "datagen-scenarios" train: "nope.csv" }
                                model { family: "multi_scenario" })",
                             "s.pbtxt");
  ASSERT_TRUE(scen.ok()) << scen.status();
  Status status = CheckDataSources(*scen, dir);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(Contains(status.message(), "data.train: " + dir + "/nope.csv does not exist"))
      << status;
  // No data.train: the directory's train.csv must be there.
  auto plain = ParseJobConfig(R"(data { format: "datagen-scenarios" }
                                 model { family: "multi_scenario" })",
                              "s.pbtxt");
  ASSERT_TRUE(plain.ok());
  status = CheckDataSources(*plain, dir);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(Contains(status.message(), dir + "/train.csv does not exist")) << status;
  auto criteo = ParseJobConfig(R"(data { format: "criteo" train: "a.txt" valid: "/no/b.txt" }
                                  model { family: "deepfm" })",
                               "c.pbtxt");
  ASSERT_TRUE(criteo.ok());
  std::ofstream(dir + "/a.txt") << "";
  status = CheckDataSources(*criteo, dir);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(Contains(status.message(), "data.valid: /no/b.txt does not exist")) << status;
  // MovieLens finds its files in --data: naming one is a config error.
  auto ml = ParseJobConfig(R"(data { format: "movielens" train: "nope.csv" }
                              model { family: "mf" })",
                           "ml.pbtxt");
  ASSERT_FALSE(ml.ok());
  EXPECT_TRUE(Contains(ml.status().message(), "ml.pbtxt:1:")) << ml.status();
  EXPECT_TRUE(Contains(ml.status().message(), "data.train: does not apply")) << ml.status();
}

TEST(CheckDataSourcesTest, OpensTheReadersBeforeTraining) {
  const std::string dir = TempDir("open_early");
  for (const char* split : {"train", "valid", "test"}) {
    std::ofstream(dir + "/" + split + ".csv") << kScenarioCsv;
  }
  std::ofstream(dir + "/none.ffm") << "1\n0\n";
  auto scen = ParseJobConfig(R"(data { format: "datagen-scenarios" scenario_from: "browser" }
                                model { family: "multi_scenario" num_scenarios: 2 })",
                             "s.pbtxt");
  ASSERT_TRUE(scen.ok()) << scen.status();
  Status status = CheckDataSources(*scen, dir);
  EXPECT_TRUE(Contains(status.message(), "data.scenario_from: column 'browser'")) << status;
  auto ffm = ParseJobConfig(R"(data { format: "ffm" train: "none.ffm" }
                               model { family: "deepfm" })",
                            "f.pbtxt");
  ASSERT_TRUE(ffm.ok());
  status = CheckDataSources(*ffm, dir);
  EXPECT_TRUE(Contains(status.message(), "to infer data.num_fields from; set it")) << status;
  auto good = ParseJobConfig(R"(data { format: "datagen-scenarios" scenario_from: "device"
                                       scenario_values: ["phone", "*"] }
                                model { family: "multi_scenario" num_scenarios: 2 })",
                             "g.pbtxt");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(CheckDataSources(*good, dir).ok());
  // The data's scenario 5 contradicts num_scenarios 2: said before training.
  auto contradicted = ParseJobConfig(R"(data { format: "datagen-scenarios" }
                                        model { family: "multi_scenario" num_scenarios: 2 })",
                                     "c.pbtxt");
  ASSERT_TRUE(contradicted.ok()) << contradicted.status();
  status = CheckDataSources(*contradicted, dir);
  EXPECT_TRUE(Contains(status.message(), dir + "/train.csv:3: scenario id 5 is not below "
                                               "model.num_scenarios 2"))
      << status;
}

}  // namespace
}  // namespace metaps
