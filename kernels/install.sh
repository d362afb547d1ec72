#!/usr/bin/env bash
# Install the `mammolab` Jupyter kernel: evcxr_jupyter (pinned, built once into the cache),
# a kernelspec named `mammolab`, its evcxr settings (init.evcxr, prelude.rs) and the cargo
# profile of its persistent build folders. See kernels/README.md.
#
# Usage: kernels/install.sh [DIR]
#   DIR: the kernelspec goes to DIR/kernels/mammolab (default: the user's Jupyter data dir,
#        $JUPYTER_DATA_DIR or ~/.local/share/jupyter). Put DIR on JUPYTER_PATH and run
#        notebooks with kernel_name=mammolab.
# Environment: MAMMOLAB_CACHE (default ~/.cache/mammolab) holds evcxr_jupyter and the
#   kernel's build folders; MAMMOLAB_KERNEL_FEATURES=cuda builds the kernel's mammolab with
#   the cuda feature.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
cache="${MAMMOLAB_CACHE:-$HOME/.cache/mammolab}"
dir="${1:-${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}}"
version=0.22.0
root="$cache/evcxr"
bin="$root/bin/evcxr_jupyter"

if ! command -v cargo >/dev/null; then
  echo "kernels/install.sh: cargo not found (install Rust with rustup first)" >&2
  exit 1
fi
if [ ! -x "$bin" ] || [ "$(cat "$root/VERSION" 2>/dev/null)" != "$version" ]; then
  echo "kernels/install.sh: building evcxr_jupyter $version into $root (once; ~15 min on 2 cores)" >&2
  # Optimisation level 1: evcxr's own work (parsing cells) is light; the build halves.
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_LTO=false \
    cargo install evcxr_jupyter --version "$version" --locked --root "$root" --quiet
  echo "$version" >"$root/VERSION"
fi

# mold links each cell's library faster; evcxr uses it when it is on PATH. Optional.
if ! command -v mold >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq mold >/dev/null 2>&1 || echo "kernels/install.sh: mold not installed (optional)" >&2
fi

spec="$dir/kernels/mammolab"
state="$cache/kernel"
mkdir -p "$spec/evcxr" "$state/.cargo"
features=""
if [ -n "${MAMMOLAB_KERNEL_FEATURES:-}" ]; then
  features=", features = [\"${MAMMOLAB_KERNEL_FEATURES//,/\", \"}\"]"
fi
cat >"$spec/evcxr/init.evcxr" <<INIT
:opt 0
:preserve_vars_on_panic 0
:dep mammolab = { path = "$repo"$features }
INIT
cp "$here/prelude.rs" "$spec/evcxr/prelude.rs"
cp "$here/cargo-config.toml" "$state/.cargo/config.toml"
python3 - "$spec/kernel.json" "$here/mammolab-kernel" "$bin" "$spec/evcxr" "$state" <<'PY'
import json, sys
path, wrapper, evcxr, config, state = sys.argv[1:]
json.dump({
    "argv": ["/bin/bash", wrapper, "{connection_file}"],
    "display_name": "Rust (mammolab)",
    "language": "rust",
    "interrupt_mode": "message",
    "env": {
        "MAMMOLAB_EVCXR": evcxr,
        "EVCXR_CONFIG_DIR": config,
        "MAMMOLAB_KERNEL_STATE": state,
    },
}, open(path, "w"), indent=1)
PY
echo "kernels/install.sh: kernelspec mammolab in $spec (build folders in $state)" >&2
