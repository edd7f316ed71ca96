package local

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// TestNotBefore: a rule's not_before embargoes its links: one issued
// before it is refused (403) until then and lives expires from it; one
// issued after it is valid at once.
func TestNotBefore(t *testing.T) {
	l := newLocal(t, nil)
	embargo := signTime.Add(time.Hour)
	o := &signers.Options{NotBefore: &embargo}
	link := sign(t, l, "launch/notes.pdf", o, "")
	if !strings.Contains(link, "&pl_nbf=1767229200&") {
		t.Fatalf("link %s does not carry pl_nbf", link)
	}
	for _, c := range []struct {
		at   time.Time
		want signers.Verdict
	}{
		{signTime.Add(time.Minute), signers.Refused},
		{embargo.Add(-time.Second), signers.Refused},
		{embargo, signers.Admitted},
		{embargo.Add(10*time.Minute - time.Second), signers.Admitted}, // expires counts from not_before
		{embargo.Add(10 * time.Minute), signers.Expired},
	} {
		if v, why, _, _ := admit(l, "GET", link, "192.0.2.1", c.at); v != c.want {
			t.Errorf("at %s: verdict %d (%s), want %d", c.at, v, why, c.want)
		}
	}
	// moving pl_nbf earlier breaks the signature
	early := strings.Replace(link, "pl_nbf=1767229200", "pl_nbf=1767225600", 1)
	if v, why, _, _ := admit(l, "GET", early, "192.0.2.1", embargo.Add(-time.Second)); v != signers.Refused || why != "bad signature" {
		t.Errorf("an earlier pl_nbf: verdict %d (%s), want a bad signature", v, why)
	}

	// issued after the embargo: valid at once, expires from its signing
	past := signTime.Add(-time.Hour)
	link = sign(t, l, "launch/notes.pdf", &signers.Options{NotBefore: &past}, "")
	if v, why, _, _ := admit(l, "GET", link, "192.0.2.1", signTime); v != signers.Admitted {
		t.Errorf("a link issued after not_before: refused: %s", why)
	}
	if v, _, _, _ := admit(l, "GET", link, "192.0.2.1", signTime.Add(10*time.Minute)); v != signers.Expired {
		t.Errorf("a link issued after not_before lives past its expires: verdict %d", v)
	}

	// a cookie binds it as well
	c := signCookie(t, l, "launch/notes.pdf", &signers.Options{Cookies: true, NotBefore: &embargo}, "")
	u, _ := url.Parse(link)
	for at, want := range map[time.Time]signers.Verdict{embargo.Add(-time.Second): signers.Refused, embargo: signers.Admitted} {
		if v, why := admitWithCookie(l, u.Path, "presign-link="+c.Value, at); v != want {
			t.Errorf("cookie at %s: verdict %d (%s), want %d", at, v, why, want)
		}
	}
}

// TestNotBeforeCheck: not_before is refused at start when it is not
// whole seconds, and on a folder link, which cannot carry it.
func TestNotBeforeCheck(t *testing.T) {
	l := newLocal(t, nil)
	frac := signTime.Add(time.Millisecond)
	epoch := time.Unix(0, 0)
	for _, c := range []struct {
		o    signers.Options
		want string
	}{
		{signers.Options{NotBefore: &frac}, "whole seconds"},
		{signers.Options{NotBefore: &epoch}, "after 1970"},
		{signers.Options{NotBefore: &signTime, Resource: "data/*"}, "a folder link binds no client IP, Content-Disposition or not_before"},
		{signers.Options{NotBefore: &signTime, Resource: "data/*", Cookies: true}, ""},
		{signers.Options{NotBefore: &signTime}, ""},
	} {
		err := l.CheckRule(&signers.RuleInfo{Profile: "files", Methods: []string{"GET"}, Expires: time.Minute, Options: &c.o})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
}
