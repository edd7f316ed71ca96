// Package systest holds the system tests of caddy-presign: the tests that
// run real servers and processes (versitygw, Azurite, Caddy built from ./cmd/caddy
// or run in the test binary, python3 with botocore, Chromium) and drive
// the module only through its configs and exported API. It is a module of
// its own (systest/go.mod), so that its dependencies (chromedp, the S3 SDK
// client, the Azure SDK's azblob, ...) stay out of the module users build. The shared harness is
// package systest/harness; the load benchmark is systest/loadbench.
//
// Run them from this directory: go test ./... (see docs/development.md).
package systest
