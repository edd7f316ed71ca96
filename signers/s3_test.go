package signers

import "testing"

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
