package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// signFolder returns the folder link of l for key under resource.
func signFolder(t testing.TB, l *Local, key, resource string) string {
	t.Helper()
	o := &signers.Options{Resource: resource}
	s, err := l.Sign(context.Background(), signers.Request{
		Method: http.MethodGet, Key: key, SignTime: signTime,
		Expires: 10 * time.Minute, Options: o, Resource: resource,
	})
	if err != nil {
		t.Fatalf("signing %s under %s: %v", key, resource, err)
	}
	return s.URL
}

// TestFolderLink: one link opens every file under its folder, and the
// guard removes its token from the path; a file outside the folder, a
// changed token, a query, and an expired link are refused.
func TestFolderLink(t *testing.T) {
	l := newLocal(t, nil)
	link := signFolder(t, l, "data/exp.zarr/.zattrs", "data/exp.zarr/*")
	if !strings.HasPrefix(link, "/s/~pl1.2.1767226200.k2.") || !strings.HasSuffix(link, "/data/exp.zarr/.zattrs") {
		t.Fatalf("folder link %s", link)
	}
	tok := link[:strings.Index(link, "/data/")] // "/s/~pl1...."
	for _, file := range []string{"/data/exp.zarr/.zattrs", "/data/exp.zarr/0/0.0", "/data/exp.zarr/a%20b"} {
		v, why, r, _ := admit(l, "GET", tok+file, "192.0.2.1", signTime)
		if v != signers.Admitted {
			t.Errorf("%s: refused: %s", file, why)
			continue
		}
		if want := "/s" + strings.ReplaceAll(file, "%20", " "); r.URL.Path != want || strings.Contains(r.RequestURI, "~pl1") || r.URL.EscapedPath() != "/s"+file {
			t.Errorf("%s: next sees path %q, escaped %q, RequestURI %q", file, r.URL.Path, r.URL.EscapedPath(), r.RequestURI)
		}
	}
	for _, bad := range []string{
		tok + "/data/other/x", tok + "/data/exp.zarr2/x", tok + "/data/exp.zarr/", tok + "/data/exp.zarr/../other/x",
		tok + "/data/exp.zarr%2Fx", tok + "/data/exp.zarr/x?y=1", strings.Replace(tok, ".2.", ".1.", 1) + "/data/exp.zarr/x",
		strings.Replace(tok, ".2.", ".3.", 1) + "/data/exp.zarr/x/y", strings.Replace(tok, ".k2.", ".k1.", 1) + "/data/exp.zarr/x",
		strings.Replace(tok, "/s/", "/s/x/", 1) + "/data/exp.zarr/x", tok + "/DATA/exp.zarr/x",
	} {
		if v, _, _, _ := admit(l, "GET", bad, "192.0.2.1", signTime); v == signers.Admitted {
			t.Errorf("admitted %s", bad)
		}
	}
	if v, _, _, _ := admit(l, "GET", tok+"/data/exp.zarr/x", "192.0.2.1", signTime.Add(10*time.Minute)); v != signers.Expired {
		t.Errorf("an expired folder link: verdict %d, want Expired", v)
	}
	// a file link is no folder link, nor the other way round
	file := sign(t, l, "data/exp.zarr/x", nil, "")
	if v, _, _, _ := admit(l, "GET", tok+"/data/exp.zarr/x"+file[strings.IndexByte(file, '?'):], "192.0.2.1", signTime); v == signers.Admitted {
		t.Errorf("a folder link with a query admitted")
	}
	if _, err := l.Sign(context.Background(), signers.Request{
		Key: "other/x", SignTime: signTime, Expires: time.Minute,
		Options: &signers.Options{Resource: "data/*"}, Resource: "data/",
	}); err == nil {
		t.Errorf("signed a key outside the resource")
	}
}

func TestFolderCheckRule(t *testing.T) {
	l := newLocal(t, nil)
	for _, c := range []struct {
		o    signers.Options
		want string
	}{
		{signers.Options{Resource: "data/*"}, ""},
		{signers.Options{Resource: "{http.auth.user.id}/*"}, ""},
		{signers.Options{Resource: "data"}, "ending in /*"},
		{signers.Options{Resource: "/data/*"}, "ending in /*"},
		{signers.Options{Resource: "*/x/*"}, "ending in /*"},
		{signers.Options{Resource: "data/*", BindClientIP: true}, "binds no client IP"},
		{signers.Options{Resource: "data/*", ContentDisposition: "inline"}, "binds no client IP"},
	} {
		o := c.o
		err := l.CheckRule(&signers.RuleInfo{Profile: "files", Methods: []string{"GET"}, Expires: time.Minute, Options: &o})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
}

// BenchmarkAdmitFolder checks a good folder link: the check allocates
// nothing; the path without the token is one string.
func BenchmarkAdmitFolder(b *testing.B) {
	l := newLocal(b, nil)
	link := signFolder(b, l, "media/video/clip-0001.mp4", "media/*")
	r := httptest.NewRequest(http.MethodGet, link, nil)
	u, uri := *r.URL, r.RequestURI
	h := http.Header{}
	now := signTime.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		*r.URL, r.RequestURI = u, uri
		if v, why := l.Admit(h, r, now); v != signers.Admitted {
			b.Fatal(why)
		}
	}
}
