#!/usr/bin/env bash
# The main job: build mammolab, generate the default synthetic cohort (seed 001's sizes)
# into data/synthetic-default, verify it against its manifest, run seed 001's merge the
# audited way (tables and audit in OUT/merge), then install the mammolab Jupyter kernel and
# execute every notebook headless on that cohort (executed copies, HTML and timings in
# out/notebooks-PROFILE; see kernels/README.md).
# Usage: scripts/main.sh [PROFILE] [OUT]   (PROFILE: ci | default | large)
source "$(dirname "$0")/env.sh"
need_cargo
profile="${1:-${MAMMOLAB_PROFILE:-default}}"
out="${2:-${MAMMOLAB_DATA:-data/synthetic-$profile}}"
cargo build --release --quiet --bin mammolab
bin="$CARGO_TARGET_DIR/release/mammolab"
"$bin" synth --profile "$profile" --out "$out" --force
"$bin" manifest "$out/manifest.toml"
# The committed manifest pins the bytes of the ci and default cohorts (seed 1): a cohort
# generated on this machine must have exactly those checksums.
pinned="data-manifests/synthetic-$profile.toml"
if [ -f "$pinned" ] && grep -q "^seed = 1$" "$out/manifest.toml"; then
  cp "$pinned" "$out/pinned-manifest.toml"
  "$bin" manifest "$out/pinned-manifest.toml"
fi
"$bin" merge --manifest "$out/manifest.toml" --out "$out/merge"
MAMMOLAB_DATA="$(cd "$out" && pwd)" bash scripts/notebooks.sh "$profile" "out/notebooks-$profile"
