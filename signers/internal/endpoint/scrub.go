package endpoint

import (
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Scrub returns err, from a call to an endpoint, as an error whose text
// holds no address: the URL of a url.Error (which may hold a signature
// too), the addresses of a failed dial (through a proxy too), the name and
// server of a failed lookup and the names of a certificate for another
// host are left out, and the rest of the text (what wraps them, such as an
// SDK's operation and attempts) stays; so do such parts of a text that
// a wrapper flattened. errors.Is and errors.As see err.
// An error that wraps one Scrub returned is scrubbed already.
func Scrub(err error) error {
	if err == nil {
		return nil
	}
	var done *scrubbed
	if errors.As(err, &done) {
		return err
	}
	orig := err.Error()
	text := orig
	var ue *url.Error
	var oe *net.OpError
	var de *net.DNSError
	var he x509.HostnameError
	switch {
	case errors.As(err, &ue):
		text = replace(text, ue.Error(), netCause(ue.Err))
	case errors.As(err, &oe):
		text = replace(text, oe.Error(), netCause(oe))
	case errors.As(err, &de):
		text = replace(text, de.Error(), netCause(de))
	case errors.As(err, &he):
		text = replace(text, he.Error(), netCause(he))
	}
	for _, a := range addressText {
		text = a.re.ReplaceAllString(text, a.repl)
	}
	if text == orig {
		return err
	}
	return &scrubbed{text: text, err: err}
}

// addressText are the parts of an error's text that hold addresses as
// net/url and net write them (a url.Error's operation and URL, a net
// OpError's network and addresses, a DNSError's name and server), and
// what each becomes: for the text of causes that a wrapper flattened (fmt's
// %v) or joined, which Scrub cannot reach by errors.As.
var addressText = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\b(?:Get|Head|Post|Put|Patch|Delete|Options|parse) "[^"]*": `), ""},
	{regexp.MustCompile(`\b(dial|read|write|proxyconnect) (?:tcp|tcp4|tcp6|udp|udp4|udp6|unix)(?: \S+?)?: `), "$1: "},
	{regexp.MustCompile(`\blookup \S+?(?: on \S+?)?: `), "lookup: "},
}

// replace is text with the part that holds addresses, whole, in place of
// its cause; or the cause alone when a wrapper rephrased that part.
func replace(text, whole, cause string) string {
	if !strings.Contains(text, whole) {
		return cause
	}
	return strings.ReplaceAll(text, whole, cause)
}

// netCause is err's text without addresses: a failed dial as its
// operation and cause ("dial: connect: connection refused"; through a
// proxy "proxyconnect: dial: connect: connection refused"), a failed
// lookup as its cause ("lookup: no such host"), a certificate for other
// names than the host's as that alone.
func netCause(err error) string {
	var he x509.HostnameError
	if errors.As(err, &he) {
		return "tls: the certificate is not valid for the host"
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		prefix := ""
		var oe *net.OpError
		if errors.As(err, &oe) {
			prefix = oe.Op + ": "
		}
		return prefix + "lookup: " + de.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		var inner *net.OpError
		if errors.As(oe.Err, &inner) {
			return oe.Op + ": " + netCause(oe.Err)
		}
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}

// scrubbed is an error with the text Scrub gives it.
type scrubbed struct {
	text string
	err  error
}

func (e *scrubbed) Error() string { return e.text }
func (e *scrubbed) Unwrap() error { return e.err }
