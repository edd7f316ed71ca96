package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestScrub: an error of a call to an endpoint keeps its text but the
// addresses, URLs and names of hosts in it, and errors.Is still sees its
// causes.
func TestScrub(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	_, refused := http.Post(srv.URL+"/sign?X-Goog-Signature=abc", "text/plain", nil)

	lookup := &url.Error{Op: "Post", URL: "https://kms.internal.example/", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "kms.internal.example", Server: "10.0.0.2:53", IsNotFound: true}}}
	reset := &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 4711},
		Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 3), Port: 443}, Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	timeout := &url.Error{Op: "Get", URL: "http://169.254.169.254/token", Err: context.DeadlineExceeded}
	proxied := &url.Error{Op: "Get", URL: "https://bucket.s3.eu-west-1.amazonaws.com/key", Err: &net.OpError{Op: "proxyconnect", Net: "tcp",
		Err: &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 4), Port: 3128}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}}
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the client's refusal of the handshake
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	otherName := strings.Replace(tlsSrv.URL, "127.0.0.1", "localhost", 1) // the test certificate names example.com and 127.0.0.1
	_, misnamed := tlsSrv.Client().Get(otherName + "/key?X-Amz-Signature=abc")
	for _, c := range []struct {
		err     error
		want    string
		is      error
		secrets []string
	}{
		{refused, "dial: connect: connection refused", syscall.ECONNREFUSED, []string{addr, "127.0.0.1", "X-Goog-Signature"}},
		{fmt.Errorf("operation error KMS: Sign, exceeded maximum number of attempts, 3, request send failed, %w", lookup),
			"operation error KMS: Sign, exceeded maximum number of attempts, 3, request send failed, dial: lookup: no such host", nil,
			[]string{"kms.internal", "10.0.0.2"}},
		{fmt.Errorf("reading the answer: %w", reset), "reading the answer: read: read: connection reset by peer", syscall.ECONNRESET, []string{"10.0.0"}},
		{timeout, "context deadline exceeded", context.DeadlineExceeded, []string{"169.254"}},
		{fmt.Errorf("oauth2: cannot fetch token: %v", refused), "oauth2: cannot fetch token: dial: connect: connection refused", nil,
			[]string{addr, "127.0.0.1", "X-Goog-Signature"}},
		{errors.Join(fmt.Errorf("first attempt: %v", lookup), fmt.Errorf("second attempt: %w", reset)),
			"first attempt: dial: lookup: no such host\nsecond attempt: read: read: connection reset by peer", syscall.ECONNRESET,
			[]string{"kms.internal", "10.0.0"}},
		{proxied, "proxyconnect: dial: connect: connection refused", syscall.ECONNREFUSED, []string{"10.0.0.4", "3128", "amazonaws"}},
		{fmt.Errorf("operation error S3: HeadObject, %w", misnamed), "operation error S3: HeadObject, tls: the certificate is not valid for the host", nil,
			[]string{"localhost", "example.com", tlsSrv.Listener.Addr().String(), "X-Amz-Signature"}},
	} {
		got := Scrub(c.err)
		if got.Error() != c.want {
			t.Errorf("Scrub(%q) = %q, want %q", c.err, got, c.want)
		}
		for _, s := range c.secrets {
			if strings.Contains(got.Error(), s) {
				t.Errorf("Scrub(%q) = %q holds %q", c.err, got, s)
			}
		}
		if c.is != nil && !errors.Is(got, c.is) {
			t.Errorf("Scrub(%q) is not %v", c.err, c.is)
		}
	}
	twice := fmt.Errorf("no token: %w", Scrub(fmt.Errorf("the metadata server is unreachable: %w", refused)))
	if got := Scrub(twice); got != twice {
		t.Errorf("Scrub of a scrubbed error = %q, want it kept: %q", got, twice)
	}
	plain := errors.New("answered 403 Forbidden")
	if Scrub(plain) != plain || Scrub(nil) != nil {
		t.Error("Scrub changes an error without an address")
	}
}
