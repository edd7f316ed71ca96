package presign

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// benchBlock is the S3 GET rule of the ServeHTTP benchmarks: static
// credentials (signing is local; nothing contacts the endpoint), a
// path-style bucket, the default 15m lifetime and key template.
const benchBlock = `presign {
	profile bench s3 {
		bucket bench-bucket
		region us-east-1
		endpoint http://127.0.0.1:9000
		path_style
		access_key_id AKIDEXAMPLE
		secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
	}
	rule /dl/* {
		profile bench
		strip_prefix /dl
	}
}`

// benchCFBlock is a CloudFront rule with stable (bench/Caddyfile's /cf/).
const benchCFBlock = `presign {
	profile cf cloudfront {
		domain d111111abcdef8.cloudfront.net
		key_pair_id K2JCJMDEHXQW5F
		private_key_file signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem
	}
	rule /cf/* {
		profile cf
		strip_prefix /cf
		stable 1m
	}
}`

// newBenchHandler provisions benchBlock with Caddy's default log level
// (INFO: the debug line per answer is not written, as in production).
func newBenchHandler(b *testing.B) *Handler { return newBenchHandlerOf(b, benchBlock) }

func newBenchHandlerOf(b *testing.B, block string) *Handler {
	h := newHandler(b, block)
	h.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	return h
}

// benchWriter is the cheapest http.ResponseWriter that still keeps what the
// handler writes: a header map (cleared, not reallocated, between requests)
// and the status.
type benchWriter struct {
	hdr    http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.hdr }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }

// benchRequest is a GET prepared once as Caddy prepares every request
// (caddyhttp.PrepareRequest: replacer, context values). The loops then only
// change its path, as a new request would have.
func benchRequest(b *testing.B) (*http.Request, *benchWriter) {
	w := &benchWriter{hdr: make(http.Header, 4)}
	r := httptest.NewRequest(http.MethodGet, "/dl/obj-0", nil)
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
	return r, w
}

var benchNext = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
	panic("the request went past the presign handler")
})

// serveBench runs one request through h and checks the answer.
func serveBench(b *testing.B, h *Handler, r *http.Request, w *benchWriter) {
	clear(w.hdr)
	w.status = 0
	if err := h.ServeHTTP(w, r, benchNext); err != nil {
		b.Fatal(err)
	}
	want := http.StatusFound
	if r.Method == http.MethodDelete {
		want = http.StatusTemporaryRedirect
	}
	if w.status != want || len(w.hdr["Location"]) != 1 {
		b.Fatalf("got %d %v", w.status, w.hdr)
	}
}

// BenchmarkServeHTTPS3 measures ServeHTTP for an S3 GET rule with a
// different key on every request, so that every request is signed afresh
// (no URL cache can help): path matching, key expansion and checks, signing,
// metrics and the redirect headers. What Caddy does around the handler
// (reading the request, PrepareRequest, writing the response) is outside
// the loop; the paths themselves are made outside the timer.
func BenchmarkServeHTTPS3(b *testing.B) { benchFreshKeys(b, newBenchHandler(b)) }

// BenchmarkServeHTTPS3Delete is BenchmarkServeHTTPS3 for DELETE: a rule
// with methods GET DELETE answers each with 307 to a URL presigned for
// DELETE, a new key every time. It costs what a GET costs.
func BenchmarkServeHTTPS3Delete(b *testing.B) {
	h := newBenchHandlerOf(b, strings.Replace(benchBlock, "strip_prefix /dl", "strip_prefix /dl\n\t\tmethods GET DELETE", 1))
	benchFreshKeysMethod(b, h, http.MethodDelete)
}

// benchFreshKeys runs GET /dl/obj-N through h with a new N on every
// request.
func benchFreshKeys(b *testing.B, h *Handler) { benchFreshKeysMethod(b, h, http.MethodGet) }

// benchFreshKeysMethod runs method /dl/obj-N through h with a new N on
// every request.
func benchFreshKeysMethod(b *testing.B, h *Handler, method string) {
	r, w := benchRequest(b)
	r.Method = method
	const chunk = 1 << 14
	paths := make([]string, chunk)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if n%chunk == 0 {
			b.StopTimer()
			for j := range paths {
				paths[j] = "/dl/obj-" + strconv.Itoa(n+j)
			}
			b.StartTimer()
		}
		r.URL.Path = paths[n%chunk]
		n++
		serveBench(b, h, r, w)
	}
}

