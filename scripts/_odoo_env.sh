# shellcheck shell=bash
# Shared by scripts/test and scripts/demo (sourced, not executed).
#
# Finds an Odoo 18.0 that a Python interpreter can import, and the pieces needed to
# run it against this addon. Environment variables understood:
#   ODOO_SRC          an Odoo 18.0 source tree or archive to run (see below)
#   ODOO_PYTHON       interpreter that imports odoo (default: python3)
#   ODOO_PATH         an Odoo source tree (the directory holding the "odoo" package),
#                     prepended to PYTHONPATH
#   ODOO_ADDONS_PATH  comma-separated core addons directories (default: found next
#                     to the odoo package)
#   SPA_ADDON_DIR     the addon directory to run (default: this repository); a
#                     developer option used to check the harness itself
#   PGHOST PGPORT PGUSER PGPASSWORD
#                     PostgreSQL connection, passed on to Odoo when set (libpq
#                     defaults otherwise: local socket, current user)

SPA_MODULE=spa_session_protocol
SPA_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
SPA_ADDON_DIR="${SPA_ADDON_DIR:-$SPA_REPO_ROOT}"
SPA_ADDON_DIR="$(cd "$SPA_ADDON_DIR" && pwd -P)"
ODOO_PY="${ODOO_PYTHON:-python3}"
if [[ -n "${ODOO_PATH:-}" ]]; then
    export PYTHONPATH="${ODOO_PATH}${PYTHONPATH:+:$PYTHONPATH}"
fi

ODOO_SERIES=""
ODOO_PKG_DIR=""
ODOO_CORE_ADDONS=""
SPA_ODOO_ERROR=""

# spa_find_odoo: 0 when $ODOO_PY imports Odoo 18.0; fills ODOO_SERIES, ODOO_PKG_DIR,
# ODOO_CORE_ADDONS. Otherwise 1, with the reason in SPA_ODOO_ERROR.
spa_find_odoo() {
    local out rc
    out="$(cd / && "$ODOO_PY" - 2>&1 <<'PY'
import os
import sys

try:
    import odoo
    import odoo.release
except Exception as exc:  # any import problem means "no usable Odoo"
    sys.stdout.write(f"ERR {type(exc).__name__}: {exc}\n")
    sys.exit(3)
sys.stdout.write(f"SERIES {odoo.release.series}\n")
sys.stdout.write(f"PKG {os.path.dirname(os.path.realpath(odoo.__file__))}\n")
PY
)"
    rc=$?
    if [[ $rc -ne 0 ]]; then
        SPA_ODOO_ERROR="$(printf '%s\n' "$out" | grep -E '^ERR ' | tail -n 1 | cut -c5-)"
        [[ -n "$SPA_ODOO_ERROR" ]] || SPA_ODOO_ERROR="'$ODOO_PY' failed (exit $rc): $(printf '%s\n' "$out" | tail -n 1)"
        return 1
    fi
    ODOO_SERIES="$(printf '%s\n' "$out" | sed -n 's/^SERIES //p')"
    ODOO_PKG_DIR="$(printf '%s\n' "$out" | sed -n 's/^PKG //p')"
    if [[ "$ODOO_SERIES" != "18.0" ]]; then
        SPA_ODOO_ERROR="'$ODOO_PY' imports Odoo $ODOO_SERIES from $ODOO_PKG_DIR, not 18.0"
        return 1
    fi
    if [[ -n "${ODOO_ADDONS_PATH:-}" ]]; then
        ODOO_CORE_ADDONS="$ODOO_ADDONS_PATH"
    else
        # odoo/addons (base, ...) always; the source tree's top-level addons/ (web,
        # mail, calendar, ...) when Odoo runs from a checkout.
        ODOO_CORE_ADDONS="$ODOO_PKG_DIR/addons"
        local beside
        beside="$(dirname "$ODOO_PKG_DIR")/addons"
        if [[ -f "$beside/web/__manifest__.py" ]]; then
            ODOO_CORE_ADDONS="$beside,$ODOO_CORE_ADDONS"
        fi
    fi
    return 0
}

