package gcs

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// The conformance cases of V4 signing and their test service account, from
// googleapis/conformance-tests (storage/v1): see testdata/README.md.
const (
	gcsCasesFile = "testdata/v4_signatures.json"
	gcsSAFile    = "testdata/service-account"
)

// gcsTestAccount returns the conformance tests' service account key file
// as valid JSON: the published file lacks the comma after its "comment"
// line, which this adds (and checks that it was the only fault).
func gcsTestAccount(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(gcsSAFile)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "public.\"\n", "public.\",\n", 1)
	if !json.Valid([]byte(s)) {
		t.Fatalf("%s is not JSON even with the comma after its comment", gcsSAFile)
	}
	return s
}

// newTestGCS provisions a GCS profile with the conformance tests' service
// account.
func newTestGCS(t testing.TB, g *GCS) *GCS {
	t.Helper()
	g.ServiceAccount = gcsTestAccount(t)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := g.Provision(ctx); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	return g
}

type gcsSigningCase struct {
	Description              string            `json:"description"`
	Bucket                   string            `json:"bucket"`
	Object                   *string           `json:"object"`
	Method                   string            `json:"method"`
	Expiration               int64             `json:"expiration"`
	Timestamp                time.Time         `json:"timestamp"`
	ExpectedURL              string            `json:"expectedUrl"`
	Headers                  map[string]string `json:"headers"`
	QueryParameters          map[string]string `json:"queryParameters"`
	Scheme                   string            `json:"scheme"`
	URLStyle                 string            `json:"urlStyle"`
	BucketBoundHostname      string            `json:"bucketBoundHostname"`
	Hostname                 string            `json:"hostname"`
	ClientEndpoint           string            `json:"clientEndpoint"`
	ExpectedCanonicalRequest string            `json:"expectedCanonicalRequest"`
	ExpectedStringToSign     string            `json:"expectedStringToSign"`
}

type gcsPolicyCase struct {
	Description string `json:"description"`
	PolicyInput struct {
		Scheme              string            `json:"scheme"`
		URLStyle            string            `json:"urlStyle"`
		BucketBoundHostname string            `json:"bucketBoundHostname"`
		Bucket              string            `json:"bucket"`
		Object              string            `json:"object"`
		Expiration          int64             `json:"expiration"`
		Timestamp           time.Time         `json:"timestamp"`
		Fields              map[string]string `json:"fields"`
		Conditions          struct {
			StartsWith         []string `json:"startsWith"`
			ContentLengthRange []int64  `json:"contentLengthRange"`
		} `json:"conditions"`
	} `json:"policyInput"`
	PolicyOutput struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	} `json:"policyOutput"`
}

// gcsNotApplicable are the signing cases that do not apply, with why.
var gcsNotApplicable = map[string]string{
	// the profile signs the host header only: a redirect cannot make the
	// client send other headers
	"POST for resumable uploads":                       "signs the x-goog-resumable header",
	"Slashes in object name should not be URL encoded": "signs an extra request header",
	"Simple headers":                                   "signs extra request headers",
	"Headers with colons":                              "signs extra request headers",
	"Headers should be trimmed":                        "signs extra request headers",
	"Header value with multiple inline values":         "signs an extra request header",
	"Customer-supplied encryption key":                 "signs the x-goog-encryption-* headers",
	"Header Ordering":                                  "signs the x-goog-date header",
	"Signed Payload Instead of UNSIGNED-PAYLOAD":       "signs the payload's hash",
	// the URL's host differs from the host signed (storage.googleapis.com):
	// client-library settings; the profile signs the host it gives
	"Simple GET with non-default hostname":                  "URL host differs from the signed host",
	"Endpoint on client with scheme":                        "URL host differs from the signed host",
	"Emulator host":                                         "URL host differs from the signed host",
	"Endpoint on client takes precedence over emulator":     "URL host differs from the signed host",
	"Hostname takes precendence over endpoint and emulator": "URL host differs from the signed host",
	"Universe domain":                                       "URL host differs from the signed host",
	"Universe domain with virtual hosted style":             "URL host differs from the signed host",
}

