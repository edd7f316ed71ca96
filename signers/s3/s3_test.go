package s3

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/download"
)

// TestS3Origin: every URL's scheme, host and path prefix for AWS and
// S3-compatible endpoints, virtual-hosted and path-style; default ports are
// dropped so that the URL's host is the host SigV4 signs.
func TestS3Origin(t *testing.T) {
	for _, c := range []struct {
		bucket, region, endpoint string
		pathStyle                bool
		want                     string
	}{
		{"media", "eu-central-1", "", false, "https://media.s3.eu-central-1.amazonaws.com"},
		{"media", "eu-central-1", "", true, "https://s3.eu-central-1.amazonaws.com/media"},
		{"my.dotted.bucket", "us-east-1", "", true, "https://s3.us-east-1.amazonaws.com/my.dotted.bucket"},
		{"media", "nyc3", "https://nyc3.digitaloceanspaces.com", false, "https://media.nyc3.digitaloceanspaces.com"},
		{"media", "us-east-1", "http://127.0.0.1:9000", true, "http://127.0.0.1:9000/media"},
		{"media", "us-east-1", "https://S3.Example.COM:443/", true, "https://s3.example.com/media"},
		{"media", "us-east-1", "http://s3.example.com:80", false, "http://media.s3.example.com"},
		{"media", "us-east-1", "http://s3.example.com:443", true, "http://s3.example.com:443/media"},
		{"media", "us-east-1", "https://[::1]:8443", true, "https://[::1]:8443/media"},
		{"media", "us-east-1", "https://[::1]:443", true, "https://[::1]/media"},
	} {
		s := &S3{Bucket: c.bucket, Region: c.region, Endpoint: c.endpoint, PathStyle: c.pathStyle}
		if err := s.buildOrigin(); err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if s.Origin() != c.want {
			t.Errorf("%s %s %q path_style=%v: origin %q, want %q", c.bucket, c.region, c.endpoint, c.pathStyle, s.Origin(), c.want)
		}
	}
}

// TestS3CheckRule: CloudFront options, response options without a download
// method, POST conditions without POST, an unknown content_disposition and
// a lifetime over SigV4's 7 days (or not in whole seconds) are refused; the
// rule's own options pass.
func TestS3CheckRule(t *testing.T) {
	s := &S3{Bucket: "media", Region: "us-east-1"}
	get := []string{"GET", "HEAD"}
	for _, c := range []struct {
		methods []string
		expires time.Duration
		opts    signers.Options
		want    string
	}{
		{get, time.Hour, signers.Options{Resource: "https://x/*"}, "resource is not an option of s3 profiles"},
		{get, time.Hour, signers.Options{BindClientIP: true}, "bind_client_ip is not an option of s3 profiles"},
		{get, time.Hour, signers.Options{Cookies: true}, "cookies is not an option of s3 profiles"},
		{get, time.Hour, signers.Options{CookieDomain: "example.com"}, "cookie_domain is not an option of s3 profiles"},
		{[]string{"PUT"}, time.Hour, signers.Options{ContentType: "a/b"}, "shape downloads: the rule needs GET or HEAD"},
		{get, time.Hour, signers.Options{MaxSize: 10}, "max_size is an upload condition: the rule needs POST or uppy"},
		{get, time.Hour, signers.Options{ContentTypePrefix: signers.TypePrefixes{"image/"}}, "content_type_prefix is an upload condition: the rule needs POST, PUT or uppy"},
		{get, time.Hour, signers.Options{Uppy: true, ContentType: "a/b"}, "the rule needs GET or HEAD, and no uppy"},
		{[]string{"POST"}, time.Hour, signers.Options{MaxSize: -1}, "max_size must be positive"},
		{[]string{"POST"}, time.Hour, signers.Options{ContentTypePrefix: signers.TypePrefixes{"image/", ""}}, `content_type_prefix "" is not a media type prefix`},
		{[]string{"POST"}, time.Hour, signers.Options{ContentTypePrefix: signers.TypePrefixes{"image"}}, `content_type_prefix "image" is not a media type prefix: want a type and "/", e.g. image/ or image/png`},
		{[]string{"PUT"}, time.Hour, signers.Options{ContentTypePrefix: signers.TypePrefixes{"/png"}}, `content_type_prefix "/png" is not a media type prefix`},
		{[]string{"PUT"}, time.Hour, signers.Options{ContentTypePrefix: signers.TypePrefixes{"image/svg xml"}}, `content_type_prefix "image/svg xml" is not a media type prefix`},
		{[]string{"PUT"}, time.Hour, signers.Options{ContentTypePrefix: signers.TypePrefixes{"image/png; charset=x"}}, `content_type_prefix "image/png; charset=x" is not a media type prefix`},
		{[]string{"PUT"}, time.Hour, signers.Options{ContentTypePrefix: signers.TypePrefixes{"image/png/x"}}, `content_type_prefix "image/png/x" is not a media type prefix`},
		{get, time.Hour, signers.Options{ContentDisposition: "download"}, `content_disposition must be attachment or inline, got "download"`},
		{get, 7*24*time.Hour + time.Second, signers.Options{}, `expires 168h0m1s is over profile "p"'s limit of 168h0m0s`},
		{get, -time.Second, signers.Options{}, "expires must be positive, got -1s"},
		{get, 1500 * time.Millisecond, signers.Options{}, "expires must be whole seconds, got 1.5s"},
	} {
		err := s.CheckRule(&signers.RuleInfo{Profile: "p", Methods: c.methods, Expires: c.expires, Options: &c.opts})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %s %+v: %v, want %q", c.methods, c.expires, c.opts, err, c.want)
		}
	}
	for _, ok := range []signers.RuleInfo{
		{Methods: get, Expires: 7 * 24 * time.Hour, Options: &signers.Options{ContentDisposition: "inline", ContentType: "a/b", CacheControl: "no-cache"}},
		{Methods: []string{"PUT", "POST"}, Expires: time.Second, Options: &signers.Options{MaxSize: 1, ContentTypePrefix: signers.TypePrefixes{"image/"}}},
		{Methods: []string{"PUT"}, Expires: time.Second, Options: &signers.Options{ContentTypePrefix: signers.TypePrefixes{"image/", "image/svg+xml", "video/x-", "Text/Plain"}}},
		{Methods: get, Expires: time.Hour, Options: &signers.Options{Uppy: true, MaxSize: 10, ContentTypePrefix: signers.TypePrefixes{"video/"}}},
	} {
		if err := s.CheckRule(&ok); err != nil {
			t.Errorf("%+v refused: %v", ok, err)
		}
	}
}

