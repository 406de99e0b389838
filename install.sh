#!/usr/bin/env bash
# Install agentwatch from the checkout this script sits in.
#
#   bash install.sh
#
# It creates (or reuses) an isolated virtual environment, installs this
# checkout into it, and symlinks the `agentwatch` command into ~/.local/bin.
# Running it again reinstalls from the checkout in place: that is how you
# upgrade after `git pull`.
#
# Environment overrides:
#   AGENTWATCH_VENV     where the venv goes. Default:
#                         Linux: ${XDG_DATA_HOME:-~/.local/share}/agentwatch/venv
#                         macOS: ~/Library/Application Support/agentwatch/venv
#   AGENTWATCH_BIN_DIR  where the `agentwatch` symlink goes (default ~/.local/bin)
#   AGENTWATCH_PYTHON   the Python (>= 3.11) to build the venv with
#                       (default: the first of python3, python3.14 ... python3.11
#                       that is new enough)
#   AGENTWATCH_NO_UV=1  don't use uv even if it is installed
#
# Works with bash 3.2 (macOS) and GNU/BSD userlands alike: no readlink -f,
# no sed -i, no arrays.

if [ -z "${BASH_VERSION:-}" ]; then
    echo "install.sh: please run it with bash: bash install.sh" >&2
    exit 1
fi

set -euo pipefail

MIN_PY_MAJOR=3
MIN_PY_MINOR=11

say()  { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- where we are -----------------------------------------------------------

if [ -z "${BASH_SOURCE[0]:-}" ] || [ ! -f "${BASH_SOURCE[0]}" ]; then
    die "run this script from a checkout of agentwatch: bash install.sh"
fi
SRC_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
[ -f "$SRC_DIR/pyproject.toml" ] \
    || die "no pyproject.toml next to install.sh (in $SRC_DIR): is this an agentwatch checkout?"

[ -n "${HOME:-}" ] || die "HOME is not set"

case "$(uname -s)" in
    Darwin) DEFAULT_VENV="$HOME/Library/Application Support/agentwatch/venv" ;;
    *)      DEFAULT_VENV="${XDG_DATA_HOME:-$HOME/.local/share}/agentwatch/venv" ;;
esac
VENV="${AGENTWATCH_VENV:-$DEFAULT_VENV}"
BIN_DIR="${AGENTWATCH_BIN_DIR:-$HOME/.local/bin}"

LINK="$BIN_DIR/agentwatch"
if [ -e "$LINK" ] && [ ! -L "$LINK" ]; then
    die "$LINK exists and is not a symlink; remove it (or set AGENTWATCH_BIN_DIR) and re-run"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/agentwatch-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# --- pick a Python ----------------------------------------------------------

# Prints "X.Y.Z" for the interpreter $1, or nothing if it does not run.
py_version() {
    "$1" -c 'import sys; print("%d.%d.%d" % tuple(sys.version_info[:3]))' 2>/dev/null || true
}

# True if the version string $1 ("X.Y.Z") is >= MIN_PY_MAJOR.MIN_PY_MINOR.
version_ok() {
    local major minor rest
    major=${1%%.*}
    rest=${1#*.}
    minor=${rest%%.*}
    case "$major$minor" in ''|*[!0-9]*) return 1 ;; esac
    [ "$major" -gt "$MIN_PY_MAJOR" ] \
        || { [ "$major" -eq "$MIN_PY_MAJOR" ] && [ "$minor" -ge "$MIN_PY_MINOR" ]; }
}

PY=""          # path of the chosen interpreter
PY_VER=""      # its version
FOUND=""       # what we saw, for the error message

# Sets PY/PY_VER and returns 0 if $1 is a new enough Python; notes it in FOUND.
try_python() {
    local path ver
    path=$(command -v "$1" 2>/dev/null) || return 1
    ver=$(py_version "$path")
    [ -n "$ver" ] || return 1
    FOUND="${FOUND:+$FOUND, }$path is Python $ver"
    version_ok "$ver" || return 1
    PY="$path"
    PY_VER="$ver"
}

