#!/usr/bin/env bash
# Fuzz every reader with libFuzzer (cargo fuzz, nightly): `mammolab::fuzz`'s targets.
#
#   bash scripts/fuzz.sh [SECONDS [TARGET...]]     # default: 600 s each, all four targets
#   FUZZ_ARGS="-fork=1 -ignore_crashes=1" bash scripts/fuzz.sh 600 dicom   # go on past crashes
#
# Each target's corpus (in $MAMMOLAB_CACHE/fuzz/corpus/<target>, kept between runs) is seeded
# from files nobody here wrote and from the twins: pydicom's test files and the ci, RSNA,
# INbreast and CBIS-DDSM twins' DICOMs (dicom); readxl's workbooks, the twins' tables and a
# kept .ods (sheet); data-manifests/ and the twins' manifests (manifest); score tables of two and
# three classes (scores).
# Writes out/fuzz/<target>.json (executions, seconds, peak memory, crashes). A crash stops
# the target and leaves its input in fuzz/artifacts/<target>/: add it to
# tests/data/fuzz/<target>/ with the fix (tests/it/fuzz.rs replays that folder on stable).
#
# No sanitizer (-s none): safe Rust's findings are panics, hangs and memory, which libFuzzer
# sees without one, and an instrumented build of every dependency doubles the build and halves
# the executions. Needs the nightly toolchain and cargo-fuzz (installed here when missing).
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
need_cargo

SECONDS_EACH="${1:-600}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(dicom sheet manifest scores)
FUZZ_TARGET_DIR="$MAMMOLAB_CACHE/fuzz-target"
CORPUS="$MAMMOLAB_CACHE/fuzz/corpus"
SEEDS="$MAMMOLAB_CACHE/fuzz/seeds"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo +nightly install cargo-fuzz --locked
need_venv
need_readxl
need_odfpy_examples

echo "== building the fuzz targets (nightly, $FUZZ_TARGET_DIR)"
cargo +nightly fuzz build -s none --target-dir "$FUZZ_TARGET_DIR"
# The twins' generator: $MAMMOLAB_BIN if set, else the debug build.
BIN="${MAMMOLAB_BIN:-}"
[ -n "$BIN" ] || { cargo build --bin mammolab; BIN="$CARGO_TARGET_DIR/debug/mammolab"; }

# Seeds: the twins once, then each target's files copied in (libFuzzer names corpus files by
# content, so copying them again adds nothing).
if [ ! -f "$SEEDS/.done" ]; then
  rm -rf "$SEEDS" && mkdir -p "$SEEDS"
  "$BIN" synth --profile ci --out "$SEEDS/ci" >/dev/null
  for twin in rsna inbreast cbis-ddsm mini-mias; do
    "$BIN" synth --profile $twin --scale ci --out "$SEEDS/$twin" >/dev/null
  done
  touch "$SEEDS/.done"
fi
# prefix FILE BYTE OUT: OUT is BYTE (the target's format switch) then FILE.
prefix() { { printf "\\x$2"; cat "$1"; } >"$3"; }
seed() {
  local t="$1" dir="$CORPUS/$1" n=0 f
  mkdir -p "$dir"
  case "$t" in
    dicom)
      local suite
      suite="$("$MAMMOLAB_PY" -c 'import pydicom.data, pathlib; print(pathlib.Path(pydicom.data.__file__).parent / "test_files")')"
      # Under 512 KiB each: large seeds slow every execution.
      find "$suite" "$SEEDS" -name '*.dcm' -size -512k | head -500 |
        while read -r f; do cp "$f" "$dir/seed-$(sha256sum "$f" | cut -c1-16)"; done ;;
    sheet)
      for f in "$MAMMOLAB_READXL"/*.xlsx "$SEEDS"/ci/*.xlsx; do
        prefix "$f" 00 "$dir/seed-xlsx-$(basename "$f")"; done
      for f in "$MAMMOLAB_READXL"/*.xls "$SEEDS"/inbreast/*.xls; do
        prefix "$f" 01 "$dir/seed-xls-$(basename "$f")"; done
      for f in "$SEEDS"/rsna/*.csv "$SEEDS"/cbis-ddsm/*.csv; do
        prefix "$f" 03 "$dir/seed-csv-$(basename "$f")"; done
      for f in "$SEEDS"/mini-mias/*.txt; do prefix "$f" 04 "$dir/seed-txt-$(basename "$f")"; done
      # .ods: odfpy's examples (KSpread's indented one among them) and the kept
      # tests/data/fuzz/sheet/ods-seed-* (below).
      for f in "$MAMMOLAB_ODS_EXAMPLES"/*.ods; do
        prefix "$f" 05 "$dir/seed-ods-$(basename "$f")"; done ;;
    manifest)
      for f in data-manifests/*.toml "$SEEDS"/*/manifest.toml; do
        cp "$f" "$dir/seed-$(echo "$f" | tr / _)"; done ;;
    scores)
      printf '\x00label,score\n1,0.9\n0,0.1\n1,0.35\n0,0.6\n0,0.2\n' >"$dir/seed-binary"
      printf '\x00label,score,patient\ntrue,0.8,P1\nfalse,1e-3,P2\ntrue,NaN,P3\n' >"$dir/seed-binary-text"
      printf '\x01label,p_normal,p_benign,p_malignant\nnormal,0.7,0.2,0.1\nbenign,0.2,0.5,0.3\nmalignant,0.1,0.3,0.6\n' \
        >"$dir/seed-three" ;;
  esac
  # Every kept regression input seeds its target too.
  for f in tests/data/fuzz/"$t"/*; do [ -f "$f" ] && cp "$f" "$dir/kept-$(basename "$f")"; done
  ls "$dir" | wc -l
}

mkdir -p out/fuzz
status=0
for t in "${TARGETS[@]}"; do
  n=$(seed "$t")
  echo "== $t: $n inputs in the corpus, $SECONDS_EACH s"
  log="out/fuzz/$t.log"
  set +e
  # Run from fuzz/ so that crash artifacts land in fuzz/artifacts/<target>/.
  mkdir -p "fuzz/artifacts/$t"
  /usr/bin/time -f "%e %M" -o "out/fuzz/$t.time" \
    "$FUZZ_TARGET_DIR/x86_64-unknown-linux-gnu/release/$t" "$CORPUS/$t" \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=20 -max_len=1048576 \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  # Fork mode prints no final stats: its last "#N:" line counts every execution.
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*:' "$log" | tail -n 1 | tr -d '#:' || true)
  # time's last line (a failed command's file starts with "Command exited with ...").
  read -r wall rss < <(tail -n 1 "out/fuzz/$t.time") || true
  crashes=$(ls "fuzz/artifacts/$t" | wc -l)
  printf '{"target": "%s", "seconds": %s, "executions": %s, "exit_code": %s, "peak_rss_kib": %s, "corpus_seeds": %s, "artifacts": %s}\n' \
    "$t" "${wall:-0}" "${execs:-0}" "$rc" "${rss:-0}" "$n" "$crashes" | tee "out/fuzz/$t.json"
  [ "$rc" -eq 0 ] || { echo "   $t: exit $rc; see $log and fuzz/artifacts/$t/" >&2; status=1; }
done
exit $status
