#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A reduce operator inside a pipeline vs the same analysis through `tessera run`.

On one generated uint16 4D-STEM file (1 GiB by default, page cache warm), alternately runs
`tessera run ANALYSIS FILE --json` and `tessera pipeline run P.json --json` (read -> ANALYSIS),
and reports GB/s of file bytes for both: the pass alone (run's elapsed_s, the session's seconds)
and the whole process (wall clock, start-up included). Results: bench/results/<date>-pipeline.json.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import time


def run(cmd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out), time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tessera", default="build/release/apps/cli/tessera")
    ap.add_argument("--data-dir", default=os.environ.get("TESSERA_BENCH_DIR", "/tmp/tessera-bench"))
    ap.add_argument("--scan", default="128x64")
    ap.add_argument("--frame", default="256x256")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    path = os.path.join(args.data_dir, f"pipeline_{args.scan}_{args.frame}_u16.npy")
    if not os.path.exists(path):
        subprocess.run([args.tessera, "generate", "4dstem", path, "--scan", args.scan, "--frame", args.frame,
                        "--dtype", "uint16", "--seed", "0"], check=True, capture_output=True)
    size = os.path.getsize(path)
    with open(path, "rb") as f:  # read once: the page cache holds it for every timed run
        while f.read(1 << 24):
            pass
    cases = {"sum": {}, "virtual-detector": {"shape": "disk", "r": 40}}
    results = []
    for analysis, params in cases.items():
        doc = {"tessera": 1, "name": "bench", "nodes": [
            {"id": "scan", "op": "read", "params": {"path": path, "options": {"sig_dims": 2}}},
            {"id": "reduce", "op": analysis, "params": params}],
            "edges": [{"from": {"node": "scan", "port": "data"}, "to": {"node": "reduce", "port": "data"}}]}
        pipe = os.path.join(args.data_dir, f"bench_{analysis}.json")
        with open(pipe, "w") as f:
            json.dump(doc, f)
        run_cmd = [args.tessera, "run", analysis, path, "--json", "-q"]
        for k, v in params.items():
            run_cmd += ["-p", f"{k}={v}"]
        pipe_cmd = [args.tessera, "pipeline", "run", pipe, "--json", "-q"]
        best = {"run_pass": 1e9, "run_wall": 1e9, "pipe_pass": 1e9, "pipe_wall": 1e9}
        for _ in range(args.repeat):
            j, wall = run(run_cmd)
            best["run_pass"] = min(best["run_pass"], j["elapsed_s"])
            best["run_wall"] = min(best["run_wall"], wall)
            j, wall = run(pipe_cmd)
            best["pipe_pass"] = min(best["pipe_pass"], j["seconds"])
            best["pipe_wall"] = min(best["pipe_wall"], wall)
        row = {"analysis": analysis, "bytes": size}
        for k, v in best.items():
            row[k + "_s"] = v
            row[k + "_gbps"] = size / v / 1e9
        row["pass_ratio"] = row["pipe_pass_gbps"] / row["run_pass_gbps"]
        row["wall_ratio"] = row["pipe_wall_gbps"] / row["run_wall_gbps"]
        results.append(row)
        print(f"{analysis:>17}: tessera run {row['run_pass_gbps']:.2f} GB/s pass, {row['run_wall_gbps']:.2f} GB/s process | "
              f"pipeline {row['pipe_pass_gbps']:.2f} GB/s run, {row['pipe_wall_gbps']:.2f} GB/s process | "
              f"ratio {row['pass_ratio']:.3f} (pass), {row['wall_ratio']:.3f} (process)")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S")
    out = os.path.join("bench", "results", f"{stamp}-pipeline.json")
    with open(out, "w") as f:
        json.dump({"host": platform.node(), "cpus": os.cpu_count(), "file": path, "results": results}, f, indent=2)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
