package urlcache

import (
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// keys is a credential as S3's: an access key, its secret and a session
// token.
type keys struct{ id, secret, token string }

// TestEntryMatches: an entry answers only the request it was signed
// for; a change of any one thing that the URL or the answer depends on is a
// mismatch, the hashed ones too (the hash is a hint, the entry decides),
// and so is another rule's options.
func TestEntryMatches(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := signers.Request{
		Method: "GET", Key: "a/b.pdf", SignTime: t0, Expires: time.Hour,
		Options: &signers.Options{ContentDisposition: "attachment", ContentType: "application/pdf", CacheControl: "no-cache"},
	}
	creds := keys{"AKID", "secret", "token"}
	e := &Entry[keys]{
		method: "GET", key: "a/b.pdf", signSec: t0.Unix(), expires: 3600,
		options: r.Options,
		cred:    keys{"AKID", "secret", "token"}, ExpiresAt: t0.Add(time.Hour),
	}
	if !e.matches(&r, t0.Unix(), 3600, creds, t0.Add(time.Hour)) {
		t.Fatal("the entry does not match its own request")
	}
	type variant struct {
		name     string
		r        signers.Request
		signSec  int64
		expires  int64
		creds    keys
		expireAt time.Time
	}
	base := variant{"", r, t0.Unix(), 3600, creds, t0.Add(time.Hour)}
	var vs []variant
	add := func(name string, f func(*variant)) {
		v := base
		v.name = name
		f(&v)
		vs = append(vs, v)
	}
	add("method", func(v *variant) { v.r.Method = "HEAD" })
	add("key", func(v *variant) { v.r.Key = "a/c.pdf" })
	add("signing second", func(v *variant) { v.signSec++ })
	add("lifetime", func(v *variant) { v.expires-- })
	add("expires_at", func(v *variant) { v.expireAt = v.expireAt.Add(time.Millisecond) })
	add("expires_at location", func(v *variant) { v.expireAt = v.expireAt.In(time.FixedZone("CET", 3600)) })
	// the options, by identity: any other rule's, even with equal values
	add("rule with equal options", func(v *variant) { o := *v.r.Options; v.r.Options = &o })
	add("rule with other options", func(v *variant) { o := *v.r.Options; o.CacheControl = ""; v.r.Options = &o })
	add("access key", func(v *variant) { v.creds.id = "AKID2" })
	add("secret", func(v *variant) { v.creds.secret = "secret2" })
	add("session token", func(v *variant) { v.creds.token = "" })
	for _, v := range vs {
		if e.matches(&v.r, v.signSec, v.expires, v.creds, v.expireAt) {
			t.Errorf("another %s: the entry matches", v.name)
		}
	}
}
