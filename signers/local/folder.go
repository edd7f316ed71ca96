package local

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/caddy-presign/presign/signers/internal/escape"
)

// Folder links (a rule's resource): one link opens every file under a
// folder. Its token is a path segment right after serve, so that relative
// references inside the tree (an HLS playlist, a Zarr store) resolve:
//
//	<serve>/~pl1.<D>.<E>.<K>.<S>/<key>
//
// D is the folder's depth (its number of segments below serve), E the
// expiry, K the key's id and S the signature of the canonical string of a
// file link (see link.go) with a first line of its own, presign-folder-v1,
// and for P the folder as serve + "/" + its first D segments + "/*"; the
// other lines N, IP and CD are empty. The guard admits a request whose
// path below the token lies inside that folder, and removes the token from
// the path.
const (
	folderVersion = "presign-folder-v1"
	folderToken   = "~pl1."
)

// folderOf is the folder (a key prefix ending in "/") of resource, a
// rule's resource with its placeholders expanded, which key must lie in.
func folderOf(key, resource string) (string, error) {
	scope := strings.TrimSuffix(resource, "*")
	if !strings.HasPrefix(key, scope) || !strings.HasSuffix(scope, "/") {
		return "", fmt.Errorf("resource %q: the key is outside the rule's folder", resource)
	}
	return scope, nil
}

// appendFolderLink appends the link to key under the folder scope (a key
// prefix ending in "/", which key starts with) to b.
func (l *Local) appendFolderLink(b []byte, key, scope, exp string) []byte {
	k := l.keys[0]
	lk := link{exp: exp, kid: k.id}
	st := k.pool.Get().(*macState)
	k.signAs(st, folderVersion, l.prefix+"/", scope, true, &lk)
	b = escape.Append(b, l.prefix, &escape.PathSafe)
	b = append(b, "/"+folderToken...)
	b = strconv.AppendInt(b, int64(strings.Count(scope, "/")), 10)
	b = append(b, '.')
	b = append(b, exp...)
	b = append(b, '.')
	b = append(b, k.id...)
	b = append(b, '.')
	b = append(b, st.sig[:]...)
	k.pool.Put(st)
	b = append(b, '/')
	return escape.Append(b, key, &escape.PathSafe)
}

// folderLink is a folder token read from a path.
type folderLink struct {
	link
	folder string // the folder below serve: "/", its D segments, each followed by "/"
	rest   string // the path after the token, from its '/'
}

// parseFolder reads the folder token at the start of tail, the request's
// path after serve + "/"; ok tells whether tail starts with a token at all.
// It allocates nothing: f's strings are parts of tail.
func parseFolder(tail string) (f folderLink, ok bool, why string) {
	t, found := strings.CutPrefix(tail, folderToken)
	if !found {
		return f, false, ""
	}
	end := strings.IndexByte(t, '/')
	if end < 0 {
		return f, true, "a folder link names no file"
	}
	f.rest = t[end:]
	// D.E.K.S: four parts, none of them holding a '.'
	d, tok, _ := strings.Cut(t[:end], ".")
	f.exp, tok, _ = strings.Cut(tok, ".")
	f.kid, f.sig, _ = strings.Cut(tok, ".")
	if !decimal(d) || d == "0" || !decimal(f.exp) || !validKeyID(f.kid) || len(f.sig) != sigLen || strings.IndexByte(f.sig, '.') >= 0 {
		return f, true, "malformed folder token"
	}
	i := 1
	for n, depth := int64(0), number(d); n < depth; n++ {
		j := strings.IndexByte(f.rest[i:], '/')
		if j < 0 {
			return f, true, "the file is outside the link's folder"
		}
		i += j + 1
	}
	f.folder = f.rest[:i]
	return f, true, ""
}
