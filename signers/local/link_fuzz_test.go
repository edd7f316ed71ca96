package local

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddy-presign/presign/signers"
)

// FuzzLocalLink changes one byte of a valid link (replaces, inserts or
// deletes it): the changed link is refused, unless it is the same request
// (the same decoded path, by an equivalent percent-encoding, and the same
// query). So no change of the path or query opens another file, whatever
// decodes or cleans to it (%2F, .., //, NUL, case).
func FuzzLocalLink(f *testing.F) {
	for _, seed := range []struct {
		key string
		pos uint16
		op  byte
		b   byte
	}{
		{"a/b.txt", 3, 0, '/'}, {"a/b.txt", 4, 1, '/'}, {"a/b.txt", 4, 0, 'B'}, {"dir/x y.pdf", 7, 1, '%'},
		{"a/b.txt", 6, 1, '.'}, {"a/b.txt", 2, 0, 0}, {"ü/ß.txt", 40, 2, 0}, {"a/b.txt", 60, 0, 'A'},
	} {
		f.Add(seed.key, seed.pos, seed.op, seed.b)
	}
	l := newLocal(f, nil)
	f.Fuzz(func(t *testing.T, key string, pos uint16, op, b byte) {
		if !validKey(key) {
			t.Skip()
		}
		link := sign(t, l, key, &signers.Options{ContentDisposition: "inline"}, "")
		orig, err := url.ParseRequestURI(link)
		if err != nil {
			t.Fatalf("the link %q does not parse: %v", link, err)
		}
		i := int(pos) % (len(link) + 1)
		var changed string
		switch op % 3 {
		case 0: // replace
			if i == len(link) || link[i] == b {
				t.Skip()
			}
			changed = link[:i] + string([]byte{b}) + link[i+1:]
		case 1: // insert
			changed = link[:i] + string([]byte{b}) + link[i:]
		default: // delete
			if i == len(link) {
				t.Skip()
			}
			changed = link[:i] + link[i+1:]
		}
		u, err := url.ParseRequestURI(changed)
		if err != nil {
			return // no server gets this far
		}
		r := &http.Request{Method: http.MethodGet, URL: u, RequestURI: changed, RemoteAddr: "192.0.2.1:4000"}
		v, _ := l.Admit(http.Header{}, r, signTime)
		if v == signers.Admitted && (u.Path != orig.Path || u.RawQuery != orig.RawQuery) {
			t.Fatalf("the link %s, changed to %s, opens %q", link, changed, u.Path)
		}
	})
}

// validKey tells whether key could be an object key the handler signs:
// valid UTF-8 without control characters, no empty, "." or ".." segment.
func validKey(key string) bool {
	if key == "" || len(key) > 1024 || !utf8.ValidString(key) {
		return false
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
