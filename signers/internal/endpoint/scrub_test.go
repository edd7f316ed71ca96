package endpoint

import (
	"context"
	"errors"
	"fmt"
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
