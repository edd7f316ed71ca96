// Package local is the profile kind "local" (module
// http.handlers.presign.profiles.local): links that Caddy signs and Caddy
// checks, for files it serves itself (file_server, reverse_proxy) under
// the profile's serve prefix, here or on another Caddy that shares the
// keys. It is a signers.Guard: the handler asks it about every request
// under that prefix.
//
// The files:
//
//	local.go  the profile: its config, Provision, CheckRule, the Caddyfile
//	link.go   the link format (version 1): its canonical string, HMAC-SHA256, parsing
//	folder.go folder links (resource): the token in the path
//	cookie.go cookies (cookies): the presign-link cookie of a folder or a file
//	sign.go   Sign and Bind; Admit, the check of a request under serve
//	store.go  Store over root through os.Root: browse and check_exists
package local
