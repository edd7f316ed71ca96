package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// NoRedirect is an HTTP client that does not follow redirects.
var NoRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Fetch does one request with NoRedirect and returns the status, headers
// and body; a transport error fails the test. mods can change the request
// (headers, credentials) before it is sent.
func Fetch(t testing.TB, method, u string, body io.Reader, mods ...func(*http.Request)) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	for _, m := range mods {
		m(req)
	}
	resp, err := NoRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// PostForm posts a multipart/form-data form to u, as a browser builds an
// upload form: the fields (name, value pairs) in their order, then the
// file part, named "file", last. It returns what Fetch returns.
func PostForm(t testing.TB, u string, fields []string, filename string, file []byte) (int, http.Header, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(file); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return Fetch(t, "POST", u, &buf, func(r *http.Request) { r.Header.Set("Content-Type", mw.FormDataContentType()) })
}

// Do does one request with c and returns the status, headers and body, or
// the transport error: Fetch for load loops, where a worker goroutine must
// not fail the test itself.
func Do(ctx context.Context, c *http.Client, method, u string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// LoadClient is an HTTP client for load loops: no redirects followed,
// enough idle connections that workers reuse theirs instead of opening a
// new one per request.
func LoadClient(workers int) *http.Client {
	return &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: NoRedirect.CheckRedirect,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        2 * workers,
			MaxIdleConnsPerHost: 2 * workers,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// Tamper changes one character of the URL's X-Amz-Signature.
func Tamper(t testing.TB, u string) string {
	t.Helper()
	return TamperParam(t, u, "X-Amz-Signature")
}

// TamperParam changes one letter or digit of the value of the URL's query
// parameter name (a signature), near its start: a '0' becomes '1', any
// other becomes '0', which keeps hex and base64 valid.
func TamperParam(t testing.TB, u, name string) string {
	t.Helper()
	i := strings.Index(u, "?"+name+"=")
	if i < 0 {
		i = strings.Index(u, "&"+name+"=")
	}
	if i < 0 {
		t.Fatalf("no %s in %s", name, u)
	}
	i += len(name) + 2
	return u[:i] + TamperString(t, u[i:])
}

// TamperString changes one letter or digit of s (a signature, a policy)
// near its start, as TamperParam does.
func TamperString(t testing.TB, s string) string {
	t.Helper()
	i := 5
	for i < len(s) && !('0' <= s[i] && s[i] <= '9' || 'A' <= s[i] && s[i] <= 'Z' || 'a' <= s[i] && s[i] <= 'z') {
		i++
	}
	if i >= len(s) {
		t.Fatalf("%q has no letter or digit to change", s)
	}
	c := byte('0')
	if s[i] == '0' {
		c = '1'
	}
	return s[:i] + string(c) + s[i+1:]
}

// RawAnswer is a response read off a raw connection.
type RawAnswer struct {
	Code   int
	Header http.Header
	Body   []byte
}

// RawRequest sends request (a request line and header lines, without the
// final empty line; "\n" separators become CRLF) byte for byte to addr,
// with Host and Connection: close added, and reads the answer. Nothing
// cleans or encodes the request line, unlike Go's client.
func RawRequest(t testing.TB, addr, request string) RawAnswer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	lines := strings.Split(request, "\n")
	msg := strings.Join(lines, "\r\n") + "\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write to %s: %v", addr, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: reading the answer: %v", Clipped(lines[0], 100), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return RawAnswer{Code: resp.StatusCode, Header: resp.Header, Body: body}
}

// Clipped is s cut to n bytes, saying how long it was, for messages.
func Clipped(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("...(%d bytes)", len(s))
}

// Load starts workers goroutines that call do(w, i) for i = 0, 1, ... (at
// most a million times each) until ctx is done, and returns at once. wait
// waits for them to end and returns how many calls they made and the errors
// of the first ten that failed; a failure does not stop its worker. do must
// be safe for concurrent use.
func Load(ctx context.Context, workers int, do func(w, i int) error) (wait func() (calls int64, failures []error)) {
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		calls    int64
		failures []error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 1_000_000; i++ {
				err := do(w, i)
				mu.Lock()
				calls++
				if err != nil && len(failures) < 10 {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		}()
	}
	return func() (int64, []error) {
		wg.Wait()
		return calls, failures
	}
}
