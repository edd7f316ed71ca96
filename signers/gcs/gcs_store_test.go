package gcs

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/internal/gcsverify"
	"github.com/caddy-presign/presign/signers"
)

// gcsStoreServer is a store for one test: it verifies each request's V4
// signature (internal/gcsverify), scope and lifetime, records what was
// asked, and answers with answer.
type gcsStoreServer struct {
	*httptest.Server
	mu     sync.Mutex
	asked  []string // "METHOD host path?query"
	answer func(w http.ResponseWriter, r *http.Request)
}

func startGCSStoreServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *gcsStoreServer {
	s := &gcsStoreServer{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.asked = append(s.asked, r.Method+" "+r.Host+" "+r.RequestURI)
		s.mu.Unlock()
		s.answer(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// verify checks every request asked so far against g's key and account.
func (s *gcsStoreServer) verify(t *testing.T, g *GCS) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.asked {
		method, rest, _ := strings.Cut(a, " ")
		host, uri, _ := strings.Cut(rest, " ")
		path, query, _ := strings.Cut(uri, "?")
		_, q, err := gcsverify.Request(&g.key.PublicKey, method, host, "", path, query)
		if err == nil {
			err = gcsverify.Valid(q, g.email, time.Now())
		}
		if err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
}

const gcsTestListing = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01"><Name>my-bucket</Name><Prefix>docs/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
<Contents><Key>docs/a &amp; b.txt</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><Size>42</Size></Contents>
<CommonPrefixes><Prefix>docs/sub/</Prefix></CommonPrefixes>
<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>`

// TestGCSStoreStyles: List and Exists send signed requests to the
// profile's endpoint in its url_style (the path, the host), with the
// listing's parameters, and read the ListObjectsV2 answer.
func TestGCSStoreStyles(t *testing.T) {
	for _, c := range []struct {
		style, bucket, host, listPath, headPath string
	}{
		{"path", "my-bucket", "", "/my-bucket", "/my-bucket/docs/a%20b.txt"},
		{"virtual_hosted", "my-bucket", "my-bucket.", "/", "/docs/a%20b.txt"},
		{"bucket_bound", "my-bucket", "", "/", "/docs/a%20b.txt"},
	} {
		t.Run(c.style, func(t *testing.T) {
			s := startGCSStoreServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					w.Header().Set("ETag", `"0123abcd"`)
					return // 200
				}
				w.Write([]byte(gcsTestListing))
			})
			g := newTestGCS(t, &GCS{Bucket: c.bucket, Endpoint: s.URL, URLStyle: c.style})
			addr := strings.TrimPrefix(s.URL, "http://")
			g.api = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr) // any host of the style reaches the server
			}}}
			l, err := g.List(context.Background(), "docs/", "tok+/=")
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Objects) != 1 || l.Objects[0].Key != "docs/a & b.txt" || l.Objects[0].Size != 42 ||
				!l.Objects[0].ModTime.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) ||
				len(l.Folders) != 1 || l.Folders[0] != "docs/sub/" || l.Next != "tok+/=" {
				t.Errorf("listing %+v", l)
			}
			ok, err := g.Exists(context.Background(), "docs/a b.txt")
			if !ok || err != nil {
				t.Errorf("Exists: %v %v", ok, err)
			}
			s.verify(t, g)
			host := c.host + addr
			list, head := s.asked[0], s.asked[1]
			if !strings.HasPrefix(list, "GET "+host+" "+c.listPath+"?") || !strings.HasPrefix(head, "HEAD "+host+" "+c.headPath+"?") {
				t.Errorf("asked %q and %q, want GET %s %s and HEAD %s %s", list, head, host, c.listPath, host, c.headPath)
			}
			for _, p := range []string{"list-type=2", "delimiter=%2F", "max-keys=1000", "prefix=docs%2F", "continuation-token=tok%2B%2F%3D"} {
				if !strings.Contains(list, "&"+p+"&") && !strings.Contains(list, "?"+p+"&") {
					t.Errorf("the listing lacks %s: %s", p, list)
				}
			}
		})
	}
}

// TestGCSStoreFailures: a refusal, an answer that is no listing of the
// bucket and prefix, a page outside the prefix and a store that does not
// answer within api_timeout are 502, never 404 or false; a missing object
// is false.
func TestGCSStoreFailures(t *testing.T) {
	var status int
	var body string
	var delay time.Duration
	s := startGCSStoreServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		if status == http.StatusOK {
			w.Header().Set("ETag", `"0123abcd"`)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	})
	g := newTestGCS(t, &GCS{Bucket: "my-bucket", Endpoint: s.URL, APITimeout: caddy.Duration(time.Second)})
	ctx := context.Background()
	badGateway := func(what string, err error) {
		t.Helper()
		var se *signers.StoreError
		if !errors.As(err, &se) || se.Status != http.StatusBadGateway {
			t.Errorf("%s: %v, want a 502 signers.StoreError", what, err)
		} else if strings.Contains(se.Reason, "127.0.0.1") || strings.Contains(err.Error(), "X-Goog-Signature") {
			t.Errorf("%s: %q holds the store's address or the signed URL", what, err)
		}
	}
	for _, c := range []struct {
		what   string
		status int
		body   string
	}{
		{"refused", http.StatusForbidden, "<Error><Code>SignatureDoesNotMatch</Code></Error>"},
		{"missing bucket", http.StatusNotFound, "<Error><Code>NoSuchBucket</Code></Error>"},
		{"an HTML page", http.StatusOK, "<html><body>maintenance</body></html>"},
		{"JSON", http.StatusOK, `{"items": []}`},
		{"another prefix", http.StatusOK, strings.Replace(gcsTestListing, "<Prefix>docs/</Prefix>", "<Prefix>other/</Prefix>", 1)},
		{"a key outside the prefix", http.StatusOK, strings.Replace(gcsTestListing, "<Key>docs/a", "<Key>other/a", 1)},
	} {
		status, body = c.status, c.body
		_, err := g.List(ctx, "docs/", "")
		badGateway("List, "+c.what, err)
	}

	status, body = http.StatusInternalServerError, ""
	ok, err := g.Exists(ctx, "k")
	badGateway("Exists, 500", err)
	if ok {
		t.Error("a failed check says the object exists")
	}

	status = http.StatusNotFound
	if ok, err := g.Exists(ctx, "gone"); ok || err != nil {
		t.Errorf("missing: %v %v, want false", ok, err)
	}

	delay = 3 * time.Second
	start := time.Now()
	_, err = g.List(ctx, "docs/", "")
	badGateway("List, slow", err)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a slow store held List %s, past api_timeout 1s", d)
	}
	s.verify(t, g)
}

// TestGCSCheckRuleStore: a gcs rule takes browse, browse_template and
// check_exists on downloads, and refuses them as S3 does elsewhere.
func TestGCSCheckRuleStore(t *testing.T) {
	g := newTestGCS(t, &GCS{Bucket: "my-bucket"})
	for _, c := range []struct {
		methods []string
		o       signers.Options
		want    string // "": accepted
	}{
		{[]string{"GET", "HEAD"}, signers.Options{Browse: true, BrowseTemplate: "list.html", CheckExists: caddy.Duration(time.Second)}, ""},
		{[]string{"PUT"}, signers.Options{Browse: true}, "browse and check_exists answer GET and HEAD"},
		{[]string{"PUT"}, signers.Options{CheckExists: caddy.Duration(time.Second)}, "browse and check_exists answer GET and HEAD"},
		{[]string{"GET"}, signers.Options{BrowseTemplate: "list.html"}, "browse_template is the page of browse"},
		{[]string{"GET"}, signers.Options{CheckExists: caddy.Duration(-time.Second)}, "check_exists must be a positive window"},
	} {
		err := g.CheckRule(&signers.RuleInfo{Profile: "g", Methods: c.methods, Expires: time.Hour, Options: &c.o})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v %+v: %v, want %q", c.methods, c.o, err, c.want)
		}
	}
	bad := &GCS{Bucket: "my-bucket", APITimeout: caddy.Duration(-time.Second), ServiceAccount: gcsTestAccount(t)}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := bad.Provision(ctx); err == nil || !strings.Contains(err.Error(), "api_timeout must be positive") {
		t.Errorf("a negative api_timeout: %v", err)
	}
}
