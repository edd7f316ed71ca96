// Package signerstest is the conformance suite of profile kinds: one
// contract that every kind's tests run, with Run and a Kind (a constructor
// of its profiles, its independent verifier and, for a Store, its store's
// protocol as a Wire). Its files:
//
//	suite.go      Run, Kind; the options, origin, expiry, signing and tampering checks
//	cache.go      cached against fresh answers for every combination of the options
//	store.go      Wire, Call, Page; a recording store: pages, junk, refusals, least privilege
//	multipart.go  the parts of a multipart upload; its calls to the store
//	multipartwire.go  MultipartWire, PartsPage: a store's multipart protocol (S3's)
//	refusal.go    RefusalCase: the refusal contract of every Store
//	down.go       stores that are down (refused, reset, cut off); DownURL, AddressIn: errors without addresses
//	recording.go  the recording kind, for the handler's tests (RegisterRecording)
package signerstest

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// The one refusal contract of every kind's Store (StoreError): a 4xx that
// names the request is 400, an outage 502, never an object's absence; and
// a 200 to an existence check is "exists" only with an ETag.

// RefusalCase is one answer of a store and what it must be classified as:
// 400 (the request's doing), 502 (an outage) or, for an existence check,
// 404 (the object's absence: false without error) or 200 (true).
type RefusalCase struct {
	Status int
	Code   string // the store's error code, "" for none
	Param  string // Azure: the query parameter its error names
	Want   int
}

// writeRefusal answers r with c, shaped as the kind does: S3 and Cloud
// Storage with an XML Error body (none to HEAD), Azure with
// x-ms-error-code and an XML Error body. A 200 is an HTML page, with an
// ETag when c wants "exists".
func writeRefusal(w http.ResponseWriter, r *http.Request, azure bool, c *RefusalCase) {
	if c.Status == http.StatusOK {
		if c.Want == http.StatusOK {
			w.Header().Set("ETag", `"0123abcd"`)
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>maintenance</body></html>"))
		return
	}
	if azure && c.Code != "" {
		w.Header().Set("x-ms-error-code", c.Code)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(c.Status)
	if r.Method != http.MethodHead && c.Code != "" {
		fmt.Fprintf(w, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>%s</Code><Message>m</Message>"+
			"<QueryParameterName>%s</QueryParameterName></Error>", c.Code, c.Param)
	}
}

// CheckClassified checks what a Store call gave for c: want 400 or 502, a
// StoreError of that status; want 404, false without error; want 200,
// true. A failure never comes with true.
func CheckClassified(t *testing.T, what string, c *RefusalCase, ok bool, err error) {
	t.Helper()
	var se *signers.StoreError
	switch {
	case c.Want == http.StatusNotFound || c.Want == http.StatusOK:
		if err != nil || ok != (c.Want == http.StatusOK) {
			t.Errorf("%s %d %q: %v %v, want exists=%v", what, c.Status, c.Code, ok, err, c.Want == http.StatusOK)
		}
	case !errors.As(err, &se) || se.Status != c.Want:
		t.Errorf("%s %d %q %q: %v, want a %d StoreError", what, c.Status, c.Code, c.Param, err, c.Want)
	case ok:
		t.Errorf("%s %d %q: a failure says the object exists", what, c.Status, c.Code)
	}
}
