// The KMS of the cf-kms-* scenarios: local-kms with one RSA-2048 signing
// key, behind the harness's proxy that counts the kms:Sign calls.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/caddy-presign/presign/systest/harness"
)

// benchKMS is the local-kms that the kms_key routes sign through, and the
// counting proxy that Caddy calls it through.
type benchKMS struct {
	*harness.KMS
	proxy *harness.KMSProxy
	arn   string
	dir   string
}

func (k *benchKMS) stop() {
	if k == nil {
		return
	}
	k.proxy.Close()
	k.Stop()
	os.RemoveAll(k.dir)
}

// kmsRoute tells whether the route of prefix signs through KMS.
func kmsRoute(prefix string) bool {
	return slices.ContainsFunc(routes, func(r route) bool { return r.prefix == prefix && r.kms })
}

// startKMS starts local-kms, its key and its counting proxy in c.kms when
// a selected scenario signs through KMS.
func (c *config) startKMS(selected []scenario) error {
	if !slices.ContainsFunc(selected, func(s scenario) bool { return kmsRoute(s.prefix) }) {
		return nil
	}
	dir, err := os.MkdirTemp("", "loadbench-kms-")
	if err != nil {
		return err
	}
	k := &benchKMS{dir: dir}
	if k.KMS, err = harness.LaunchKMS(filepath.Join(harness.ToolsBin(), "local-kms"), dir, dir); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("%v (install it with ./scripts/tools.sh)", err)
	}
	if k.arn, err = k.NewKey("RSA_2048", "SIGN_VERIFY"); err == nil {
		k.proxy, err = harness.LaunchKMSProxy(k.Endpoint)
	}
	if err != nil {
		k.Stop()
		os.RemoveAll(dir)
		return err
	}
	c.kms = k
	return nil
}

// kmsEnv is what bench/Caddyfile needs of the KMS: BENCH_KMS_SITES, the
// file it imports (bench/kms.Caddyfile with a KMS; else an empty file
// written in dir), BENCH_KMS_KEY and BENCH_KMS_ENDPOINT (the proxy).
func (c *config) kmsEnv(repo, dir string) ([]string, error) {
	if c.kms == nil {
		none := filepath.Join(dir, "nokms.Caddyfile")
		return []string{"BENCH_KMS_SITES=" + none}, os.WriteFile(none, nil, 0o600)
	}
	return []string{
		"BENCH_KMS_SITES=" + filepath.Join(repo, "bench", "kms.Caddyfile"),
		"BENCH_KMS_KEY=" + c.kms.arn, "BENCH_KMS_ENDPOINT=" + c.kms.proxy.URL,
	}, nil
}

// signs is the number of kms:Sign calls Caddy has made; 0 without KMS.
func (c *config) signs() int64 {
	if c.kms == nil {
		return 0
	}
	return c.kms.proxy.Signs()
}
