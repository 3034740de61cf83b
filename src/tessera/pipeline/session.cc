// SPDX-License-Identifier: MIT
#include "tessera/pipeline/session.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <span>
#include <thread>

#include <fmt/format.h>

#include "tessera/arrayops/table.h"
#include "tessera/core/checksum.h"
#include "tessera/core/system_info.h"

namespace tessera::pipeline {

struct Session::CacheEntry {
  std::vector<Value> outputs;
};

const Value* NodeResult::Find(std::string_view port) const {
  for (size_t i = 0; i < port_names.size(); ++i) {
    if (port_names[i] == port) return &outputs[i];
  }
  return nullptr;
}

const Value& RunResult::Get(std::string_view node, std::string_view port) const {
  const auto it = nodes.find(node);
  if (it == nodes.end()) {
    throw Error::InvalidArgument(fmt::format("no node '{}' in the result", node), "node");
  }
  const Value* v = it->second.Find(port);
  if (v == nullptr) {
    throw Error::InvalidArgument(fmt::format("node '{}' has no output '{}'", node, port), "port");
  }
  return *v;
}

Session::Session(PipelineDoc doc, const PipelineRegistry& registry, SessionOptions options)
    : doc_(std::move(doc)), registry_(&registry), options_(std::move(options)) {}

Session::~Session() = default;

void Session::Set(std::string_view node_dot_param, Json value) {
  PipelineDoc changed = doc_;
  SetParam(changed, node_dot_param, std::move(value));
  CheckValid(changed, *registry_, changed.name.empty() ? "pipeline" : changed.name);
  doc_ = std::move(changed);
  validated_ = true;
}

void Session::SetDocument(PipelineDoc doc) {
  doc_ = std::move(doc);
  validated_ = false;
}

int64_t Session::executions(std::string_view node) const {
  std::lock_guard lock(mutex_);
  const auto it = executions_.find(node);
  return it == executions_.end() ? 0 : it->second;
}

int64_t Session::total_executions() const {
  std::lock_guard lock(mutex_);
  int64_t n = 0;
  for (const auto& [node, count] : executions_) n += count;
  return n;
}

void Session::ClearCache() {
  std::lock_guard lock(mutex_);
  cache_.clear();
}

int64_t Session::cache_bytes() const {
  std::lock_guard lock(mutex_);
  int64_t bytes = 0;
  for (const auto& [key, entry] : cache_) {
    for (const auto& v : entry->outputs) {
      if (v.array) bytes += v.array->data.nbytes();
    }
  }
  return bytes;
}

namespace {

// One node in one sweep combination.
struct Task {
  size_t node = 0;
  int64_t combination = 0;
  std::vector<size_t> inputs;  // task per input port; SIZE_MAX for an absent optional input
  std::vector<std::string> input_ports;  // the source output port per input port
  std::vector<size_t> consumers;
  int pending = 0;
  std::string key;
  std::vector<Value> outputs;
};

// Sweeps a node depends on, and the value index of each sweep for one of its combinations.
struct NodePlan {
  const OperatorDef* def = nullptr;
  std::vector<size_t> sweeps;
  std::vector<int64_t> sizes;
  int64_t combinations = 1;
  size_t first_task = 0;
};

std::vector<int64_t> Unravel(int64_t index, std::span<const int64_t> sizes) {
  std::vector<int64_t> out(sizes.size());
  for (size_t i = sizes.size(); i-- > 0;) {
    out[i] = index % sizes[i];
    index /= sizes[i];
  }
  return out;
}

std::string HashKey(const std::string& text) {
  Xxh3Hasher hasher;
  hasher.Update(std::as_bytes(std::span(text.data(), text.size())));
  return hasher.Finish().ToHex();
}

bool TypeFits(PortType port, const Value& value) {
  if (port == value.type) return true;
  return value.is_array_like() && CanConnect(value.type, port);
}

// The node's params with its sweeps' values for one combination and every schema default filled
// in, so that {"mode": "minmax"} and {} (the default) share a cache key and the provenance
// records every value used.
Json ResolvedParams(const NodeDoc& node, const std::vector<Sweep>& sweeps, const NodePlan& plan,
                    int64_t combination) {
  Json params = node.params.is_object() ? node.params : Json::object();
  const Json& schema = *plan.def->params_schema;
  if (schema.contains("properties")) {
    for (const auto& [name, property] : schema["properties"].items()) {
      if (!params.contains(name) && property.is_object() && property.contains("default")) {
        params[name] = property["default"];
      }
    }
  }
  const auto index = Unravel(combination, plan.sizes);
  for (size_t k = 0; k < plan.sweeps.size(); ++k) {
    const Sweep& s = sweeps[plan.sweeps[k]];
    if (s.node == node.id) params[s.param] = s.values[static_cast<size_t>(index[k])];
  }
  return params;
}

// The combination of `from` (whose sweeps are a subset of `to`'s) matching `to`'s combination.
int64_t SourceCombination(const NodePlan& from, const NodePlan& to, int64_t to_combination) {
  const auto index = Unravel(to_combination, to.sizes);
  int64_t c = 0;
  for (size_t k = 0; k < from.sweeps.size(); ++k) {
    const auto pos = std::find(to.sweeps.begin(), to.sweeps.end(), from.sweeps[k]) - to.sweeps.begin();
    c = c * from.sizes[k] + index[static_cast<size_t>(pos)];
  }
  return c;
}

dataset::Axis SweepAxis(const Sweep& s) {
  dataset::Axis axis{.name = fmt::format("{}.{}", s.node, s.param),
                     .size = static_cast<int64_t>(s.values.size())};
  const bool numeric = std::all_of(s.values.begin(), s.values.end(),
                                   [](const Json& v) { return v.is_number(); });
  if (numeric) {
    axis.offset = s.values.front().get<double>();
    axis.scale = s.values.size() > 1 ? s.values[1].get<double>() - axis.offset : 1.0;
    if (!s.uniform) {
      for (const auto& v : s.values) axis.values.push_back(v.get<double>());
    }
  } else {
    axis.units = "index";
  }
  return axis;
}

// Concatenate one table per sweep combination, with a leading column per sweep (its value, or
// its index for non-numeric sweeps).
Value StackTables(const std::vector<Sweep>& sweeps, const NodePlan& plan, const std::vector<const Value*>& values) {
  arrayops::Table out;
  const auto& first = *values.front()->table;
  std::vector<std::vector<double>> sweep_columns(plan.sweeps.size());
  std::vector<std::vector<double>> columns(first.columns.size());
  for (size_t c = 0; c < values.size(); ++c) {
    const auto& t = *values[c]->table;
    const auto index = Unravel(static_cast<int64_t>(c), plan.sizes);
    for (int64_t r = 0; r < t.rows(); ++r) {
      for (size_t k = 0; k < plan.sweeps.size(); ++k) {
        const Json& v = sweeps[plan.sweeps[k]].values[static_cast<size_t>(index[k])];
        sweep_columns[k].push_back(v.is_number() ? v.get<double>() : static_cast<double>(index[k]));
      }
      for (size_t col = 0; col < columns.size() && col < t.columns.size(); ++col) {
        columns[col].push_back(t.values[col][static_cast<size_t>(r)]);
      }
    }
  }
  for (size_t k = 0; k < plan.sweeps.size(); ++k) {
    const Sweep& s = sweeps[plan.sweeps[k]];
    out.AddColumn(fmt::format("{}.{}", s.node, s.param), "", std::move(sweep_columns[k]));
  }
  for (size_t col = 0; col < columns.size(); ++col) {
    out.AddColumn(first.columns[col], col < first.units.size() ? first.units[col] : "", std::move(columns[col]));
  }
  return Value::Table(std::make_shared<const arrayops::Table>(std::move(out)));
}

// Stack one port's values over a node's sweep combinations into leading axes.
Value Stack(const NodeDoc& node, const std::string& port, const std::vector<Sweep>& sweeps,
            const NodePlan& plan, const std::vector<const Value*>& values) {
  const Value& first = *values.front();
  std::vector<int64_t> shape(plan.sizes.begin(), plan.sizes.end());
  std::vector<dataset::Axis> axes;
  for (size_t k : plan.sweeps) axes.push_back(SweepAxis(sweeps[k]));
  if (first.type == PortType::kScalar) {
    NdArray out(DType::kFloat64, shape);
    auto flat = out.flat<double>();
    for (size_t i = 0; i < values.size(); ++i) flat[i] = values[i]->scalar;
    return Value::Array(PortType::kArray, std::move(out), std::move(axes));
  }
  const NdArray& a = first.array->data;
  for (const auto* v : values) {
    if (v->array->data.shape() != a.shape() || v->array->data.dtype() != a.dtype()) {
      ErrorInfo info;
      info.code = ErrorCode::kInvalidArgument;
      info.node = node.id;
      info.port = port;
      info.message = fmt::format(
          "sweep results differ in shape or type ({} {} vs {} {}), so they cannot be stacked",
          fmt::join(a.shape(), "x"), Name(a.dtype()), fmt::join(v->array->data.shape(), "x"),
          Name(v->array->data.dtype()));
      throw Error(std::move(info));
    }
  }
  shape.insert(shape.end(), a.shape().begin(), a.shape().end());
  axes.insert(axes.end(), first.array->axes.begin(), first.array->axes.end());
  NdArray out(a.dtype(), shape);
  auto* dst = static_cast<std::byte*>(out.raw());
  for (const auto* v : values) {
    if (a.nbytes() > 0) std::memcpy(dst, v->array->data.raw(), static_cast<size_t>(a.nbytes()));
    dst += a.nbytes();
  }
  return Value::Array(PortType::kArray, std::move(out), std::move(axes), first.array->units);
}

}  // namespace

RunResult Session::Run() {
  const auto t0 = std::chrono::steady_clock::now();
  if (!validated_) {  // Set() validated its change already: a re-run does not validate twice
    CheckValid(doc_, *registry_, doc_.name.empty() ? "pipeline" : doc_.name);
    validated_ = true;
  }
  const auto order = TopologicalOrder(doc_);
  RunResult result;
  result.sweeps = FindSweeps(doc_);

  // Plan: each node's sweeps are its own plus those of everything upstream.
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < doc_.nodes.size(); ++i) index_of[doc_.nodes[i].id] = i;
  std::vector<NodePlan> plans(doc_.nodes.size());
  for (size_t n : order) {
    NodePlan& plan = plans[n];
    plan.def = registry_->Find(doc_.nodes[n].op);
    for (size_t k = 0; k < result.sweeps.size(); ++k) {
      if (result.sweeps[k].node == doc_.nodes[n].id) plan.sweeps.push_back(k);
    }
    for (const auto& e : doc_.edges) {
      if (e.to.node != doc_.nodes[n].id) continue;
      for (size_t k : plans[index_of[e.from.node]].sweeps) plan.sweeps.push_back(k);
    }
    std::sort(plan.sweeps.begin(), plan.sweeps.end());
    plan.sweeps.erase(std::unique(plan.sweeps.begin(), plan.sweeps.end()), plan.sweeps.end());
    for (size_t k : plan.sweeps) {
      plan.sizes.push_back(static_cast<int64_t>(result.sweeps[k].values.size()));
      plan.combinations *= plan.sizes.back();
    }
  }
  std::vector<Task> tasks;
  for (size_t n : order) {
    plans[n].first_task = tasks.size();
    for (int64_t c = 0; c < plans[n].combinations; ++c) tasks.push_back(Task{.node = n, .combination = c});
  }
  for (auto& task : tasks) {
    const auto& node = doc_.nodes[task.node];
    const auto& plan = plans[task.node];
    task.inputs.assign(plan.def->inputs.size(), SIZE_MAX);
    task.input_ports.resize(plan.def->inputs.size());
    for (const auto& e : doc_.edges) {
      if (e.to.node != node.id) continue;
      const size_t port = static_cast<size_t>(
          std::find_if(plan.def->inputs.begin(), plan.def->inputs.end(),
                       [&](const PortSpec& p) { return p.name == e.to.port; }) -
          plan.def->inputs.begin());
      const NodePlan& from = plans[index_of[e.from.node]];
      const size_t source = from.first_task + static_cast<size_t>(SourceCombination(from, plan, task.combination));
      task.inputs[port] = source;
      task.input_ports[port] = e.from.port;
    }
    for (size_t source : task.inputs) {
      if (source == SIZE_MAX) continue;
      tasks[source].consumers.push_back(static_cast<size_t>(&task - tasks.data()));
      ++task.pending;
    }
  }

