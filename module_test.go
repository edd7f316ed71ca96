package presign

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestRuleRefusedJSON: refusals that only a JSON config can reach (the
// Caddyfile cannot write them) stop the handler at start with the rule and
// profile named.
func TestRuleRefusedJSON(t *testing.T) {
	const profiles = `"profiles": {
		"s": {"type": "s3", "bucket": "media", "region": "us-east-1", "access_key_id": "AKID", "secret_access_key": "secret"},
		"cf": {"type": "cloudfront", "domain": "cdn.example.com", "key_pair_id": "K2JCJMDEHXQW5F", "private_key_file": "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem"}}`
	for name, c := range map[string]struct{ rule, want string }{
		"expires not whole seconds": {
			`{"path": ["/x/*"], "profile": "s", "expires": 1500000000}`,
			`rule 1 (/x/*): profile "s": expires must be whole seconds, got 1.5s`,
		},
		"expires negative": {
			`{"path": ["/x/*"], "profile": "cf", "expires": -1000000000}`,
			`rule 1 (/x/*): profile "cf": expires must be positive, got -1s`,
		},
		"cookie_domain without cookies": {
			`{"path": ["/x/*"], "profile": "cf", "cookie_domain": "example.com"}`,
			`rule 1 (/x/*): profile "cf": cookie_domain needs cookies`,
		},
		"cookie_domain on S3": {
			`{"path": ["/x/*"], "profile": "s", "cookie_domain": "example.com"}`,
			`rule 1 (/x/*): profile "s": cookie_domain is an option of cloudfront profiles, not of s3 ones`,
		},
		"method not presignable": {
			`{"path": ["/x/*"], "profile": "s", "methods": ["GET", "PATCH"]}`,
			`rule 1 (/x/*): method "PATCH": only GET, HEAD, PUT, POST and DELETE can be presigned`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := provisionJSON(t, []byte(`{`+profiles+`, "rules": [`+c.rule+`]}`))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestResourceMustCoverURLs: a CloudFront rule whose URLs surely fall
// outside its own resource pattern (as far as the pattern, the key template
// and the path patterns show it, up to letter case) is refused at start,
// naming the rule and both prefixes and suggesting strip_prefix; rules
// whose URLs may fall inside start.
func TestResourceMustCoverURLs(t *testing.T) {
	const zarr = "https://" + cfDist + "/results/experiment.zarr/*"
	for name, c := range map[string]struct {
		lines []string
		want  string // "" for accepted
	}{
		"README's /zarr/* without strip_prefix": {
			[]string{"/zarr/*", "resource " + zarr, "cookies"},
			`rule 1 (/zarr/*): profile "cdn": resource "` + zarr + `" covers only URLs that start with "https://` + cfDist +
				`/results/experiment.zarr/", but this rule's URLs start with "https://` + cfDist + `/zarr/", and CloudFront refuses them; ` +
				"remove the part of the request path that is not in the object key with strip_prefix",
		},
		"signed URLs too":                  {[]string{"/zarr/*", "resource " + zarr}, `but this rule's URLs start with "https://` + cfDist + `/zarr/"`},
		"with strip_prefix":                {[]string{"/zarr/*", "strip_prefix /zarr", "resource " + zarr, "cookies"}, ""},
		"the path in the resource":         {[]string{"/results/*", "resource " + zarr, "cookies"}, ""},
		"case ignored":                     {[]string{"/RESULTS/Experiment.zarr/*", "resource https://" + strings.ToUpper(cfDist) + "/results/experiment.ZARR/*", "cookies"}, ""},
		"key template prefix":              {[]string{"/results/*", "key data/{presign.path}", "resource " + zarr, "cookies"}, `this rule's URLs start with "https://` + cfDist + `/data/"`},
		"key template prefix agrees":       {[]string{"/zarr/*", "strip_prefix /zarr", "key results/{presign.path}", "resource " + zarr, "cookies"}, ""},
		"another pattern may fit":          {[]string{"/zarr/* /results/*", "resource " + zarr, "cookies"}, ""},
		"strip_prefix longer than pattern": {[]string{"/z*", "strip_prefix /zarr", "resource " + zarr, "cookies"}, ""},
		"placeholder host":                 {[]string{"/zarr/*", "resource https://{host}/results/*", "cookies"}, ""},
		"placeholder path":                 {[]string{"/zarr/*", "resource https://" + cfDist + "/{http.auth.user.id}/*", "cookies"}, ""},
		"http resource":                    {[]string{"/results/*", "resource http://" + cfDist + "/results/*", "cookies"}, `this rule's URLs start with "https://`},
		"escaped key prefix":               {[]string{"/a/*", `key "a b/{presign.path}"`, "resource https://" + cfDist + "/a%20b/*"}, ""},
		"escaped key prefix differs":       {[]string{"/a/*", `key "a b/{presign.path}"`, "resource https://" + cfDist + "/a+b/*"}, `this rule's URLs start with "https://` + cfDist + `/a%20b/"`},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := parseBlock(cfRuleConfig(t, c.lines[0], c.lines[1:]...))
			if err != nil {
				t.Fatal(err)
			}
			_, err = provisionJSON(t, caddyconfig.JSON(h, nil))
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
