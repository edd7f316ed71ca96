package signers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// The one refusal contract of every kind's Store (StoreError): a 4xx that
// names the request is 400, an outage 502, never an object's absence; and
// a 200 to an existence check is "exists" only with an ETag.

// refusalCase is one answer of a store and what it must be classified as:
// 400 (the request's doing), 502 (an outage) or, for an existence check,
// 404 (the object's absence: false without error) or 200 (true).
type refusalCase struct {
	status int
	code   string // the store's error code, "" for none
	param  string // Azure: the query parameter its error names
	want   int
}

// storeAnswer is a store for one test that answers every request with c,
// shaped as the kind does: S3 and Cloud Storage with an XML Error body
// (none to HEAD), Azure with x-ms-error-code and an XML Error body.
func storeAnswer(t *testing.T, azure bool, c *refusalCase) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.status == http.StatusOK {
			if c.want == http.StatusOK {
				w.Header().Set("ETag", `"0123abcd"`)
			}
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>maintenance</body></html>"))
			return
		}
		if azure && c.code != "" {
			w.Header().Set("x-ms-error-code", c.code)
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(c.status)
		if r.Method != http.MethodHead && c.code != "" {
			fmt.Fprintf(w, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>%s</Code><Message>m</Message>"+
				"<QueryParameterName>%s</QueryParameterName></Error>", c.code, c.param)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// checkClassified checks what a Store call gave for c: want 400 or 502, a
// StoreError of that status; want 404, false without error; want 200,
// true. A failure never comes with true.
func checkClassified(t *testing.T, what string, c *refusalCase, ok bool, err error) {
	t.Helper()
	var se *StoreError
	switch {
	case c.want == http.StatusNotFound || c.want == http.StatusOK:
		if err != nil || ok != (c.want == http.StatusOK) {
			t.Errorf("%s %d %q: %v %v, want exists=%v", what, c.status, c.code, ok, err, c.want == http.StatusOK)
		}
	case !errors.As(err, &se) || se.Status != c.want:
		t.Errorf("%s %d %q %q: %v, want a %d StoreError", what, c.status, c.code, c.param, err, c.want)
	case ok:
		t.Errorf("%s %d %q: a failure says the object exists", what, c.status, c.code)
	}
}

// TestRefusalS3: S3's answers through the SDK's errors (storeError) and
// through a store that answers HeadObject and ListObjectsV2.
func TestRefusalS3(t *testing.T) {
	for _, c := range []refusalCase{
		{status: 400, code: "InvalidArgument", want: 400}, // a continuation token S3 never issued
		{status: 400, code: "KeyTooLongError", want: 400},
		{status: 400, code: "InvalidObjectName", want: 400},
		{status: 400, code: "InvalidURI", want: 400},
		{status: 400, code: "BadRequest", want: 400}, // a HEAD's 400 (no body)
		{status: 400, code: "AuthorizationHeaderMalformed", want: 502},
		{status: 400, code: "AuthorizationQueryParametersError", want: 502},
		{status: 400, code: "InvalidBucketName", want: 502},
		{status: 400, code: "ExpiredToken", want: 502},
		{status: 400, code: "InvalidRegion", want: 502},
		{status: 401, code: "Unauthorized", want: 502},
		{status: 403, code: "AccessDenied", want: 502},
		{status: 403, code: "InvalidArgument", want: 502}, // Caddy's credentials refused, whatever the code
		{status: 404, code: "NoSuchBucket", want: 502},
		{status: 409, code: "OperationAborted", want: 502},
		{status: 500, code: "InternalError", want: 502},
		{status: 503, code: "SlowDown", want: 502},
	} {
		se := storeError(s3APIError(c.status, c.code))
		checkClassified(t, "storeError", &c, false, se)
	}

	for _, c := range []refusalCase{
		{status: 200, want: 200},
		{status: 200, want: 502}, // no ETag: a proxy's page
		{status: 404, want: 404},
		{status: 400, want: 400},
		{status: 403, want: 502},
	} {
		srv := storeAnswer(t, false, &c)
		s := &S3{Bucket: "bucket1", Region: "us-east-1", Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "secret", PathStyle: true}
		if err := s.Provision(caddy.Context{}); err != nil {
			t.Fatal(err)
		}
		ok, err := s.Exists(context.Background(), "k", time.Now(), time.Second)
		checkClassified(t, "HeadObject", &c, ok, err)
	}
	c := refusalCase{status: 400, code: "InvalidArgument", want: 400}
	srv := storeAnswer(t, false, &c)
	s := &S3{Bucket: "bucket1", Region: "us-east-1", Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "secret", PathStyle: true}
	if err := s.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.List(context.Background(), "docs/", "forged")
	checkClassified(t, "ListObjectsV2", &c, false, err)
}

// TestRefusalGCS: Cloud Storage's answers to List (an XML Error body) and
// Exists (a HEAD: the status alone).
func TestRefusalGCS(t *testing.T) {
	for _, c := range []refusalCase{
		{status: 400, code: "InvalidArgument", want: 400}, // a continuation token the store never issued
		{status: 400, code: "InvalidObjectName", want: 400},
		{status: 400, code: "KeyTooLong", want: 400},
		{status: 400, code: "InvalidURI", want: 400},
		{status: 400, code: "ExpiredToken", want: 502},
		{status: 400, code: "InvalidBucketName", want: 502},
		{status: 400, code: "UserProjectMissing", want: 502},
		{status: 400, code: "", want: 502}, // no store's error: a proxy's
		{status: 400, code: "Invalid\nArgument", want: 502},
		{status: 401, code: "AuthenticationRequired", want: 502},
		{status: 403, code: "SignatureDoesNotMatch", want: 502},
		{status: 403, code: "InvalidArgument", want: 502},
		{status: 404, code: "NoSuchBucket", want: 502},
		{status: 429, code: "SlowDown", want: 502},
		{status: 500, code: "InternalError", want: 502},
		{status: 503, code: "ServiceUnavailable", want: 502},
		{status: 200, want: 502}, // an HTML page: no listing
	} {
		srv := storeAnswer(t, false, &c)
		g := newTestGCS(t, &GCS{Bucket: "my-bucket", Endpoint: srv.URL})
		_, err := g.List(context.Background(), "docs/", "forged")
		checkClassified(t, "List", &c, false, err)
	}
	for _, c := range []refusalCase{
		{status: 200, want: 200},
		{status: 200, want: 502}, // no ETag
		{status: 404, want: 404},
		{status: 400, want: 502}, // a HEAD's 400 names no code
		{status: 403, want: 502},
		{status: 500, want: 502},
	} {
		srv := storeAnswer(t, false, &c)
		g := newTestGCS(t, &GCS{Bucket: "my-bucket", Endpoint: srv.URL})
		ok, err := g.Exists(context.Background(), "k", time.Now(), time.Second)
		checkClassified(t, "HEAD", &c, ok, err)
	}
}

// TestRefusalAzure: the blob service's answers to List Blobs (an XML Error
// body, x-ms-error-code) and Get Blob Properties (x-ms-error-code alone).
func TestRefusalAzure(t *testing.T) {
	for _, c := range []refusalCase{
		{status: 400, code: "OutOfRangeInput", want: 400}, // a marker the service never issued
		{status: 400, code: "InvalidQueryParameterValue", param: "marker", want: 400},
		{status: 400, code: "OutOfRangeQueryParameterValue", param: "prefix", want: 400},
		{status: 400, code: "InvalidResourceName", want: 400},
		{status: 400, code: "InvalidUri", want: 400},
		{status: 400, code: "InvalidInput", want: 400},
		{status: 400, code: "InvalidQueryParameterValue", param: "se", want: 502}, // the SAS's own
		{status: 400, code: "InvalidHeaderValue", want: 502},
		{status: 400, code: "", want: 502},
		{status: 401, code: "InvalidAuthenticationInfo", want: 502},
		{status: 403, code: "AuthenticationFailed", want: 502},
		{status: 403, code: "AuthorizationPermissionMismatch", want: 502},
		{status: 404, code: "ContainerNotFound", want: 502},
		{status: 500, code: "InternalError", want: 502},
		{status: 503, code: "ServerBusy", want: 502},
		{status: 200, want: 502}, // an HTML page: no listing
	} {
		srv := storeAnswer(t, true, &c)
		a := newTestAzure(t, &Azure{Account: "devstoreaccount1", Container: "media", AccountKey: azureTestKey, Endpoint: srv.URL + "/devstoreaccount1"})
		_, err := a.List(context.Background(), "docs/", "Zm9yZ2Vk")
		checkClassified(t, "List Blobs", &c, false, err)
	}
	for _, c := range []refusalCase{
		{status: 200, want: 200},
		{status: 200, want: 502}, // no ETag
		{status: 404, code: "BlobNotFound", want: 404},
		{status: 404, code: "ContainerNotFound", want: 502},
		{status: 404, code: "", want: 502}, // not the service's answer
		{status: 400, code: "InvalidResourceName", want: 400},
		{status: 400, code: "OutOfRangeInput", want: 400},
		{status: 403, code: "AuthenticationFailed", want: 502},
		{status: 500, code: "InternalError", want: 502},
	} {
		srv := storeAnswer(t, true, &c)
		a := newTestAzure(t, &Azure{Account: "devstoreaccount1", Container: "media", AccountKey: azureTestKey, Endpoint: srv.URL + "/devstoreaccount1"})
		ok, err := a.Exists(context.Background(), "k", time.Now(), time.Second)
		checkClassified(t, "Get Blob Properties", &c, ok, err)
	}
}

// TestRefusalReason: the reason names the store's code when it is a plain
// token, never the store's text.
func TestRefusalReason(t *testing.T) {
	names := func(int, string) bool { return true }
	for _, c := range []struct {
		status int
		code   string
		want   string
	}{
		{400, "InvalidArgument", "the store refused the request: InvalidArgument"},
		{400, "", "the store refused the request: 400"},
		{400, "<b>10.0.0.5</b> said no", "the store refused the request: 400"},
		{400, strings.Repeat("A", 65), "the store refused the request: 400"},
		{403, "AccessDenied", "the store refused: AccessDenied"},
		{500, "", "the store refused: 500"},
	} {
		if se := refusal(c.status, c.code, names, errors.New("e")); se.Reason != c.want {
			t.Errorf("%d %q: reason %q, want %q", c.status, c.code, se.Reason, c.want)
		}
	}
}
