package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3Region is the region every server started by StartS3 runs in.
const S3Region = "us-east-1"

// S3 is a running versitygw server (posix backend) owned by one test.
type S3 struct {
	// Endpoint is the base URL, "http://127.0.0.1:PORT" (no trailing slash).
	// Buckets are addressed path-style: Endpoint + "/" + bucket + "/" + key.
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	// Dir is the posix backend root: Dir/<bucket>/<key> is the object's file.
	Dir string
	// Client is a path-style SDK client with the root credentials, for test
	// setup and checks.
	Client *s3.Client

	logPath string
}

// startTimeout bounds how long StartS3 waits for versitygw to answer.
const startTimeout = 20 * time.Second

// StartS3 starts versitygw on a free loopback port, with a fresh empty
// t.TempDir() as backend and random credentials, waits until it answers HTTP,
// and stops it (kill, wait) in t.Cleanup. A start takes well under a second.
// If versitygw is not installed the test fails in CI and is skipped
// elsewhere (see Missing).
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := LookTool(t, "versitygw")
	s := &S3{
		Region:    S3Region,
		AccessKey: "AK" + strings.ToUpper(randHex(t, 9)),
		SecretKey: randHex(t, 20),
		Dir:       t.TempDir(),
	}
	logDir := t.TempDir()
	var lastErr error
	for attempt := 1; attempt <= 5; attempt++ {
		s.logPath = filepath.Join(logDir, fmt.Sprintf("versitygw-%d.log", attempt))
		err := s.start(t, bin)
		if err == nil {
			s.Client = s.newClient()
			return s
		}
		lastErr = err
		// Another process may have taken the port between our probe and
		// versitygw's bind: try again with another port.
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("testenv: versitygw did not start: %v", lastErr)
	return nil
}

func (s *S3) start(t testing.TB, bin string) error {
	t.Helper()
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin,
		"--port", addr,
		"--access", s.AccessKey,
		"--secret", s.SecretKey,
		"--region", s.Region,
		"posix", s.Dir)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	logf.Close() // the child has its own descriptor
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	endpoint := "http://" + addr
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited before answering (%v); its output:\n%s", waitErr, s.logTail(4000))
		default:
		}
		resp, err := hc.Get(endpoint + "/")
		if err == nil {
			// Any HTTP answer (an unsigned request gets 403) means it serves.
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("versitygw did not answer on %s within %v (last error: %v); its output:\n%s",
				endpoint, startTimeout, err, s.logTail(4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Endpoint = endpoint
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("testenv: versitygw %s log (tail):\n%s", endpoint, s.logTail(8000))
		}
	})
	return nil
}

// LogTail returns the last n bytes of the server's output (request log and
// errors), for diagnosing a failed test.
func (s *S3) LogTail(n int) string { return s.logTail(n) }

func (s *S3) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = append([]byte("..."), b[len(b)-n:]...)
	}
	return string(b)
}

func (s *S3) newClient() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// childEnv is the environment without the variables versitygw reads as
// settings, so that flags alone decide how it runs.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "VGW_") || strings.HasPrefix(name, "ROOT_") ||
			name == "LOGFILE" || name == "WEBHOOK" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	return hex.EncodeToString(b)
}

func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// CreateBucket creates bucket name, failing the test on error.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	c, cancel := opCtx()
	defer cancel()
	if _, err := s.Client.CreateBucket(c, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("testenv: create bucket %q: %v", name, err)
	}
}

// Put stores body under bucket/key with the given Content-Type (none if ""),
// failing the test on error.
func (s *S3) Put(t testing.TB, bucket, key string, body []byte, contentType string) {
	t.Helper()
	in := &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   bytes.NewReader(body),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	c, cancel := opCtx()
	defer cancel()
	if _, err := s.Client.PutObject(c, in); err != nil {
		t.Fatalf("testenv: put %s/%q: %v", bucket, key, err)
	}
}

// Get returns the bytes of bucket/key, or the SDK's error (for example a
// *types.NoSuchKey when the object does not exist; see IsNotFound).
func (s *S3) Get(t testing.TB, bucket, key string) ([]byte, error) {
	t.Helper()
	c, cancel := opCtx()
	defer cancel()
	out, err := s.Client.GetObject(c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Exists reports whether bucket/key exists (HEAD). Errors other than "not
// found" fail the test.
func (s *S3) Exists(t testing.TB, bucket, key string) bool {
	t.Helper()
	c, cancel := opCtx()
	defer cancel()
	_, err := s.Client.HeadObject(c, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return true
	}
	if IsNotFound(err) {
		return false
	}
	t.Fatalf("testenv: head %s/%q: %v", bucket, key, err)
	return false
}

// IsNotFound reports whether err is an S3 "no such key/bucket" error.
func IsNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "NoSuchBucket":
			return true
		}
	}
	return false
}
