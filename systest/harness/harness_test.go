package harness_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caddy-presign/presign/systest/harness"
)

func TestRepoRoot(t *testing.T) {
	root := harness.RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("RepoRoot %q has no go.mod: %v", root, err)
	}
	if got, want := harness.ToolsBin(), filepath.Join(root, ".tools", "bin"); got != want {
		t.Fatalf("ToolsBin = %q, want %q", got, want)
	}
}

func TestLookToolAbsolute(t *testing.T) {
	sh := harness.LookTool(t, "/bin/sh")
	if sh != "/bin/sh" {
		t.Fatalf("LookTool(/bin/sh) = %q", sh)
	}
	if p := harness.LookTool(t, "versitygw"); !filepath.IsAbs(p) {
		t.Fatalf("LookTool(versitygw) = %q, want an absolute path", p)
	}
}

func TestPython(t *testing.T) {
	if p := harness.Python(t); p != "/usr/bin/python3" {
		t.Fatalf("Python = %q", p)
	}
}

// shifted is a presigner that signs as if the clock were off by offset.
type shifted struct {
	*v4.Signer
	offset time.Duration
}

func (s shifted) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request,
	payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions),
) (string, http.Header, error) {
	return s.Signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, signingTime.Add(s.offset), optFns...)
}

// errCode returns the <Code> of an S3 XML error body.
func errCode(body []byte) string {
	s := string(body)
	_, after, ok := strings.Cut(s, "<Code>")
	code, _, ok2 := strings.Cut(after, "</Code>")
	if !ok || !ok2 {
		return ""
	}
	return code
}

// TestVersityGW documents what the S3 server used by the tests accepts: the
// SDK round-trips awkward keys, presigned URLs work, and tampered or expired
// signatures are refused with 403.
func TestVersityGW(t *testing.T) {
	srv := harness.StartS3(t)
	if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") || srv.Region != "us-east-1" {
		t.Fatalf("unexpected server %+v", srv)
	}
	const bucket = "harness-bucket"
	srv.CreateBucket(t, bucket)

	keys := []string{"dir/a b+é.txt", "plain.txt", "x+y/üñí cødé/%41&=?#.bin"}
	for _, key := range keys {
		body := []byte("hello " + key)
		srv.Put(t, bucket, key, body, "text/plain; charset=utf-8")
		got, err := srv.Get(t, bucket, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("Get(%q) = %q, want %q", key, got, body)
		}
		if !srv.Exists(t, bucket, key) {
			t.Fatalf("Exists(%q) = false", key)
		}
		// The posix backend stores the key verbatim as a path.
		if _, err := os.Stat(filepath.Join(srv.Dir, bucket, filepath.FromSlash(key))); err != nil {
			t.Fatalf("object %q not stored as a file: %v", key, err)
		}
	}
	// '+' is a literal plus, not a space.
	if srv.Exists(t, bucket, "dir/a b é.txt") {
		t.Fatal(`"dir/a b é.txt" exists: '+' was taken for a space`)
	}
	if srv.Exists(t, bucket, "missing") {
		t.Fatal("Exists(missing) = true")
	}
	if _, err := srv.Get(t, bucket, "missing"); !harness.IsNotFound(err) {
		t.Fatalf("Get(missing) error = %v, want not found", err)
	}

	ctx := context.Background()
	pc := s3.NewPresignClient(srv.Client)
	key := keys[0]
	want := []byte("hello " + key)

	t.Run("presigned GET", func(t *testing.T) {
		req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
			s3.WithPresignExpires(5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("presigned GET: %s", req.URL)
		if code, _, body := harness.Fetch(t, http.MethodGet, req.URL, nil); code != http.StatusOK || !bytes.Equal(body, want) {
			t.Fatalf("presigned GET = %d %q, want 200 %q", code, body, want)
		}

		// One character of the signature changed: refused.
		tampered := harness.Tamper(t, req.URL)
		if tampered == req.URL || len(tampered) != len(req.URL) {
			t.Fatalf("Tamper(%s) = %s", req.URL, tampered)
		}
		if code, _, body := harness.Fetch(t, http.MethodGet, tampered, nil); code != http.StatusForbidden || errCode(body) != "SignatureDoesNotMatch" {
			t.Fatalf("tampered GET = %d %s, want 403 SignatureDoesNotMatch", code, body)
		}

		// Another key in the path with the same signature: refused.
		other := strings.Replace(req.URL, "/dir/", "/Dir/", 1)
		if code, _, _ := harness.Fetch(t, http.MethodGet, other, nil); code != http.StatusForbidden {
			t.Fatalf("GET with the path changed = %d, want 403", code)
		}
	})

	t.Run("expired GET", func(t *testing.T) {
		req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
			func(o *s3.PresignOptions) {
				o.Expires = time.Second
				o.Presigner = shifted{v4.NewSigner(), -10 * time.Minute}
			})
		if err != nil {
			t.Fatal(err)
		}
		if code, _, body := harness.Fetch(t, http.MethodGet, req.URL, nil); code != http.StatusForbidden || errCode(body) != "AccessDenied" {
			t.Fatalf("expired GET = %d %s, want 403 AccessDenied", code, body)
		}
	})

	t.Run("presigned PUT", func(t *testing.T) {
		const putKey = "up/loaded+ü f.txt"
		req, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(putKey)},
			s3.WithPresignExpires(5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if code, _, body := harness.Fetch(t, http.MethodPut, req.URL, bytes.NewReader([]byte("uploaded"))); code != http.StatusOK {
			t.Fatalf("presigned PUT = %d %s, want 200", code, body)
		}
		if got, err := srv.Get(t, bucket, putKey); err != nil || string(got) != "uploaded" {
			t.Fatalf("after presigned PUT: %q, %v", got, err)
		}
		// A presigned GET URL does not allow a PUT.
		get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(putKey)})
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _ := harness.Fetch(t, http.MethodPut, get.URL, strings.NewReader("evil")); code != http.StatusForbidden {
			t.Fatalf("PUT to a presigned GET URL = %d, want 403", code)
		}
	})
}

