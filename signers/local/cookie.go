package local

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// Cookies (a rule's cookies): the rule answers with a cookie that opens a
// folder (with resource) or one file, and a redirect to the file's plain
// link, which carries no signature. The cookie is
//
//	presign-link=1~<D>~<E>~<N>~<IP>~<K>~<S>; Path=<folder or file>; Secure; HttpOnly; SameSite=Lax
//
// D is the folder's depth below serve (0: the cookie opens the one file
// its Path names), E the expiry, N the optional not-before, IP the
// optional client address, K the key's id, S the signature of the
// canonical string of a link (see link.go) with a first line of its own,
// presign-cookie-v1, and for P the folder as serve + "/" + its first D
// segments + "/*", or with D 0 the file's path; the CD line is empty. Its
// Path is P without the "*", percent-encoded, so that browsers send it
// under the folder only. The guard admits a request without a query that
// carries one such cookie valid for its path, and removes every
// presign-link cookie from the request.
const (
	cookieName    = "presign-link"
	cookieVersion = "presign-cookie-v1"
	cookieFormat  = "1~"
)

// cookie is the signed cookie for the file key, or for the folder scope
// (a key prefix ending in "/") when it is not "": signed with the first
// key, with the link values of lk.
func (l *Local) cookie(key, scope string, lk *link, signTime, expiresAt time.Time) *http.Cookie {
	k := l.keys[0]
	lk.kid = k.id
	depth, grant := 0, l.prefix+"/"+key
	if scope != "" {
		depth, grant = strings.Count(scope, "/"), l.prefix+"/"+scope
	}
	st := k.pool.Get().(*macState)
	k.signAs(st, cookieVersion, "", grant, scope != "", lk)
	v := make([]byte, 0, 96)
	v = append(v, cookieFormat...)
	v = strconv.AppendInt(v, int64(depth), 10)
	for _, s := range [...]string{lk.exp, lk.nbf, lk.ip, lk.kid} {
		v = append(v, '~')
		v = append(v, s...)
	}
	v = append(v, '~')
	v = append(v, st.sig[:]...)
	k.pool.Put(st)
	return &http.Cookie{
		Name:  cookieName,
		Value: string(v),
		Path:  escape.Path(grant),
		// Max-Age, which browsers prefer, counts from the signing time
		// (with stable, the window's start), as CloudFront's cookies
		Expires:  expiresAt,
		MaxAge:   int(expiresAt.Sub(signTime) / time.Second),
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// admitCookie checks the presign-link cookies of r, whose path p lies
// under serve: admitted when one opens p (Admit then removes them all).
// Otherwise Expired when one would open p but has expired, else Refused.
func (l *Local) admitCookie(r *http.Request, p string, now time.Time) (signers.Verdict, string) {
	v, why := signers.Refused, "no link: no query, no folder token and no "+cookieName+" cookie"
	for _, line := range r.Header["Cookie"] {
		for rest := line; rest != ""; {
			var c string
			c, rest, _ = strings.Cut(rest, ";")
			val, ok := strings.CutPrefix(strings.TrimLeft(c, " \t"), cookieName+"=")
			if !ok {
				continue
			}
			cv, cwhy := l.checkCookie(r, p, strings.TrimRight(val, " \t"), now)
			if cv == signers.Admitted {
				return cv, ""
			}
			if v != signers.Expired {
				v, why = cv, cwhy
			}
		}
	}
	return v, why
}

// checkCookie checks one cookie's value val for the request r to p.
func (l *Local) checkCookie(r *http.Request, p, val string, now time.Time) (signers.Verdict, string) {
	rest, ok := strings.CutPrefix(strings.Trim(val, `"`), cookieFormat)
	if !ok {
		return signers.Refused, "unknown cookie version"
	}
	var d string
	var lk link
	var f [6]*string
	f[0], f[1], f[2], f[3], f[4], f[5] = &d, &lk.exp, &lk.nbf, &lk.ip, &lk.kid, &lk.sig
	for i, dst := range f {
		var more bool
		*dst, rest, more = strings.Cut(rest, "~")
		if more == (i == len(f)-1) {
			return signers.Refused, "malformed cookie"
		}
	}
	if !decimal(d) || !decimal(lk.exp) || lk.nbf != "" && !decimal(lk.nbf) {
		return signers.Refused, "malformed cookie"
	}
	depth := number(d)
	grant := p
	if depth > 0 {
		// the folder: serve, "/", and depth segments of the path, each
		// followed by "/", and a file below them
		i := len(l.serve) + 1
		for n := int64(0); n < depth; n++ {
			j := strings.IndexByte(p[min(i, len(p)):], '/')
			if j < 0 {
				return signers.Refused, "the file is outside the cookie's folder"
			}
			i += j + 1
		}
		grant = p[:i]
	}
	if v, why := l.check(cookieVersion, "", grant, depth > 0, &lk, now); v != signers.Admitted {
		return v, why
	}
	if lk.ip != "" {
		if a, err := netip.ParseAddr(lk.ip); err != nil || a != signers.ClientIP(r) {
			return signers.Refused, "the cookie was made for another client IP"
		}
	}
	return signers.Admitted, ""
}

// stripCookies removes every presign-link cookie from the Cookie lines of
// h, and the header when nothing else is left.
func stripCookies(h http.Header) {
	lines := h["Cookie"]
	kept := lines[:0]
	for _, line := range lines {
		if !strings.Contains(line, cookieName+"=") {
			kept = append(kept, line)
			continue
		}
		var b strings.Builder
		for rest := line; rest != ""; {
			var c string
			c, rest, _ = strings.Cut(rest, ";")
			c = strings.Trim(c, " \t")
			if c == "" || strings.HasPrefix(c, cookieName+"=") {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(c)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}
