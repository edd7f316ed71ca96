package signers

import "slices"

// unreserved holds RFC 3986's unreserved bytes, A-Z a-z 0-9 - . _ ~: the
// bytes that percent-encoding leaves as they are, in URLs, SigV4's
// canonical request and RFC 5987 values alike.
var unreserved = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
	}
	return t
}()

// pathSafe is unreserved and the separator '/': the bytes an object key
// keeps in a URL path.
var pathSafe = func() [256]bool {
	t := unreserved
	t['/'] = true
	return t
}()

// appendEscaped appends s to b percent-encoded: every byte that safe does
// not hold becomes %XX with upper-case hex (a space is %20). With
// unreserved it is the SDK's SigV4 query encoding (encodeQueryComponent);
// with pathSafe it is the path encoding of object keys, which S3 and SigV4
// want (S3 does not encode twice).
func appendEscaped[S string | []byte](b []byte, s S, safe *[256]bool) []byte {
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

// escapePath percent-encodes an object key for a URL path: every byte but
// the unreserved ones and '/'. The result is both the URL's path and
// SigV4's canonical URI.
func escapePath(key string) string {
	i := 0
	for i < len(key) && pathSafe[key[i]] {
		i++
	}
	if i == len(key) {
		return key
	}
	var buf [256]byte
	return string(appendEscaped(buf[:0], key, &pathSafe))
}

// appendFormEscaped appends s encoded as url.QueryEscape encodes it, the
// form encoding of Azure's SAS queries: as appendEscaped with unreserved,
// except that a space is '+'.
func appendFormEscaped[S string | []byte](b []byte, s S) []byte {
	for {
		i := 0
		for i < len(s) && s[i] != ' ' {
			i++
		}
		b = appendEscaped(b, s[:i], &unreserved)
		if i == len(s) {
			return b
		}
		b = append(b, '+')
		s = s[i+1:]
	}
}