if [ -n "${AGENTWATCH_PYTHON:-}" ]; then
    try_python "$AGENTWATCH_PYTHON" || true
else
    for cand in python3 python3.14 python3.13 python3.12 python3.11; do
        if try_python "$cand"; then break; fi
    done
fi

USE_UV=""
if [ -z "${AGENTWATCH_NO_UV:-}" ] && command -v uv >/dev/null 2>&1; then
    USE_UV=$(command -v uv)
fi

if [ -z "$PY" ] && [ -z "$USE_UV" ]; then
    if [ -n "$FOUND" ]; then
        die "agentwatch needs Python >= $MIN_PY_MAJOR.$MIN_PY_MINOR, but found only: $FOUND.
Install a newer Python (or set AGENTWATCH_PYTHON=/path/to/python3.11+) and re-run."
    else
        die "agentwatch needs Python >= $MIN_PY_MAJOR.$MIN_PY_MINOR, and no python3 was found on PATH${AGENTWATCH_PYTHON:+ (AGENTWATCH_PYTHON=$AGENTWATCH_PYTHON)}."
    fi
fi

# --- the venv ---------------------------------------------------------------

# Reuse an existing venv if it works with the installer we are going to use;
# otherwise (re)create it. Only ever delete something that is a venv.
venv_usable() {
    [ -x "$VENV/bin/python" ] || return 1
    local v
    v=$(py_version "$VENV/bin/python")
    [ -n "$v" ] || return 1
    version_ok "$v" || return 1
    if [ -z "$USE_UV" ]; then
        "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || return 1
    fi
    return 0
}

remove_venv() {
    if [ -e "$VENV" ]; then
        if [ -f "$VENV/pyvenv.cfg" ]; then
            rm -rf "$VENV"
        elif [ -d "$VENV" ] && [ -z "$(ls -A "$VENV")" ]; then
            rmdir "$VENV"
        else
            die "$VENV exists but is not a virtual environment; move it away or set AGENTWATCH_VENV"
        fi
    fi
}

debian_venv_hint() {
    local mm
    mm=$(printf '%s' "$PY_VER" | cut -d. -f1,2)
    printf '\nOn Debian/Ubuntu, the venv module comes in a separate package. Install it, then re-run this script:\n\n' >&2
    printf '    sudo apt-get install python3-venv\n\n' >&2
    printf '(If %s is not your distribution'"'"'s default python3, the package is python%s-venv.)\n' "$PY" "$mm" >&2
}

create_venv() {
    mkdir -p "$(dirname -- "$VENV")"
    if [ -n "$USE_UV" ]; then
        say "Creating virtual environment with uv: $VENV"
        # With no suitable python3 on PATH, let uv find (or fetch) one.
        if ! "$USE_UV" venv --quiet --python "${PY:->=$MIN_PY_MAJOR.$MIN_PY_MINOR}" "$VENV"; then
            remove_venv
            if [ -n "$FOUND" ]; then
                die "uv could not create a Python >= $MIN_PY_MAJOR.$MIN_PY_MINOR environment (found: $FOUND)"
            fi
            die "uv could not create a Python >= $MIN_PY_MAJOR.$MIN_PY_MINOR environment"
        fi
    else
        say "Creating virtual environment with $PY (Python $PY_VER): $VENV"
        if ! "$PY" -m venv "$VENV" 2>"$TMP/venv.err"; then
            cat "$TMP/venv.err" >&2
            remove_venv   # don't leave a half-made venv (python but no pip) behind
            printf 'error: %s -m venv failed.\n' "$PY" >&2
            if [ -f /etc/debian_version ] || grep -q -e ensurepip -e python3-venv "$TMP/venv.err" 2>/dev/null; then
                debian_venv_hint
            fi
            exit 1
        fi
    fi
}

if venv_usable; then
    say "Reusing virtual environment: $VENV"
else
    remove_venv
    create_venv
fi
VENV_PY="$VENV/bin/python"
[ -x "$VENV_PY" ] || die "no python in $VENV/bin after creating the venv"

