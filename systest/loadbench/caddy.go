// The Caddy under test and what it needs: its store, its key files and
// Caddyfiles, its process.

package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caddy-presign/presign/internal/gcsverify"
	"github.com/caddy-presign/presign/systest/harness"
)

// caddyProc is a running Caddy.
type caddyProc struct {
	*harness.Process
	ports   map[string]int    // by route prefix: /static/, /dl/, /cf/, /cfu/
	targets map[string]string // by route prefix: what the serve routes are asked for
	dir     string            // HOME, XDG directories and log
}

// route is a route prefix of bench/Caddyfile and its port variable; routes
// of one server share its variable. A browse route answers listings (200);
// the others redirect.
type route struct {
	prefix, env string
	browse      bool
	kms         bool // in bench/kms.Caddyfile, which Caddy loads only with a KMS running (c.kms): it checks the key at start
}

// routes are the routes of bench/Caddyfile; a Caddy serves those in its
// caddyProc.ports.
var routes = []route{
	{"/static/", "BENCH_PORT_STATIC", false, false},
	{"/static2/", "BENCH_PORT_STATIC2", false, false},
	{"/dl/", "BENCH_PORT_S3", false, false},
	{"/cf/", "BENCH_PORT_CF", false, false},
	{"/cfu/", "BENCH_PORT_CFU", false, false},
	{"/az/", "BENCH_PORT_AZ", false, false},
	{"/gcs/", "BENCH_PORT_GCS", false, false},
	{"/ce/", "BENCH_PORT_CE", false, false},
	{"/t1/", "BENCH_PORT_RULES", false, false},
	{"/t100/", "BENCH_PORT_RULES", false, false},
	{fmt.Sprintf("/t%d/", manyRules), "BENCH_PORT_RULES", false, false},
	{"/u1/", "BENCH_PORT_RULE1", false, false},
	{"/lk/", "BENCH_PORT_LOCAL", false, false},
	{"/cfk/", "BENCH_PORT_CFK", false, true},
	{"/cfku/", "BENCH_PORT_CFKU", false, true},
	{serveRoute, "BENCH_PORT_SERVE", false, false},
	{plainRoute, "BENCH_PORT_PLAIN", false, false},
	{fileServerRoute, "BENCH_PORT_FS", true, false},
	{"/s3b/", "BENCH_PORT_S3B", true, false},
	{"/gcsb/", "BENCH_PORT_GCSB", true, false},
	{"/azb/", "BENCH_PORT_AZB", true, false},
}

// fileServerRoute is Caddy's file_server browse on a local folder, the
// yardstick of the browse scenarios; its ready check finds a file (200).
const fileServerRoute = "/fs/"

// The serving routes: a signed 1 KiB file through the local guard and
// file_server, and file_server serving it unsigned; both answer 200 to
// their target (caddyProc.targets), in wrk's serve mode.
const (
	serveRoute = "/s/"
	plainRoute = "/plain/"
	serveFile  = "file.bin"
	// the key of bench/Caddyfile's local profiles: the bench's own
	benchLinkKeyID, benchLinkKey = "bench", "bench-link-key-0123456789abcdef0123456789"
)

// isServe tells whether prefix is a serving route.
func isServe(prefix string) bool { return prefix == serveRoute || prefix == plainRoute }

// writeServeDir writes the served folder: file.bin, 1 KiB of random
// bytes, and ready.
func writeServeDir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	body := make([]byte, 1024)
	rand.Read(body)
	if err := os.WriteFile(filepath.Join(dir, serveFile), body, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ready"), []byte("ready"), 0o600)
}

// mintLink is a link of the documented format v1 to path (clean, safe in
// a URL as it is), valid until exp, signed with the bench's key: what an
// application in another language would mint.
func mintLink(path string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	h := hmac.New(sha256.New, []byte(benchLinkKey))
	h.Write([]byte(strings.Join([]string{"presign-link-v1", "GET", path, e, "", "", "", benchLinkKeyID}, "\n")))
	return path + "?pl_v=1&pl_exp=" + e + "&pl_kid=" + benchLinkKeyID + "&pl_sig=" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// manyRules is the number of rules of the rule-lookup server.
const manyRules = 1000

// benchStore is the versitygw of the check_exists route.
type benchStore struct {
	*harness.S3
	dir string
}

func (s *benchStore) stop() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// startStore starts versitygw with the bucket bench-exists holding the
// objects the check_exists route is asked for (hot/object.bin, and ready
// for the start-up check), and sets the route's BENCH_S3_* variables.
func (c *config) startStore() (*benchStore, error) {
	dir, err := os.MkdirTemp("", "loadbench-s3-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s3srv, err := harness.LaunchS3(filepath.Join(harness.ToolsBin(), "versitygw"), data, dir, "AKBENCHEXISTS", "bench-exists-secret")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%v (install it with ./scripts/tools.sh)", err)
	}
	st := &benchStore{S3: s3srv, dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s3srv.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench-exists")}); err != nil {
		st.stop()
		return nil, fmt.Errorf("versitygw: create bucket: %v", err)
	}
	for _, key := range []string{"hot/object.bin", "ready"} {
		if _, err := s3srv.Client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("bench-exists"), Key: aws.String(key),
			Body: strings.NewReader("bench"),
		}); err != nil {
			st.stop()
			return nil, fmt.Errorf("versitygw: put %s: %v", key, err)
		}
	}
	c.storeEnv = []string{"BENCH_S3_ENDPOINT=" + s3srv.Endpoint, "BENCH_S3_ACCESS=" + s3srv.AccessKey, "BENCH_S3_SECRET=" + s3srv.SecretKey}
	return st, nil
}

