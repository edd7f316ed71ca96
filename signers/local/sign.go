package local

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/download"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// Binds implements signers.Binder: rules with bind_client_ip.
func (l *Local) Binds(o *signers.Options) bool { return o.BindClientIP || o.Resource != "" }

// Bind implements signers.Binder: the client's IP, and the resource with
// its placeholders expanded.
func (l *Local) Bind(r signers.Request, hr *http.Request, path string) signers.Request {
	if r.Options.BindClientIP {
		r.ClientIP = signers.ClientIP(hr)
	}
	if r.Options.Resource != "" {
		repl := hr.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		repl.Set("presign.path", path)
		repl.Set("presign.key", r.Key)
		r.Resource = repl.ReplaceAll(r.Options.Resource, "")
	}
	return r
}

// Sign implements Signer: a link to the key under the profile's prefix,
// signed with the first key.
func (l *Local) Sign(_ context.Context, r signers.Request) (*signers.Signed, error) {
	var nbf [20]byte
	var lk link
	if nb := r.Options.NotBefore; nb != nil {
		lk.nbf = string(strconv.AppendInt(nbf[:0], nb.Unix(), 10))
	}
	expiresAt := r.Start().Add(r.Expires)
	var exp [20]byte
	lk.exp, lk.cd = string(strconv.AppendInt(exp[:0], expiresAt.Unix(), 10)), r.Options.ContentDisposition
	if r.Options.BindClientIP {
		if !r.ClientIP.IsValid() {
			return nil, errors.New("bind_client_ip: the request has no client IP")
		}
		lk.ip = r.ClientIP.String()
	}
	p := l.prefix + "/" + r.Key
	b := make([]byte, 0, len(l.origin)-len(l.prefix)+len(p)*3/2+160)
	b = append(b, l.origin[:len(l.origin)-len(l.prefix)]...)
	var scope string
	if r.Options.Resource != "" {
		var err error
		if scope, err = folderOf(r.Key, r.Resource); err != nil {
			return nil, err
		}
	}
	switch {
	case r.Options.Cookies:
		c := l.cookie(r.Key, scope, &lk, r.SignTime, expiresAt)
		b = escape.Append(b, p, &escape.PathSafe)
		return &signers.Signed{URL: string(b), ExpiresAt: expiresAt, Cookies: []*http.Cookie{c}}, nil
	case scope != "":
		b = l.appendFolderLink(b, r.Key, scope, lk.exp)
	default:
		b = l.keys[0].appendLink(b, p, &lk)
	}
	return &signers.Signed{URL: string(b), ExpiresAt: expiresAt}, nil
}

// Admit implements signers.Guard. An admitted request loses its
// presign-link cookies, whatever admitted it.
func (l *Local) Admit(h http.Header, r *http.Request, now time.Time) (signers.Verdict, string) {
	v, why := l.admit(h, r, now)
	if v == signers.Admitted && r.Header["Cookie"] != nil {
		stripCookies(r.Header)
	}
	return v, why
}

// admit is Admit but for the cookies.
func (l *Local) admit(h http.Header, r *http.Request, now time.Time) (signers.Verdict, string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return signers.Refused, "a link opens GET and HEAD only"
	}
	p := r.URL.Path
	if why := checkPath(p, r.URL.RawPath); why != "" {
		return signers.Refused, why
	}
	if len(p) > len(l.serve)+1 {
		if f, ok, why := parseFolder(p[len(l.serve)+1:]); ok {
			return l.admitFolder(r, now, &f, why)
		}
	}
	if r.URL.RawQuery == "" && !r.URL.ForceQuery && r.Header["Cookie"] != nil {
		return l.admitCookie(r, p, now)
	}
	lk, why := parseLink(r.URL.RawQuery)
	if why != "" {
		return signers.Refused, why
	}
	if v, why := l.check(linkVersion, "", p, false, &lk, now); v != signers.Admitted {
		return v, why
	}
	if lk.ip != "" {
		if a, err := netip.ParseAddr(lk.ip); err != nil || a != signers.ClientIP(r) {
			return signers.Refused, "the link was made for another client IP"
		}
	}
	r.URL.RawQuery, r.URL.ForceQuery = "", false
	if i := strings.IndexByte(r.RequestURI, '?'); i >= 0 {
		r.RequestURI = r.RequestURI[:i]
	}
	if lk.cd != "" {
		h["Content-Disposition"] = []string{download.ContentDisposition(lk.cd, p)}
	}
	return signers.Admitted, ""
}

// admitFolder checks the folder link f, read from r's path (why: what was
// wrong with its token), and removes the token from r's path.
func (l *Local) admitFolder(r *http.Request, now time.Time, f *folderLink, why string) (signers.Verdict, string) {
	if why != "" {
		return signers.Refused, why
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		return signers.Refused, "a folder link takes no query"
	}
	if v, why := l.check(folderVersion, l.serve, f.folder, true, &f.link, now); v != signers.Admitted {
		return v, why
	}
	// the token with its leading '/'; it needs no escaping, so the raw
	// path and the request line hold it as it is, unless the client
	// escaped some of it
	path, raw := r.URL.Path, r.URL.RawPath
	tok := path[len(l.serve) : len(path)-len(f.rest)]
	r.URL.Path = l.serve + f.rest // a good folder link's one allocation
	if strings.Contains(raw, tok) {
		r.URL.RawPath = strings.Replace(raw, tok, "", 1)
	} else {
		r.URL.RawPath = "" // none, or the client escaped the token: Go's escaping of the new path
	}
	switch {
	case raw == "" && r.RequestURI == path: // the request line is the path as it is
		r.RequestURI = r.URL.Path
	case r.URL.RawPath != "" && r.RequestURI == raw:
		r.RequestURI = r.URL.RawPath
	case strings.Contains(r.RequestURI, tok):
		r.RequestURI = strings.Replace(r.RequestURI, tok, "", 1)
	default:
		r.RequestURI = r.URL.RequestURI()
	}
	return signers.Admitted, ""
}

// check checks the key, the signature and the times of the link lk to
// dir + p (followed by "*" when wild), whose canonical string starts with
// version.
func (l *Local) check(version, dir, p string, wild bool, lk *link, now time.Time) (signers.Verdict, string) {
	var k *hmacKey
	for _, c := range l.keys {
		if c.id == lk.kid {
			k = c
			break
		}
	}
	if k == nil {
		return signers.Refused, "unknown key id"
	}
	if !k.verify(version, dir, p, wild, lk) {
		return signers.Refused, "bad signature"
	}
	sec := now.Unix()
	if sec >= number(lk.exp) {
		return signers.Expired, "expired"
	}
	if lk.nbf != "" && sec < number(lk.nbf) {
		return signers.Refused, "not valid yet (pl_nbf)"
	}
	return signers.Admitted, ""
}