# --- install the package ----------------------------------------------------

# Build from a clean copy of the checkout. Building in place would leave
# build/ and *.egg-info in the checkout, and setuptools' build/lib keeps
# modules that were since deleted, so a reinstall could ship stale files.
say "Copying $SRC_DIR to a clean build directory"
"$VENV_PY" - "$SRC_DIR" "$TMP/src" <<'PYEOF'
import shutil, sys
shutil.copytree(
    sys.argv[1], sys.argv[2], symlinks=True,
    ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__",
        ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", ".tox",
        "node_modules",
    ),
)
PYEOF

say "Installing agentwatch and its dependencies (this can take a minute)"
if [ -n "$USE_UV" ]; then
    "$USE_UV" pip install --quiet --python "$VENV_PY" --reinstall-package agentwatch "$TMP/src" \
        || die "uv pip install failed (see above)"
else
    # --upgrade reinstalls the package from the checkout even when the version
    # number did not change; dependencies are only upgraded when needed.
    "$VENV_PY" -m pip install --quiet --upgrade "$TMP/src" \
        || die "pip install failed (see above)"
fi

VERSION=$("$VENV_PY" -c 'from importlib.metadata import version; print(version("agentwatch"))') \
    || die "agentwatch does not seem to be installed in $VENV"
VENV_BIN="$VENV/bin/agentwatch"
[ -x "$VENV_BIN" ] || die "the install did not create $VENV_BIN"

if ! "$VENV_BIN" --help >/dev/null 2>"$TMP/help.err"; then
    cat "$TMP/help.err" >&2
    die "agentwatch $VERSION was installed in $VENV, but \`agentwatch --help\` fails (see above); not linking it into $BIN_DIR"
fi

# --- put it on the PATH -----------------------------------------------------

mkdir -p "$BIN_DIR"
if [ -L "$LINK" ]; then
    old_target=$(readlink "$LINK" || true)
    if [ "$old_target" != "$VENV_BIN" ]; then
        warn "replacing $LINK (it pointed to $old_target)"
    fi
fi
ln -sfn "$VENV_BIN" "$LINK"

# --- summary ----------------------------------------------------------------

# The way to write BIN_DIR in a shell start-up file.
case "$BIN_DIR" in
    "$HOME"/*) BIN_DIR_EXPR="\$HOME/${BIN_DIR#"$HOME"/}" ;;
    *)         BIN_DIR_EXPR="$BIN_DIR" ;;
esac

on_path=""
case ":${PATH:-}:" in
    *":$BIN_DIR:"*|*":$BIN_DIR/:"*) on_path=1 ;;
esac

echo
echo "agentwatch $VERSION installed."
echo "  command:  $LINK -> $VENV_BIN"
echo "  venv:     $VENV"
echo "  from:     $SRC_DIR   (re-run bash install.sh there to upgrade)"

if [ -z "$on_path" ]; then
    case "$(basename -- "${SHELL:-sh}")" in
        zsh)  rc="$HOME/.zshrc" ;;
        bash) if [ "$(uname -s)" = Darwin ]; then rc="$HOME/.bash_profile"; else rc="$HOME/.bashrc"; fi ;;
        *)    rc="$HOME/.profile" ;;
    esac
    echo
    warn "$BIN_DIR is not on your PATH. Add this line to $rc (then open a new shell):"
    # shellcheck disable=SC2016  # the $PATH is meant to stay literal here
    printf '\n    export PATH="%s:$PATH"\n\n' "$BIN_DIR_EXPR" >&2
    echo "Until then, run it as $LINK."
else
    resolved=$(command -v agentwatch 2>/dev/null || true)
    if [ -n "$resolved" ] && [ "$resolved" != "$LINK" ]; then
        warn "\`agentwatch\` on your PATH is $resolved, which comes before $LINK"
    fi
fi

echo
echo "Next:"
if [ -n "$on_path" ]; then
    echo "  agentwatch serve"
else
    echo "  $LINK serve"
fi
echo "and start your agent with OTLP pointed at it, e.g.:"
echo "  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318"
