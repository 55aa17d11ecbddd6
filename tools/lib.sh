# Shared by the tools/*/build scripts (sourced; each runs in its own tool's directory).
set -euo pipefail

# The version of a Python SDK as requirements.txt pins it (`name==X.Y.Z`): a plugin must report it.
sdk_version() {
  sed -n "s/^$1==\([0-9.]*\).*/\1/p" "$VERSIONS_FILE" | grep . || { echo "no '$1==' pin in $VERSIONS_FILE" >&2; return 1; }
}

# The version this tool's go.mod selects for a module.
module_version() { go list -m -f '{{.Version}}' "$1"; }

# The directory of a module in the module cache (downloading it if needed).
module_dir() { go mod download -json "$1@$(module_version "$1")" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }

# A package schema as a plugin embeds it: compact, with the plugin's version set.
embed_schema() {  # SRC VERSION DEST
  python3 - "$@" <<'PY'
import json, sys
src, version, dest = sys.argv[1:]
schema = json.load(open(src))
schema["version"] = version
json.dump(schema, open(dest, "w"), separators=(",", ":"))
PY
}
