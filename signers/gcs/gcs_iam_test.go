package gcs

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/internal/gcsiam"
	"github.com/caddy-presign/presign/internal/gcsverify"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// startIAM starts a test IAM Credentials server holding the conformance
// tests' service account's key, and its metadata server, which
// GCE_METADATA_HOST points the profile at (no Application Default
// Credentials file: CLOUDSDK_CONFIG is an empty directory).
func startIAM(t *testing.T) (*gcsiam.Server, gcsverify.Account) {
	t.Helper()
	acct, err := gcsverify.WriteAccount(gcsSAFile, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := gcsiam.Start(acct.Email, acct.Key)
	t.Cleanup(srv.Close)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	t.Setenv("GCE_METADATA_HOST", srv.MetadataHost())
	return srv, acct
}

// newIAMGCS provisions g to sign as srv's account without a key, through
// srv's signBlob.
func newIAMGCS(t testing.TB, srv *gcsiam.Server, g *GCS) *GCS {
	t.Helper()
	g.ServiceAccount, g.IAMEndpoint = srv.Email(), srv.IAM.URL
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := g.Provision(ctx); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	if g.key != nil || g.iam == nil {
		t.Fatal("a profile with service_account <email> holds a key")
	}
	return g
}

// TestGCSIAMSigns: a profile with service_account <email> and no key signs
// through signBlob with the metadata server's token: its URLs (GET with
// response overrides, HEAD, PUT with a signed Content-Type, DELETE, in
// every url_style), POST policies and the store's listing and HEAD
// requests verify with the account's public key, are refused tampered,
// and are byte-equal to those signed with the key itself.
func TestGCSIAMSigns(t *testing.T) {
	srv, acct := startIAM(t)
	now := time.Now().UTC().Truncate(time.Second)
	dl := &signers.Options{ContentDisposition: "attachment", ContentType: "text/plain"}
	up := &signers.Options{MaxSize: 10_000_000, ContentTypePrefix: signers.TypePrefixes{"image/"}}
	for _, style := range []string{"path", "virtual_hosted"} {
		keyed := newTestGCS(t, &GCS{Bucket: "my-bucket", URLStyle: style})
		keyless := newIAMGCS(t, srv, &GCS{Bucket: "my-bucket", URLStyle: style})
		for _, c := range []struct {
			method, key, ct string
			o               *signers.Options
		}{
			{"GET", "dir/ünï 日本語+%.txt", "", dl},
			{"HEAD", "a.txt", "", dl},
			{"PUT", "up/cat.png", "image/png", up},
			{"DELETE", "old.txt", "", &signers.Options{}},
		} {
			r := signers.Request{Method: c.method, Key: c.key, SignTime: now, Expires: 15 * time.Minute, Options: c.o, ContentType: c.ct}
			want, err := keyed.Sign(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := keyless.Sign(context.Background(), r)
			if err != nil {
				t.Fatalf("%s %s %s: %v", style, c.method, c.key, err)
			}
			if got.URL != want.URL || !got.ExpiresAt.Equal(want.ExpiresAt) {
				t.Errorf("%s %s: signBlob's URL\n%s\nis not the key's\n%s", style, c.method, got.URL, want.URL)
			}
			if _, err := gcsverify.URL(acct.Public, c.method, got.URL, c.ct); err != nil {
				t.Errorf("%s %s: %v", style, c.method, err)
			}
			if _, err := gcsverify.URL(acct.Public, c.method, gcsverify.Tamper(got.URL), c.ct); err == nil {
				t.Errorf("%s %s: a tampered URL verifies", style, c.method)
			}
		}
		r := signers.Request{Method: "POST", Key: "photos/cat.jpg", SignTime: now, Expires: 15 * time.Minute, Options: up, ContentType: "image/jpeg"}
		want, err := keyed.Sign(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		form, err := keyless.Sign(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(form.Fields, want.Fields) || form.URL != want.URL {
			t.Errorf("%s POST: signBlob's form %v is not the key's %v", style, form.Fields, want.Fields)
		}
		if err := gcsverify.VerifyPolicy(acct.Public, acct.Email, "my-bucket", form.Fields, 1000, time.Now()); err != nil {
			t.Errorf("%s POST: %v", style, err)
		}
		tampered := maps.Clone(form.Fields)
		tampered["policy"] = strings.Replace(tampered["policy"], "A", "B", 1)
		if err := gcsverify.VerifyPolicy(acct.Public, acct.Email, "my-bucket", tampered, 1000, time.Now()); err == nil {
			t.Errorf("%s POST: a tampered policy verifies", style)
		}
	}

	s := startGCSStoreServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"0123abcd"`)
		if r.Method == http.MethodGet {
			w.Write([]byte(gcsTestListing))
		}
	})
	g := newIAMGCS(t, srv, &GCS{Bucket: "my-bucket", Endpoint: s.URL})
	if l, err := g.List(context.Background(), "docs/", ""); err != nil || len(l.Objects) != 1 {
		t.Fatalf("List: %+v, %v", l, err)
	}
	if ok, err := g.Exists(context.Background(), "docs/a & b.txt"); !ok || err != nil {
		t.Fatalf("Exists: %v, %v", ok, err)
	}
	s.verify(t, newTestGCS(t, &GCS{Bucket: "my-bucket", Endpoint: s.URL}))
	if len(s.asked) != 2 {
		t.Errorf("the store was asked %v", s.asked)
	}
	if srv.Tokens() == 0 {
		t.Error("no token was asked of the metadata server")
	}
}

// TestGCSIAMRefused: a signBlob that refuses (403) or does not answer in
// iam_timeout is ErrCredentials (503) for URLs, forms and the store's
// requests, and the error says why without an address; once signBlob
// signs again, so does the profile, without a new one.
func TestGCSIAMRefused(t *testing.T) {
	srv, acct := startIAM(t)
	s := startGCSStoreServer(t, func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("ETag", `"1"`) })
	g := newIAMGCS(t, srv, &GCS{Bucket: "my-bucket", Endpoint: s.URL, IAMTimeout: caddy.Duration(300 * time.Millisecond)})
	var seen signerstest.RemoteCalls
	g.SetRemoteObserver(&seen)
	sign := func(method, key string) (*signers.Signed, error) {
		return g.Sign(context.Background(), signers.Request{
			Method: method, Key: key, SignTime: time.Now().UTC().Truncate(time.Second),
			Expires: time.Hour, Options: &signers.Options{},
		})
	}
	unavailable := func(what string, err error, why string) {
		t.Helper()
		if !errors.Is(err, signers.ErrCredentials) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want ErrCredentials saying %q", what, err, why)
		} else if strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%s: the error names an address: %v", what, err)
		}
	}
	srv.Refuse(true)
	_, err := sign("GET", "a")
	unavailable("GET, 403", err, "IAM signBlob as "+acct.Email+": answered 403 Forbidden (PERMISSION_DENIED: Permission 'iam.serviceAccounts.signBlob' denied")
	_, err = sign("POST", "a") // within the backoff: no call
	unavailable("POST, 403", err, "PERMISSION_DENIED")
	if n := srv.Calls(); n != 1 {
		t.Errorf("%d signBlob calls within the backoff, want 1", n)
	}
	time.Sleep(signers.CredentialsBackoff + 100*time.Millisecond)
	_, err = g.Exists(context.Background(), "a")
	var se *signers.StoreError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || !errors.Is(err, signers.ErrCredentials) {
		t.Errorf("Exists, 403: %v, want a 503 StoreError", err)
	}

	srv.Refuse(false)
	srv.Delay(time.Second)
	time.Sleep(signers.CredentialsBackoff + 100*time.Millisecond)
	start := time.Now()
	_, err = sign("GET", "b")
	unavailable("GET, slow", err, "no answer within 300ms")
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("a slow signBlob held the request %s, iam_timeout is 300ms", d)
	}

	srv.Delay(0)
	time.Sleep(signers.CredentialsBackoff + 100*time.Millisecond)
	if _, err := sign("GET", "c"); err != nil {
		t.Errorf("signBlob back: %v", err)
	}
	if ok, err := g.Exists(context.Background(), "a"); !ok || err != nil {
		t.Errorf("Exists, signBlob back: %v %v", ok, err)
	}
	want := []signers.RemoteOutcome{signers.RemoteError, signers.RemoteError, signers.RemoteTimeout, signers.RemoteOK, signers.RemoteOK}
	if got, _ := seen.Calls(); !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}

// TestGCSIAMSingleFlight: a thousand concurrent first requests for one URL
// make exactly one signBlob call, and all get the same URL, whether the
// call is slow (all of them wait for it) or quick (some come as it ends);
// the requests after them make none.
func TestGCSIAMSingleFlight(t *testing.T) {
	srv, _ := startIAM(t)
	g := newIAMGCS(t, srv, &GCS{Bucket: "my-bucket"})
	now := time.Now().UTC().Truncate(time.Second)
	o := &signers.Options{} // the rule's: one for all its requests
	for i, delay := range []time.Duration{500 * time.Millisecond, 0} {
		srv.Delay(delay)
		before := srv.Calls()
		r := signers.Request{Method: "GET", Key: "hot-" + strconv.Itoa(i), SignTime: now, Expires: time.Hour, Options: o}
		signerstest.SignTogether(t, g, r, 1000)
		// later requests for it take it from the URL cache, the second too
		for range 2 {
			if _, err := g.Sign(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		if n := srv.Calls() - before; n != 1 {
			t.Errorf("signBlob answering in %s: %d calls for one URL, want 1", delay, n)
		}
	}
}

// TestGCSIAMRefusedAtStart: the keyless options go with service_account
// <email> only, and are checked.
func TestGCSIAMRefusedAtStart(t *testing.T) {
	srv, _ := startIAM(t)
	for _, c := range []struct {
		g    GCS
		want string
	}{
		{GCS{ServiceAccount: gcsTestAccount(t), IAMEndpoint: srv.IAM.URL}, "iam_endpoint and iam_timeout go with service_account <email> only"},
		{GCS{ServiceAccount: gcsTestAccount(t), IAMTimeout: caddy.Duration(time.Second)}, "iam_endpoint and iam_timeout go with service_account <email> only"},
		{GCS{ServiceAccount: srv.Email(), IAMEndpoint: "ftp://iam.example"}, "iam_endpoint"},
		{GCS{ServiceAccount: srv.Email(), IAMTimeout: caddy.Duration(-time.Second)}, "iam_timeout must be positive"},
		{GCS{ServiceAccount: srv.Email(), ServiceAccountFile: "/nonexistent/sa.json"}, "service_account_file and service_account exclude each other"},
	} {
		c.g.Bucket = "my-bucket"
		err := c.g.Provision(caddy.Context{Context: context.Background()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.g, err, c.want)
		}
	}
}

// TestGCSIAMNoToken: a metadata server that cannot be reached (its port
// closed) is ErrCredentials (503) at once, not after iam_timeout, with an
// error that says why and names no address; no signBlob call is made
// without a token.
func TestGCSIAMNoToken(t *testing.T) {
	srv, _ := startIAM(t)
	g := newIAMGCS(t, srv, &GCS{Bucket: "my-bucket", IAMTimeout: caddy.Duration(time.Second)})
	var seen signerstest.RemoteCalls
	g.SetRemoteObserver(&seen)
	srv.Metadata.Close()
	start := time.Now()
	_, err := g.Sign(context.Background(), signers.Request{
		Method: "GET", Key: "a", SignTime: time.Now().UTC().Truncate(time.Second),
		Expires: time.Hour, Options: &signers.Options{},
	})
	took := time.Since(start)
	const why = "no OAuth token of the identity Caddy runs as: the metadata server is unreachable: dial: connect: connection refused"
	if !errors.Is(err, signers.ErrCredentials) || !strings.Contains(err.Error(), why) {
		t.Errorf("metadata server down: %v, want ErrCredentials saying %q", err, why)
	}
	if err != nil && (strings.Contains(err.Error(), "127.0.0.1") || strings.Contains(err.Error(), srv.MetadataHost())) {
		t.Errorf("metadata server down: the error names its address: %v", err)
	}
	if took > 500*time.Millisecond {
		t.Errorf("metadata server down: the answer took %s, want it at once (iam_timeout is 1s)", took)
	}
	if got, _ := seen.Calls(); !slices.Equal(got, []signers.RemoteOutcome{signers.RemoteError}) {
		t.Errorf("observed %v, want one error", got)
	}
	if n := srv.Calls(); n != 0 {
		t.Errorf("%d signBlob calls without a token", n)
	}
}

// TestGCSIAMBackToBack: requests that follow each other for one URL, some
// arriving as a signBlob call ends, make exactly one call per URL: the URL
// is cached before the call's flight ends, so that a request coming after
// it finds it there.
func TestGCSIAMBackToBack(t *testing.T) {
	srv, _ := startIAM(t)
	g := newIAMGCS(t, srv, &GCS{Bucket: "my-bucket"})
	now := time.Now().UTC().Truncate(time.Second)
	o := &signers.Options{}
	const keys, clients, rounds = 100, 16, 10
	for k := range keys {
		r := signers.Request{Method: "GET", Key: "hot-" + strconv.Itoa(k), SignTime: now, Expires: time.Hour, Options: o}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range clients {
			wg.Go(func() {
				<-start
				for range rounds {
					if _, err := g.Sign(context.Background(), r); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
	}
	if n := srv.Calls(); n != keys {
		t.Errorf("%d signBlob calls for %d URLs, want one each", n, keys)
	}
}
