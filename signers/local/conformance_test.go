package local

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// suiteLocal provisions a profile that signs for https://files.test/s
// with the key k2, its files in dir.
func suiteLocal(t *testing.T, dir string) signers.Signer {
	t.Helper()
	l := &Local{Keys: []Key{{ID: "k2", Secret: secretB}}, Serve: "/s", Base: "https://files.test", Root: dir}
	if err := l.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Cleanup() })
	return l
}

// verifyLink is an independent verifier of the link format v1 as the
// docs/providers.md documents it (not the kind's code): the link to r.Key under
// https://files.test/s, or a folder link of r.Resource, signed with
// secretB under k2, carrying what the rule binds, valid at now.
func verifyLink(r signers.Request, s *signers.Signed, now time.Time) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return fmt.Errorf("method %s: links open GET and HEAD only", r.Method)
	}
	const origin, serve = "https://files.test", "/s"
	rest, ok := strings.CutPrefix(s.URL, origin+serve+"/")
	if !ok {
		return fmt.Errorf("link %s is not under %s", s.URL, origin+serve)
	}
	rawPath, query, _ := strings.Cut(rest, "?")
	mac := func(version, p, exp, nbf, ip, cd, kid string) string {
		h := hmac.New(sha256.New, []byte(secretB))
		h.Write([]byte(strings.Join([]string{version, "GET", p, exp, nbf, ip, cd, kid}, "\n")))
		return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
	}
	valid := func(exp string) error {
		e, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || exp[0] == '0' {
			return fmt.Errorf("pl_exp %q is no Unix time", exp)
		}
		if now.Unix() >= e {
			return errors.New("expired")
		}
		return nil
	}

	if r.Options.Cookies {
		return verifyCookie(r, s, rawPath, query, now, mac, valid)
	}
	if tok, key, ok := strings.Cut(rawPath, "/"); ok && strings.HasPrefix(tok, "~pl1.") {
		// <serve>/~pl1.<D>.<E>.<K>.<S>/<key>, signing the folder <serve>/<D segments>/*
		parts := strings.Split(strings.TrimPrefix(tok, "~pl1."), ".")
		if len(parts) != 4 || query != "" {
			return fmt.Errorf("folder token %q, query %q", tok, query)
		}
		p, err := url.PathUnescape(key)
		if err != nil || p != r.Key {
			return fmt.Errorf("folder link to %q, want %q", key, r.Key)
		}
		d, err := strconv.Atoi(parts[0])
		segs := strings.Split(p, "/")
		if err != nil || d < 1 || d >= len(segs) {
			return fmt.Errorf("folder depth %q for %q", parts[0], p)
		}
		folder := strings.Join(segs[:d], "/") + "/*"
		if r.Resource != folder {
			return fmt.Errorf("folder %s, the rule's resource is %s", folder, r.Resource)
		}
		if parts[2] != "k2" || !hmac.Equal([]byte(parts[3]), []byte(mac("presign-folder-v1", serve+"/"+folder, parts[1], "", "", "", parts[2]))) {
			return errors.New("bad folder signature")
		}
		return valid(parts[1])
	}

	p, err := url.PathUnescape(rawPath)
	if err != nil || p != r.Key || strings.Contains(rawPath, "%2F") {
		return fmt.Errorf("link to %q, want %q", rawPath, r.Key)
	}
	if r.Resource != "" {
		return errors.New("a rule with a resource gives a folder link")
	}
	// pl_v=1&pl_exp=<E>[&pl_nbf=<N>][&pl_ip=<IP>][&pl_cd=<CD>]&pl_kid=<K>&pl_sig=<S>, in this order
	v := map[string]string{}
	params := strings.Split(query, "&")
	order := []string{"pl_v", "pl_exp", "pl_nbf", "pl_ip", "pl_cd", "pl_kid", "pl_sig"}
	i := 0
	for _, kv := range params {
		name, value, _ := strings.Cut(kv, "=")
		for i < len(order) && order[i] != name {
			i++
		}
		if i == len(order) {
			return fmt.Errorf("query %q is not in the documented order", query)
		}
		v[name] = value
	}
	if v["pl_v"] != "1" || v["pl_kid"] != "k2" {
		return fmt.Errorf("query %q: want pl_v=1 and pl_kid=k2", query)
	}
	want, nbf := bound(r)
	if v["pl_nbf"] != nbf {
		return fmt.Errorf("query %q does not bind not_before %q", query, nbf)
	}
	if v["pl_ip"] != want || v["pl_cd"] != r.Options.ContentDisposition {
		return fmt.Errorf("query %q does not bind the client IP %q and the disposition %q", query, want, r.Options.ContentDisposition)
	}
	sig := mac("presign-link-v1", serve+"/"+p, v["pl_exp"], v["pl_nbf"], v["pl_ip"], v["pl_cd"], v["pl_kid"])
	if !hmac.Equal([]byte(v["pl_sig"]), []byte(sig)) {
		return errors.New("bad signature")
	}
	if err := valid(v["pl_exp"]); err != nil {
		return err
	}
	if n := v["pl_nbf"]; n != "" {
		if nb, err := strconv.ParseInt(n, 10, 64); err != nil || now.Unix() < nb {
			return errors.New("not valid yet")
		}
	}
	return nil
}