// BenchmarkServeHTTPS3HotKey measures ServeHTTP for an S3 GET rule asked
// for one key over and over: within a second the URL is the same, so the
// signer's URL cache answers.
func BenchmarkServeHTTPS3HotKey(b *testing.B) {
	benchHotKey(b, newBenchHandler(b), "/dl/hot/object.bin")
}

// benchHotKey runs GET path through h over and over.
func benchHotKey(b *testing.B, h *Handler, path string) {
	r, w := benchRequest(b)
	r.URL.Path = path
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, r, w)
	}
}

// BenchmarkServeHTTPCloudFrontStableHotKey measures ServeHTTP for a
// CloudFront rule with stable asked for one key over and over: the
// CloudFront signer's own signature cache answers (one RSA signature per
// window).
func BenchmarkServeHTTPCloudFrontStableHotKey(b *testing.B) {
	benchHotKey(b, newBenchHandlerOf(b, benchCFBlock), "/cf/hot/object.bin")
}

// BenchmarkServeHTTPAzure is BenchmarkServeHTTPS3 for an Azure GET rule
// with the account key (signing is local; nothing contacts the endpoint): a
// different key on every request, so that every SAS is signed afresh.
func BenchmarkServeHTTPAzure(b *testing.B) {
	benchFreshKeys(b, newBenchHandlerOf(b, `presign {
	profile az azure {
		account devstoreaccount1
		container media
		account_key `+azuriteKey+`
		endpoint http://127.0.0.1:10000/devstoreaccount1
	}
	rule /dl/* {
		profile az
		strip_prefix /dl
	}
}`))
}

// BenchmarkServeHTTPGCSStableHotKey measures ServeHTTP for a GCS rule with
// stable asked for one key over and over: the URL cache answers, and the
// RSA signature (about a millisecond) is paid once per window.
func BenchmarkServeHTTPGCSStableHotKey(b *testing.B) {
	file := gcsTestAccount(b).File
	benchHotKey(b, newBenchHandlerOf(b, `presign {
	profile g gcs {
		bucket my-bucket
		service_account_file `+file+`
	}
	rule /dl/* {
		profile g
		strip_prefix /dl
		stable 1m
	}
}`), "/dl/hot/object.bin")
}

// BenchmarkServeHTTPS3Parallel is BenchmarkServeHTTPS3 on every core, each
// goroutine with its own request and its own keys.
func BenchmarkServeHTTPS3Parallel(b *testing.B) {
	h := newBenchHandler(b)
	b.ReportAllocs()
	var id int64
	mu := make(chan struct{}, 1)
	b.RunParallel(func(pb *testing.PB) {
		mu <- struct{}{}
		id++
		prefix := "/dl/g" + strconv.FormatInt(id, 10) + "/obj-"
		<-mu
		r, w := benchRequest(b)
		// the path string is made in the loop: one allocation more than
		// BenchmarkServeHTTPS3 counts
		buf := []byte(prefix)
		for i := 0; pb.Next(); i++ {
			r.URL.Path = string(strconv.AppendInt(buf, int64(i), 10))
			serveBench(b, h, r, w)
		}
	})
}

// BenchmarkServeHTTPS3PerUserHotKey is BenchmarkServeHTTPS3HotKey for a
// per-user key template (users/{http.auth.user.id}/{presign.path}): the key
// goes through Caddy's replacer, and the answer carries Vary.
func BenchmarkServeHTTPS3PerUserHotKey(b *testing.B) {
	h := newBenchHandlerOf(b, strings.Replace(benchBlock, "strip_prefix /dl", "strip_prefix /dl\n\t\tkey users/{http.auth.user.id}/{presign.path}", 1))
	r, w := benchRequest(b)
	r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer).Set("http.auth.user.id", "alice")
	r.URL.Path = "/dl/hot/object.bin"
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, r, w)
	}
}
