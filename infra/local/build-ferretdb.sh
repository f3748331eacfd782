#!/usr/bin/env bash
# Builds FerretDB v1.24.2 (MongoDB wire protocol on SQLite) into .tools/bin.
#
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` is tried first.
# The module zip lacks build/version/version.txt, so a binary built that way
# panics at start ("Invalid build/version/version.txt file content"), and the
# proxy may refuse the module's version list that `go install` reads. FerretDB's
# docs say to create that file; so we build the same v1.24.2 sources from the
# module cache with it added.
set -euo pipefail
VERSION=v1.24.2
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/.tools/bin/ferretdb"
mkdir -p "$root/.tools/bin"

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "version: $VERSION"; then
  exit 0
fi

if GOBIN="$root/.tools/bin" go install "github.com/FerretDB/FerretDB/cmd/ferretdb@$VERSION" 2>/dev/null \
  && "$bin" --version 2>/dev/null | grep -q "version: $VERSION"; then
  exit 0
fi

echo "building FerretDB $VERSION from the module cache (first build takes a few minutes)" >&2
dir=$(go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
src="$root/.tools/src/ferretdb"
rm -rf "$src"
mkdir -p "$(dirname "$src")"
cp -r "$dir" "$src"
chmod -R u+w "$src"
echo "$VERSION" > "$src/build/version/version.txt"
(cd "$src" && go build -trimpath -o "$bin" ./cmd/ferretdb)
"$bin" --version | grep -q "version: $VERSION"
