package presign

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// BenchmarkUppyBatch100 measures one batch request of Uppy's protocol
// that presigns 100 part URLs (the key checked against the template with
// the user's placeholder, 100 SigV4 signatures, the JSON answer), and
// reports its cost per part URL, to set against BenchmarkServeHTTPS3's
// cost of one GET presign.
func BenchmarkUppyBatch100(b *testing.B) {
	h := newBenchHandlerOf(b, uppyBlock("http://127.0.0.1:9000"))
	nums := make([]string, 100)
	for i := range nums {
		nums[i] = strconv.Itoa(i + 1)
	}
	target := "/uppy/s3/multipart/2~Uh4FJzqfCmfXwPvQ0xVOn3oS6vXr1Q5/batch?key=" + url.QueryEscape(aliceKey) +
		"&partNumbers=" + strings.Join(nums, ",")
	w := &benchWriter{hdr: make(http.Header, 4)}
	repl := caddy.NewReplacer()
	r := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodGet, target, nil), repl, w, nil)
	repl.Set("http.auth.user.id", "alice")
	b.ReportAllocs()
	for b.Loop() {
		clear(w.hdr)
		w.status = 0
		if err := h.ServeHTTP(w, r, benchNext); err != nil || w.status != http.StatusOK {
			b.Fatalf("got %d %v", w.status, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/part")
}
