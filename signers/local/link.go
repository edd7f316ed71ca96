package local

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/caddy-presign/presign/signers/internal/escape"
)

// The link format, version 1. A link is a URL whose path P is the file's
// path as the server that checks the link sees it (the base's path, if
// any, then serve, then the object key), percent-encoded, followed by
// exactly this query, in this order and with nothing else:
//
//	pl_v=1&pl_exp=<E>[&pl_nbf=<N>][&pl_ip=<IP>][&pl_cd=<CD>]&pl_kid=<K>&pl_sig=<S>
//
//	E   expiry, Unix seconds (decimal, no leading zero); the link works while now < E
//	N   not before, Unix seconds; optional
//	IP  the client's address (Go's netip form: 192.0.2.1, 2001:db8::1); optional
//	CD  attachment or inline: the served Content-Disposition; optional
//	K   the key's id
//	S   base64url without padding of HMAC-SHA256(the key's secret, C)
//
// C, the canonical string, is these eight lines joined by "\n" (no final
// newline), an absent optional value an empty line:
//
//	presign-link-v1
//	GET                  (the method class: GET, which also admits HEAD)
//	P, percent-decoded   (e.g. /s/reports/2026 Q1.pdf)
//	E
//	N
//	IP
//	CD
//	K
//
// P is clean: it starts with "/", has no empty, "." or ".." segment, no
// trailing "/" and no control character; a request whose raw path holds
// %2F is refused, as its decoded path would name another file to a
// proxied server. Letter case is significant.
const (
	linkVersion = "presign-link-v1"
	methodClass = "GET"

	pVersion = "pl_v=1"
	pExp     = "pl_exp="
	pNbf     = "pl_nbf="
	pIP      = "pl_ip="
	pCD      = "pl_cd="
	pKid     = "pl_kid="
	pSig     = "pl_sig="
)

// sigLen is the length of S: 32 bytes in base64url without padding.
const sigLen = (sha256.Size*8 + 5) / 6

// link is the values of a link's query, as they appear in it.
type link struct {
	exp, nbf, ip, cd, kid, sig string
}

// hmacKey is one key: its id, and a pool of HMAC states and scratch space
// so that a check allocates nothing.
type hmacKey struct {
	id   string
	pool sync.Pool // *macState
}

// macState is an HMAC of one key and its scratch space.
type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
	sig [sigLen]byte // the encoded signature
}

func newHMACKey(id string, secret []byte) *hmacKey {
	k := &hmacKey{id: id}
	k.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, secret), buf: make([]byte, 0, 512)}
	}
	return k
}

// sign computes S for the link l to the decoded path p into st.sig.
func (k *hmacKey) sign(st *macState, p string, l *link) { k.signAs(st, linkVersion, "", p, false, l) }

// signAs is sign with the canonical string's first line version, and
// for P dir followed by p, and by "*" when wild (a folder's). P comes in
// two parts so that a check builds it from the request's path without
// allocating: serve and the folder that follows a folder link's token.
func (k *hmacKey) signAs(st *macState, version, dir, p string, wild bool, l *link) {
	b := append(st.buf[:0], version...)
	b = append(b, "\n"+methodClass+"\n"...)
	b = append(b, dir...)
	b = append(b, p...)
	if wild {
		b = append(b, '*')
	}
	for _, v := range [...]string{l.exp, l.nbf, l.ip, l.cd, l.kid} {
		b = append(b, '\n')
		b = append(b, v...)
	}
	if cap(b) <= escape.MaxPooledBuf {
		st.buf = b
	}
	st.h.Reset()
	st.h.Write(b)
	base64.RawURLEncoding.Encode(st.sig[:], st.h.Sum(st.sum[:0]))
}

// verify tells whether l.sig is the signature of l for dir + p (the
// canonical string's first line version, and "*" after p when wild),
// comparing in constant time.
func (k *hmacKey) verify(version, dir, p string, wild bool, l *link) bool {
	if len(l.sig) != sigLen {
		return false
	}
	st := k.pool.Get().(*macState)
	k.signAs(st, version, dir, p, wild, l)
	n := len(st.buf)
	st.buf = append(st.buf, l.sig...)
	ok := hmac.Equal(st.sig[:], st.buf[n:])
	k.pool.Put(st)
	return ok
}