spa_no_odoo_text() {
    if [[ -n "${SPA_ODOO_SRC_FAILED:-}" ]]; then
        cat <<EOF
Odoo could not be set up from ODOO_SRC=${ODOO_SRC:-}.
  reason:      ${SPA_ODOO_ERROR:-unknown}
  Fix: ODOO_SRC=/path/to/odoo-18.0 (a source tree) or /path/to/odoo-18.0.tar.xz (an
       archive of one, as Odoo publishes them); see the messages above.
EOF
        return
    fi
    cat <<EOF
$ODOO_PY cannot import Odoo 18.0.
  interpreter: $ODOO_PY${ODOO_PATH:+ (ODOO_PATH=$ODOO_PATH)}
  reason:      ${SPA_ODOO_ERROR:-unknown}
  Fix: ODOO_SRC=/path/to/odoo-18.0[.tar.xz] (a source tree or archive: the scripts set
       up its virtualenv once), or ODOO_PATH=/path/to/odoo-18.0-source (its Python
       requirements installed), or ODOO_PYTHON=/path/to/python-with-odoo-18
EOF
}

# spa_db_args: Odoo command-line options for the PostgreSQL connection, only for the
# PG* variables that are set (Odoo refuses the "postgres" role on its own).
spa_db_args() {
    SPA_DB_ARGS=()
    [[ -n "${PGHOST:-}" ]] && SPA_DB_ARGS+=("--db_host=$PGHOST")
    [[ -n "${PGPORT:-}" ]] && SPA_DB_ARGS+=("--db_port=$PGPORT")
    [[ -n "${PGUSER:-}" ]] && SPA_DB_ARGS+=("--db_user=$PGUSER")
    [[ -n "${PGPASSWORD:-}" ]] && SPA_DB_ARGS+=("--db_password=$PGPASSWORD")
    return 0
}

# spa_link_addon DIR: DIR/spa_session_protocol -> the addon, so that Odoo sees the
# checkout under the module's name whatever the checkout directory is called.
spa_link_addon() {
    mkdir -p "$1"
    ln -sfn "$SPA_ADDON_DIR" "$1/$SPA_MODULE"
}

