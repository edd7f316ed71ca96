package presign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-presign/presign/signers"
)

// fixedSigner is a profile's signer whose answers are replaced: its URL
// (with cookies, as a cookies rule's answer has), or an error.
type fixedSigner struct {
	signers.Signer
	url     string
	cookies []*http.Cookie
	err     error
}

func (f fixedSigner) Sign(ctx context.Context, r signers.Request) (*signers.Signed, error) {
	s, err := f.Signer.Sign(ctx, r)
	if f.err != nil || err != nil {
		return nil, errors.Join(f.err, err)
	}
	c := *s
	c.URL, c.Cookies = f.url, f.cookies
	return &c, nil
}

// observe replaces h's logger with one that records every entry.
func observe(h *Handler) *observer.ObservedLogs {
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	return logs
}

// TestOriginEnforced: a URL that does not start with the profile's origin
// followed by '/', '?' or nothing is never sent, whatever the signer
// returns: 500, no Location, no cookies, and an error log that names the
// rule, the profile and the origin but holds no signature. (Origins of a
// bucket's host, and of a CDN's path, whose answers are cookies.)
func TestOriginEnforced(t *testing.T) {
	h := newHandler(t, `presign {
		`+recordingProfile("s3", "origin https://my-bucket.s3.example.com")+`
		`+recordingProfile("cdn", "origin https://cdn.example.com/media")+`
		rule /s3/* {
			profile s3
			strip_prefix /s3
		}
		rule /cf/* {
			profile cdn
			strip_prefix /cf
		}
	}`)
	const sig = "X-Amz-Signature=0123456789abcdef"
	cookie := []*http.Cookie{{Name: "CloudFront-Signature", Value: "0123456789abcdef", Path: "/", Secure: true}}
	for _, c := range []struct {
		rule, target, origin string
		cookies              []*http.Cookie
		good, bad            []string
	}{
		{
			"s3", "/s3/k", "https://my-bucket.s3.example.com", nil,
			[]string{"https://my-bucket.s3.example.com/k?" + sig, "https://my-bucket.s3.example.com?" + sig, "https://my-bucket.s3.example.com"},
			[]string{
				"https://my-bucket.s3.example.com.evil/k?" + sig, "https://my-bucket.s3.example.com@evil.com/k?" + sig,
				"https://my-bucket.s3.example.comx", "http://my-bucket.s3.example.com/k", "//my-bucket.s3.example.com/k",
				"https://media.s3.example.co", "https://my-bucket.s3.example.com#/k", "https://evil.com/?https://my-bucket.s3.example.com/", "",
			},
		},
		{
			"cdn", "/cf/k", "https://cdn.example.com/media", cookie,
			[]string{"https://cdn.example.com/media/k"},
			[]string{"https://cdn.example.com/mediax/k", "https://cdn.example.com/k", "https://cdn.example.com/other/media/k"},
		},
	} {
		var rule *Rule
		for _, r := range h.Rules {
			if r.Profile == c.rule {
				rule = r
			}
		}
		real := rule.signer
		for _, u := range append(c.good, c.bad...) {
			rule.signer = fixedSigner{Signer: real, url: u, cookies: c.cookies}
			logs := observe(h)
			a := serve(t, h, "GET", c.target)
			good := slices.Contains(c.good, u)
			if good {
				if a.Code != http.StatusFound || a.Header.Get("Location") != u || len(a.Header.Values("Set-Cookie")) != len(c.cookies) {
					t.Errorf("%s: %d, Location %q, Set-Cookie %q; want 302 to it with the answer's cookies", u, a.Code, a.Header.Get("Location"), a.Header.Values("Set-Cookie"))
				}
				continue
			}
			if a.Code != http.StatusInternalServerError || a.Header.Get("Location") != "" || len(a.Header.Values("Set-Cookie")) > 0 {
				t.Errorf("%s: %d, Location %q, Set-Cookie %q; want 500 and nothing sent", u, a.Code, a.Header.Get("Location"), a.Header.Values("Set-Cookie"))
			}
			errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
			if len(errs) != 1 {
				t.Fatalf("%s: %d error log entries, want 1", u, len(errs))
			}
			f := errs[0].ContextMap()
			if f["rule"] != rule.name || f["profile"] != c.rule || f["origin"] != c.origin {
				t.Errorf("%s: log fields %v", u, f)
			}
			if line := fmt.Sprint(errs[0].Message, f); strings.Contains(line, "Signature") || strings.Contains(line, "0123456789") {
				t.Errorf("%s: the log holds the signature: %s", u, line)
			}
		}
		rule.signer = real
	}
}