// appendLink appends the link to p (decoded; escaped here) with the
// values of l but kid and sig, signed with k, to b.
func (k *hmacKey) appendLink(b []byte, p string, l *link) []byte {
	l.kid = k.id
	st := k.pool.Get().(*macState)
	k.sign(st, p, l)
	b = escape.Append(b, p, &escape.PathSafe)
	b = append(b, '?')
	b = append(b, pVersion+"&"+pExp...)
	b = append(b, l.exp...)
	for _, kv := range [...]struct{ name, v string }{{pNbf, l.nbf}, {pIP, l.ip}, {pCD, l.cd}} {
		if kv.v != "" {
			b = append(b, '&')
			b = append(b, kv.name...)
			b = append(b, kv.v...)
		}
	}
	b = append(b, '&')
	b = append(b, pKid...)
	b = append(b, k.id...)
	b = append(b, '&')
	b = append(b, pSig...)
	b = append(b, st.sig[:]...)
	k.pool.Put(st)
	return b
}

// parseLink reads a link's query: the parameters of the format, in its
// order, and nothing else; why says what is wrong, "" when nothing is.
func parseLink(q string) (l link, why string) {
	rest, ok := strings.CutPrefix(q, pVersion+"&")
	if !ok {
		switch {
		case q == "":
			return l, "no link: the request has no query"
		case strings.HasPrefix(q, "pl_v="):
			return l, "unknown link version"
		}
		return l, "not a link: the query does not start with " + pVersion
	}
	var more bool
	if l.exp, rest, more = param(rest, pExp); !more || !decimal(l.exp) {
		return l, "pl_exp is missing or not Unix seconds"
	}
	if strings.HasPrefix(rest, pNbf) {
		if l.nbf, rest, more = param(rest, pNbf); !more || !decimal(l.nbf) {
			return l, "pl_nbf is not Unix seconds"
		}
	}
	if strings.HasPrefix(rest, pIP) {
		if l.ip, rest, more = param(rest, pIP); !more || l.ip == "" {
			return l, "pl_ip is empty or last"
		}
	}
	if strings.HasPrefix(rest, pCD) {
		if l.cd, rest, more = param(rest, pCD); !more || l.cd != "attachment" && l.cd != "inline" {
			return l, "pl_cd is neither attachment nor inline"
		}
	}
	if l.kid, rest, more = param(rest, pKid); l.kid == "" || !more {
		return l, "pl_kid is missing"
	}
	if l.sig, rest, more = param(rest, pSig); l.sig == "" || more || rest != "" {
		return l, "pl_sig is missing or not last"
	}
	return l, ""
}

// param reads the parameter name (with its "=") at the start of q: its
// value, what follows its '&', and whether an '&' followed. A q that does
// not start with name gives "", q and true: an empty value.
func param(q, name string) (v, rest string, more bool) {
	v, ok := strings.CutPrefix(q, name)
	if !ok {
		return "", q, true
	}
	v, rest, more = strings.Cut(v, "&")
	return v, rest, more
}

// decimal tells whether s is a number as links write their times and
// depths: decimal digits, no leading zero, at most 18 of them.
func decimal(s string) bool {
	if s == "" || len(s) > 18 || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// number is the value of s, which decimal accepted.
func number(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// checkPath says why p, a request's decoded path, and raw, its raw path
// when it is not Go's default encoding of p, cannot be a link's path; ""
// when they can.
func checkPath(p, raw string) string {
	if p == "" || p[0] != '/' {
		return "the path is not absolute"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return "the path holds a control character"
		}
	}
	if path.Clean(p) != p { // allocates nothing on a clean path
		return "the path is not clean (an empty, '.' or '..' segment, or a trailing '/')"
	}
	if strings.Contains(raw, "%2F") || strings.Contains(raw, "%2f") {
		return "the raw path holds %2F"
	}
	return ""
}
