# Shared setup for the project's scripts: the cargo target dir kept outside
# the clone (so CI runs reuse it), and tool installation for a fresh machine.
# Sourced, not run.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/openmldb-sync/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

log() { printf '\n==> %s\n' "$*" >&2; }

# ensure_rust_components: rustfmt and clippy for the checks.
ensure_rust_components() {
    local missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing rust components: ${missing[*]}"
        rustup component add "${missing[@]}"
    fi
}

# ensure_debian_packages PKG...: installs the Debian packages that are missing.
ensure_debian_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# make_venv DIR PKG...: (re)creates a Python venv in DIR with the PyPI
# packages PKG...; on failure removes DIR and returns 1.
make_venv() {
    local dir=$1
    shift
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || ensure_debian_packages python3-venv
    log "installing $* into $dir"
    rm -rf "$dir"
    python3 -m venv "$dir" && "$dir/bin/pip" install -q "$@" || {
        rm -rf "$dir"
        echo "could not install $*" >&2
        return 1
    }
}
