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
// decodes or cleans to it (%2F, .., //, NUL, case). A folder link, changed,
// opens at most a clean path inside its folder, without its token.
func FuzzLocalLink(f *testing.F) {
	for _, seed := range []struct {
		key string
		pos uint16
		op  byte
		b   byte
	}{
		{"a/b.txt", 3, 0, '/'},
		{"a/b.txt", 4, 1, '/'},
		{"a/b.txt", 4, 0, 'B'},
		{"dir/x y.pdf", 7, 1, '%'},
		{"a/b.txt", 6, 1, '.'},
		{"a/b.txt", 2, 0, 0},
		{"ü/ß.txt", 40, 2, 0},
		{"a/b.txt", 60, 0, 'A'},
		{"ü/ß.txt", 4, 0, 'c'},
		{"a/b.txt", 9, 128, '1'},
		{"a/b/c.txt", 70, 129, '/'},
		{"a/b.txt", 68, 130, 0},
	} {
		f.Add(seed.key, seed.pos, seed.op, seed.b)
	}
	l := newLocal(f, nil)
	f.Fuzz(func(t *testing.T, key string, pos uint16, op, b byte) {
		if !validKey(key) {
			t.Skip()
		}
		link := sign(t, l, key, &signers.Options{ContentDisposition: "inline"}, "")
		folder := "" // with op >= 128, a folder link for the key's folder
		if i := strings.LastIndexByte(key, '/'); op >= 128 && i > 0 {
			folder = key[:i+1]
			link = signFolder(t, l, key, folder+"*")
		}
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
		path, query := u.Path, u.RawQuery // as the request came; Admit cleans it
		v, _ := l.Admit(http.Header{}, r, signTime)
		switch {
		case v != signers.Admitted:
		case folder != "":
			// the file opened lies in the folder, and the token is gone
			if !strings.HasPrefix(u.Path, "/s/"+folder) || checkPath(u.Path, u.RawPath) != "" ||
				strings.Contains(u.Path, folderToken) || strings.Contains(r.RequestURI, folderToken) {
				t.Fatalf("the folder link %s of %s, changed to %s, opens %q", link, folder, changed, u.Path)
			}
		case path != orig.Path || query != orig.RawQuery || u.RawQuery != "":
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
