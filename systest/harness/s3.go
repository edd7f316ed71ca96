package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

	proc *Process
}

// StartS3 starts versitygw on a free loopback port, with a fresh empty
// t.TempDir() as backend and random credentials, waits until it answers HTTP,
// and stops it in t.Cleanup. A start takes well under a second. If
// versitygw is not installed the test fails in CI and is skipped elsewhere
// (see Missing).
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := LookTool(t, "versitygw")
	s, err := LaunchS3(bin, t.TempDir(), t.TempDir(), "AK"+strings.ToUpper(randHex(t, 9)), randHex(t, 20))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("harness: versitygw %s log (tail):\n%s", s.Endpoint, s.LogTail(8000))
		}
	})
	return s
}

// LaunchS3 is StartS3 for programs (the load benchmark): versitygw bin on a
// free loopback port with backend dir, its logs in logDir and the root
// credentials access and secret. The caller stops it with Stop.
func LaunchS3(bin, dir, logDir, access, secret string) (*S3, error) {
	s := &S3{Region: S3Region, AccessKey: access, SecretKey: secret, Dir: dir}
	var lastErr error
	for attempt := 1; attempt <= 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		hc := &http.Client{Timeout: 2 * time.Second}
		s.proc, lastErr = StartProcess(ProcessSpec{
			Path: bin,
			Args: []string{
				"--port", "127.0.0.1:" + strconv.Itoa(port), "--access", s.AccessKey,
				"--secret", s.SecretKey, "--region", s.Region, "posix", s.Dir,
			},
			// flags alone decide how it runs: no VGW_*, ROOT_* settings
			Env: environ(func(name string) bool {
				return strings.HasPrefix(name, "VGW_") || strings.HasPrefix(name, "ROOT_") ||
					name == "LOGFILE" || name == "WEBHOOK"
			}),
			LogPath: filepath.Join(logDir, fmt.Sprintf("versitygw-%d.log", attempt)),
			// any HTTP answer (an unsigned request gets 403) means it serves
			Ready: func() bool {
				resp, err := hc.Get(s.Endpoint + "/")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				return err == nil
			},
		})
		if lastErr == nil {
			s.Client = s.newClient()
			return s, nil
		}
		// Another process may have taken the port between our probe and
		// versitygw's bind: try again with another port.
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("versitygw did not start: %v", lastErr)
}

// Stop stops the server.
func (s *S3) Stop() { s.proc.Stop(0) }

// LogTail returns the last n bytes of the server's output (request log and
// errors), for diagnosing a failed test.
func (s *S3) LogTail(n int) string { return s.proc.Tail(n) }

// Profile is a presign Caddyfile profile block (kind s3) for bucket on this
// server, with its root keys; extra lines go inside the block.
func (s *S3) Profile(name, bucket string, extra ...string) string {
	return s.KeylessProfile(name, bucket, append([]string{"access_key_id " + s.AccessKey, "secret_access_key " + s.SecretKey}, extra...)...)
}

// KeylessProfile is Profile without the keys: the profile gets its
// credentials from the AWS default chain, or from the extra lines.
func (s *S3) KeylessProfile(name, bucket string, extra ...string) string {
	return fmt.Sprintf(`profile %s s3 {
			bucket %s
			region %s
			endpoint %s
			path_style
			%s
		}`, name, bucket, s.Region, s.Endpoint, strings.Join(extra, "\n\t\t\t"))
}

func (s *S3) newClient() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("harness: random: %v", err)
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
		t.Fatalf("harness: create bucket %q: %v", name, err)
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
		t.Fatalf("harness: put %s/%q: %v", bucket, key, err)
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
	t.Fatalf("harness: head %s/%q: %v", bucket, key, err)
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
