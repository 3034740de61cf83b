// SPDX-License-Identifier: MIT
// Runs every tests/pipelines/**/*.test.json: a pipeline (a file or an inline graph), inputs to
// generate or to take from ../shared/data, parameter changes, and the outputs, errors, re-run
// counts and figures expected. The format is described in tests/pipelines/README.md.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/arrayops/table.h"
#include "tessera/core/checksum.h"
#include "tessera/dataset/synthetic.h"
#include "tessera/formats/dataset_writer.h"
#include "tessera/formats/test_util_internal.h"
#include "tessera/pipeline/builtin_ops.h"
#include "tessera/pipeline/results.h"
#include "tessera/pipeline/session.h"

namespace tessera::pipeline {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Cases() {
  std::vector<std::string> out;
  const fs::path root = fs::path(TESSERA_SOURCE_DIR) / "tests" / "pipelines";
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const auto p = e.path().string();
    if (e.is_regular_file() && p.ends_with(".test.json")) out.push_back(fs::relative(e.path(), root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(0, info.param.size() - std::string(".test.json").size());
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

std::string Expand(std::string text, const std::string& data, const std::string& tmp) {
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"$DATA", data}, {"$TMP", tmp},
                                   {"$SOURCE", TESSERA_SOURCE_DIR}}) {
    for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size())) {
      text.replace(pos, key.size(), value);
    }
  }
  return text;
}

Json ExpandJson(const Json& j, const std::string& data, const std::string& tmp) {
  return Json::parse(Expand(j.dump(), data, tmp));
}

void Generate(const Json& spec, const fs::path& path) {
  ASSERT_EQ(spec.value("kind", "4dstem"), "4dstem") << "only 4dstem can be generated";
  dataset::SyntheticParams p;
  p.scan = spec.value("scan", std::vector<int64_t>{16, 16});
  p.frame = spec.value("frame", std::vector<int64_t>{32, 32});
  p.dtype = ParseDType(spec.value("dtype", "float32")).value();
  p.seed = spec.value("seed", uint64_t{0});
  auto ds = dataset::Synthetic4dstem::Make(p);
  formats::WriteDataset(*ds, path.string());
}

// The values an expectation's statistics are taken over: an array, a scalar or a table column.
std::vector<double> Values(const Value& v, const Json& expect, std::string& what) {
  std::vector<double> out;
  if (v.is_array_like()) {
    for (int64_t i = 0; i < v.array->data.size(); ++i) out.push_back(v.array->data.GetAsDouble(i));
  } else if (v.type == PortType::kScalar) {
    out.push_back(v.scalar);
  } else if (v.type == PortType::kTable) {
    const std::string column = expect.value("column", "");
    if (column.empty()) return out;
    what += "[" + column + "]";
    out = v.table->Column(column);
  }
  return out;
}

double Stat(const std::vector<double>& v, const std::string& stat) {
  double sum = 0, lo = INFINITY, hi = -INFINITY;
  int64_t n = 0;
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    sum += x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    ++n;
  }
  if (stat == "sum") return sum;
  if (stat == "mean") return n > 0 ? sum / static_cast<double>(n) : NAN;
  if (stat == "min") return lo;
  if (stat == "max") return hi;
  if (stat == "finite") return static_cast<double>(n);
  if (stat == "count") return static_cast<double>(v.size());
  ADD_FAILURE() << "unknown statistic '" << stat << "'";
  return NAN;
}

void CheckOutput(const RunResult& result, const Json& expect) {
  const std::string output = expect.at("output").get<std::string>();
  const auto dot = output.find('.');
  ASSERT_NE(dot, std::string::npos) << "output is node.port: " << output;
  const Value& v = result.Get(output.substr(0, dot), output.substr(dot + 1));
  std::string what = output;
  if (expect.contains("type")) {
    EXPECT_EQ(Name(v.type), expect["type"].get<std::string>()) << what;
  }
  if (expect.contains("shape")) {
    ASSERT_TRUE(v.is_array_like()) << what;
    EXPECT_EQ(v.array->data.shape(), expect["shape"].get<std::vector<int64_t>>()) << what;
  }
  if (expect.contains("dtype")) {
    ASSERT_TRUE(v.is_array_like()) << what;
    EXPECT_EQ(Name(v.array->data.dtype()), expect["dtype"].get<std::string>()) << what;
  }
  if (expect.contains("axes")) {
    ASSERT_TRUE(v.is_array_like()) << what;
    for (const auto& [i, axis] : expect["axes"].items()) {
      const auto& a = v.array->axes.at(std::stoul(i));
      if (axis.contains("name")) {
        EXPECT_EQ(a.name, axis["name"].get<std::string>()) << what << " axis " << i;
      }
      if (axis.contains("units")) {
        EXPECT_EQ(a.units, axis["units"].get<std::string>()) << what << " axis " << i;
      }
      if (axis.contains("scale")) {
        EXPECT_NEAR(a.scale, axis["scale"].get<double>(), 1e-6 * std::abs(a.scale) + 1e-12) << what << " axis " << i;
      }
      if (axis.contains("offset")) {
        EXPECT_NEAR(a.offset, axis["offset"].get<double>(), 1e-6 * std::abs(a.offset) + 1e-9) << what << " axis " << i;
      }
    }
  }
  if (expect.contains("rows")) {
    ASSERT_EQ(v.type, PortType::kTable) << what;
    EXPECT_EQ(v.table->rows(), expect["rows"].get<int64_t>()) << what;
  }
  if (expect.contains("columns")) {
    ASSERT_EQ(v.type, PortType::kTable) << what;
    for (const auto& c : expect["columns"]) {
      EXPECT_TRUE(v.table->HasColumn(c.get<std::string>())) << what << " " << c;
    }
  }
  if (expect.contains("xxh3")) {
    ASSERT_TRUE(v.is_array_like()) << what;
    Xxh3Hasher h;
    h.Update({static_cast<const std::byte*>(v.array->data.raw()), static_cast<size_t>(v.array->data.nbytes())});
    EXPECT_EQ(h.Finish().ToHex(), expect["xxh3"].get<std::string>()) << what;
  }
  const auto values = Values(v, expect, what);
  const double rtol = expect.value("rtol", 1e-9);
  const double atol = expect.value("atol", 0.0);
  for (const char* stat : {"sum", "mean", "min", "max", "finite", "count"}) {
    if (expect.contains(stat)) {
      const double want = expect[stat].get<double>();
      EXPECT_NEAR(Stat(values, stat), want, rtol * std::abs(want) + atol) << what << " " << stat;
    }
  }
  if (expect.contains("between")) {
    for (const auto& [stat, range] : expect["between"].items()) {
      const double s = Stat(values, stat);
      EXPECT_GE(s, range[0].get<double>()) << what << " " << stat;
      EXPECT_LE(s, range[1].get<double>()) << what << " " << stat;
    }
  }
  if (expect.contains("value")) {
    ASSERT_EQ(values.size(), 1u) << what;
    const double want = expect["value"].get<double>();
    EXPECT_NEAR(values[0], want, rtol * std::abs(want) + atol) << what;
  }
}

