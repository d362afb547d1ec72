#!/usr/bin/env bash
# Execute the notebooks headless on the mammolab kernel (installs the kernel and the Jupyter
# runner first; see kernels/README.md) and check them (scripts/notebooks.py).
# Usage: scripts/notebooks.sh [PROFILE] [OUT] [-- runner options, e.g. --only 03]
#   PROFILE: ci | default | large (default: $MAMMOLAB_PROFILE or default)
#   OUT:     executed copies, HTML and summary.json (default: out/notebooks-PROFILE)
source "$(dirname "$0")/env.sh"
need_cargo
need_font
need_jupyter
profile="${1:-${MAMMOLAB_PROFILE:-default}}"
out="${2:-out/notebooks-$profile}"
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
export MAMMOLAB_PROFILE="$profile"
"$MAMMOLAB_JUPYTER_PY" scripts/notebooks.py --check-stripped-only notebooks/*.ipynb
"$MAMMOLAB_JUPYTER_PY" scripts/notebooks.py --out "$out" "$@" notebooks/*.ipynb
