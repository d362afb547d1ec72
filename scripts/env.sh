# Shared set-up for scripts/*.sh (sourced, not run).
# One target dir and one Python venv outside the clone, so a second clone, a second run
# and CI on the same machine reuse compiled crates; a fresh machine builds them once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export MAMMOLAB_CACHE="${MAMMOLAB_CACHE:-$HOME/.cache/mammolab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MAMMOLAB_CACHE/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

need_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
  fi
  command -v cargo >/dev/null 2>&1 || {
    echo "error: cargo not found; install Rust with rustup (https://rustup.rs)" >&2
    exit 1
  }
  # rustfmt and clippy are rustup components; add them where they are missing.
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add rustfmt clippy
  fi
}

# The Python readers the tests compare against (pinned in tests/python/requirements.txt).
need_venv() {
  local venv="$MAMMOLAB_CACHE/venv" stamp
  stamp="$venv/.requirements.$(sha256sum tests/python/requirements.txt | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
    touch "$stamp"
  fi
  export MAMMOLAB_PY="$venv/bin/python"
}

# PyTorch in its own venv (7 GB: the PyPI wheel bundles CUDA libraries), for the safetensors
# round trip and the P5 benchmark (pinned in tests/python/requirements-torch.txt).
need_torch() {
  local venv="$MAMMOLAB_CACHE/torchvenv" stamp
  stamp="$venv/.requirements.$(sha256sum tests/python/requirements-torch.txt | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements-torch.txt
    touch "$stamp"
  fi
  export MAMMOLAB_TORCH_PY="$venv/bin/python"
}

# readxl's example workbooks (extdata/: 5 .xlsx + 5 .xls, written by nobody here), from
# Debian's r-cran-readxl package, pinned by version and sha256; unpacked, not installed (no R).
# tests/python/test_public_workbooks.py compares mammolab with openpyxl and xlrd on them.
need_readxl() {
  local dir="$MAMMOLAB_CACHE/readxl-1.4.2-1" deb=r-cran-readxl_1.4.2-1_amd64.deb
  local sha=eb705525f906c968022162e8e58993a8b444ae900ff0487389769721bdcb4e67
  if [ ! -f "$dir/.done" ]; then
    command -v apt-get >/dev/null 2>&1 || {
      echo "error: readxl's test workbooks come from Debian's r-cran-readxl; no apt-get here" >&2
      exit 1
    }
    rm -rf "$dir" && mkdir -p "$dir"
    ( cd "$dir" && { apt-get download -qq "r-cran-readxl=1.4.2-1" 2>/dev/null \
        || { apt-get update -qq && apt-get download -qq "r-cran-readxl=1.4.2-1"; }; } )
    echo "$sha  $dir/$deb" | sha256sum -c --quiet - || { echo "error: $deb: sha256 differs" >&2; exit 1; }
    dpkg-deb -x "$dir/$deb" "$dir/x" && touch "$dir/.done"
  fi
  export MAMMOLAB_READXL="$dir/x/usr/lib/R/site-library/readxl/extdata"
}

# odfpy's example spreadsheets (tests/examples/*.ods: 4 files, one written by KSpread), from
# odfpy's source distribution on PyPI, pinned by version and sha256; unpacked, not built.
# tests/python/test_public_workbooks.py compares mammolab with pandas' odf reader on them.
need_odfpy_examples() {
  local dir="$MAMMOLAB_CACHE/odfpy-1.4.1" sdist=odfpy-1.4.1.tar.gz
  local sha=db766a6e59c5103212f3cc92ec8dd50a0f3a02790233ed0b52148b70d3c438ec
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    "$MAMMOLAB_PY" -m pip download --quiet --disable-pip-version-check --no-deps \
      --no-binary :all: odfpy==1.4.1 -d "$dir"
    echo "$sha  $dir/$sdist" | sha256sum -c --quiet - || { echo "error: $sdist: sha256 differs" >&2; exit 1; }
    tar xzf "$dir/$sdist" -C "$dir" --wildcards 'odfpy-1.4.1/tests/examples/*.ods' && touch "$dir/.done"
  fi
  export MAMMOLAB_ODS_EXAMPLES="$dir/odfpy-1.4.1/tests/examples"
}

# Charts render text with a TrueType font (see src/plot/mod.rs for the paths tried).
need_font() {
  local f
  for f in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/TTF/DejaVuSans.ttf \
           /usr/share/fonts/dejavu/DejaVuSans.ttf \
           /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf; do
    [ -f "$f" ] && return 0
  done
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq fonts-dejavu-core >/dev/null
  else
    echo "error: no TrueType font for charts; install fonts-dejavu-core (Debian/Ubuntu)" >&2
    exit 1
  fi
}

# Jupyter's runner for the notebooks (nbclient, nbconvert; pinned in kernels/requirements.txt)
# and the mammolab kernel (kernels/install.sh: evcxr_jupyter built once into the cache). The
# kernelspec goes to $MAMMOLAB_CACHE/jupyter, which is put on JUPYTER_PATH.
need_jupyter() {
  local venv="$MAMMOLAB_CACHE/jupytervenv" stamp
  stamp="$venv/.requirements.$(sha256sum kernels/requirements.txt | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r kernels/requirements.txt
    touch "$stamp"
  fi
  export MAMMOLAB_JUPYTER_PY="$venv/bin/python"
  bash kernels/install.sh "$MAMMOLAB_CACHE/jupyter"
  export JUPYTER_PATH="$MAMMOLAB_CACHE/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
}