spa_free_port() {
    "$ODOO_PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# spa_sql DBNAME SQL: run one statement through psycopg2 (always present next to
# Odoo), print the first column of each row. Uses the same PG* environment as Odoo.
spa_sql() {
    "$ODOO_PY" - "$1" "$2" <<'PY'
import sys

import psycopg2

conn = psycopg2.connect(dbname=sys.argv[1])
conn.autocommit = True
with conn.cursor() as cr:
    cr.execute(sys.argv[2])
    if cr.description:
        for row in cr.fetchall():
            sys.stdout.write(f"{row[0]}\n")
conn.close()
PY
}

spa_db_exists() {
    [[ "$(spa_sql postgres "SELECT 1 FROM pg_database WHERE datname = '$1'" 2>/dev/null)" == "1" ]]
}

# spa_drop_db NAME [FILESTORE_ROOT]: drop a database (and its filestore) if it exists.
spa_drop_db() {
    local db="$1"
    [[ "$db" =~ ^[A-Za-z0-9_]+$ ]] || return 1
    spa_sql postgres "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 \
        || spa_sql postgres "DROP DATABASE IF EXISTS \"$db\"" >/dev/null
    if [[ -n "${2:-}" && -d "$2/filestore/$db" ]]; then
        rm -rf "${2:?}/filestore/$db"
    fi
}

# spa_module_state DB: state of the addon in ir_module_module ("installed", ...).
spa_module_state() {
    spa_sql "$1" "SELECT state FROM ir_module_module WHERE name = '$SPA_MODULE'" 2>/dev/null
}

# ---------------------------------------------------------------------------------
# Odoo from a source tree or archive (ODOO_SRC)
#
#   ODOO_SRC=/path/to/odoo-18.0            an Odoo 18.0 source tree (odoo-bin, odoo/,
#                                          addons/, requirements.txt), or
#   ODOO_SRC=/path/to/odoo-18.0.tar.xz     a .tar.gz/.tgz/.tar.xz/.tar.bz2 of one
#
# spa_use_odoo_src unpacks an archive once into the cache, builds a virtualenv for
# it once (Odoo's requirements.txt with the Python 3.11 fix, plus
# requirements-odoo-test.txt: websocket-client, pytest-odoo and what the addon's
# tests import), reuses both while the archive and the requirements are unchanged,
# and points ODOO_PY / PYTHONPATH at them. The source tree is only read. When it
# fails, SPA_ODOO_SRC_FAILED=1 and SPA_ODOO_ERROR says why: the scripts then stop
# with that message instead of looking for another Odoo.
SPA_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/spa_session_protocol"
SPA_ODOO_SRC_FAILED=""

# spa_sha FILE: a short digest of the content only (not the name: a moved archive is
# the same archive)
spa_sha() { sha256sum <"$1" | cut -c1-16; }

# spa_lock NAME: serialise set-up steps between concurrent runs sharing the cache
# (file descriptor 8, released when the calling shell exits or runs spa_unlock).
spa_lock() {
    command -v flock >/dev/null 2>&1 || return 0
    mkdir -p "$SPA_CACHE_DIR" && exec 8>"$SPA_CACHE_DIR/$1.lock" && flock 8
}
spa_unlock() { command -v flock >/dev/null 2>&1 && exec 8>&-; return 0; }

# spa_src_fail MESSAGE: report why ODOO_SRC cannot be used (stderr + SPA_ODOO_ERROR).
spa_src_fail() {
    SPA_ODOO_ERROR="$1"
    echo "ERROR: $1" >&2
    spa_unlock
    return 1
}

# spa_odoo_src_tree SRC: set SPA_ODOO_TREE to the source tree for SRC (unpacking an
# archive once).
spa_odoo_src_tree() {
    local src="$1" key dest tmp top t0=$SECONDS
    SPA_ODOO_TREE=""
    if [[ -d "$src" ]]; then
        [[ -f "$src/odoo/release.py" && -f "$src/requirements.txt" ]] \
            || spa_src_fail "ODOO_SRC=$src is not an Odoo source tree (no odoo/release.py or requirements.txt in it)" \
            || return 1
        SPA_ODOO_TREE="$(cd "$src" && pwd -P)"
        return 0
    fi
    [[ -e "$src" ]] || spa_src_fail "ODOO_SRC=$src: no such file or directory" || return 1
    [[ -r "$src" ]] || spa_src_fail "ODOO_SRC=$src: the archive is not readable" || return 1
    case "$src" in
    *.tar.gz | *.tgz | *.tar.xz | *.txz | *.tar.bz2 | *.tar) ;;
    *) spa_src_fail "ODOO_SRC=$src is neither a directory nor a .tar.gz/.tar.xz/.tar.bz2 archive"; return 1 ;;
    esac
    key="$(spa_sha "$src")"
    dest="$SPA_CACHE_DIR/odoo-src/$key"
    if [[ ! -f "$dest/.complete" ]]; then
        spa_lock odoo-src
    fi
    if [[ ! -f "$dest/.complete" ]]; then
        echo "scripts: unpacking $src (once) into $dest" >&2
        rm -rf "$dest"
        tmp="$dest.part.$$"
        mkdir -p "$tmp" || spa_src_fail "cannot create $tmp" || return 1
        if ! tar -xf "$src" -C "$tmp"; then
            rm -rf "$tmp"
            spa_src_fail "ODOO_SRC=$src: could not unpack the archive (is it complete?)"
            return 1
        fi
        top="$(find "$tmp" -mindepth 1 -maxdepth 3 -path '*/odoo/release.py' -printf '%h\n' | head -n 1)"
        if [[ -z "$top" || ! -f "$(dirname "$top")/requirements.txt" ]]; then
            rm -rf "$tmp"
            spa_src_fail "ODOO_SRC=$src: the archive holds no Odoo source tree (no odoo/release.py and requirements.txt)"
            return 1
        fi
        top="$(dirname "$top")"
        { mv "$top" "$dest" && rm -rf "$tmp" && touch "$dest/.complete"; } \
            || spa_src_fail "could not move the unpacked tree to $dest" || return 1
        echo "scripts: unpacked in $((SECONDS - t0)) s" >&2
    fi
    spa_unlock
    SPA_ODOO_TREE="$dest"
}

