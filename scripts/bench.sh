#!/usr/bin/env bash
# Benchmarks, each side by side with the Python tool a researcher would otherwise use, in
# one run. Usage: bash scripts/bench.sh [p1 p2 p3 p3f p4 p5]   (default: all). Results: out/bench/.
# P5 (training, vs PyTorch) installs PyTorch into its own venv (about 7 GB) on first use.
# P1-P3 need the default cohort; it is generated into data/default once. P3F (full-size films)
# needs the CBIS-DDSM twin at its default scale, generated into data/cbis-ddsm-default once (~3 min).
source "$(dirname "$0")/env.sh"
need_cargo
need_venv
mkdir -p out/bench
ingest=()
for b in "${@:-p1 p2 p3 p3f p4 p5}"; do
  for b in $b; do
  case "$b" in
    p1|p2|p3|p3f) ingest+=("$b") ;;
    p4)
      cargo build --release --quiet --example bench_metrics
      "$MAMMOLAB_PY" benches/p4_metrics.py "$CARGO_TARGET_DIR/release/examples/bench_metrics" out/bench/p4.json
      ;;
    p5)
      need_torch
      cargo build --release --quiet --example bench_train
      "$MAMMOLAB_TORCH_PY" benches/p5_train.py "$CARGO_TARGET_DIR/release/examples/bench_train" out/bench/p5.json
      ;;
    *) echo "error: unknown benchmark $b (known: p1 p2 p3 p3f p4 p5)" >&2; exit 2 ;;
  esac
  done
done
if [ ${#ingest[@]} -gt 0 ]; then
  cargo build --release --quiet --example bench_ingest --bin mammolab
  if [ ! -f data/default/manifest.toml ]; then
    "$CARGO_TARGET_DIR/release/mammolab" synth --profile default --out data/default --force
  fi
  if [[ " ${ingest[*]} " == *" p3f "* && ! -f data/cbis-ddsm-default/manifest.toml ]]; then
    "$CARGO_TARGET_DIR/release/mammolab" synth --profile cbis-ddsm --scale default \
      --out data/cbis-ddsm-default --force
  fi
  "$MAMMOLAB_PY" benches/p123_ingest.py "$CARGO_TARGET_DIR/release/examples/bench_ingest" \
    data/default "$(IFS=,; echo "${ingest[*]}")" out/bench/p123.json
fi
