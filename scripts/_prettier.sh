# Prettier with OCA's XML plugin, for scripts/test (check) and scripts/format (write).
# The versions are pinned in .prettier-packages and installed with npm once per
# version of that file, under the cache (like the tools virtualenv).
# Sourced; needs SPA_REPO_ROOT.

SPA_PRETTIER_DIR=""

# spa_ensure_prettier CACHE_DIR: install the pinned prettier if needed; 1 on failure
spa_ensure_prettier() {
    local cache="$1" pins="$SPA_REPO_ROOT/.prettier-packages" dir log want
    if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
        echo "ERROR: prettier needs Node.js and npm (Debian: apt-get install nodejs npm)" >&2
        return 1
    fi
    want="$(sha256sum <"$pins" | cut -c1-16)"
    dir="$cache/prettier/$want"
    log="$dir.log"
    mkdir -p "$cache/prettier"
    if [[ ! -f "$dir/.complete" ]]; then
        if command -v flock >/dev/null 2>&1; then
            exec 8>"$dir.lock"
            flock 8
        fi
        if [[ ! -f "$dir/.complete" ]]; then
            echo "Installing prettier (.prettier-packages) into $dir ..."
            rm -rf "$dir"
            mkdir -p "$dir"
            # shellcheck disable=SC2046
            if ! npm install --prefix "$dir" --no-audit --no-fund --no-save \
                $(grep -v '^#' "$pins") >"$log" 2>&1; then
                tail -n 15 "$log" >&2
                echo "ERROR: could not install prettier (is the npm registry reachable? log: $log)" >&2
                rm -rf "$dir"
                exec 8>&-
                return 1
            fi
            touch "$dir/.complete"
        fi
        exec 8>&-
    fi
    SPA_PRETTIER_DIR="$dir/node_modules"
    return 0
}

# spa_prettier ARGS...: prettier on the repository's files of the kinds OCA formats
spa_prettier() {
    local files=() f
    while IFS= read -r -d '' f; do [[ -f "$SPA_REPO_ROOT/$f" ]] && files+=("$f"); done < <(
        git -C "$SPA_REPO_ROOT" ls-files -co --exclude-standard -z -- \
            '*.xml' '*.js' '*.scss' '*.css' '*.md' '*.yml' '*.yaml' '*.json' '*.html' 2>/dev/null)
    ((${#files[@]})) || return 0
    (cd "$SPA_REPO_ROOT" && "$SPA_PRETTIER_DIR/.bin/prettier" \
        --config .prettierrc.yml --ignore-path .prettierignore \
        --plugin "$SPA_PRETTIER_DIR/@prettier/plugin-xml/src/plugin.js" \
        "$@" "${files[@]}")
}
