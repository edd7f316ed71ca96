package signers

// escapePath percent-encodes an object key for a URL path the way S3 and
// SigV4 want it (RFC 3986): every byte but the unreserved A-Z a-z 0-9 - . _ ~
// and the separator / becomes %XX with upper-case hex. The result is both the
// URL's path and SigV4's canonical URI (S3 does not encode twice).
func escapePath(key string) string {
	n := 0
	for i := 0; i < len(key); i++ {
		if !unreservedOrSlash(key[i]) {
			n++
		}
	}
	if n == 0 {
		return key
	}
	return string(appendEscaped(make([]byte, 0, len(key)+2*n), key, false))
}

// appendEscaped appends s percent-encoded to b: unreserved bytes stay, and
// '/' stays unless escapeSlash.
func appendEscaped(b []byte, s string, escapeSlash bool) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreservedOrSlash(c) && (c != '/' || !escapeSlash) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

func unreservedOrSlash(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '/'
}
