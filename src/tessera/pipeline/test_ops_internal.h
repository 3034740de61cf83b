// SPDX-License-Identifier: MIT
// Small operators for the engine's tests: no files, predictable values, counted runs.
#pragma once

#include <atomic>
#include <memory>

#include <nlohmann/json.hpp>

#include "tessera/core/error.h"
#include "tessera/pipeline/operator.h"

namespace tessera::pipeline::testing {

/// const(value, size) -> array of `size` copies of `value`; scale(factor): a*factor;
/// add(a, b) -> a+b; sum(a) -> scalar; fail() throws; table-free.
inline PipelineRegistry TestRegistry() {
  PipelineRegistry r;
  r.Add(OperatorDef{
      .name = "const", .version = "1", .kind = OpKind::kArray, .summary = "constant array",
      .description = "An array of `size` copies of `value`.",
      .outputs = {{.name = "out", .type = PortType::kArray}},
      .params_schema = ParseSchema(R"({"type":"object","additionalProperties":false,"required":["value"],
        "properties":{"value":{"type":"number"},"size":{"type":"integer","minimum":1,"default":4}}})"),
      .run = [](const OpContext& ctx) -> std::vector<Value> {
        NdArray a(DType::kFloat64, {ctx.params->value("size", int64_t{4})});
        a.Fill((*ctx.params)["value"].get<double>());
        return {Value::Array(PortType::kArray, std::move(a))};
      }});
  r.Add(OperatorDef{
      .name = "scale", .version = "1", .kind = OpKind::kArray, .summary = "multiply",
      .description = "a * factor",
      .inputs = {{.name = "in", .type = PortType::kArray}},
      .outputs = {{.name = "out", .type = PortType::kArray}},
      .params_schema = ParseSchema(R"({"type":"object","additionalProperties":false,
        "properties":{"factor":{"type":"number","default":1}}})"),
      .run = [](const OpContext& ctx) -> std::vector<Value> {
        NdArray a = ctx.Input(0).array->data.Clone();
        for (auto& v : a.flat<double>()) v *= ctx.params->value("factor", 1.0);
        return {Value::Array(PortType::kArray, std::move(a))};
      }});
  r.Add(OperatorDef{
      .name = "add", .version = "1", .kind = OpKind::kArray, .summary = "add",
      .description = "a + b (b optional)",
      .inputs = {{.name = "a", .type = PortType::kArray}, {.name = "b", .type = PortType::kArray, .optional = true}},
      .outputs = {{.name = "out", .type = PortType::kArray}},
      .run = [](const OpContext& ctx) -> std::vector<Value> {
        NdArray a = ctx.Input(0).array->data.Clone();
        if (ctx.HasInput(1)) {
          const auto b = ctx.Input(1).array->data.flat<double>();
          auto fa = a.flat<double>();
          for (size_t i = 0; i < fa.size(); ++i) fa[i] += b[i];
        }
        return {Value::Array(PortType::kArray, std::move(a))};
      }});
  r.Add(OperatorDef{
      .name = "total", .version = "1", .kind = OpKind::kArray, .summary = "sum to a scalar",
      .description = "sum of all elements",
      .inputs = {{.name = "in", .type = PortType::kArray}},
      .outputs = {{.name = "sum", .type = PortType::kScalar}},
      .run = [](const OpContext& ctx) -> std::vector<Value> {
        double s = 0;
        for (double v : ctx.Input(0).array->data.flat<double>()) s += v;
        return {Value::Scalar(s)};
      }});
  r.Add(OperatorDef{
      .name = "fail", .version = "1", .kind = OpKind::kArray, .summary = "always fails",
      .description = "throws kCorruptFile",
      .inputs = {{.name = "in", .type = PortType::kArray, .optional = true}},
      .outputs = {{.name = "out", .type = PortType::kArray}},
      .run = [](const OpContext&) -> std::vector<Value> {
        throw Error::CorruptFile("bad.bin", 42, "header", "injected failure");
      }});
  r.Add(OperatorDef{
      .name = "stream", .version = "1", .kind = OpKind::kIo, .summary = "a dataset source",
      .description = "only its port type matters",
      .outputs = {{.name = "data", .type = PortType::kDataset}},
      .run = [](const OpContext&) -> std::vector<Value> { return {Value::Dataset(nullptr)}; }});
  return r;
}

}  // namespace tessera::pipeline::testing
