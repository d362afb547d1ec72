#!/usr/bin/env bash
# Benchmarks, each side by side with the Python tool a researcher would otherwise use, in
# one run. Usage: bash scripts/bench.sh [p4 ...]   (default: all). Results: out/bench/.
source "$(dirname "$0")/env.sh"
need_cargo
need_venv
mkdir -p out/bench
for b in "${@:-p4}"; do
  case "$b" in
    p4)
      cargo build --release --quiet --example bench_metrics
      "$MAMMOLAB_PY" benches/p4_metrics.py "$CARGO_TARGET_DIR/release/examples/bench_metrics" out/bench/p4.json
      ;;
    *) echo "error: unknown benchmark $b (known: p4)" >&2; exit 2 ;;
  esac
done