  // Execute: a ready queue served by a few workers; reduce operators parallelise inside.
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<size_t> ready;
  size_t remaining = tasks.size();
  std::optional<ErrorInfo> failure;
  std::mutex event_mutex;
  auto emit = [&](NodeEvent event) {
    if (!options_.on_event) return;
    std::lock_guard lock(event_mutex);
    options_.on_event(event);
  };
  for (size_t t = 0; t < tasks.size(); ++t) {
    if (tasks[t].pending == 0) ready.push_back(t);
  }
  std::vector<int64_t> executed(doc_.nodes.size(), 0);
  const Json document = doc_.ToJson();
  RunInfo info;
  info.document = &document;
  for (const auto& node : doc_.nodes) info.operator_versions[node.op] = registry_->Find(node.op)->version;
  info.tessera_version = options_.tessera_version;
  info.git_hash = options_.git_hash;
  info.command_line = options_.command_line;
  info.start_time = NowIso8601();
  // The files each task's data came from: its own (read nodes) and everything upstream's.
  auto upstream_inputs = [&](size_t t) {
    std::vector<RunInput> files;
    std::vector<size_t> stack{t};
    std::vector<bool> seen(tasks.size(), false);
    while (!stack.empty()) {
      const size_t u = stack.back();
      stack.pop_back();
      if (seen[u]) continue;
      seen[u] = true;
      for (const auto& v : tasks[u].outputs) {
        if (!v.dataset || plans[tasks[u].node].def->kind != OpKind::kIo) continue;
        for (const auto& f : v.dataset->meta().files) {
          if (std::none_of(files.begin(), files.end(), [&](const RunInput& r) { return r.path == f.path; })) {
            files.push_back(RunInput{f.path, f.size});
          }
        }
      }
      for (size_t in : tasks[u].inputs) {
        if (in != SIZE_MAX) stack.push_back(in);
      }
    }
    return files;
  };
  auto run_task = [&](size_t t) {
    Task& task = tasks[t];
    const NodeDoc& node = doc_.nodes[task.node];
    const NodePlan& plan = plans[task.node];
    const Json params = ResolvedParams(node, result.sweeps, plan, task.combination);
    OpContext ctx;
    ctx.node = node.id;
    ctx.params = &params;
    ctx.base_dir = doc_.base_dir;
    ctx.threads = options_.threads;
    ctx.cancel = options_.cancel;
    ctx.output_dir = options_.output_dir;
    ctx.run = &info;
    if (plan.combinations > 1) {
      for (int64_t i : Unravel(task.combination, plan.sizes)) ctx.combination_suffix += fmt::format("_{}", i);
    }
    ctx.inputs.assign(task.inputs.size(), nullptr);
    std::string key_text = fmt::format("{}\n{}\n{}\n", plan.def->name, plan.def->version, params.dump());
    for (size_t p = 0; p < task.inputs.size(); ++p) {
      if (task.inputs[p] == SIZE_MAX) continue;
      const Task& source = tasks[task.inputs[p]];
      const auto& from_def = *plans[source.node].def;
      const size_t out_port = static_cast<size_t>(
          std::find_if(from_def.outputs.begin(), from_def.outputs.end(),
                       [&](const PortSpec& s) { return s.name == task.input_ports[p]; }) -
          from_def.outputs.begin());
      ctx.inputs[p] = &source.outputs[out_port];
      key_text += fmt::format("{}={}:{}\n", plan.def->inputs[p].name, source.key, task.input_ports[p]);
    }
    if (plan.def->external_key) key_text += plan.def->external_key(ctx);
    task.key = HashKey(key_text);
    if (plan.def->side_effects) {
      ctx.upstream_inputs = upstream_inputs(t);
    } else {
      std::lock_guard lock(mutex_);
      const auto hit = cache_.find(task.key);
      if (hit != cache_.end()) {
        task.outputs = hit->second->outputs;
        emit({.node = node.id, .state = NodeEvent::State::kCached, .combination = task.combination,
              .combinations = plan.combinations});
        return;
      }
    }
    emit({.node = node.id, .state = NodeEvent::State::kStarted, .combination = task.combination,
          .combinations = plan.combinations});
    ctx.progress = [&](double f) {
      emit({.node = node.id, .state = NodeEvent::State::kProgress, .fraction = f,
            .combination = task.combination, .combinations = plan.combinations});
    };
    const auto start = std::chrono::steady_clock::now();
    auto outputs = plan.def->run(ctx);
    if (outputs.size() != plan.def->outputs.size()) {
      throw Error::Internal(fmt::format("operator '{}' returned {} outputs, declares {}", plan.def->name,
                                        outputs.size(), plan.def->outputs.size()));
    }
    for (size_t p = 0; p < outputs.size(); ++p) {
      if (!TypeFits(plan.def->outputs[p].type, outputs[p])) {
        throw Error::Internal(fmt::format("operator '{}' output '{}' is a {}, declared {}", plan.def->name,
                                          plan.def->outputs[p].name, Name(outputs[p].type),
                                          Name(plan.def->outputs[p].type)));
      }
    }
    task.outputs = outputs;
    {
      std::lock_guard lock(mutex_);
      if (!plan.def->side_effects) {
        cache_[task.key] = std::make_shared<const CacheEntry>(CacheEntry{std::move(outputs)});
      }
      ++executions_[node.id];
    }
    {
      std::lock_guard lock(mutex);
      ++executed[task.node];
    }
    emit({.node = node.id, .state = NodeEvent::State::kDone,
          .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          .combination = task.combination, .combinations = plan.combinations});
  };
  auto worker = [&] {
    std::unique_lock lock(mutex);
    while (true) {
      wake.wait(lock, [&] { return !ready.empty() || remaining == 0 || failure.has_value(); });
      if (remaining == 0 || failure.has_value()) return;
      const size_t t = ready.front();
      ready.pop_front();
      lock.unlock();
      std::optional<ErrorInfo> error;
      try {
        if (options_.cancel != nullptr && options_.cancel->load()) throw Error::Cancelled();
        run_task(t);
      } catch (...) {
        error = CurrentErrorInfo();
        if (error->node.empty()) error->node = doc_.nodes[tasks[t].node].id;
      }
      lock.lock();
      if (error) {
        if (!failure) failure = std::move(error);
        wake.notify_all();
        return;
      }
      --remaining;
      for (size_t c : tasks[t].consumers) {
        if (--tasks[c].pending == 0) ready.push_back(c);
      }
      wake.notify_all();
    }
  };
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = std::max(1, std::min<int>(options_.parallel_nodes > 0 ? options_.parallel_nodes : cores,
                                                static_cast<int>(tasks.size())));
  {
    std::vector<std::jthread> pool;
    for (int w = 1; w < workers; ++w) pool.emplace_back(worker);
    worker();
  }
  if (failure) {
    throw Error(std::move(*failure));  // its node is named: FormatError prints "node 'x': ..."

  }