# spa_odoo_venv TREE: set SPA_ODOO_VENV_PY to a virtualenv's python for TREE (built
# once per TREE + requirements + base Python, reused afterwards).
spa_odoo_venv() {
    local tree="$1" base_py="${SPA_VENV_PYTHON:-python3}" key venv reqs extra t0=$SECONDS
    SPA_ODOO_VENV_PY=""
    reqs="$tree/requirements.txt"
    extra="$SPA_REPO_ROOT/requirements-odoo-test.txt"
    command -v "$base_py" >/dev/null 2>&1 \
        || spa_src_fail "'$base_py' not found: it is needed to build Odoo's virtualenv (set SPA_VENV_PYTHON)" \
        || return 1
    key="$(printf '%s\n%s\n' "$tree" "$("$base_py" -c 'import sys; print(sys.version)')" \
        | cat - "$reqs" "$extra" | sha256sum | cut -c1-16)"
    venv="$SPA_CACHE_DIR/odoo-venv/$key"
    if [[ ! -f "$venv/.complete" ]]; then
        spa_lock odoo-venv
    fi
    if [[ ! -f "$venv/.complete" ]]; then
        echo "scripts: building Odoo's virtualenv (once, a few minutes) in $venv" >&2
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        if ! "$base_py" -m venv "$venv" >"$venv.log" 2>&1; then
            cat "$venv.log" >&2
            rm -rf "$venv"
            spa_src_fail "could not create a virtualenv with $base_py (Debian: apt-get install python3-venv)"
            return 1
        fi
        # Odoo pins cbor2 5.4.2 for Python < 3.12, which does not build on 3.11 here;
        # 5.6.2 (its pin for 3.12+) works on both.
        sed -e 's/^cbor2==5\.4\.2.*/cbor2==5.6.2/' "$reqs" >"$venv/odoo-requirements.txt"
        if ! { PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q \
            --upgrade pip wheel setuptools \
            && PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q \
                -r "$venv/odoo-requirements.txt" -r "$extra"; } >>"$venv.log" 2>&1; then
            tail -n 25 "$venv.log" >&2
            rm -rf "$venv"
            spa_src_fail "could not install Odoo's Python requirements (log: $venv.log). psycopg2 and python-ldap build from source: they need gcc, Python's headers and PostgreSQL's and OpenLDAP's C headers (Debian: apt-get install gcc python3-dev libpq-dev libldap2-dev libsasl2-dev); the packages come from PyPI (is it reachable?)"
            return 1
        fi
        touch "$venv/.complete"
        echo "scripts: Odoo's virtualenv built in $((SECONDS - t0)) s" >&2
    fi
    spa_unlock
    SPA_ODOO_VENV_PY="$venv/bin/python"
}

# spa_use_odoo_src SRC: set ODOO_PY and PYTHONPATH to run Odoo from SRC.
spa_use_odoo_src() {
    spa_odoo_src_tree "$1" || return 1
    spa_odoo_venv "$SPA_ODOO_TREE" || return 1
    ODOO_PY="$SPA_ODOO_VENV_PY"
    ODOO_PATH="$SPA_ODOO_TREE"
    export PYTHONPATH="$SPA_ODOO_TREE${PYTHONPATH:+:$PYTHONPATH}"
    # The tree may be read-only: keep Python's byte code out of it.
    export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$SPA_CACHE_DIR/pycache}"
    return 0
}

# spa_require_odoo: 0 when an Odoo 18.0 can be run (from ODOO_SRC, ODOO_PYTHON or
# python3); otherwise 1 with the reason in SPA_ODOO_ERROR.
spa_require_odoo() {
    [[ -z "$SPA_ODOO_SRC_FAILED" ]] || return 1
    spa_find_odoo
}

if [[ -n "${ODOO_SRC:-}" ]]; then
    spa_use_odoo_src "$ODOO_SRC" || SPA_ODOO_SRC_FAILED=1
fi
