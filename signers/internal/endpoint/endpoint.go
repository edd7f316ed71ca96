// Package endpoint parses and checks the endpoints of profiles, computes
// the host header their signatures cover, and keeps their addresses out of
// errors (Scrub).
package endpoint

import (
	"fmt"
	"net/url"
	"strings"
)

// Parse checks an endpoint option (named opt in errors, with an
// example of a good one) and returns its scheme and host[:port], lower case.
// A default port (:443 on https, :80 on http) is dropped unless keepPort:
// signatures cover the host without one, so some kinds' URLs leave it out;
// others keep it in the URL, as their providers' own signers do.
func Parse(opt, raw, example string, keepPort bool) (scheme, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("%s %q is not an http(s) URL such as %s", opt, Shown(raw), example)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return "", "", fmt.Errorf("%s %q must be scheme://host[:port] only, without path, query or user", opt, Shown(raw))
	}
	scheme, host = u.Scheme, strings.ToLower(u.Host)
	if p := u.Port(); !keepPort && (p == "443" && scheme == "https" || p == "80" && scheme == "http") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return scheme, host, nil
}

// Shown is an endpoint for error messages: its user info, which may
// hold credentials (https://KEY:SECRET@host), becomes "xxxxx". Everything up
// to the last '@' goes, as a secret may hold '/'.
func Shown(raw string) string {
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return raw
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return raw[:start] + "xxxxx" + raw[at:]
}

// ValidBucket accepts S3's bucket names, plus upper case and '_' that some
// S3-compatible stores allow in path-style use.
func ValidBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// SignedHostHeader returns the value of the signed host header for a URL with
// this scheme and host, as the SDK computes it: SanitizeHostForHeader strips
// the port when it is the scheme's default (80 for http, 443 for https), the
// URL's host is used again if that leaves nothing, and StripExcessSpaces
// trims spaces and collapses runs of them. The URL itself keeps the port.
func SignedHostHeader(scheme, host string) string {
	h := host
	if port := portOnly(h); port != "" && isDefaultPort(scheme, port) {
		h = stripPort(h)
	}
	if h == "" {
		h = host
	}
	if strings.IndexByte(h, ' ') >= 0 {
		h = StripExcessSpaces(h)
	}
	return h
}

// stripPort is the SDK's stripPort (the Go 1.8 url.URL.Hostname): host
// without any port, and an IPv6 literal without its brackets.
func stripPort(hostport string) string {
	colon := strings.IndexByte(hostport, ':')
	if colon == -1 {
		return hostport
	}
	if i := strings.IndexByte(hostport, ']'); i != -1 {
		return strings.TrimPrefix(hostport[:i], "[")
	}
	return hostport[:colon]
}

// portOnly is the SDK's portOnly (the Go 1.8 url.URL.Port): the port
// after the colon, or "".
func portOnly(hostport string) string {
	colon := strings.IndexByte(hostport, ':')
	if colon == -1 {
		return ""
	}
	if i := strings.Index(hostport, "]:"); i != -1 {
		return hostport[i+len("]:"):]
	}
	if strings.Contains(hostport, "]") {
		return ""
	}
	return hostport[colon+len(":"):]
}

// isDefaultPort is the SDK's isDefaultPort.
func isDefaultPort(scheme, port string) bool {
	if port == "" {
		return true
	}
	lower := strings.ToLower(scheme)
	return lower == "http" && port == "80" || lower == "https" && port == "443"
}

// StripExcessSpaces is the SDK's StripExcessSpaces: str without leading
// and trailing spaces and with each inner run of spaces cut to one.
func StripExcessSpaces(str string) string {
	var j, k, l, m, spaces int
	for j = len(str) - 1; j >= 0 && str[j] == ' '; j-- {
	}
	for k = 0; k < j && str[k] == ' '; k++ {
	}
	str = str[k : j+1]
	j = strings.Index(str, "  ")
	if j < 0 {
		return str
	}
	buf := []byte(str)
	for k, m, l = j, j, len(buf); k < l; k++ {
		if buf[k] == ' ' {
			if spaces == 0 {
				buf[m] = buf[k]
				m++
			}
			spaces++
		} else {
			spaces = 0
			buf[m] = buf[k]
			m++
		}
	}
	return string(buf[:m])
}
