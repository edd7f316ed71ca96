package local

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/download"
)

// Binds implements signers.Binder: rules with bind_client_ip.
func (l *Local) Binds(o *signers.Options) bool { return o.BindClientIP }

// Bind implements signers.Binder: the client's IP.
func (l *Local) Bind(r signers.Request, hr *http.Request, _ string) signers.Request {
	r.ClientIP = signers.ClientIP(hr)
	return r
}

// Sign implements Signer: a link to the key under the profile's prefix,
// signed with the first key.
func (l *Local) Sign(_ context.Context, r signers.Request) (*signers.Signed, error) {
	expiresAt := r.SignTime.Add(r.Expires)
	var exp [20]byte
	lk := link{exp: string(strconv.AppendInt(exp[:0], expiresAt.Unix(), 10)), cd: r.Options.ContentDisposition}
	if r.Options.BindClientIP {
		if !r.ClientIP.IsValid() {
			return nil, errors.New("bind_client_ip: the request has no client IP")
		}
		lk.ip = r.ClientIP.String()
	}
	p := l.prefix + "/" + r.Key
	k := l.keys[0]
	b := make([]byte, 0, len(l.origin)-len(l.prefix)+len(p)*3/2+160)
	b = append(b, l.origin[:len(l.origin)-len(l.prefix)]...)
	b = k.appendLink(b, p, &lk)
	return &signers.Signed{URL: string(b), ExpiresAt: expiresAt}, nil
}

// Admit implements signers.Guard.
func (l *Local) Admit(h http.Header, r *http.Request, now time.Time) (signers.Verdict, string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return signers.Refused, "a link opens GET and HEAD only"
	}
	p := r.URL.Path
	if why := checkPath(p, r.URL.RawPath); why != "" {
		return signers.Refused, why
	}
	lk, why := parseLink(r.URL.RawQuery)
	if why != "" {
		return signers.Refused, why
	}
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
	if !k.verify(p, &lk) {
		return signers.Refused, "bad signature"
	}
	sec := now.Unix()
	if sec >= unix(lk.exp) {
		return signers.Expired, "expired"
	}
	if lk.nbf != "" && sec < unix(lk.nbf) {
		return signers.Refused, "not valid yet (pl_nbf)"
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