// TestContentDisposition: the file is named after the key's last segment,
// quoted for the ASCII fallback, and for other names percent-encoded in
// RFC 6266 filename* (every byte but RFC 3986's escape.Unreserved ones).
func TestContentDisposition(t *testing.T) {
	for key, want := range map[string]string{
		"a/report.pdf":          `attachment; filename="report.pdf"`,
		`dir/say "hi"\.txt`:     `attachment; filename="say \"hi\"\\.txt"`,
		"reports/résumé 1.pdf":  `attachment; filename="r_sum_ 1.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf`,
		"x/日本 (1)!&+.txt":       `attachment; filename="__ (1)!&+.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%20%281%29%21%26%2B.txt`,
		"tab\there/plain~-_.md": `attachment; filename="plain~-_.md"`,
	} {
		if got := download.ContentDisposition("attachment", key); got != want {
			t.Errorf("%q: %s, want %s", key, got, want)
		}
	}
	if got := download.ContentDisposition("inline", "a\x01b"); got != `inline; filename="a_b"` {
		t.Errorf("control character: %s", got)
	}
}

// TestS3SigningKeysPerProfile: each profile keeps the signing keys derived
// from its own credentials: two profiles share no entry, even with the
// same secret, and Cleanup (a reload that removes the profile) empties its
// cache, after which it derives the key again. A hit allocates nothing.
func TestS3SigningKeysPerProfile(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	a, b := newTestS3(t), newTestS3(t)
	for _, s := range []*S3{a, b} {
		storeAWS(s, creds)
	}
	r := signers.Request{Method: "GET", Key: "k", SignTime: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Expires: time.Hour, Options: &signers.Options{}}
	sign := func(s *S3) string {
		t.Helper()
		got, err := signFresh(s, &r)
		if err != nil {
			t.Fatal(err)
		}
		return got.URL
	}
	u := sign(a)
	if a.keys.len() != 1 || b.keys.len() != 0 {
		t.Fatalf("after signing with a: a holds %d keys, b %d; want 1 and 0", a.keys.len(), b.keys.len())
	}
	if sign(b) != u || b.keys.len() != 1 || a.keys.slots[0].Load() == b.keys.slots[0].Load() {
		t.Fatal("b signed differently, or shares a's entry")
	}
	if k := a.keys.slots[0].Load(); k.secret != creds.SecretAccessKey || k.date != "20260301" || k.region != "eu-central-1" {
		t.Errorf("a's entry is for %s %s", k.date, k.region)
	}

	if err := a.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if a.keys.len() != 0 || b.keys.len() != 1 {
		t.Fatalf("after a's Cleanup: a holds %d keys, b %d; want 0 and 1", a.keys.len(), b.keys.len())
	}
	if sign(a) != u || a.keys.len() != 1 {
		t.Errorf("after Cleanup the profile signs differently, or keeps no key")
	}

	date := []byte("20260301")
	if n := testing.AllocsPerRun(100, func() { a.keys.get(creds.SecretAccessKey, date, "eu-central-1", "s3", "") }); n != 0 {
		t.Errorf("%.1f allocations per hit, want 0", n)
	}
}
