package cloudfront

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/signers"
)

// TestNotBefore: a rule's not_before becomes the custom policy's
// DateGreaterThan: the URL (or the cookies) is refused before it, and
// lives expires from it; the policy's signature covers it.
func TestNotBefore(t *testing.T) {
	c := newCloudFront(t, nil)
	v := cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, cfRSAPublic)}
	embargo := cfSignTime.Add(2 * time.Hour)
	for _, cookies := range []bool{false, true} {
		s := cfSign(t, c, "launch/notes.pdf", signers.Options{NotBefore: &embargo, Cookies: cookies}, "", netip.Addr{})
		if want := embargo.Add(time.Hour); !s.ExpiresAt.Equal(want) {
			t.Errorf("cookies %v: expires at %s, want %s (expires counted from not_before)", cookies, s.ExpiresAt, want)
		}
		policy, sig := queryOf(s.URL)["Policy"], queryOf(s.URL)["Signature"]
		if cookies {
			policy, sig = s.Cookies[0].Value, s.Cookies[1].Value
		}
		raw, err := v.Policy(policy, sig)
		if err != nil || !strings.Contains(string(raw), `"DateGreaterThan":{"AWS:EpochTime":1767232800}`) {
			t.Fatalf("cookies %v: policy %s (%v), want a signed DateGreaterThan", cookies, raw, err)
		}
		for at, ok := range map[time.Time]bool{
			cfSignTime.Add(time.Minute): false, embargo.Add(-time.Second): false,
			embargo: true, embargo.Add(time.Hour - time.Second): true, embargo.Add(time.Hour): false,
		} {
			if _, err := v.Check(cfverify.Request{URL: s.URL, Cookies: s.Cookies, Time: at}); (err == nil) != ok {
				t.Errorf("cookies %v, at %s: error %v, want accepted %v", cookies, at, err, ok)
			}
		}
	}
	// not_before in the past: a custom policy that works at once
	past := cfSignTime.Add(-time.Hour)
	s := cfSign(t, c, "launch/notes.pdf", signers.Options{NotBefore: &past}, "", netip.Addr{})
	if _, err := v.Check(cfverify.Request{URL: s.URL, Time: cfSignTime}); err != nil || !s.ExpiresAt.Equal(time.Unix(cfTestExpires, 0)) {
		t.Errorf("not_before in the past: %v, expires at %s", err, s.ExpiresAt)
	}
}
