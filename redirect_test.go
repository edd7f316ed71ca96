package presign

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// genCloudFrontKey is a throw-away RSA key for CloudFront profiles, made
// once per test binary.
var genCloudFrontKey = sync.OnceValues(func() ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
})

// cloudFrontKeyFile writes the throw-away CloudFront key to a file of the
// test and returns its path and PEM.
func cloudFrontKeyFile(t testing.TB) (string, []byte) {
	t.Helper()
	pemBytes, err := genCloudFrontKey()
	if err != nil {
		t.Fatalf("generating an RSA key: %v", err)
	}
	p := filepath.Join(t.TempDir(), "cf.pem")
	if err := os.WriteFile(p, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, pemBytes
}

// redirectFragments are the pieces the property test builds paths from:
// the classic open-redirect payloads, dot segments, separators, their
// encodings, and unicode.
var redirectFragments = []string{
	"//evil.com", "/\\evil.com", "\\\\evil.com", "@evil.com", "http://evil.com", "https:evil.com",
	"//", "/", "\\", ".", "..", "evil.com", "a", "file.txt", "~", "+", "*", ";", ",", "$", "!",
	"%2e", "%2E%2e", "%2f", "%2F%2F", "%5c", "%5C%5C", "%252f", "%40", "@", ":", "%3a", "?", "%3f",
	"#", "%23", "&", "=", "%26", "%3d", "%25", "%", "%zz",
	"é", "日本", "\u202e", "\u2028", "\ufeff", "%e2%80%ae", "%ef%bc%8f", "／", "＼", "．．",
	"%00", "%0d%0a", "\r\n", "%ff", "\xff", "\x00", " ", "%20", "\t", "%09",
	"{env.HOME}", "{http.request.host}", "javascript:alert(1)", "data:text/html,x",
}

// redirectSafe are plain pieces, so that many generated paths are signed.
var redirectSafe = []string{"a", "file.txt", "dir/", "x-y_z~", "évian", "%41", "%2fevil.com", "@evil.com", "evil.com:443", "http:", "https:%2f%2fevil.com"}

var redirectPrefixes = []string{"/path/", "/vhost/", "/aws/", "/cf/", "/cfc/", "/json/", "/", "/PATH/", "//path/", "/./aws/", "/cf//", ""}

// randomRedirectPath builds a path from prefixes, fragments and the odd
// random byte.
func randomRedirectPath(rng *mrand.Rand) string {
	var b strings.Builder
	b.WriteString(redirectPrefixes[rng.IntN(len(redirectPrefixes))])
	for n := rng.IntN(5); n > 0; n-- {
		switch rng.IntN(8) {
		case 0:
			b.WriteByte(byte(rng.IntN(256)))
		case 1, 2, 3:
			b.WriteString(redirectSafe[rng.IntN(len(redirectSafe))])
		default:
			b.WriteString(redirectFragments[rng.IntN(len(redirectFragments))])
		}
		if rng.IntN(3) == 0 {
			b.WriteByte('/')
		}
	}
	return b.String()
}

// TestNoOpenRedirect is a property test: for many generated paths, over S3
// path-style, virtual-hosted and AWS-default profiles and a CloudFront
// distribution (URLs, cookies, JSON answers), whatever the Host and
// forwarding headers say, every URL the handler hands out starts with the
// profile's own origin and a "/", and resolves, relative to any page, to
// the profile's host: the request changes the key, never the host. The seed
// is logged; REDIRECT_SEED=<n> replays it, REDIRECT_N=<n> sets the count.
func TestNoOpenRedirect(t *testing.T) {
	keyFile, _ := cloudFrontKeyFile(t)
	const keys = `access_key_id AKIDREDIRECT
			secret_access_key redirectsecretredirectsecret`
	h := newHandler(t, `presign {
		profile path s3 {
			bucket media
			region us-east-1
			endpoint http://127.0.0.1:9000
			path_style
			`+keys+`
		}
		profile vhost s3 {
			bucket media
			region us-east-1
			endpoint https://s3.example.com
			`+keys+`
		}
		profile aws s3 {
			bucket media
			region eu-central-1
			`+keys+`
		}
		profile cf cloudfront {
			domain https://d111111abcdef8.cloudfront.net/cdn
			key_pair_id K2JCJMDEHXQW5F
			private_key_file `+keyFile+`
		}
		rule /path/* {
			profile path
			strip_prefix /path
		}
		rule /vhost/* {
			profile vhost
			strip_prefix /vhost
			status 307
		}
		rule /aws/* {
			profile aws
			strip_prefix /aws
			status 303
		}
		rule /cf/* {
			profile cf
			strip_prefix /cf
		}
		rule /cfc/* {
			profile cf
			strip_prefix /cfc
			cookies
		}
		rule /json/* {
			profile vhost
			strip_prefix /json
			respond json
		}
		rule /* {
			profile aws
		}
	}`)
	h.logger = zap.NewNop() // a debug line per answer is not what this test reads
	origins := map[string]string{
		"path":  "http://127.0.0.1:9000/media",
		"vhost": "https://media.s3.example.com",
		"aws":   "https://media.s3.eu-central-1.amazonaws.com",
		"cf":    "https://d111111abcdef8.cloudfront.net/cdn",
	}
	for name, s := range h.profiles {
		if s.Origin() != origins[name] {
			t.Fatalf("profile %s: Origin() %q, want %q", name, s.Origin(), origins[name])
		}
	}

	seed := uint64(0)
	if v := os.Getenv("REDIRECT_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	} else {
		var b [8]byte
		rand.Read(b[:])
		for _, c := range b {
			seed = seed<<8 | uint64(c)
		}
	}
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("REDIRECT_N")); err == nil && v > 0 {
		n = v
	}
	t.Logf("seed %d (REDIRECT_SEED=%d replays it), %d paths", seed, seed, n)
	rng := mrand.New(mrand.NewPCG(seed, 0x9e3779b97f4a7c15))

	pages := []*url.URL{mustURL("https://caddy.example/dl/page"), mustURL("http://127.0.0.1:8080/"), mustURL("https://evil.com/x/y")}
	var signed, refused, fellThrough, unparsable int
	for i := 0; i < n; i++ {
		p := randomRedirectPath(rng)
		var r *http.Request
		if rng.IntN(2) == 0 {
			// as the server parses it off the wire
			var err error
			r, err = http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + p + " HTTP/1.1\r\nHost: caddy.example\r\n\r\n")))
			if err != nil {
				unparsable++
				continue
			}
			r.RemoteAddr = "192.0.2.7:4242"
		} else {
			// any decoded path at all
			r = httptest.NewRequest("GET", "/", nil)
			r.URL.Path, r.URL.RawPath = p, ""
		}
		switch rng.IntN(4) {
		case 0:
			r.Host = "evil.com"
		case 1:
			r.Header.Set("X-Forwarded-Host", "evil.com")
			r.Header.Set("X-Forwarded-Proto", "http")
		case 2:
			r.Header.Set("Forwarded", "host=evil.com;proto=http")
		}
		a := serveRequest(t, h, r, "")
		rule, _ := h.matchRule(a.Req)
		loc := a.Header.Get("Location")
		var he caddyhttp.HandlerError
		switch {
		case a.Next:
			fellThrough++
			if rule != nil || loc != "" {
				t.Fatalf("path %q: went on to the next handler (rule %v, Location %q)", p, rule != nil, loc)
			}
			continue
		case a.Err != nil:
			refused++
			if !errors.As(a.Err, &he) || he.StatusCode != http.StatusBadRequest || loc != "" || len(a.Header.Values("Set-Cookie")) > 0 {
				t.Fatalf("path %q: error %v, Location %q: want 400 with nothing signed", p, a.Err, loc)
			}
			continue
		}
		signed++
		origin := origins[rule.Profile]
		got := loc
		if rule.json {
			var j urlAnswer
			if err := json.Unmarshal([]byte(a.Body), &j); err != nil || a.Code != http.StatusOK {
				t.Fatalf("path %q: JSON answer %d %q", p, a.Code, a.Body)
			}
			got = j.URL
		} else if a.Code != rule.Status {
			t.Fatalf("path %q: status %d, want %d", p, a.Code, rule.Status)
		}
		if !strings.HasPrefix(got, origin+"/") {
			t.Fatalf("path %q (%s): URL %q does not start with %q", p, rule.name, got, origin+"/")
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c <= ' ' || c >= 0x7f || c == '\\' {
				t.Fatalf("path %q: URL %q holds byte %#x, which a browser may read its own way", p, got, c)
			}
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("path %q: URL %q: %v", p, got, err)
		}
		want := mustURL(origin)
		for _, page := range pages {
			if res := page.ResolveReference(u); res.Scheme != want.Scheme || res.Host != want.Host || res.User != nil {
				t.Fatalf("path %q: URL %q resolves on %s to host %q, want %q", p, got, page, res.Host, want.Host)
			}
		}
		if rule.Cookies && len(a.Header.Values("Set-Cookie")) == 0 {
			t.Fatalf("path %q: cookies rule without Set-Cookie", p)
		}
	}
	t.Logf("%d signed, %d refused (400), %d went on, %d not parsable as a request", signed, refused, fellThrough, unparsable)
	if signed < n/10 || refused < n/10 || fellThrough == 0 {
		t.Errorf("the generator hardly exercises the handler: %d signed, %d refused, %d went on of %d", signed, refused, fellThrough, n)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