// TestRetryAfter: when credentials cannot be had, the answer is 503 with a
// Retry-After of the credential cache's backoff, after which the provider
// is asked again.
func TestRetryAfter(t *testing.T) {
	h := newHandler(t, `presign {
		`+recordingProfile("s3")+`
		rule /* {
			profile s3
		}
	}`)
	observe(h)
	h.Rules[0].signer = fixedSigner{Signer: h.Rules[0].signer, err: fmt.Errorf("%w: provider down", signers.ErrCredentials)}
	a := serve(t, h, "GET", "/k")
	want := strconv.Itoa(int(signers.CredentialsBackoff.Round(time.Second) / time.Second))
	if a.Code != http.StatusServiceUnavailable || a.Header.Get("Retry-After") != want || want == "0" {
		t.Errorf("%d, Retry-After %q; want 503 and %s", a.Code, a.Header.Get("Retry-After"), want)
	}
}

// TestResourceMistakeLogged: a CloudFront rule whose URL falls outside its
// resource pattern only for some requests (which the patterns could not
// show at start) still answers them, and logs the mistake at error level on
// the first such answer of each rule, naming the rule; answers inside the
// pattern log nothing.
func TestResourceMistakeLogged(t *testing.T) {
	h := newHandler(t, `presign {
		`+cfProfile(t, "cdn", cfDist)+`
		rule /results/* /zarr/* {
			profile cdn
			resource https://`+cfDist+`/results/*
			cookies
		}
		rule /url/* /x/* {
			profile cdn
			resource https://`+cfDist+`/url/*
		}
	}`)
	logs := observe(h)
	for _, c := range []struct {
		target string
		logged int // error entries after this request
	}{
		{"/results/a.zarr/.zattrs", 0},
		{"/zarr/a.zarr/.zattrs", 1},
		{"/zarr/a.zarr/.zgroup", 1},
		{"/results/b", 1},
		{"/url/a", 1},
		{"/x/a", 2},
		{"/x/b", 2},
	} {
		a := serve(t, h, "GET", c.target)
		if a.Code != http.StatusFound || a.Header.Get("Location") == "" {
			t.Fatalf("%s: %d (%v); the answer must still go out", c.target, a.Code, a.Err)
		}
		if strings.HasPrefix(c.target, "/zarr/") && len(a.Header.Values("Set-Cookie")) != 3 {
			t.Errorf("%s: cookies %q", c.target, a.Header.Values("Set-Cookie"))
		}
		errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
		if len(errs) != c.logged {
			t.Fatalf("after %s: %d error entries, want %d", c.target, len(errs), c.logged)
		}
	}
	errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	for i, want := range []struct{ rule, url, resource string }{
		{"rule 1 (/results/* /zarr/*)", "https://" + cfDist + "/zarr/a.zarr/.zattrs", "https://" + cfDist + "/results/*"},
		{"rule 2 (/url/* /x/*)", "https://" + cfDist + "/x/a", "https://" + cfDist + "/url/*"},
	} {
		f := errs[i].ContextMap()
		if f["rule"] != want.rule || f["profile"] != "cdn" || f["url"] != want.url || f["resource"] != want.resource {
			t.Errorf("entry %d: %v", i, f)
		}
	}
}