// bound are the values that r's rule binds into a link or cookie: the
// client's IP (IP) and not_before (N), "" when it binds none.
func bound(r signers.Request) (ip, nbf string) {
	if r.Options.BindClientIP {
		ip = r.ClientIP.String()
	}
	if r.Options.NotBefore != nil {
		nbf = strconv.FormatInt(r.Options.NotBefore.Unix(), 10)
	}
	return ip, nbf
}

// verifyCookie verifies a cookie answer as the README documents it: the
// plain link to r.Key and one presign-link cookie
// 1~<D>~<E>~<N>~<IP>~<K>~<S> whose Path is the folder of r.Resource (or
// the file), signing that folder (or file) with presign-cookie-v1.
func verifyCookie(r signers.Request, s *signers.Signed, rawPath, query string, now time.Time,
	mac func(version, p, exp, nbf, ip, cd, kid string) string, valid func(exp string) error,
) error {
	const serve = "/s"
	if p, err := url.PathUnescape(rawPath); err != nil || p != r.Key || query != "" {
		return fmt.Errorf("cookie answer's URL %s is not the plain link to %q", s.URL, r.Key)
	}
	if len(s.Cookies) != 1 {
		return fmt.Errorf("%d cookies, want 1", len(s.Cookies))
	}
	c := s.Cookies[0]
	if c.Name != "presign-link" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		return fmt.Errorf("cookie %s: want presign-link, Secure, HttpOnly, SameSite=Lax", c.String())
	}
	f := strings.Split(c.Value, "~")
	if len(f) != 7 || f[0] != "1" || f[5] != "k2" {
		return fmt.Errorf("cookie value %q is not 1~D~E~N~IP~k2~S", c.Value)
	}
	grant, depth := serve+"/"+r.Key, "0"
	if r.Resource != "" {
		folder := strings.TrimSuffix(r.Resource, "*")
		grant, depth = serve+"/"+folder+"*", strconv.Itoa(strings.Count(folder, "/"))
	}
	if f[1] != depth || c.Path != (&url.URL{Path: strings.TrimSuffix(grant, "*")}).EscapedPath() {
		return fmt.Errorf("cookie depth %s, path %s, want %s and the path of %s", f[1], c.Path, depth, grant)
	}
	want, nbf := bound(r)
	if f[3] != nbf || f[4] != want || !hmac.Equal([]byte(f[6]), []byte(mac("presign-cookie-v1", grant, f[2], f[3], f[4], "", f[5]))) {
		return errors.New("bad cookie signature")
	}
	return valid(f[2])
}

// TestConformance runs the suite of every kind against local links, with
// an independent verifier of the documented format and a store of files
// the suite writes.
func TestConformance(t *testing.T) {
	t.Setenv("PRESIGN_SUITE_FOLDER", "docs")
	signerstest.Run(t, signerstest.Kind{
		Name:   "local",
		New:    func(t *testing.T, _ string) signers.Signer { return suiteLocal(t, t.TempDir()) },
		Verify: verifyLink,
		Files:  suiteLocal,
		// the resource is a folder of keys (docs/ is the only one of
		// docs/report.txt), named by a placeholder that Bind expands
		Resources: []string{"{env.PRESIGN_SUITE_FOLDER}/*"},
	})
}