// TestStartS3Cheap starts several servers to keep their start-up cost
// visible; each must be independent.
func TestStartS3Cheap(t *testing.T) {
	start := time.Now()
	a, b := harness.StartS3(t), harness.StartS3(t)
	if a.Endpoint == b.Endpoint || a.Dir == b.Dir || a.AccessKey == b.AccessKey {
		t.Fatal("servers share state")
	}
	a.CreateBucket(t, "only-in-a")
	if _, err := b.Client.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("only-in-a")}); err == nil {
		t.Fatal("bucket of server a visible in server b")
	}
	t.Logf("two servers started in %v", time.Since(start))
}

// recordingTB records Fatalf/Skipf instead of stopping the test.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

func (r *recordingTB) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
}

// TestMissingToolRule checks the project rule: a missing tool fails the test
// in CI (CI=true) and skips it elsewhere, naming the install command.
func TestMissingToolRule(t *testing.T) {
	const tool = "no-such-tool-for-harness"
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		r := &recordingTB{TB: t}
		if p := harness.LookTool(r, tool); p != "" {
			t.Fatalf("LookTool(%s) = %q", tool, p)
		}
		msg := r.skip
		if ci == "true" {
			msg = r.fatal
			if r.skip != "" {
				t.Fatalf("CI=true: skipped: %s", r.skip)
			}
		} else if r.fatal != "" {
			t.Fatalf("CI unset: failed: %s", r.fatal)
		}
		if !strings.Contains(msg, tool) || !strings.Contains(msg, "./scripts/tools.sh") {
			t.Fatalf("CI=%q: message %q should name %s and ./scripts/tools.sh", ci, msg, tool)
		}
	}
}
