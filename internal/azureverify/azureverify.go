// Package azureverify is the tests' independent verifier of Azure Blob
// Storage's service and user delegation shared access signatures, written
// from Microsoft's documentation ("Create a service SAS", "Create a user
// delegation SAS", version 2020-12-06 and later), not from the signer: it
// shares no code with the signer under test.
package azureverify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Account is a storage account's container as the blob service knows it.
type Account struct {
	Name      string // the account, as in the canonical resource
	Base      string // the path before the container: "" or "/devstoreaccount1" (an emulator's)
	Container string
	Key       []byte // the account key
	UDK       []byte // the user delegation key's value, for SAS that carry skoid
}

// SAS is what a verified signature grants.
type SAS struct {
	Perm     string // sp
	Resource string // sr: "b" (a blob) or "c" (the container)
	Blob     string // the blob's name, "" with sr=c
	Expiry   time.Time
}

// Check verifies the SAS of the URL raw at now, and returns what it
// grants: its signature over the fields Azure signs, its times, and that
// it names the resource of the URL's path.
func (a Account) Check(raw string, now time.Time) (*SAS, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, err
	}
	for n, v := range q {
		if len(v) != 1 {
			return nil, fmt.Errorf("parameter %s %d times", n, len(v))
		}
	}
	rest, ok := strings.CutPrefix(u.Path, a.Base+"/"+a.Container)
	if !ok || rest != "" && rest[0] != '/' {
		return nil, errors.New("not a URL of the container")
	}
	s := &SAS{Perm: q.Get("sp"), Resource: q.Get("sr"), Blob: strings.TrimPrefix(rest, "/")}
	resource := "/blob/" + a.Name + "/" + a.Container
	switch {
	case s.Resource == "b" && s.Blob != "":
		resource += "/" + strings.ReplaceAll(s.Blob, "\\", "/")
	case s.Resource == "c" && s.Blob == "":
	default:
		return nil, fmt.Errorf("sr=%s does not name the resource %q", s.Resource, u.Path)
	}
	if q.Get("sv") < "2020-12-06" {
		return nil, errors.New("a signed version before 2020-12-06")
	}
	if s.Expiry, err = time.Parse(time.RFC3339, q.Get("se")); err != nil {
		return nil, errors.New("se is not a time")
	}
	if !now.Before(s.Expiry) {
		return nil, errors.New("signed expiry time has passed")
	}
	if st := q.Get("st"); st != "" {
		if t, err := time.Parse(time.RFC3339, st); err != nil || now.Before(t) {
			return nil, errors.New("not yet valid")
		}
	}
	if q.Get("spr") != "" && q.Get("spr") != "https" && q.Get("spr") != "https,http" {
		return nil, errors.New("bad spr")
	}
	f := []string{q.Get("sp"), q.Get("st"), q.Get("se"), resource}
	key := a.Key
	if q.Has("skoid") {
		ske, err := time.Parse(time.RFC3339, q.Get("ske"))
		if err != nil || !now.Before(ske) || s.Expiry.After(ske) {
			return nil, errors.New("the user delegation key has expired, or expires before the SAS")
		}
		f = append(f, q.Get("skoid"), q.Get("sktid"), q.Get("skt"), q.Get("ske"), q.Get("sks"), q.Get("skv"),
			q.Get("saoid"), q.Get("suoid"), q.Get("scid"))
		key = a.UDK
	} else {
		f = append(f, q.Get("si"))
	}
	f = append(f, q.Get("sip"), q.Get("spr"), q.Get("sv"), q.Get("sr"), q.Get("sst"), q.Get("ses"),
		q.Get("rscc"), q.Get("rscd"), q.Get("rsce"), q.Get("rscl"), q.Get("rsct"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(f, "\n")))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(m.Sum(nil))), []byte(q.Get("sig"))) {
		return nil, errors.New("AuthenticationFailed: signature mismatch")
	}
	return s, nil
}
