# shellcheck shell=bash
# Shared by scripts/test and scripts/demo (sourced, not executed).
#
# Finds an Odoo 18.0 that a Python interpreter can import, and the pieces needed to
# run it against this addon. Environment variables understood:
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
    cat <<EOF
python3 cannot import Odoo 18.0 (set ODOO_PATH or install Odoo 18).
  interpreter: $ODOO_PY${ODOO_PATH:+ (ODOO_PATH=$ODOO_PATH)}
  reason:      ${SPA_ODOO_ERROR:-unknown}
  Fix: ODOO_PATH=/path/to/odoo-18.0-source (its Python requirements installed), or
       ODOO_PYTHON=/path/to/python-with-odoo-18, or: pip install -e /path/to/odoo-18.0
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
# spa_odoo_from_src unpacks an archive once into the cache, builds a virtualenv for
# it once (Odoo's requirements.txt with the Python 3.11 fix, plus
# requirements-odoo-test.txt: websocket-client, pytest-odoo and what the addon's
# tests import), reuses both while the archive and the requirements are unchanged,
# and points ODOO_PY / PYTHONPATH at them. The source tree is only read.
SPA_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/spa_session_protocol"

spa_sha() { sha256sum "$@" | sha256sum | cut -c1-16; }

# spa_odoo_src_tree SRC: print the source tree for SRC (unpacking an archive once).
spa_odoo_src_tree() {
    local src="$1" key dest tmp top
    if [[ -d "$src" ]]; then
        if [[ ! -f "$src/odoo/release.py" ]]; then
            echo "ODOO_SRC=$src is not an Odoo source tree (no odoo/release.py in it)" >&2
            return 1
        fi
        (cd "$src" && pwd -P)
        return 0
    fi
    if [[ ! -f "$src" ]]; then
        echo "ODOO_SRC=$src: no such file or directory" >&2
        return 1
    fi
    case "$src" in
    *.tar.gz | *.tgz | *.tar.xz | *.txz | *.tar.bz2 | *.tar) ;;
    *) echo "ODOO_SRC=$src is neither a directory nor a .tar.gz/.tar.xz archive" >&2; return 1 ;;
    esac
    key="$(spa_sha "$src")"
    dest="$SPA_CACHE_DIR/odoo-src/$key"
    if [[ ! -f "$dest/.complete" ]]; then
        echo "scripts: unpacking $src (once) into $dest" >&2
        rm -rf "$dest"
        tmp="$dest.part.$$"
        mkdir -p "$tmp" || return 1
        if ! tar -xf "$src" -C "$tmp"; then
            echo "ODOO_SRC=$src: could not unpack the archive" >&2
            rm -rf "$tmp"
            return 1
        fi
        top="$(find "$tmp" -mindepth 1 -maxdepth 3 -path '*/odoo/release.py' -printf '%h\n' | head -n 1)"
        if [[ -z "$top" ]]; then
            echo "ODOO_SRC=$src: the archive holds no Odoo source tree (no odoo/release.py)" >&2
            rm -rf "$tmp"
            return 1
        fi
        top="$(dirname "$top")"
        mv "$top" "$dest" && rm -rf "$tmp" && touch "$dest/.complete" || return 1
    fi
    printf '%s\n' "$dest"
}

# spa_odoo_venv TREE: print a virtualenv's python that imports Odoo from TREE
# (built once per TREE + requirements, reused afterwards).
spa_odoo_venv() {
    local tree="$1" base_py="${SPA_VENV_PYTHON:-python3}" key venv reqs extra
    reqs="$tree/requirements.txt"
    extra="$SPA_REPO_ROOT/requirements-odoo-test.txt"
    if [[ ! -f "$reqs" ]]; then
        echo "Odoo source $tree has no requirements.txt" >&2
        return 1
    fi
    key="$(printf '%s\n%s\n' "$tree" "$("$base_py" -c 'import sys; print(sys.version)')" \
        | cat - "$reqs" "$extra" | sha256sum | cut -c1-16)"
    venv="$SPA_CACHE_DIR/odoo-venv/$key"
    if [[ ! -f "$venv/.complete" ]]; then
        echo "scripts: building Odoo's virtualenv (once) in $venv" >&2
        rm -rf "$venv"
        "$base_py" -m venv "$venv" || { echo "could not create a virtualenv with $base_py" >&2; return 1; }
        # Odoo pins cbor2 5.4.2 for Python < 3.12, which does not build on 3.11 here;
        # 5.6.2 (its pin for 3.12+) works on both.
        sed -e 's/^cbor2==5\.4\.2.*/cbor2==5.6.2/' "$reqs" >"$venv/odoo-requirements.txt"
        if ! { "$venv/bin/python" -m pip install -q --upgrade pip wheel setuptools \
            && "$venv/bin/python" -m pip install -q -r "$venv/odoo-requirements.txt" -r "$extra"; }; then
            cat >&2 <<MSG
Could not install Odoo's Python requirements into $venv.
psycopg2 and python-ldap build from source: they need PostgreSQL's and OpenLDAP's
C headers (Debian: apt-get install libpq-dev libldap2-dev libsasl2-dev) and gcc.
MSG
            return 1
        fi
        touch "$venv/.complete"
    fi
    printf '%s\n' "$venv/bin/python"
}

# spa_use_odoo_src SRC: set ODOO_PY and PYTHONPATH to run Odoo from SRC.
spa_use_odoo_src() {
    local tree py
    tree="$(spa_odoo_src_tree "$1")" || return 1
    py="$(spa_odoo_venv "$tree")" || return 1
    ODOO_PY="$py"
    ODOO_PATH="$tree"
    export PYTHONPATH="$tree${PYTHONPATH:+:$PYTHONPATH}"
    # The tree may be read-only: keep Python's byte code out of it.
    export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$SPA_CACHE_DIR/pycache}"
    return 0
}

if [[ -n "${ODOO_SRC:-}" ]]; then
    spa_use_odoo_src "$ODOO_SRC" || SPA_ODOO_SRC_FAILED=1
fi