func loadGCSCases(t *testing.T) ([]gcsSigningCase, []gcsPolicyCase) {
	t.Helper()
	b, err := os.ReadFile(gcsCasesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Signing []gcsSigningCase `json:"signingV4Tests"`
		Policy  []gcsPolicyCase  `json:"postPolicyV4Tests"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Signing, f.Policy
}

// gcsProfileFor is the profile a case's URL style, host and scheme ask for.
func gcsProfileFor(t *testing.T, scheme, style, bucketBound, clientEndpoint, bucket string) *GCS {
	t.Helper()
	if scheme == "" {
		scheme = "https"
	}
	g := &GCS{Bucket: bucket, Endpoint: scheme + "://storage.googleapis.com"}
	switch {
	case style == "VIRTUAL_HOSTED_STYLE":
		g.URLStyle = "virtual_hosted"
	case style == "BUCKET_BOUND_HOSTNAME":
		g.URLStyle, g.Endpoint = "bucket_bound", scheme+"://"+bucketBound
	case clientEndpoint != "":
		g.Endpoint = scheme + "://" + clientEndpoint
	}
	return newTestGCS(t, g)
}

// TestGCSConformanceSignedURLs reproduces Google's V4 signed URL
// conformance cases byte for byte: through Sign where the case is a request
// the handler can make (an object key, no query), through the URL signer
// otherwise (a bucket listing, a key with a leading '/', extra query
// parameters). (The root package's GCS verifier checks the same expected
// URLs: that Google's URLs verify, with the cases' canonical requests.)
func TestGCSConformanceSignedURLs(t *testing.T) {
	cases, _ := loadGCSCases(t)
	applied := 0
	for _, c := range cases {
		if why, ok := gcsNotApplicable[c.Description]; ok {
			if len(c.Headers) == 0 && !strings.Contains(why, "host") {
				t.Errorf("%q is listed as not applicable (%s) but has no headers", c.Description, why)
			}
			continue
		}
		t.Run(c.Description, func(t *testing.T) {
			if len(c.Headers) > 0 {
				t.Fatalf("the case signs headers: list it in gcsNotApplicable")
			}
			g := gcsProfileFor(t, c.Scheme, c.URLStyle, c.BucketBoundHostname, c.ClientEndpoint, c.Bucket)
			var got string
			if c.Object != nil && *c.Object != "" && !strings.HasPrefix(*c.Object, "/") && len(c.QueryParameters) == 0 {
				s, err := g.Sign(context.Background(), signers.Request{
					Method: c.Method, Key: *c.Object, SignTime: c.Timestamp,
					Expires: time.Duration(c.Expiration) * time.Second, Options: &signers.Options{},
				})
				if err != nil {
					t.Fatal(err)
				}
				if want := c.Timestamp.Add(time.Duration(c.Expiration) * time.Second); !s.ExpiresAt.Equal(want) {
					t.Errorf("ExpiresAt %s, want %s", s.ExpiresAt, want)
				}
				got = s.URL
			} else {
				in := gcsInput{Method: c.Method, EscapedPath: g.prefix, SignTime: c.Timestamp, Expires: c.Expiration}
				if c.Object != nil {
					in.EscapedPath += "/" + escape.Path(*c.Object)
				}
				for k, v := range c.QueryParameters {
					in.Query = append(in.Query, escape.QueryParam{Name: k, Value: v})
				}
				var err error
				if got, err = g.signURL(context.Background(), &in, nil); err != nil {
					t.Fatal(err)
				}
			}
			if got != c.ExpectedURL {
				t.Fatalf("URL\n got %s\nwant %s", got, c.ExpectedURL)
			}
		})
		applied++
	}
	if applied+len(gcsNotApplicable) != len(cases) || applied < 13 {
		t.Errorf("%d cases applied, %d listed as not applicable, of %d", applied, len(gcsNotApplicable), len(cases))
	}
}

// TestGCSConformancePostPolicies reproduces every one of Google's V4 POST
// policy conformance cases byte for byte (URL, policy, signature and
// fields).
func TestGCSConformancePostPolicies(t *testing.T) {
	_, cases := loadGCSCases(t)
	if len(cases) < 11 {
		t.Fatalf("%d POST policy cases, want 11", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Description, func(t *testing.T) {
			in := c.PolicyInput
			g := gcsProfileFor(t, in.Scheme, in.URLStyle, in.BucketBoundHostname, "", in.Bucket)
			var conds []gcsCondition
			if sw := in.Conditions.StartsWith; len(sw) == 2 {
				conds = append(conds, gcsCondition{kind: gcsMatch, op: "starts-with", field: strings.TrimPrefix(sw[0], "$"), value: sw[1]})
			}
			if r := in.Conditions.ContentLengthRange; len(r) == 2 {
				conds = append(conds, gcsCondition{kind: gcsLengthRange, min: r[0], max: r[1]})
			}
			names := make([]string, 0, len(in.Fields))
			for k := range in.Fields {
				names = append(names, k)
			}
			sort.Strings(names) // the client libraries' order
			for _, k := range names {
				conds = append(conds, gcsCondition{kind: gcsFieldEquals, field: k, value: in.Fields[k]})
			}
			fields, err := g.postPolicy(context.Background(), in.Object, in.Timestamp, in.Timestamp.Add(time.Duration(in.Expiration)*time.Second), conds)
			if err != nil {
				t.Fatal(err)
			}
			if u := g.origin + "/"; u != c.PolicyOutput.URL {
				t.Errorf("URL %s, want %s", u, c.PolicyOutput.URL)
			}
			for k, want := range c.PolicyOutput.Fields {
				if fields[k] != want {
					t.Errorf("field %s\n got %q\nwant %q", k, fields[k], want)
				}
			}
			if len(fields) != len(c.PolicyOutput.Fields) {
				t.Errorf("fields %v, want %v", fields, c.PolicyOutput.Fields)
			}
		})
	}
}
