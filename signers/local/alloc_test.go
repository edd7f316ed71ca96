package local

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// TestAdmitAllocs holds Admit to signers.Guard's promise: a good link, a
// good cookie (the request's only one) and the check of a good folder
// link allocate nothing; removing a folder link's token from the path is
// one string, the new path, which the request line shares, and one more
// for the raw path when the link's path is not Go's own escaping of it
// (a ',' that links write %2C).
func TestAdmitAllocs(t *testing.T) {
	l := newLocal(t, nil)
	now := signTime.Add(time.Minute)
	const key, path = "media/video/clip-0001.mp4", "/s/media/video/clip-0001.mp4"
	folder := signFolder(t, l, key, "media/*")
	file := signCookie(t, l, key, &signers.Options{Cookies: true}, "")
	dir := signCookie(t, l, key, &signers.Options{Cookies: true, Resource: "media/*"}, "")
	for _, c := range []struct {
		name, target, cookie, path string
		allocs                     int64
	}{
		{"a link", sign(t, l, key, nil, ""), "", path, 0},
		{"a link binding a client IP", sign(t, l, key, &signers.Options{BindClientIP: true}, "192.0.2.1"), "", path, 0},
		{"a file's cookie", path, "presign-link=" + file.Value, path, 0},
		{"a folder's cookie", path, "presign-link=" + dir.Value, path, 0},
		{"a folder link", folder, "", path, 1},
		{"a folder link with a raw path", signFolder(t, l, "media/a,b.mp4", "media/*"), "", "/s/media/a,b.mp4", 2},
	} {
		r := httptest.NewRequest(http.MethodGet, c.target, nil)
		r.RemoteAddr = "192.0.2.1:40000"
		u, uri := *r.URL, r.RequestURI
		var line []string
		if c.cookie != "" {
			line = []string{c.cookie}
		}
		h := http.Header{}
		var v signers.Verdict
		var why string
		n := allocsPerCall(l, func() {
			*r.URL, r.RequestURI = u, uri
			if line != nil {
				r.Header["Cookie"] = line
			}
			v, why = l.Admit(h, r, now)
		})
		if v != signers.Admitted {
			t.Errorf("%s: refused: %s", c.name, why)
			continue
		}
		if r.URL.Path != c.path || r.URL.RawQuery != "" || r.Header["Cookie"] != nil || strings.Contains(r.RequestURI, "pl") {
			t.Errorf("%s: the next handler sees path %q, query %q, Cookie %q, RequestURI %q", c.name, r.URL.Path, r.URL.RawQuery, r.Header["Cookie"], r.RequestURI)
		}
		if n != c.allocs {
			t.Errorf("%s: %d allocations per Admit, want %d", c.name, n, c.allocs)
		}
	}

	// the check of a folder link alone: its token read from the path,
	// its signature and its times checked
	tail := folder[len("/s/"):]
	var why string
	n := allocsPerCall(l, func() {
		f, _, bad := parseFolder(tail)
		if why = bad; why == "" {
			_, why = l.check(folderVersion, l.serve, f.folder, true, &f.link, now)
		}
	})
	if why != "" || n != 0 {
		t.Errorf("the check of a good folder link: %d allocations (%q), want 0", n, why)
	}
}

// allocsPerCall is testing.AllocsPerRun's count of f, less what the HMAC
// states that l's keys' pools make anew cost (making one, and its first
// use, when the HMAC keeps its inner and outer states): the race
// detector's sync.Pool drops a quarter of what it is given, and a garbage
// collection empties it, so a new state says nothing of the check.
func allocsPerCall(l *Local, f func()) int64 {
	const runs = 1000
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var made, perState int64
	for _, k := range l.keys {
		newState := k.pool.New
		perState = int64(testing.AllocsPerRun(10, func() {
			k.signAs(newState().(*macState), linkVersion, "", "/s/x", false, &link{exp: "1", kid: k.id})
		}))
		k.pool.New = func() any { made++; return newState() }
		defer func() { k.pool.New = newState }()
	}
	f()
	made = 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (int64(after.Mallocs-before.Mallocs) - made*perState) / runs
}
