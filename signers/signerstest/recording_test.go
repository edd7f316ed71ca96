package signerstest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
)

// TestRecordingConformance: the recording kind, which the handler's tests
// use in place of a real kind, meets the contract it stands in for. Its
// "verifier" reads back what a URL says (method, key, expiry), so that a
// changed byte is a changed request.
func TestRecordingConformance(t *testing.T) {
	RegisterRecording()
	Run(t, Kind{
		Name: RecordingKind,
		New: func(t *testing.T, _ string) signers.Signer {
			p := &Recording{OriginURL: "https://recording.test/bucket"}
			if err := p.Provision(caddy.Context{}); err != nil {
				t.Fatal(err)
			}
			return p
		},
		Verify: verifyRecording,
	})
}

// verifyRecording accepts s, the answer to r, at now when it names r's
// method and key and an expiry after now, and refuses it otherwise.
func verifyRecording(r signers.Request, s *signers.Signed, now time.Time) error {
	u, err := url.Parse(s.URL)
	if err != nil {
		return err
	}
	const base = "/bucket/"
	method, key, exp := u.Query().Get("method"), "", u.Query().Get("exp")
	if r.Method == http.MethodPost {
		method, key, exp = s.Fields["method"], s.Fields["key"], strconv.FormatInt(s.ExpiresAt.Unix(), 10)
		if u.Path != base {
			return fmt.Errorf("form URL %s", s.URL)
		}
	} else if len(u.Path) > len(base) {
		key = u.Path[len(base):]
	}
	if method != r.Method || key != r.Key {
		return fmt.Errorf("the answer names %s %q, not %s %q", method, key, r.Method, r.Key)
	}
	if exp != strconv.FormatInt(r.SignTime.Add(r.Expires).Unix(), 10) || len(u.Query()) != 2 && r.Method != http.MethodPost {
		return fmt.Errorf("the answer's query %s is not the request's", u.RawQuery)
	}
	if !now.Before(s.ExpiresAt) {
		return errors.New("expired")
	}
	return nil
}
