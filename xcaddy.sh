#!/usr/bin/env bash
# Builds ./caddy: Caddy with the presign module from this checkout, through
# xcaddy, the way users build it (`xcaddy build --with
# github.com/caddy-presign/presign`). The module proxy here refuses
# unpublished module paths, so the local checkout is named with an explicit
# version: --with github.com/caddy-presign/presign@v0.0.0=.
#
#   ./xcaddy.sh                 # Caddy v2.11.9 (the version go.mod pins)
#   CADDY_VERSION=v2.11.8 ./xcaddy.sh
#   ./xcaddy.sh --with github.com/mholt/caddy-ratelimit   # more plugins
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./scripts/tools.sh go >/dev/null
XCADDY="$PWD/.tools/bin/xcaddy"
CADDY_VERSION="${CADDY_VERSION:-$(go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)}"
echo "xcaddy.sh: building ./caddy (Caddy $CADDY_VERSION with github.com/caddy-presign/presign from $PWD)"
"$XCADDY" build "$CADDY_VERSION" \
	--output ./caddy \
	--with "github.com/caddy-presign/presign@v0.0.0=." \
	"$@"
mods=$(./caddy list-modules)
grep -qx 'http.handlers.presign' <<<"$mods" || {
	echo "xcaddy.sh: ./caddy was built but lacks http.handlers.presign" >&2
	exit 1
}
echo "xcaddy.sh: ./caddy $(./caddy version | cut -d' ' -f1) with http.handlers.presign"