void CheckError(const Error& e, const Json& expect) {
  const std::string message = e.what();
  if (expect.contains("code")) {
    EXPECT_EQ(Name(e.code()), expect["code"].get<std::string>()) << message;
  }
  if (expect.contains("node")) {
    EXPECT_EQ(e.info().node, expect["node"].get<std::string>()) << message;
  }
  for (const auto& fragment : expect.value("contains", Json::array())) {
    EXPECT_NE(message.find(fragment.get<std::string>()), std::string::npos)
        << "message lacks '" << fragment.get<std::string>() << "':\n" << message;
  }
}

class PipelineCase : public ::testing::TestWithParam<std::string> {};

TEST_P(PipelineCase, Runs) {
  const fs::path file = fs::path(TESSERA_SOURCE_DIR) / "tests" / "pipelines" / GetParam();
  std::ifstream in(file);
  const Json spec = Json::parse(in);
  const auto data_dir = formats::testing::TestDataDir();
  if (spec.value("data", false) && !data_dir) GTEST_SKIP() << "shared test data not found (set TESSERA_TESTDATA)";
  const fs::path tmp = fs::temp_directory_path() / fmt::format("tessera-pipeline-case-{}", ::getpid());
  fs::create_directories(tmp);
  const std::string data = data_dir.value_or("");
  const Json generate_items = spec.value("generate", Json::object());
  for (const auto& [name, gen] : generate_items.items()) Generate(gen, tmp / name);

  PipelineDoc doc;
  try {
    if (spec.contains("graph")) {
      doc = ParsePipeline(ExpandJson(spec["graph"], data, tmp.string()).dump(), file.string());
      doc.base_dir = tmp.string();
    } else {
      doc = LoadPipeline((fs::path(TESSERA_SOURCE_DIR) / spec.at("pipeline").get<std::string>()).string());
    }
    const Json inputs_items = spec.value("inputs", Json::object());
    for (const auto& [node, path] : inputs_items.items()) {
      pipeline::SetParam(doc, node + ".path", Expand(path.get<std::string>(), data, tmp.string()));
    }
    const Json set_items = spec.value("set", Json::object());
    for (const auto& [key, value] : set_items.items()) {
      pipeline::SetParam(doc, key, ExpandJson(value, data, tmp.string()));
    }
    Session session(doc, BuiltinOperators(), {.output_dir = tmp.string()});
    const auto result = session.Run();
    ASSERT_FALSE(spec.contains("expect_error")) << "expected an error, the pipeline ran";
    for (const auto& e : spec.value("expect", Json::array())) CheckOutput(result, e);
    if (spec.contains("executed")) {
      EXPECT_EQ(result.executed, spec["executed"].get<int64_t>());
    }
    if (spec.contains("figures")) {
      const auto written = WriteFigures(tmp.string(), result);
      for (const auto& f : spec["figures"]) {
        const auto path = tmp / (f.get<std::string>() + ".png");
        EXPECT_TRUE(std::find(written.begin(), written.end(), path.string()) != written.end()) << path;
        EXPECT_GT(fs::exists(path) ? fs::file_size(path) : 0, 1000u) << path;
      }
    }
    for (const auto& step : spec.value("then", Json::array())) {
      const Json step_set = step.value("set", Json::object());
      for (const auto& [key, value] : step_set.items()) session.Set(key, value);
      const auto again = session.Run();
      if (step.contains("executed")) {
        EXPECT_EQ(again.executed, step["executed"].get<int64_t>()) << step.dump();
      }
      for (const auto& e : step.value("expect", Json::array())) CheckOutput(again, e);
    }
  } catch (const Error& e) {
    if (!spec.contains("expect_error")) {
      fs::remove_all(tmp);
      FAIL() << "unexpected error: " << e.what();
    }
    CheckError(e, spec["expect_error"]);
  }
  fs::remove_all(tmp);
}

INSTANTIATE_TEST_SUITE_P(Cases, PipelineCase, ::testing::ValuesIn(Cases()), CaseName);

TEST(PipelineCases, ThereAreCases) { EXPECT_GE(Cases().size(), 10u); }

}  // namespace
}  // namespace tessera::pipeline
