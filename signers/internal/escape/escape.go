// Package escape is the percent-encoding of URLs and query parameters, and
// the compact ISO 8601 time that signatures carry.
package escape

import (
	"slices"
	"time"
)

// Unreserved holds RFC 3986's unreserved bytes, A-Z a-z 0-9 - . _ ~: the
// bytes that percent-encoding leaves as they are, in URLs, the canonical
// requests that signatures cover and RFC 5987 values alike.
var Unreserved = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
	}
	return t
}()

// PathSafe is Unreserved and the separator '/': the bytes an object key
// keeps in a URL path.
var PathSafe = func() [256]bool {
	t := Unreserved
	t['/'] = true
	return t
}()

// Append appends s to b percent-encoded: every byte that safe does
// not hold becomes %XX with upper-case hex (a space is %20). With
// Unreserved it is the query encoding of canonical requests (the AWS SDK's
// encodeQueryComponent); with PathSafe it is the path encoding of object
// keys, which the stores want (they do not encode twice).
func Append[S string | []byte](b []byte, s S, safe *[256]bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	i := 0
	for i < len(s) && safe[s[i]] {
		i++
	}
	b = append(b, s[:i]...)
	if i == len(s) {
		return b
	}
	// Room for the rest, then write by index.
	n := len(s) - i
	for j := i; j < len(s); j++ {
		if !safe[s[j]] {
			n += 2
		}
	}
	w := len(b)
	b = slices.Grow(b, n)[:w+n]
	for ; i < len(s); i++ {
		c := s[i]
		if safe[c] {
			b[w] = c
			w++
			continue
		}
		b[w], b[w+1], b[w+2] = '%', hexDigits[c>>4], hexDigits[c&15]
		w += 3
	}
	return b
}

// Path percent-encodes an object key for a URL path: every byte but
// the unreserved ones and '/'. The result is both the URL's path and
// the canonical request's URI.
func Path(key string) string {
	i := 0
	for i < len(key) && PathSafe[key[i]] {
		i++
	}
	if i == len(key) {
		return key
	}
	var buf [256]byte
	return string(Append(buf[:0], key, &PathSafe))
}

// AppendForm appends s encoded as url.QueryEscape encodes it, the
// form encoding of some kinds' signed queries (Azure's): as Append with Unreserved,
// except that a space is '+'.
func AppendForm[S string | []byte](b []byte, s S) []byte {
	for {
		i := 0
		for i < len(s) && s[i] != ' ' {
			i++
		}
		b = Append(b, s[:i], &Unreserved)
		if i == len(s) {
			return b
		}
		b = append(b, '+')
		s = s[i+1:]
	}
}

// QueryParam is one extra query parameter to sign, neither key nor value
// encoded (e.g. response-content-disposition).
type QueryParam struct {
	Name, Value string
}

// CompareEncoded compares a and b as Append with Unreserved would
// encode them,
// without encoding: it returns -1, 0 or +1.
//
// Encoding maps each byte to its own code independently, so the first
// differing byte decides. An Unreserved byte's code is itself and never
// '%'; an escaped byte's code is '%' and two upper-case hex digits, which
// sort as the byte's value. So an Unreserved byte u and an escaped byte e
// compare as u and '%', and two escaped bytes as their values.
func CompareEncoded(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		ka, kb := uint16(ca)<<8, uint16(cb)<<8
		if !Unreserved[ca] {
			ka = '%'<<8 | uint16(ca)
		}
		if !Unreserved[cb] {
			kb = '%'<<8 | uint16(cb)
		}
		if ka < kb {
			return -1
		}
		return 1
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// IsHex tells whether c is a hexadecimal digit.
func IsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// MaxPooledBuf is the largest buffer a kind keeps in its pool of signing
// scratch space.
const MaxPooledBuf = 16 << 10

// BasicTimeLayout is the compact ISO 8601 time of signatures (X-Amz-Date,
// X-Goog-Date).
const BasicTimeLayout = "20060102T150405Z"

// AppendBasicTime appends t (UTC) in BasicTimeLayout, as t.Format would.
func AppendBasicTime(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, BasicTimeLayout)
	}
	hour, minute, sec := t.Clock()
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10),
		byte('0'+int(month)/10), byte('0'+int(month)%10),
		byte('0'+day/10), byte('0'+day%10),
		'T',
		byte('0'+hour/10), byte('0'+hour%10),
		byte('0'+minute/10), byte('0'+minute%10),
		byte('0'+sec/10), byte('0'+sec%10),
		'Z')
	return b
}
