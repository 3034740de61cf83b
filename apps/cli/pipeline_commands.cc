// SPDX-License-Identifier: MIT
// tessera pipeline validate|show|run|ops, tessera cite, tessera reproduce.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "progress_bar.h"
#include "tessera/core/error.h"
#include "tessera/core/system_info.h"
#include "tessera/formats/results_writer.h"
#include "tessera/pipeline/builtin_ops.h"
#include "tessera/pipeline/results.h"
#include "tessera/pipeline/session.h"
#include "version.h"

namespace tessera::cli {
namespace {

using pipeline::Json;

struct PipelineOptions {
  std::string file;
  std::string output_dir;
  std::vector<std::string> sets;
  std::vector<std::string> inputs;
  int threads = 0;
  bool json = false;
  bool quiet = false;
};

const pipeline::PipelineRegistry& Registry() { return pipeline::BuiltinOperators(); }

// --input NODE=PATH (or PATH alone when the pipeline has exactly one read node).
void ApplyInputs(pipeline::PipelineDoc& doc, const std::vector<std::string>& inputs) {
  for (const auto& input : inputs) {
    std::string node;
    std::string path = input;
    const auto eq = input.find('=');
    if (eq != std::string::npos && doc.FindNode(input.substr(0, eq)) != nullptr) {
      node = input.substr(0, eq);
      path = input.substr(eq + 1);
    } else {
      std::vector<std::string> reads;
      for (const auto& n : doc.nodes) {
        if (n.op == "read") reads.push_back(n.id);
      }
      if (reads.size() != 1) {
        throw Error::InvalidArgument(
            fmt::format("the pipeline has {} read nodes ({}): write --input NODE=PATH", reads.size(),
                        fmt::join(reads, ", ")),
            "--input");
      }
      node = reads.front();
    }
    // Paths on the command line are relative to where the user is, not to the pipeline file.
    pipeline::SetParam(doc, node + ".path", std::filesystem::absolute(path).string());
  }
}

pipeline::PipelineDoc LoadWithChanges(const PipelineOptions& options) {
  auto doc = pipeline::LoadPipeline(options.file);
  ApplyInputs(doc, options.inputs);
  for (const auto& set : options.sets) {
    const auto eq = set.find('=');
    if (eq == std::string::npos) {
      throw Error::InvalidArgument(fmt::format("'{}' is not node.param=value", set), "--set");
    }
    pipeline::SetParam(doc, set.substr(0, eq), pipeline::ParseParamValue(set.substr(eq + 1)));
  }
  return doc;
}

int RunValidate(const PipelineOptions& options) {
  const auto doc = LoadWithChanges(options);
  const auto problems = pipeline::Validate(doc, Registry());
  if (options.json) {
    Json out = {{"file", options.file}, {"valid", problems.empty()}, {"problems", Json::array()}};
    for (const auto& p : problems) {
      out["problems"].push_back({{"node", p.node}, {"port", p.port}, {"field", p.field}, {"message", p.message}});
    }
    std::cout << out.dump(2) << std::endl;
    return problems.empty() ? 0 : 2;
  }
  pipeline::CheckValid(doc, Registry(), options.file);  // throws: exit code 2 with every problem
  std::cout << fmt::format("{}: valid ({} nodes, {} edges, {} sweeps)\n", options.file, doc.nodes.size(),
                           doc.edges.size(), pipeline::FindSweeps(doc).size());
  return 0;
}

int RunShow(const PipelineOptions& options) {
  const auto doc = LoadWithChanges(options);
  if (options.json) {
    Json out = doc.ToJson();
    Json ops = Json::object();
    for (const auto& n : doc.nodes) {
      if (const auto* def = Registry().Find(n.op)) ops[n.op] = {{"version", def->version}, {"kind", std::string(pipeline::Name(def->kind))}};
    }
    out["operators"] = ops;
    std::cout << out.dump(2) << std::endl;
    return 0;
  }
  std::cout << fmt::format("pipeline '{}' ({})\n", doc.name, options.file);
  for (size_t i : pipeline::TopologicalOrder(doc)) {
    const auto& n = doc.nodes[i];
    const auto* def = Registry().Find(n.op);
    std::cout << fmt::format("\n{} = {}{}\n", n.id, n.op,
                             def != nullptr ? fmt::format(" v{} ({}): {}", def->version, pipeline::Name(def->kind), def->summary)
                                            : " (unknown operator)");
    if (def == nullptr) continue;
    for (const auto& port : def->inputs) {
      std::string from = "(not connected)";
      for (const auto& e : doc.edges) {
        if (e.to.node == n.id && e.to.port == port.name) from = "<- " + e.from.node + "." + e.from.port;
      }
      std::cout << fmt::format("  in  {:<12} {:<9} {}\n", port.name, pipeline::Name(port.type), from);
    }
    for (const auto& port : def->outputs) {
      std::vector<std::string> to;
      for (const auto& e : doc.edges) {
        if (e.from.node == n.id && e.from.port == port.name) to.push_back(e.to.node + "." + e.to.port);
      }
      std::cout << fmt::format("  out {:<12} {:<9} {}\n", port.name, pipeline::Name(port.type),
                               to.empty() ? "" : "-> " + fmt::format("{}", fmt::join(to, ", ")));
    }
    for (const auto& [k, v] : n.params.items()) {
      std::cout << fmt::format("  param {} = {}\n", k, v.dump());
    }
  }
  return 0;
}

int RunOps(bool json, bool markdown) {
  if (json) {
    std::cout << Registry().ToJson().dump(2) << std::endl;
  } else if (markdown) {
    std::cout << Registry().ToMarkdown();
  } else {
    for (const auto* def : Registry().entries()) {
      std::cout << fmt::format("{:<20} {:<8} {}\n", def->name, pipeline::Name(def->kind), def->summary);
    }
  }
  return 0;
}

pipeline::RunStamp Stamp(const Context& context) {
  return pipeline::RunStamp{.tessera_version = TESSERA_VERSION,
                            .git_hash = TESSERA_GIT_HASH,
                            .command_line = fmt::format("{}", fmt::join(context.command_line, " ")),
                            .start_time = NowIso8601()};
}

std::string ValueSummary(const pipeline::Value& v) {
  if (v.is_array_like()) {
    return fmt::format("{} {} {}", pipeline::Name(v.type), fmt::join(v.array->data.shape(), "x"),
                       Name(v.array->data.dtype()));
  }
  if (v.type == pipeline::PortType::kScalar) return fmt::format("scalar {}", v.scalar);
  return std::string(pipeline::Name(v.type));
}

int RunPipeline(const PipelineOptions& options, const Context& context) {
  auto doc = LoadWithChanges(options);
  pipeline::CheckValid(doc, Registry(), options.file);
  if (!options.output_dir.empty()) std::filesystem::create_directories(options.output_dir);
  auto stamp = Stamp(context);
  const bool tty = ::isatty(STDERR_FILENO) == 1 && !options.quiet && !options.json;
  std::unique_ptr<ProgressBar> bar;
  pipeline::SessionOptions session_options{
      .threads = options.threads,
      .cancel = context.cancel,
      .output_dir = options.output_dir,
      .tessera_version = TESSERA_VERSION,
      .git_hash = TESSERA_GIT_HASH,
      .command_line = stamp.command_line,
      .on_event =
          [&](const pipeline::NodeEvent& e) {
            if (!tty) return;
            const std::string combo =
                e.combinations > 1 ? fmt::format(" [{}/{}]", e.combination + 1, e.combinations) : "";
            if (e.state == pipeline::NodeEvent::State::kProgress) {
              if (!bar) bar = std::make_unique<ProgressBar>(e.node);
              bar->Update(static_cast<int64_t>(e.fraction * 1000), 1000, combo);
            } else if (e.state == pipeline::NodeEvent::State::kDone || e.state == pipeline::NodeEvent::State::kCached) {
              if (bar) bar->Finish();
              bar.reset();
              std::cerr << fmt::format("  {:<16}{} {}\n", e.node, combo,
                                       e.state == pipeline::NodeEvent::State::kCached
                                           ? "cached"
                                           : fmt::format("{:.1f} ms", e.seconds * 1e3));
            }
          }};
  pipeline::Session session(doc, Registry(), session_options);
  const auto result = session.Run();
  stamp.end_time = NowIso8601();
  std::vector<std::string> written;
  if (!options.output_dir.empty()) {
    const std::string name = doc.name.empty() ? std::filesystem::path(options.file).stem().string() : doc.name;
    const auto path = (std::filesystem::path(options.output_dir) / (name + ".h5")).string();
    pipeline::WriteRunResults(path, doc, Registry(), result, stamp);
    written.push_back(path);
    for (auto& f : pipeline::WriteFigures(options.output_dir, result)) written.push_back(std::move(f));
  }
  if (options.json) {
    Json out = {{"pipeline", options.file}, {"seconds", result.seconds}, {"executed", result.executed},
                {"cached", result.cached}, {"written", written}, {"nodes", Json::object()}};
    for (const auto& [id, nr] : result.nodes) {
      Json node = {{"op", nr.op}, {"executed", nr.executed}, {"outputs", Json::object()}};
      for (size_t p = 0; p < nr.outputs.size(); ++p) node["outputs"][nr.port_names[p]] = ValueSummary(nr.outputs[p]);
      out["nodes"][id] = node;
    }
    std::cout << out.dump(2) << std::endl;
    return 0;
  }
  std::cout << fmt::format("{}: {} nodes in {:.3f} s ({} ran, {} cached)\n", options.file, doc.nodes.size(),
                           result.seconds, result.executed, result.cached);
  for (const auto& path : written) std::cout << fmt::format("wrote {}\n", path);
  return 0;
}

struct ResultOptions {
  std::string result;
  std::string output_dir;
  bool json = false;
};

int RunCite(const ResultOptions& options) {
  const auto stored = formats::ReadResultsHdf5(options.result);
  std::cout << pipeline::CiteText(stored, Registry(), options.result);
  return 0;
}

int RunReproduce(const ResultOptions& options, const Context& context) {
  auto stamp = Stamp(context);
  const auto report = pipeline::Reproduce(options.result, options.output_dir, Registry(), stamp);
  for (const auto& in : report.inputs) {
    if (!in.identical) {
      throw Error::CorruptFile(in.path, std::nullopt, "xxh3_128",
                               in.found ? "input changed since the result was made (size or checksum differ)"
                                        : "input recorded in the result is missing");
    }
  }
  if (options.json) {
    Json out = {{"result", options.result}, {"written", report.written}, {"identical", report.identical()},
                {"outputs", Json::array()}};
    for (const auto& o : report.outputs) {
      out["outputs"].push_back({{"name", o.name}, {"identical", o.identical}, {"difference", o.difference}});
    }
    std::cout << out.dump(2) << std::endl;
  } else {
    std::cout << fmt::format("inputs: {} checked, all identical\n", report.inputs.size());
    for (const auto& o : report.outputs) {
      std::cout << fmt::format("  {:<28} {}\n", o.name, o.identical ? "bit-identical" : "DIFFERS: " + o.difference);
    }
    std::cout << fmt::format("wrote {}\n{}\n", report.written,
                             report.identical() ? "reproduced: every result is bit-identical"
                                                : "NOT reproduced: some results differ");
  }
  return report.identical() ? 0 : 1;
}

}  // namespace

void AddPipelineCommands(CLI::App& app, Context& context) {
  static PipelineOptions options;
  static bool ops_json = false;
  static bool ops_markdown = false;
  static ResultOptions result;

  auto* cmd = app.add_subcommand("pipeline", "Validate, inspect and run pipeline documents (JSON graphs)");
  cmd->require_subcommand(1);
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("pipeline", options.file, "Pipeline document (JSON)")->required();
    sub->add_option("--set", options.sets, "Change a parameter: NODE.PARAM=VALUE (JSON or text; repeatable)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    sub->add_option("-i,--input", options.inputs, "Input file for a read node: [NODE=]PATH (repeatable)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    sub->add_flag("--json", options.json, "Print JSON");
  };
  auto* validate = cmd->add_subcommand("validate", "Check a pipeline without running it (exit 2 lists every problem)");
  add_common(validate);
  validate->callback([&] {
    context.json_errors = options.json;
    context.run = [] { return RunValidate(options); };
  });
  auto* show = cmd->add_subcommand("show", "Print nodes, ports, types and parameters");
  add_common(show);
  show->callback([&] { context.run = [] { return RunShow(options); }; });
  auto* run = cmd->add_subcommand("run", "Run a pipeline; -o DIR writes DIR/<name>.h5 (+ provenance) and figures");
  add_common(run);
  run->add_option("-o,--output", options.output_dir, "Output directory (created if missing)");
  run->add_option("--threads", options.threads, "Threads per reduce pass (default: all cores)");
  run->add_flag("-q,--quiet", options.quiet, "No progress");
  run->callback([&] {
    context.json_errors = options.json;
    context.run = [&] { return RunPipeline(options, context); };
  });
  auto* ops = cmd->add_subcommand("ops", "List pipeline operators (--json: full registry with schemas)");
  ops->add_flag("--json", ops_json, "Print JSON");
  ops->add_flag("--markdown", ops_markdown, "Print the Markdown reference (docs/operators.md)");
  ops->callback([&] { context.run = [] { return RunOps(ops_json, ops_markdown); }; });

  auto* cite = app.add_subcommand("cite", "Print a methods paragraph and BibTeX for a result file");
  cite->add_option("result", result.result, "Result file (.h5) written by tessera")->required();
  cite->callback([&] { context.run = [] { return RunCite(result); }; });

  auto* reproduce = app.add_subcommand(
      "reproduce", "Re-run the pipeline stored in a result on its inputs and check bit-identity (exit 1 if not)");
  reproduce->add_option("result", result.result, "Result file (.h5) written by tessera pipeline run")->required();
  reproduce->add_option("-o,--output", result.output_dir, "Directory for the new result")->required();
  reproduce->add_flag("--json", result.json, "Print JSON");
  reproduce->callback([&] {
    context.json_errors = result.json;
    context.run = [&] { return RunReproduce(result, context); };
  });
}

}  // namespace tessera::cli
