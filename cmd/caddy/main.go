// Command caddy is Caddy with its standard modules and presign: what
// xcaddy.sh builds, buildable with a plain `go build ./cmd/caddy` from this
// module. Tests and benchmarks use it to run real Caddy processes.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-presign/presign"
)

func main() {
	caddycmd.Main()
}