// writeManyRules writes the Caddyfile that bench/Caddyfile imports as
// {$BENCH_MANYRULES}: the rule-lookup servers, each with one S3 profile
// (static keys: signing is local). BENCH_PORT_RULES has manyRules rules
// /t<i>/*, each with its own key prefix, so that requests under /t1/,
// /t100/ and /t1000/ measure rule 1, 100 and 1000 of 1000;
// BENCH_PORT_RULE1 has the one rule /u1/*, rule 1 of 1.
func writeManyRules(path string) error {
	var b strings.Builder
	server := func(port string, rules []string) {
		fmt.Fprintf(&b, "\nhttp://127.0.0.1:{$%s} {\n\tpresign {\n", port)
		b.WriteString("\t\tprofile s3 s3 {\n" + //nolint:dupword // a profile named s3 of kind s3
			"\t\t\tbucket bench-bucket\n\t\t\tregion us-east-1\n" +
			"\t\t\taccess_key_id AKIAIOSFODNN7EXAMPLE\n\t\t\tsecret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\t\t}\n")
		for _, r := range rules {
			fmt.Fprintf(&b, "\t\trule /%s/* {\n\t\t\tprofile s3\n\t\t\tstrip_prefix /%s\n\t\t\tkey %s/{presign.path}\n\t\t}\n", r, r, r)
		}
		b.WriteString("\t}\n}\n")
	}
	many := make([]string, manyRules)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i+1)
	}
	server("BENCH_PORT_RULES", many)
	server("BENCH_PORT_RULE1", []string{"u1"})
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func (c *config) startCaddy() (*caddyProc, error) {
	ports := map[string]int{}
	byEnv := map[string]int{}
	env := append(os.Environ(), c.storeEnv...)
	for _, r := range routes {
		if r.kms && c.kms == nil {
			continue
		}
		port, ok := byEnv[r.env]
		if !ok {
			var err error
			if port, err = harness.FreePort(); err != nil {
				return nil, err
			}
			byEnv[r.env] = port
			env = append(env, r.env+"="+strconv.Itoa(port))
		}
		ports[r.prefix] = port
	}
	dir, err := os.MkdirTemp("", "loadbench-caddy-")
	if err != nil {
		return nil, err
	}
	manyRulesFile := filepath.Join(dir, "manyrules.Caddyfile")
	if err := writeManyRules(manyRulesFile); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env = append(env, "BENCH_MANYRULES="+manyRulesFile)
	serveDir := filepath.Join(dir, "serve")
	if err := writeServeDir(serveDir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env = append(env, "BENCH_SERVE_DIR="+serveDir)
	// one hot link, valid for the whole run: the guard caches nothing, so
	// every request pays the full check (an HMAC-SHA256), as a distinct
	// link would; and both routes serve the very same file
	targets := map[string]string{
		serveRoute: mintLink(serveRoute+serveFile, time.Now().Add(24*time.Hour)),
		plainRoute: plainRoute + serveFile,
	}
	repo, _ := filepath.Abs(c.repo)
	kmsEnv, err := c.kmsEnv(repo, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env = append(env, kmsEnv...)
	gcsAccount, err := gcsverify.WriteAccount(filepath.Join(repo, "signers", "gcs", "testdata", "service-account"), dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	client := &http.Client{
		Timeout:       2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var wrong error // a route that answers, but not with its redirect
	proc, err := harness.StartProcess(harness.ProcessSpec{
		Path: c.caddy,
		Args: []string{"run", "--adapter", "caddyfile", "--config", filepath.Join(repo, "bench", "Caddyfile")},
		Env: append(env, // Caddy's data dir: nothing of the user's
			"BENCH_CF_KEY="+filepath.Join(repo, "signers", "cloudfront", "testdata", "cloudfront-rsa-pkcs1.pem"),
			"BENCH_GCS_KEY="+gcsAccount.File,
			"HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config")),
		LogPath: filepath.Join(dir, "caddy.log"),
		Timeout: 30 * time.Second,
		Ready: func() bool {
			for prefix, port := range ports {
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%sready", port, prefix))
				if err != nil {
					return false
				}
				resp.Body.Close()
				want := http.StatusFound
				switch prefix {
				case fileServerRoute, plainRoute:
					want = http.StatusOK
				case serveRoute: // unsigned
					want = http.StatusForbidden
				}
				if resp.StatusCode != want {
					wrong = fmt.Errorf("caddy answers %sready with %d, not %d", prefix, resp.StatusCode, want)
				}
			}
			return true
		},
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &caddyProc{Process: proc, ports: ports, targets: targets, dir: dir}
	if wrong != nil {
		p.stop()
		return nil, wrong
	}
	return p, nil
}

func (p *caddyProc) stop() {
	p.Stop(10 * time.Second)
	os.RemoveAll(p.dir)
}