  // Assemble: per node, outputs per combination and stacked along the sweep axes.
  for (size_t n : order) {
    const NodeDoc& node = doc_.nodes[n];
    const NodePlan& plan = plans[n];
    NodeResult nr;
    nr.op = node.op;
    nr.sweeps = plan.sweeps;
    nr.executed = executed[n];
    for (const auto& p : plan.def->outputs) nr.port_names.push_back(p.name);
    for (int64_t c = 0; c < plan.combinations; ++c) {
      nr.per_combination.push_back(tasks[plan.first_task + static_cast<size_t>(c)].outputs);
    }
    for (size_t p = 0; p < plan.def->outputs.size(); ++p) {
      const Value& first = nr.per_combination.front()[p];
      std::vector<const Value*> values;
      for (const auto& combo : nr.per_combination) values.push_back(&combo[p]);
      // Figures differ in size (labels), so a display node keeps one per combination.
      if (plan.sweeps.empty() || first.type == PortType::kDataset || plan.def->kind == OpKind::kDisplay) {
        nr.outputs.push_back(first);
      } else if (first.type == PortType::kTable) {
        nr.outputs.push_back(StackTables(result.sweeps, plan, values));
      } else {
        nr.outputs.push_back(Stack(node, plan.def->outputs[p].name, result.sweeps, plan, values));
      }
    }
    result.executed += nr.executed;
    result.cached += plan.combinations - nr.executed;
    if (plan.def->kind == OpKind::kIo) {
      for (const auto& combo : nr.per_combination) {
        for (const auto& v : combo) {
          if (!v.dataset) continue;
          for (const auto& f : v.dataset->meta().files) {
            const bool seen = std::any_of(result.inputs.begin(), result.inputs.end(),
                                          [&](const RunInput& in) { return in.path == f.path; });
            if (!seen) result.inputs.push_back(RunInput{f.path, f.size});
          }
        }
      }
    }
    result.nodes.emplace(node.id, std::move(nr));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace tessera::pipeline
