package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
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
// emulator) owned by one test: it keeps its keys in a t.TempDir(), so
// that Stop and Start again on the same port find them.
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
	k := &KMS{t: t, bin: LookTool(t, "local-kms"), dir: t.TempDir(), logDir: t.TempDir()}
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		k.port = Port(t)
		if err = k.start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	k.Endpoint = "http://127.0.0.1:" + strconv.Itoa(k.port)
	k.Client = kms.New(kms.Options{
		Region:       KMSRegion,
		BaseEndpoint: aws.String(k.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-checks-no-secret", ""),
	})
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() && k.proc != nil {
			t.Logf("harness: local-kms log (tail):\n%s", k.proc.Tail(4000))
		}
	})
	return k
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := k.Client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpec(spec), KeyUsage: types.KeyUsageType(usage)})
	if err != nil {
		k.t.Fatalf("harness: local-kms CreateKey %s %s: %v", spec, usage, err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}
