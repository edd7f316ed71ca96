package s3

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// presignV4SDK is the reference presignV4: what v4.Signer.PresignHTTP
// returns for in, with the payload hash UNSIGNED-PAYLOAD and
// DisableURIPathEscaping, S3's settings.
//
// It uses a new Signer each time: the SDK's derived-key cache is keyed by
// access key ID, region/service and day but not by the secret, so a shared
// Signer returns stale signatures when one access key ID is seen with two
// secrets in a day (which fuzzing does all the time).
func presignV4SDK(in *v4Input) (string, error) {
	return presignV4SDKWith(v4.NewSigner(), in)
}

// presignV4SDKWith is presignV4SDK with the given Signer.
func presignV4SDKWith(signer *v4.Signer, in *v4Input) (string, error) {
	path, err := url.PathUnescape(in.EscapedPath)
	if err != nil {
		return "", err
	}
	q := make(url.Values, len(in.Query)+1)
	q.Set("X-Amz-Expires", strconv.FormatInt(in.Expires, 10))
	for _, p := range in.Query {
		q.Set(p.Name, p.Value)
	}
	req := &http.Request{
		Method: in.Method,
		URL: &url.URL{
			Scheme:   in.Scheme,
			Host:     in.Host,
			Path:     path,
			RawPath:  in.EscapedPath,
			RawQuery: q.Encode(),
		},
		Header: http.Header{},
		Host:   in.Host,
	}
	if in.ContentType != "" {
		req.Header.Set("Content-Type", in.ContentType)
	}
	u, _, err := signer.PresignHTTP(context.Background(), in.Creds, req,
		"UNSIGNED-PAYLOAD", in.Service, in.Region, in.SignTime,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	return u, err
}

// testToken is a session token shaped like STS's: long, base64 with '+',
// '/' and '='.
var testToken = func() string {
	var b strings.Builder
	for b.Len() < 760 {
		b.WriteString("IQoJb3JpZ2luX2VjE+/Fwg//////////wEaCXVzLWVhc3QtMSJHMEUCIQD=")
	}
	return b.String() + "=="
}()

// testKeys is the signing-key cache of the tests that call presignV4.
var testKeys v4KeyCache

// Test credentials: AWS's documented example keys.
var (
	testCreds = aws.Credentials{
		AccessKeyID:     "AKIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	}
	testCredsToken = aws.Credentials{
		AccessKeyID:     "ASIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SessionToken:    testToken,
	}
)

// testDisposition is a content disposition with quotes, a semicolon,
// unicode and an RFC 5987 filename*.
const testDisposition = `attachment; filename="r` + "\u00e9sum\u00e9" + `.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`

// v4Case is one row of the differential table.
type v4Case struct {
	name string
	in   v4Input
}

// v4Cases returns the differential table: varied but valid inputs.
func v4Cases() []v4Case {
	t0 := time.Date(2024, 5, 17, 12, 34, 56, 0, time.UTC)
	midnight := time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC)
	base := func(key string) v4Input {
		return v4Input{
			Method:      http.MethodGet,
			Scheme:      "https",
			Host:        "bucket.s3.us-east-1.amazonaws.com",
			EscapedPath: "/" + escape.Path(key),
			Region:      "us-east-1",
			Service:     "s3",
			Creds:       testCreds,
			SignTime:    t0,
			Expires:     900,
		}
	}
	with := func(key string, f func(*v4Input)) v4Input {
		in := base(key)
		f(&in)
		return in
	}
	resp := []escape.QueryParam{
		{Name: "response-content-type", Value: "application/pdf; charset=\"utf-8\""},
		{Name: "response-content-disposition", Value: testDisposition},
		{Name: "response-cache-control", Value: "private, max-age=60, no-transform"},
	}
	return []v4Case{
		{"simple", base("photos/cat.jpg")},
		{"head", with("a/b/c.txt", func(in *v4Input) { in.Method = http.MethodHead })},
		{"put", with("uploads/new file.bin", func(in *v4Input) { in.Method = http.MethodPut })},
		{"delete", with("users/42/old file.bin", func(in *v4Input) { in.Method = http.MethodDelete })},
		{"delete session token", with("r\u00e9sum\u00e9/a+b", func(in *v4Input) {
			in.Method = http.MethodDelete
			in.Creds = testCredsToken
		})},
		{"delete path style", with("k/x y", func(in *v4Input) {
			in.Method = http.MethodDelete
			in.Host = "127.0.0.1:7070"
			in.Scheme = "http"
			in.EscapedPath = "/bucket" + in.EscapedPath
		})},
		{"spaces", base("my docs/annual report 2024.pdf")},
		{"unicode", base("r\u00e9sum\u00e9/\u65e5\u672c\u8a9e/\U0001F600.png")},
		{"reserved", base("a+b%c=d&e?f#g~h;i:j@k,l$m!n*o'p(q)r[s]t")},
		{"percent literal", base("100%/%41%2F%zz")},
		{"tilde dots", base("~user/.hidden/..x../-_.~")},
		{"multi and trailing slashes", base("a//b///c/")},
		{"eu-central-1", with("k", func(in *v4Input) {
			in.Region = "eu-central-1"
			in.Host = "bucket.s3.eu-central-1.amazonaws.com"
		})},
		{"r2 auto", with("k/\u00e9", func(in *v4Input) {
			in.Region = "auto"
			in.Host = "account.r2.cloudflarestorage.com"
			in.EscapedPath = "/bucket" + in.EscapedPath
		})},
		{"session token", with("tok/en", func(in *v4Input) { in.Creds = testCredsToken })},
		{"session token and response", with("x y", func(in *v4Input) {
			in.Creds = testCredsToken
			in.Query = resp[:2]
		})},
		{"response params", with("doc.pdf", func(in *v4Input) { in.Query = resp })},
		{"response params reversed", with("doc.pdf", func(in *v4Input) {
			in.Query = []escape.QueryParam{resp[2], resp[1], resp[0]}
		})},
		{"response odd values", with("k", func(in *v4Input) {
			in.Query = []escape.QueryParam{
				{Name: "response-content-disposition", Value: "inline; filename=\"\u65e5\u672c \U0001F600 'q' a+b=c&d.txt\""},
				{Name: "response-cache-control", Value: ""},
				{Name: "response-content-type", Value: "text/plain;  charset=utf-8 "},
			}
		})},
		{"port 9000 http", with("k", func(in *v4Input) {
			in.Scheme = "http"
			in.Host = "127.0.0.1:9000"
			in.EscapedPath = "/bucket/k"
		})},
		{"port 443 https", with("k", func(in *v4Input) { in.Host = "bucket.s3.amazonaws.com:443" })},
		{"port 80 http", with("k", func(in *v4Input) {
			in.Scheme = "http"
			in.Host = "minio.local:80"
		})},
		{"port 80 https", with("k", func(in *v4Input) { in.Host = "minio.local:80" })},
		{"port 443 http", with("k", func(in *v4Input) {
			in.Scheme = "http"
			in.Host = "minio.local:443"
		})},
		{"ipv6 port", with("k", func(in *v4Input) { in.Host = "[::1]:9000" })},
		{"ipv6 default port", with("k", func(in *v4Input) { in.Host = "[2001:db8::1]:443" })},
		{"ipv6 no port", with("k", func(in *v4Input) { in.Host = "[2001:db8::1]" })},
		{"expires 1", with("k", func(in *v4Input) { in.Expires = 1 })},
		{"expires 7 days", with("k", func(in *v4Input) { in.Expires = 604800 })},
		{"before midnight", with("k", func(in *v4Input) { in.SignTime = midnight })},
		{"after midnight", with("k", func(in *v4Input) { in.SignTime = midnight.Add(time.Second) })},
		{"leap day", with("k", func(in *v4Input) { in.SignTime = time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC) })},
		{"non-UTC time", with("k", func(in *v4Input) {
			in.SignTime = time.Date(2024, 1, 1, 1, 30, 0, 0, time.FixedZone("CET", 3600))
		})},
		{"year 2000", with("k", func(in *v4Input) { in.SignTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"year 2099", with("k", func(in *v4Input) { in.SignTime = time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC) })},
		{"year 0", with("k", func(in *v4Input) { in.SignTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"year 10000", with("k", func(in *v4Input) { in.SignTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"year -1", with("k", func(in *v4Input) { in.SignTime = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"expires 0 and negative", with("k", func(in *v4Input) { in.Expires = -5 })},
		{"odd access key and region", with("k", func(in *v4Input) {
			in.Creds = aws.Credentials{AccessKeyID: "a k/+=%", SecretAccessKey: "s", SessionToken: "t o+k/e=n%"}
			in.Region = "my region/1"
		})},
		{"user overrides expires", with("k", func(in *v4Input) {
			in.Query = []escape.QueryParam{{Name: "X-Amz-Expires", Value: "60"}}
		})},
		{"user params set over", with("k", func(in *v4Input) {
			in.Query = []escape.QueryParam{{Name: "a", Value: "1"}, {Name: "a", Value: "2"}, {Name: "X-Amz-Date", Value: "x"}, {Name: "X-Amz-Signature", Value: "y"}}
		})},
		{"user token without session", with("k", func(in *v4Input) {
			in.Query = []escape.QueryParam{{Name: "X-Amz-Security-Token", Value: "mine"}}
		})},
		{"user token with session", with("k", func(in *v4Input) {
			in.Creds = testCredsToken
			in.Query = []escape.QueryParam{{Name: "X-Amz-Security-Token", Value: "mine"}}
		})},
		{"names needing escapes", with("k", func(in *v4Input) {
			in.Query = []escape.QueryParam{{Name: "a b", Value: "1"}, {Name: "a-b", Value: "2"}, {Name: "a/b", Value: "3"}, {Name: "a~b", Value: "4"}, {Name: "", Value: "empty"}, {Name: "\u00e9", Value: "5"}, {Name: "A", Value: ""}}
		})},
		{"root path", with("", func(in *v4Input) {})},
		{"put content-type", with("up/cat.png", func(in *v4Input) {
			in.Method = http.MethodPut
			in.ContentType = "image/png"
		})},
		{"put content-type params and spaces", with("up/a b.mp4", func(in *v4Input) {
			in.Method = http.MethodPut
			in.ContentType = "  video/mp4;  codecs=\"avc1.42E01E,  mp4a.40.2\"  "
		})},
		{"put content-type with token", with("k", func(in *v4Input) {
			in.Method = http.MethodPut
			in.Creds = testCredsToken
			in.ContentType = "Image/PNG"
		})},
		{"put content-type port 9000", with("k", func(in *v4Input) {
			in.Method = http.MethodPut
			in.Scheme, in.Host, in.EscapedPath = "http", "127.0.0.1:9000", "/bucket/k"
			in.ContentType = "text/plain; charset=utf-8"
		})},
		{"long key", base(strings.Repeat("segment/\u00e9 +", 80) + "end")},
		// Outside presignV4's contract, still identical to the SDK.
		{"raw path lower hex", with("k", func(in *v4Input) { in.EscapedPath = "/a%c3%a9" })},
		{"raw path sub-delims", with("k", func(in *v4Input) { in.EscapedPath = "/a+b=c;d@e:f!$&'()*,[]" })},
		{"raw path needs escaping", with("k", func(in *v4Input) { in.EscapedPath = "/a b/\u00e9\"<>" })},
		{"raw path no slash", with("k", func(in *v4Input) { in.EscapedPath = "k" })},
		{"raw path empty", with("k", func(in *v4Input) { in.EscapedPath = "" })},
		{"raw path star", with("k", func(in *v4Input) { in.EscapedPath = "*" })},
		{"scheme upper", with("k", func(in *v4Input) {
			in.Scheme = "HTTPS"
			in.Host = "h:443"
		})},
		{"host with spaces", with("k", func(in *v4Input) { in.Host = " a  b " })},
		{"host only default port", with("k", func(in *v4Input) { in.Host = ":443" })},
		{"host unicode", with("k", func(in *v4Input) { in.Host = "b\u00fccher.example" })},
		{"host empty", with("k", func(in *v4Input) { in.Host = "" })},
	}
}

// TestPresignV4MatchesSDK checks presignV4 against the SDK on the table.
func TestPresignV4MatchesSDK(t *testing.T) {
	for _, c := range v4Cases() {
		t.Run(c.name, func(t *testing.T) {
			checkV4(t, &c.in)
		})
	}
}

// checkV4 fails t unless presignV4 agrees with the SDK on in: the same
// URL, or both an error.
func checkV4(t *testing.T, in *v4Input) {
	t.Helper()
	want, wantErr := presignV4SDK(in)
	got, err := presignV4(&testKeys, in)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("error mismatch for %+v:\n got error %v\nwant error %v", in, err, wantErr)
	}
	if got != want {
		t.Fatalf("URL mismatch for %+v:\n%s", in, diffURLs(got, want))
	}
}

// diffURLs describes how got differs from want: the first differing byte
// and the query parameters side by side.
func diffURLs(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at byte %d\n got: %q\nwant: %q\n", i, got, want)
	g, w := strings.Split(got, "&"), strings.Split(want, "&")
	for j := 0; j < max(len(g), len(w)); j++ {
		var gs, ws string
		if j < len(g) {
			gs = g[j]
		}
		if j < len(w) {
			ws = w[j]
		}
		mark := " "
		if gs != ws {
			mark = "!"
		}
		fmt.Fprintf(&b, "%s got  %q\n%s want %q\n", mark, gs, mark, ws)
	}
	return b.String()
}

// TestPresignV4Errors checks what presignV4 refuses.
func TestPresignV4Errors(t *testing.T) {
	in := v4Cases()[0].in
	in.EscapedPath = "/bad%zzescape"
	checkV4(t, &in)
	if _, err := presignV4(&testKeys, &in); err == nil || !strings.HasPrefix(err.Error(), "sigv4: ") {
		t.Errorf("bad escape: got error %v, want one starting with sigv4:", err)
	}
	if strings.Contains(fmt.Sprint(presignV4(&testKeys, &in)), in.Creds.SecretAccessKey) {
		t.Error("error shows the secret")
	}

	in = v4Cases()[0].in
	in.Query = make([]escape.QueryParam, maxV4QueryParams+1)
	if _, err := presignV4(&testKeys, &in); err == nil {
		t.Error("too many parameters: no error")
	}
	in.Query = in.Query[:maxV4QueryParams]
	for i := range in.Query {
		in.Query[i] = escape.QueryParam{Name: "p" + strconv.Itoa(i), Value: "v"}
	}
	checkV4(t, &in)
}

// TestV4StripExcessSpaces checks the copy of the SDK's StripExcessSpaces.
func TestV4StripExcessSpaces(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"a":           "a",
		" a ":         "a",
		"  a  b   c ": "a b c",
		" ":           "",
		"   ":         "",
		"a  b":        "a b",
	} {
		if got := endpoint.StripExcessSpaces(in); got != want {
			t.Errorf("endpoint.StripExcessSpaces(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCompareEncoded checks that compareEncoded orders like comparing the
// encoded strings.
func TestCompareEncoded(t *testing.T) {
	var all []string
	for c := range 256 {
		all = append(all, string([]byte{byte(c)}), "a"+string([]byte{byte(c)}))
	}
	all = append(all, "", "a", "ab", "a b", "a-b", "a/b", "a~b", "%", "%2F", "X-Amz-Date", "response-x")
	for _, a := range all {
		for _, b := range all {
			ea := string(escape.Append(nil, a, &escape.Unreserved))
			eb := string(escape.Append(nil, b, &escape.Unreserved))
			if got, want := escape.CompareEncoded(a, b), strings.Compare(ea, eb); got != want {
				t.Fatalf("escape.CompareEncoded(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestAppendEscaped checks appendEscaped with escape.Unreserved against the SDK's
// encodeQueryComponent (url.QueryEscape with "+" as "%20"), and with
// escape.PathSafe against the same with '/' kept; escapePath is the latter.
func TestAppendEscaped(t *testing.T) {
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{"", "abc", "a/b", all.String(), testDisposition, "a b+c", strings.Repeat("ü/", 200)} {
		want := strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
		if got := string(escape.Append(nil, s, &escape.Unreserved)); got != want {
			t.Errorf("escape.Append(%q, escape.Unreserved) = %q, want %q", s, got, want)
		}
		if got := string(escape.Append([]byte("x"), []byte(s), &escape.Unreserved)); got != "x"+want {
			t.Errorf("escape.Append(x, %q, escape.Unreserved) = %q, want x%q", s, got, want)
		}
		wantPath := strings.ReplaceAll(want, "%2F", "/")
		if got := string(escape.Append([]byte("x"), s, &escape.PathSafe)); got != "x"+wantPath {
			t.Errorf("escape.Append(x, %q, escape.PathSafe) = %q, want x%q", s, got, wantPath)
		}
		if got := escape.Path(s); got != wantPath {
			t.Errorf("escape.Path(%q) = %q, want %q", s, got, wantPath)
		}
	}
}

// testSigningKey derives the SigV4 signing key, independently of the cache.
func testSigningKey(secret, date, region, service string) []byte {
	key := []byte("AWS4" + secret)
	for _, s := range []string{date, region, service, "aws4_request"} {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		key = h.Sum(nil)
	}
	return key
}

// macWithKey is HMAC-SHA256 of msg under k's precomputed states.
func macWithKey(t *testing.T, k *v4Key, msg []byte) []byte {
	t.Helper()
	s := v4ScratchPool.Get().(*v4Scratch)
	defer s.release()
	if err := s.hu.UnmarshalBinary(k.inner); err != nil {
		t.Fatal(err)
	}
	s.h.Write(msg)
	inner := s.h.Sum(nil)
	if err := s.hu.UnmarshalBinary(k.outer); err != nil {
		t.Fatal(err)
	}
	s.h.Write(inner)
	return s.h.Sum(nil)
}

// TestV4KeyCache checks that the cache never answers with the key of other
// inputs: secrets, days, regions and services interleaved, more of them
// than the cache holds, from several goroutines.
func TestV4KeyCache(t *testing.T) {
	type id struct{ secret, date, region, service string }
	var ids []id
	for _, secret := range []string{"secret-1", "secret-2", "secret-1x", ""} {
		for _, date := range []string{"20241231", "20250101"} {
			for _, region := range []string{"us-east-1", "eu-central-1", "auto"} {
				ids = append(ids, id{secret, date, region, "s3"})
			}
		}
	}
	// Pairs that a naive concatenated key would confuse.
	ids = append(ids, id{"a", "20250101", "b/c", "s3"}, id{"a", "20250101", "b", "c/s3"})

	var c v4KeyCache
	msg := []byte("string to sign")
	want := make([][]byte, len(ids))
	for i, id := range ids {
		h := hmac.New(sha256.New, testSigningKey(id.secret, id.date, id.region, id.service))
		h.Write(msg)
		want[i] = h.Sum(nil)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 50 {
				for j := range ids {
					i := (j*7 + round + g) % len(ids)
					id := ids[i]
					k := c.get(id.secret, []byte(id.date), id.region, id.service, "")
					if k.secret != id.secret || k.date != id.date || k.region != id.region || k.service != id.service {
						t.Errorf("get(%v) returned the entry of %v", id, *k)
						return
					}
					if got := macWithKey(t, k, msg); !hmac.Equal(got, want[i]) {
						t.Errorf("get(%v): wrong key", id)
						return
					}
				}
			}
		})
	}
	wg.Wait()

	// A hit is the same entry; a new day replaces the old day's entry.
	var d v4KeyCache
	k1 := d.get("s", []byte("20250101"), "r", "s3", "")
	if k2 := d.get("s", []byte("20250101"), "r", "s3", ""); k2 != k1 {
		t.Error("hit derived the key again")
	}
	d.get("s", []byte("20250102"), "r", "s3", "")
	if n := d.len(); n != 1 {
		t.Errorf("after a day change the cache holds %d entries, want 1", n)
	}
}

// TestPresignV4CacheInterleaved presigns, from several goroutines, across a
// day change with two secrets, two regions and three session tokens
// interleaved, all under the same access key ID, and checks every URL
// against a fresh SDK signer.
func TestPresignV4CacheInterleaved(t *testing.T) {
	day := time.Date(2025, 3, 9, 23, 59, 58, 0, time.UTC)
	var ins []v4Input
	for _, secret := range []string{"secret-A", "secret-B"} {
		for _, region := range []string{"us-east-1", "eu-central-1"} {
			for i, dt := range []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 24 * time.Hour} {
				ins = append(ins, v4Input{
					Method: http.MethodGet, Scheme: "https", Host: "b.s3.amazonaws.com",
					EscapedPath: "/k", Region: region, Service: "s3",
					Creds: aws.Credentials{
						AccessKeyID:     "AKID",
						SecretAccessKey: secret,
						SessionToken:    []string{"", "tok/1", "tok+2="}[i%3],
					},
					SignTime: day.Add(dt), Expires: 60,
				})
			}
		}
	}
	want := make([]string, len(ins))
	for i := range ins {
		var err error
		if want[i], err = presignV4SDK(&ins[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 100 {
				i := (round*5 + g*3) % len(ins)
				got, err := presignV4(&testKeys, &ins[i])
				if err != nil || got != want[i] {
					t.Errorf("input %d (%s, %s, %s): error %v\n%s", i, ins[i].Creds.SecretAccessKey,
						ins[i].Region, ins[i].SignTime, err, diffURLs(got, want[i]))
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSDKSignerCacheIgnoresSecret: a shared v4.Signer keeps signing with
// the old secret's key when the secret of an access key ID changes within a
// day (its derived-key cache ignores the secret), which is why presignV4SDK
// uses a fresh Signer; presignV4 signs with the new secret.
func TestSDKSignerCacheIgnoresSecret(t *testing.T) {
	in := v4Cases()[0].in
	shared := v4.NewSigner()
	old, err := presignV4SDKWith(shared, &in)
	if err != nil {
		t.Fatal(err)
	}
	in.Creds.SecretAccessKey = "rotated"
	stale, err := presignV4SDKWith(shared, &in)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := presignV4SDK(&in)
	if err != nil {
		t.Fatal(err)
	}
	if stale != old || stale == fresh {
		t.Fatalf("a shared v4.Signer signs with the new secret after a change (presignV4SDK could share one):\nold   %s\nstale %s\nfresh %s", old, stale, fresh)
	}
	checkV4(t, &in)
}

// benchInputs are the benchmarked presigns.
func benchInputs() map[string]*v4Input {
	in := v4Input{
		Method:      http.MethodGet,
		Scheme:      "https",
		Host:        "my-bucket.s3.eu-central-1.amazonaws.com",
		EscapedPath: "/" + escape.Path("reports/2024/annual report r\u00e9sum\u00e9.pdf"),
		Region:      "eu-central-1",
		Service:     "s3",
		Creds:       testCreds,
		SignTime:    time.Date(2024, 5, 17, 12, 34, 0, 0, time.UTC),
		Expires:     3600,
	}
	token := in
	token.Creds = testCredsToken
	resp := in
	resp.Query = []escape.QueryParam{
		{Name: "response-content-disposition", Value: testDisposition},
		{Name: "response-content-type", Value: "application/pdf"},
	}
	both := resp
	both.Creds = testCredsToken
	return map[string]*v4Input{"plain": &in, "token": &token, "response2": &resp, "token+response2": &both}
}

// benchNames orders benchInputs' sub-benchmarks.
var benchNames = []string{"plain", "token", "response2", "token+response2"}

// BenchmarkPresignV4 measures presignV4.
func BenchmarkPresignV4(b *testing.B) {
	ins := benchInputs()
	for _, name := range benchNames {
		in := ins[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := presignV4(&testKeys, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPresignV4Parallel measures presignV4 on all cores.
func BenchmarkPresignV4Parallel(b *testing.B) {
	in := benchInputs()["response2"]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := presignV4(&testKeys, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPresignV4SDK measures the SDK reference with a shared Signer, so
// with its derived-key cache.
func BenchmarkPresignV4SDK(b *testing.B) {
	ins := benchInputs()
	signer := v4.NewSigner()
	for _, name := range benchNames {
		in := ins[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := presignV4SDKWith(signer, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendEscaped measures encoding a session token.
func BenchmarkAppendEscaped(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(testToken)))
	buf := make([]byte, 0, 4*len(testToken))
	for b.Loop() {
		buf = escape.Append(buf[:0], testToken, &escape.Unreserved)
	}
}
