package signerstest

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// checkMultipart: the parts of a multipart upload are signed as the
// contract says, as far as it shows without the store: one URL per part
// number, in order, each under the origin, naming its part and the
// upload, each a PUT the verifier accepts until the answer's expiry and
// no later, and refused for another part.
func checkMultipart(t *testing.T, k Kind) {
	p := k.New(t, "http://127.0.0.1:9")
	mp := p.(signers.Multipart)
	r := request(t, p, http.MethodPut, suiteKey, signTime(), new(signers.Options))
	parts := []int32{1, 2, 10000}
	urls, expiresAt, err := mp.SignParts(context.Background(), &r, "upload-1", parts)
	if err != nil {
		t.Fatalf("SignParts: %v", err)
	}
	if len(urls) != len(parts) {
		t.Fatalf("SignParts: %d URLs for %d parts", len(urls), len(parts))
	}
	if want := r.SignTime.Add(r.Expires); !expiresAt.Equal(want) {
		t.Errorf("SignParts: expires at %s, want %s", expiresAt, want)
	}
	for i, u := range urls {
		if !underOrigin(u, p.Origin()) {
			t.Errorf("part %d: URL %s is not under the origin %s", parts[i], u, p.Origin())
		}
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatalf("part %d: %v", parts[i], err)
		}
		q := pu.Query()
		if q.Get("partNumber") != strconv.Itoa(int(parts[i])) || q.Get("uploadId") != "upload-1" {
			t.Errorf("part %d: URL %s does not name its part and the upload", parts[i], u)
		}
		s := &signers.Signed{URL: u, ExpiresAt: expiresAt}
		if err := k.Verify(r, s, r.SignTime.Add(time.Second)); err != nil {
			t.Errorf("part %d: the verifier refuses %s: %v", parts[i], u, err)
		}
		if err := k.Verify(r, s, expiresAt); err == nil {
			t.Errorf("part %d: the verifier accepts %s at its expiry", parts[i], u)
		}
		q.Set("partNumber", strconv.Itoa(int(parts[i])+1))
		pu.RawQuery = q.Encode()
		if err := k.Verify(r, &signers.Signed{URL: pu.String(), ExpiresAt: expiresAt}, r.SignTime.Add(time.Second)); err == nil {
			t.Errorf("part %d: the verifier accepts the URL for part %d", parts[i], parts[i]+1)
		}
	}
}
