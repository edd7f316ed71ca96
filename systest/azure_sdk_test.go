package systest

// Differential tests of the Azure profile against the Azure SDK for Go's
// SAS signer (github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas),
// through the signers package's exported API.

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/azure"
	"github.com/caddy-presign/presign/systest/harness"
)

// newRefAzure provisions an Azure profile with an account key.
func newRefAzure(t testing.TB, account, container, key, endpoint string) *azure.Azure {
	t.Helper()
	a := &azure.Azure{Account: account, Container: container, AccountKey: key, Endpoint: endpoint}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := a.Provision(ctx); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	return a
}

// checkAgainstSDK signs r with a and fails unless the URL is the blob's
// URL and its query is byte for byte the SDK's SignWithSharedKey for the
// same blob, version, permissions, expiry, protocol and response headers.
// The Content-Disposition value is the profile's (its rscd, made from the
// key's name); the SDK signs it as given.
func checkAgainstSDK(t testing.TB, a *azure.Azure, account, container, key string, https bool, r *signers.Request) {
	t.Helper()
	s, err := a.Sign(context.Background(), *r)
	if err != nil {
		t.Fatalf("Sign(%q): %v", r.Key, err)
	}
	path, query, ok := strings.Cut(s.URL, "?")
	if !ok || !strings.HasPrefix(path, a.Origin()+"/") {
		t.Fatalf("URL %q is not %s/<key>?<SAS>", s.URL, a.Origin())
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azblob.NewSharedKeyCredential(account, key)
	if err != nil {
		t.Fatalf("SDK credential: %v", err)
	}
	v := sas.BlobSignatureValues{
		Version:       "2025-05-05",
		ExpiryTime:    s.ExpiresAt,
		Permissions:   (&sas.BlobPermissions{Read: true}).String(),
		ContainerName: container,
		BlobName:      r.Key,
	}
	if https {
		v.Protocol = sas.ProtocolHTTPS
	}
	switch r.Method {
	case http.MethodPut:
		v.Permissions = (&sas.BlobPermissions{Create: true, Write: true}).String()
	case http.MethodDelete:
		v.Permissions = (&sas.BlobPermissions{Delete: true}).String()
	default:
		v.CacheControl, v.ContentType = r.Options.CacheControl, r.Options.ContentType
		v.ContentDisposition = q.Get("rscd")
		if (r.Options.ContentDisposition != "") != (v.ContentDisposition != "") ||
			!strings.HasPrefix(v.ContentDisposition, r.Options.ContentDisposition) {
			t.Fatalf("rscd %q for content_disposition %q", v.ContentDisposition, r.Options.ContentDisposition)
		}
	}
	qp, err := v.SignWithSharedKey(cred)
	if err != nil {
		t.Fatalf("SDK SignWithSharedKey: %v", err)
	}
	if want := qp.Encode(); query != want {
		t.Fatalf("key %q, method %s, options %+v:\nours %s\nSDK  %s", r.Key, r.Method, *r.Options, query, want)
	}
}

// TestAzureSASMatchesSDK: for keys with unicode, spaces, '+', '%', '?',
// '#', '\' and every other ASCII character, with and without response
// headers, for downloads, uploads and deletions, on http and https endpoints and with
// random account keys, the SAS query is the SDK's, byte for byte.
func TestAzureSASMatchesSDK(t *testing.T) {
	keys := []string{
		"a.txt", "dir/sub/file.bin", "space here/and there.txt", "plus+sign.txt", "100%/x%20y.txt",
		"question?mark", "hash#tag", "amp&er=sand;semi", "ünïcödé/日本語.txt", "emoji 🎉 (1).bin",
		"tilde~/it's \"quoted\".txt", `back\slash\x.txt`, "a:b@c,d$e!f*g(h)[i]{j}|k^l`m",
	}
	var all strings.Builder
	for c := byte(0x20); c < 0x7f; c++ {
		all.WriteByte(c)
	}
	keys = append(keys, "all/"+all.String(), strings.Repeat("ü", 300))
	opts := []signers.Options{
		{},
		{ContentDisposition: "attachment"},
		{ContentDisposition: "inline", ContentType: "text/plain; charset=utf-8"},
		{CacheControl: "public, max-age=3600", ContentType: "image/png"},
		{ContentDisposition: "attachment", ContentType: "application/octet-stream", CacheControl: "no-cache"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	signTime := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, endpoint := range []string{"", "http://127.0.0.1:10000/devstoreaccount1", "https://blob.example.net:8443/x"} {
		https := !strings.HasPrefix(endpoint, "http://")
		for i := range 4 {
			account, container, key := harness.AzuriteAccount, "media", harness.AzuriteKey
			if i > 0 {
				raw := make([]byte, 64)
				for j := range raw {
					raw[j] = byte(rng.Uint32())
				}
				account, container, key = fmt.Sprintf("acct%d", i), fmt.Sprintf("c-%d", i), base64.StdEncoding.EncodeToString(raw)
			}
			a := newRefAzure(t, account, container, key, endpoint)
			for _, k := range keys {
				for oi := range opts {
					for _, m := range []string{"GET", "HEAD", "PUT", "DELETE"} {
						r := &signers.Request{
							Method: m, Key: k, SignTime: signTime.Add(time.Duration(oi) * time.Hour),
							Expires: time.Duration(1+rng.IntN(86400)) * time.Second, Options: &opts[oi],
						}
						checkAgainstSDK(t, a, account, container, key, https, r)
					}
				}
			}
		}
	}
}

// FuzzAzureSASMatchesSDK: for any valid key, response headers and lifetime,
// the SAS query is the SDK's, byte for byte.
func FuzzAzureSASMatchesSDK(f *testing.F) {
	f.Add("dir/a b+c%d?e#f.txt", "attachment", "text/plain", "no-cache", uint32(900), uint8(0))
	f.Add("ünï/日本語 🎉", "inline", "", "", uint32(1), uint8(2))
	f.Add(`x\y`, "", "a b", "c+d", uint32(604800), uint8(1))
	a := newRefAzure(f, harness.AzuriteAccount, "media", harness.AzuriteKey, "")
	signTime := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	f.Fuzz(func(t *testing.T, key, disposition, contentType, cacheControl string, secs uint32, method uint8) {
		if !validFuzzKey(key) || secs == 0 {
			return
		}
		o := &signers.Options{ContentType: contentType, CacheControl: cacheControl}
		switch disposition {
		case "attachment", "inline":
			o.ContentDisposition = disposition
		}
		m := []string{"GET", "HEAD", "PUT", "DELETE"}[method%4]
		r := &signers.Request{Method: m, Key: key, SignTime: signTime, Expires: time.Duration(secs) * time.Second, Options: o}
		checkAgainstSDK(t, a, harness.AzuriteAccount, "media", harness.AzuriteKey, true, r)
	})
}

// validFuzzKey is what the handler lets through as a key, as far as the
// signature is concerned: valid UTF-8, 1 to 1024 bytes, no control
// character.
func validFuzzKey(k string) bool {
	if k == "" || len(k) > 1024 || !utf8.ValidString(k) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] == 0x7f {
			return false
		}
	}
	return true
}
