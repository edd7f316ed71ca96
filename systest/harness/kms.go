package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSRegion is the region local-kms serves, and its keys' ARNs name.
const KMSRegion = "eu-west-2"

// KMS is a running local-kms (github.com/nsmithuk/local-kms, an AWS KMS
// emulator) owned by one test (StartKMS) or program (LaunchKMS): it keeps
// its keys in a directory of its own, so that Stop and Restart on the same
// port find them.
type KMS struct {
	// Endpoint is "http://127.0.0.1:PORT".
	Endpoint string
	// Client calls it (any credentials: local-kms checks none).
	Client *kms.Client

	t      testing.TB
	bin    string
	port   int
	dir    string
	logDir string
	starts int
	proc   *Process
}

// StartKMS starts local-kms on a free loopback port with an empty key
// store, waits until it answers, and stops it in t.Cleanup. A missing
// local-kms fails the test in CI and skips it elsewhere (Missing).
func StartKMS(t testing.TB) *KMS {
	t.Helper()
	k, err := LaunchKMS(LookTool(t, "local-kms"), t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	k.t = t
	t.Cleanup(func() {
		// the log before Stop, which forgets the process
		if t.Failed() && k.proc != nil {
			t.Logf("harness: local-kms log (tail):\n%s", k.proc.Tail(4000))
		}
		k.Stop()
	})
	return k
}

// LaunchKMS is StartKMS for programs (the load benchmark): local-kms bin
// with its key store in dir and its logs in logDir. The caller stops it
// with Stop, and creates keys with NewKey (CreateKey and Restart are for
// tests).
func LaunchKMS(bin, dir, logDir string) (*KMS, error) {
	k := &KMS{bin: bin, dir: dir, logDir: logDir}
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		if k.port, err = FreePort(); err != nil {
			return nil, err
		}
		if err = k.start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	k.Endpoint = "http://127.0.0.1:" + strconv.Itoa(k.port)
	k.Client = kms.New(kms.Options{
		Region:       KMSRegion,
		BaseEndpoint: aws.String(k.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-checks-no-secret", ""),
	})
	return k, nil
}

// start starts local-kms on k.port with k.dir as its key store.
func (k *KMS) start() error {
	k.starts++
	hc := &http.Client{Timeout: 2 * time.Second}
	base := "http://127.0.0.1:" + strconv.Itoa(k.port)
	var err error
	k.proc, err = StartProcess(ProcessSpec{
		Path: k.bin,
		Env: environ(func(name string) bool { return strings.HasPrefix(name, "KMS_") || name == "PORT" || name == "REGION" },
			"PORT="+strconv.Itoa(k.port), "KMS_REGION="+KMSRegion, "KMS_ACCOUNT_ID=111122223333",
			"KMS_DATA_PATH="+k.dir, "KMS_SEED_PATH="+filepath.Join(k.dir, "no-seed.yaml")),
		LogPath: filepath.Join(k.logDir, fmt.Sprintf("local-kms-%d.log", k.starts)),
		// any HTTP answer means it serves
		Ready: func() bool {
			resp, err := hc.Get(base + "/")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			return err == nil
		},
	})
	if err != nil {
		return fmt.Errorf("local-kms did not start: %v", err)
	}
	return nil
}

// Stop stops local-kms now, for tests of a KMS that went away.
func (k *KMS) Stop() {
	if k.proc != nil {
		k.proc.Stop(0)
		k.proc = nil
	}
}

// Restart starts local-kms again on the same port with the same keys.
func (k *KMS) Restart() {
	k.t.Helper()
	k.Stop()
	if err := k.start(); err != nil {
		k.t.Fatalf("harness: %v", err)
	}
}

// CreateKey creates a key of spec and usage (e.g. "RSA_2048",
// "SIGN_VERIFY") and returns its ARN.
func (k *KMS) CreateKey(spec, usage string) string {
	k.t.Helper()
	arn, err := k.NewKey(spec, usage)
	if err != nil {
		k.t.Fatalf("harness: %v", err)
	}
	return arn
}

// NewKey is CreateKey for programs: it returns the error.
func (k *KMS) NewKey(spec, usage string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := k.Client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpec(spec), KeyUsage: types.KeyUsageType(usage)})
	if err != nil {
		return "", fmt.Errorf("local-kms CreateKey %s %s: %v", spec, usage, err)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// KMSProxy is a reverse proxy in front of a KMS that counts the kms:Sign
// calls passing through it: point kms_endpoint at URL to see how often
// Caddy signs remotely.
type KMSProxy struct {
	// URL is "http://127.0.0.1:PORT".
	URL string

	srv   *httptest.Server
	signs atomic.Int64
}

// StartKMSProxy starts a KMSProxy in front of k, closed in t.Cleanup.
func StartKMSProxy(t testing.TB, k *KMS) *KMSProxy {
	t.Helper()
	p, err := LaunchKMSProxy(k.Endpoint)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// LaunchKMSProxy is StartKMSProxy for programs, in front of the KMS at
// endpoint: the caller closes it with Close.
func LaunchKMSProxy(endpoint string) (*KMSProxy, error) {
	target, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("KMS proxy: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("KMS proxy: %v", err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	// as many idle connections as Caddy opens: no new one per call under load
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	p := &KMSProxy{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// the AWS JSON protocol names the operation in X-Amz-Target
		if r.Header.Get("X-Amz-Target") == "TrentService.Sign" {
			p.signs.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	p.srv.Listener = l
	p.srv.Start()
	p.URL = p.srv.URL
	return p, nil
}

// Signs is the number of kms:Sign calls the proxy has seen.
func (p *KMSProxy) Signs() int64 { return p.signs.Load() }

// Close stops the proxy.
func (p *KMSProxy) Close() { p.srv.Close() }
