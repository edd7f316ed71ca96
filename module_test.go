package presign

import (
	"strings"
	"testing"
)

// TestRuleRefusedJSON: refusals that only a JSON config can reach (the
// Caddyfile cannot write them) stop the handler at start with the rule and
// profile named.
func TestRuleRefusedJSON(t *testing.T) {
	const profiles = `"profiles": {
		"s": {"type": "s3", "bucket": "media", "region": "us-east-1", "access_key_id": "AKID", "secret_access_key": "secret"},
		"cf": {"type": "cloudfront", "domain": "cdn.example.com", "key_pair_id": "K2JCJMDEHXQW5F", "private_key_file": "signers/testdata/cloudfront-rsa-pkcs1.pem"}}`
	for name, c := range map[string]struct{ rule, want string }{
		"expires not whole seconds": {`{"path": ["/x/*"], "profile": "s", "expires": 1500000000}`,
			`rule 1 (/x/*): profile "s": expires must be whole seconds, got 1.5s`},
		"expires negative": {`{"path": ["/x/*"], "profile": "cf", "expires": -1000000000}`,
			`rule 1 (/x/*): profile "cf": expires must be positive, got -1s`},
		"cookie_domain without cookies": {`{"path": ["/x/*"], "profile": "cf", "cookie_domain": "example.com"}`,
			`rule 1 (/x/*): profile "cf": cookie_domain needs cookies`},
		"cookie_domain on S3": {`{"path": ["/x/*"], "profile": "s", "cookie_domain": "example.com"}`,
			`rule 1 (/x/*): profile "s": cookie_domain is a CloudFront option; this is an s3 profile`},
		"method not presignable": {`{"path": ["/x/*"], "profile": "s", "methods": ["GET", "DELETE"]}`,
			`rule 1 (/x/*): method "DELETE": only GET, HEAD, PUT and POST can be presigned`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := provisionJSON(t, []byte(`{`+profiles+`, "rules": [`+c.rule+`]}`))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
