package systest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/caddy-presign/presign/systest/harness"
)

// uppyDist is the folder of Uppy's browser bundle (uppy.min.js and
// uppy.min.css from npm's uppy), installed by scripts/tools.sh's npm
// section; missing, the test fails in CI and is skipped elsewhere.
func uppyDist(t *testing.T) string {
	t.Helper()
	dir := harness.RepoPath(".tools/npm/node_modules/uppy/dist")
	if _, err := os.Stat(filepath.Join(dir, "uppy.min.js")); err != nil {
		harness.Missing(t, "Uppy's bundle (%s): run scripts/tools.sh", dir)
	}
	return dir
}

// uppyPage is the test page: Uppy 6 from its bundle, with @uppy/aws-s3
// pointed at the uppy rule. upload(name, size, multipart) uploads a
// generated file (byte i is i*31 % 251) and returns Uppy's result.
const uppyPage = `<!doctype html>
<meta charset="utf-8">
<link rel="stylesheet" href="/dist/uppy.min.css">
<script src="/dist/uppy.min.js"></script>
<script>
async function upload(name, size, multipart) {
	const { Uppy, AwsS3 } = globalThis.Uppy;
	const uppy = new Uppy({ id: name }).use(AwsS3, { companionEndpoint: '/uppy', shouldUseMultipart: multipart });
	const parts = [];
	uppy.on('s3-multipart:part-uploaded', (f, p) => parts.push(p.partNumber ?? p.PartNumber));
	const bytes = new Uint8Array(size);
	for (let i = 0; i < size; i++) bytes[i] = (i * 31) % 251;
	uppy.addFile({ name, type: 'application/octet-stream', data: new Blob([bytes], { type: 'application/octet-stream' }) });
	const r = await uppy.upload();
	return JSON.stringify({ ok: r.successful.length, failed: r.failed.map(f => String(f.error)), parts: parts.length });
}
</script>`

func generated(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i * 31 % 251)
	}
	return b
}

// TestUppyInBrowser: Uppy 6 (the npm bundle) in headless Chromium, on a
// page served by Caddy, uploads a 12 MB file as three multipart parts and
// a small file through the POST form of s3/params; both objects in the
// bucket are byte-identical to the files.
func TestUppyInBrowser(t *testing.T) {
	harness.LookTool(t, harness.Chromium)
	dist := uppyDist(t)
	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	port := harness.Port(t)
	page := "http://127.0.0.1:" + strconv.Itoa(port)
	allowUppyCORS(t, s, "media", page)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(uppyPage), 0o644); err != nil {
		t.Fatal(err)
	}
	harness.LoadCaddy(t, site(port, presignBlock(s.Profile("media", "media"), `rule /uppy/* {
			profile media
			strip_prefix /uppy
			uppy
			key uploads/{presign.uuid}/{presign.filename}
		}`)+`
	handle_path /dist/* {
		root * `+dist+`
		file_server
	}
	handle {
		root * `+root+`
		file_server
	}`))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bctx := harness.Browser(t, ctx)
	if err := chromedp.Run(bctx, chromedp.Navigate(page+"/index.html")); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	for _, c := range []struct {
		name      string
		size      int
		multipart bool
		parts     string
	}{
		{"big file.bin", 12_000_000, true, `"parts":3`},
		{"small.txt", 10_000, false, `"parts":0`},
	} {
		var res string
		js := "upload(" + strconv.Quote(c.name) + ", " + strconv.Itoa(c.size) + ", " + strconv.FormatBool(c.multipart) + ")"
		if err := chromedp.Run(bctx, chromedp.Evaluate(js, &res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !strings.Contains(res, `"ok":1`) || !strings.Contains(res, c.parts) {
			t.Errorf("%s: Uppy's result %s, want one success with %s", c.name, res, c.parts)
		}
		key := findUploaded(t, s, c.name)
		if got, err := s.Get(t, "media", key); err != nil || !bytes.Equal(got, generated(c.size)) {
			t.Errorf("%s: the object %q (%d bytes, %v) is not the file's %d bytes", c.name, key, len(got), err, c.size)
		}
	}
}

// findUploaded is the key of the one object under uploads/ named name.
func findUploaded(t *testing.T, s *harness.S3, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := s.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("media"), Prefix: aws.String("uploads/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		if k := aws.ToString(o.Key); strings.HasSuffix(k, "/"+name) {
			keys = append(keys, k)
		}
	}
	if len(keys) != 1 {
		t.Fatalf("objects named %q: %v, want one", name, keys)
	}
	return keys[0]
}
