package systest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caddy-presign/presign/systest/demo"
	"github.com/caddy-presign/presign/systest/harness"
)

// Uploads that cannot carry script: under content_type_prefix image/, an
// SVG (image/svg+xml starts with image/, and an SVG runs its <script> when
// a browser opens it) is refused on every upload path, and a picture is
// stored on each; with image/svg+xml named exactly, the SVG is stored.

// scriptSVG is an SVG whose script, when a browser runs it, marks the
// document (data-script-ran on its root) and calls beacon.
func scriptSVG(beacon string) []byte {
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
<script>document.documentElement.setAttribute('data-script-ran', 'yes');
fetch(%q, {mode: 'no-cors'});</script>
<rect width="10" height="10" fill="red"/>
</svg>
`, beacon)
}

// scriptProbe is the beacon that the scripts of its SVGs call, and the
// record of which of them did.
type scriptProbe struct {
	srv   *httptest.Server
	mu    sync.Mutex
	froms []string
}

// newScriptProbe starts a beacon; t.Cleanup stops it.
func newScriptProbe(t *testing.T) *scriptProbe {
	p := &scriptProbe{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.froms = append(p.froms, r.URL.Query().Get("from"))
		p.mu.Unlock()
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// svg is an SVG whose script calls the beacon as from.
func (p *scriptProbe) svg(from string) []byte { return scriptSVG(p.srv.URL + "/?from=" + from) }

// ran tells whether the script of the SVG from called the beacon.
func (p *scriptProbe) ran(from string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.froms, from)
}

// checkNoScript opens in headless Chromium, through the download rule
// /dl/ of base, first the key control (an SVG of p stored as
// image/svg+xml, from controlFrom), which must run its script: this shows
// that the check would see one; then each of keys, none of which may run
// a script, and no SVG of froms may have called the beacon.
func checkNoScript(t *testing.T, p *scriptProbe, base, control, controlFrom string, keys, froms []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bctx := harness.Browser(t, ctx)
	open := func(key string) (marked bool) {
		t.Helper()
		var mark string
		if err := chromedp.Run(bctx,
			chromedp.Navigate(base+"/dl/"+key),
			chromedp.Poll(`document.readyState === 'complete'`, nil, chromedp.WithPollingTimeout(10*time.Second)),
			chromedp.Sleep(500*time.Millisecond), // time for a script, were there one
			chromedp.Evaluate(`document.documentElement ? String(document.documentElement.getAttribute('data-script-ran')) : 'null'`, &mark),
		); err != nil {
			t.Fatalf("opening %s: %v", key, err)
		}
		return mark == "yes"
	}
	if !open(control) {
		t.Fatalf("%s, stored as image/svg+xml, did not mark its document: the browser check could not see a script", control)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !p.ran(controlFrom) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !p.ran(controlFrom) {
		t.Fatalf("%s, stored as image/svg+xml, did not call the beacon", control)
	}
	for _, key := range keys {
		if open(key) {
			t.Errorf("%s ran a script", key)
		}
	}
	time.Sleep(time.Second)
	for _, from := range froms {
		if p.ran(from) {
			t.Errorf("the script of %q called the beacon", from)
		}
	}
}

// scriptableRules are the rules of TestScriptableUploads on profile p:
// /up/ (PUT and POST forms) and /uppy/ under content_type_prefix image/,
// /svg/ with image/svg+xml named, and /dl/ to download what was stored.
const scriptableRules = `rule /up/* {
			profile p
			strip_prefix /up
			key up/{presign.path}
			methods PUT POST
			content_type_prefix image/
		}
		rule /svg/* {
			profile p
			strip_prefix /svg
			key svg/{presign.path}
			methods PUT POST
			content_type_prefix image/ image/svg+xml
		}
		rule /uppy/* {
			profile p
			strip_prefix /uppy
			uppy
			key uppy/{presign.uuid}/{presign.filename}
			content_type_prefix image/
		}
		rule /dl/* {
			profile p
			strip_prefix /dl
		}`

// TestScriptableUploads, against versitygw: under content_type_prefix
// image/, an SVG holding a script is refused by Caddy on a PUT (415), a
// POST form asked with ?type=image/svg+xml (415), uppy's create and its
// s3/params (400), and nothing reaches the bucket; image/png is stored on
// each of these paths, with its type; a form asked as image/png but posted
// with Content-Type image/svg+xml is refused by the bucket (403); with
// content_type_prefix image/ image/svg+xml the SVG is stored by PUT and
// POST form. Then headless Chromium opens, through the download rule, the
// stored PNG, SVG bytes stored as image/png, and the key the refused SVG
// uploads aimed at, and no script runs; the SVG of the rule that names
// image/svg+xml, opened the same way, does run its script, which shows
// that the check would see one.
func TestScriptableUploads(t *testing.T) {
	harness.LookTool(t, harness.Chromium) // before anything starts
	probe := newScriptProbe(t)
	svgFor := probe.svg

	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	base := loadSite(t, presignBlock(s.Profile("p", "media"), scriptableRules))
	png := demo.GalleryPNG(1)
	svgType := func(r *http.Request) { r.Header.Set("Content-Type", "image/svg+xml") }
	pngType := func(r *http.Request) { r.Header.Set("Content-Type", "image/png") }

	// Each refused SVG upload is attempted as a hostile client would: had
	// Caddy signed it, the SVG would go on to the bucket, under a key the
	// browser opens below.
	// PUT
	if code, hdr, body := harness.Fetch(t, "PUT", base+"/up/evil.svg", bytes.NewReader(svgFor("put")), svgType); code != http.StatusUnsupportedMediaType {
		t.Errorf("PUT of an SVG under image/: %d %q, want 415", code, body)
		if code == http.StatusTemporaryRedirect {
			harness.Fetch(t, "PUT", hdr.Get("Location"), bytes.NewReader(svgFor("put")), svgType)
		}
	}
	putVia := func(path string, data []byte, mod func(*http.Request)) {
		t.Helper()
		loc := location(t, http.StatusTemporaryRedirect, "PUT", base+path, mod)
		if code, _, body := harness.Fetch(t, "PUT", loc, bytes.NewReader(data), mod); code != http.StatusOK {
			t.Fatalf("PUT %s to the bucket: %d %s", path, code, body)
		}
	}
	putVia("/up/put.png", png, pngType)
	putVia("/up/disguised.png", svgFor("disguised"), pngType) // SVG bytes, typed image/png
	putVia("/svg/put.svg", svgFor("allowed-put"), svgType)
	// the URL signed for image/png takes no other type
	loc := location(t, http.StatusTemporaryRedirect, "PUT", base+"/up/swap.png", pngType)
	if code, _, _ := harness.Fetch(t, "PUT", loc, bytes.NewReader(svgFor("swap")), svgType); code != http.StatusForbidden {
		t.Errorf("the PUT URL signed for image/png, sent image/svg+xml: %d, want 403", code)
	}

	// POST forms
	if code, _, body := harness.Fetch(t, "POST", base+"/up/evil-form.svg?type="+url.QueryEscape("image/svg+xml"), nil); code != http.StatusUnsupportedMediaType {
		t.Errorf("a form asked as image/svg+xml under image/: %d %q, want 415", code, body)
		if code == http.StatusOK {
			var f postForm
			if json.Unmarshal(body, &f) == nil {
				postToBucket(t, f, "", "evil-form.svg", svgFor("form"))
			}
		}
	}
	if code, _, body := harness.Fetch(t, "POST", base+"/up/evil-form.svg", nil); code != http.StatusBadRequest {
		t.Errorf("a form asked without ?type=: %d %q, want 400", code, body)
	}
	f := formOf(t, base+"/up/form.png?type=image/png")
	code, body := postToBucket(t, f, "image/svg+xml", "form.png", svgFor("form-swap"))
	if code != http.StatusForbidden || !strings.Contains(html.UnescapeString(body), `Policy Condition failed: ["eq","$Content-Type","image/png"]`) {
		t.Errorf("a form asked as image/png, posted as image/svg+xml: %d %s, want 403 over the Content-Type", code, body)
	}
	if s.Exists(t, "media", "up/form.png") {
		t.Fatal("the SVG posted with a form asked as image/png was stored")
	}
	if code, body := postToBucket(t, f, "", "form.png", png); code != http.StatusNoContent {
		t.Errorf("the form asked as image/png, posted as such: %d %s, want 204", code, body)
	}
	g := formOf(t, base+"/svg/form.svg?type="+url.QueryEscape("image/svg+xml"))
	if code, body := postToBucket(t, g, "", "form.svg", svgFor("allowed-form")); code != http.StatusNoContent {
		t.Errorf("an SVG form under image/ image/svg+xml: %d %s, want 204", code, body)
	}

	// uppy: create, and s3/params
	evil := []string{"up/evil.svg", "up/evil-form.svg"} // the keys the SVG uploads aimed at
	var ue upload
	if code, body := uppy(t, base, "", "POST", "multipart", map[string]string{"filename": "evil.svg", "type": "image/svg+xml"}, &ue); code != http.StatusBadRequest ||
		!strings.Contains(body, "image/svg+xml can carry script") {
		t.Errorf("uppy create of an SVG: %d %s, want 400 naming the type", code, body)
		if code == http.StatusOK {
			uppyUpload(t, base, ue, svgFor("uppy-create"))
			evil = append(evil, ue.Key)
		}
	}
	var pe struct {
		URL    string
		Fields map[string]string
	}
	if code, body := uppy(t, base, "", "GET", "params?filename=evil.svg&type="+url.QueryEscape("image/svg+xml"), nil, &pe); code != http.StatusBadRequest ||
		!strings.Contains(body, "image/svg+xml can carry script") {
		t.Errorf("uppy s3/params of an SVG: %d %s, want 400 naming the type", code, body)
		if code == http.StatusOK {
			postToBucket(t, postForm{URL: pe.URL, Fields: pe.Fields}, "", "evil.svg", svgFor("uppy-params"))
			evil = append(evil, pe.Fields["key"])
		}
	}
	u := create(t, base, "", "multi.png", "image/png")
	uppyUpload(t, base, u, png)
	var p struct {
		URL    string
		Fields map[string]string
	}
	if code, body := uppy(t, base, "", "GET", "params?filename=small.png&type=image%2Fpng", nil, &p); code != http.StatusOK {
		t.Fatalf("uppy s3/params of a PNG: %d %s", code, body)
	}
	if code, body := postToBucket(t, postForm{URL: p.URL, Fields: p.Fields}, "", "small.png", png); code != http.StatusNoContent {
		t.Fatalf("posting uppy's form: %d %s", code, body)
	}

	// what is in the bucket, with which type
	for key, typ := range map[string]string{
		"up/put.png": "image/png", "up/disguised.png": "image/png", "up/form.png": "image/png",
		u.Key: "image/png", p.Fields["key"]: "image/png",
		"svg/put.svg": "image/svg+xml", "svg/form.svg": "image/svg+xml",
	} {
		if got := contentTypeOf(t, s, "media", key); got != typ {
			t.Errorf("%s stored with Content-Type %q, want %q", key, got, typ)
		}
	}
	for _, key := range append([]string{"up/swap.png"}, evil...) {
		if s.Exists(t, "media", key) {
			t.Errorf("%s was stored", key)
		}
	}
	if got, err := s.Get(t, "media", "up/put.png"); err != nil || !bytes.Equal(got, png) {
		t.Errorf("up/put.png holds %d bytes (%v), want the PNG's %d", len(got), err, len(png))
	}

	// in a browser, through the download rule
	checkNoScript(t, probe, base, "svg/put.svg", "allowed-put",
		append([]string{"up/put.png", "up/disguised.png", "up/form.png", "up/swap.png"}, evil...),
		[]string{"put", "form", "uppy-create", "uppy-params", "disguised", "form-swap", "swap"})
}

// uppyUpload uploads data as the one part of the created upload u, and
// completes it.
func uppyUpload(t *testing.T, base string, u upload, data []byte) {
	t.Helper()
	var part struct{ URL string }
	if code, body := uppy(t, base, "", "GET", "multipart/"+url.PathEscape(u.UploadID)+"/1"+u.q(), nil, &part); code != http.StatusOK {
		t.Fatalf("uppy part URL: %d %s", code, body)
	}
	etag := putPart(t, part.URL, data)
	if code, body := uppy(t, base, "", "POST", "multipart/"+url.PathEscape(u.UploadID)+"/complete"+u.q(), partsOf(etag), nil); code != http.StatusOK {
		t.Fatalf("uppy complete: %d %s", code, body)
	}
}

// TestScriptableUploadsGCS, against the tests' own Cloud Storage (which
// verifies each V4 signature, Content-Type included, and each POST policy
// form as Cloud Storage does): under content_type_prefix image/ a PUT of
// an SVG, and a POST form asked for one, are refused by Caddy (415); a PNG
// is stored through the signed URL, and that URL sent with image/svg+xml
// is refused by the store (403); a form asked with ?type=image/png and
// posted with Content-Type image/svg+xml, or with its policy tampered, is
// refused by the store (403), and posted as image/png stores the PNG;
// with image/svg+xml named, the SVG is stored by PUT and form. Each
// object is stored with the type it was uploaded with. Then headless
// Chromium opens, through the download rule, the PNGs, SVG bytes stored
// as image/png and the key the refused SVG aimed at, and no script runs;
// the SVG stored under image/ image/svg+xml does run its script.
func TestScriptableUploadsGCS(t *testing.T) {
	harness.LookTool(t, harness.Chromium) // before anything starts
	probe := newScriptProbe(t)
	acct := harness.GCSTestAccount(t)
	s := harness.StartGCSServer(t, "media", acct)
	base := loadSite(t, presignBlock(`profile p gcs {
			bucket media
			service_account_file `+acct.File+`
			endpoint `+s.URL+`
		}`, scriptableRules[:strings.Index(scriptableRules, "rule /uppy/*")]+scriptableRules[strings.Index(scriptableRules, "rule /dl/*"):])) // no uppy: S3 only
	png := demo.GalleryPNG(1)
	svgType := func(r *http.Request) { r.Header.Set("Content-Type", "image/svg+xml") }
	pngType := func(r *http.Request) { r.Header.Set("Content-Type", "image/png") }

	if code, hdr, body := harness.Fetch(t, "PUT", base+"/up/evil.svg", bytes.NewReader(probe.svg("put")), svgType); code != http.StatusUnsupportedMediaType {
		t.Errorf("PUT of an SVG under image/: %d %q, want 415", code, body)
		if code == http.StatusTemporaryRedirect { // as a hostile client would
			harness.Fetch(t, "PUT", hdr.Get("Location"), bytes.NewReader(probe.svg("put")), svgType)
		}
	}
	if code, _, body := harness.Fetch(t, "POST", base+"/up/evil.svg?type="+url.QueryEscape("image/svg+xml"), nil); code != http.StatusUnsupportedMediaType {
		t.Errorf("a form asked as image/svg+xml under image/: %d %q, want 415", code, body)
	}
	loc := location(t, http.StatusTemporaryRedirect, "PUT", base+"/up/cat.png", pngType)
	if code, _, body := harness.Fetch(t, "PUT", loc, bytes.NewReader(probe.svg("swap")), svgType); code != http.StatusForbidden {
		t.Errorf("the URL signed for image/png, sent image/svg+xml: %d %s, want 403", code, body)
	}
	if s.Has("up/cat.png") {
		t.Fatal("the SVG sent to a URL signed for image/png was stored")
	}
	if code, _, body := harness.Fetch(t, "PUT", loc, bytes.NewReader(png), pngType); code != http.StatusOK {
		t.Errorf("the URL signed for image/png, sent image/png: %d %s, want 200", code, body)
	}
	disguised := probe.svg("disguised") // SVG bytes, typed image/png
	loc = location(t, http.StatusTemporaryRedirect, "PUT", base+"/up/disguised.png", pngType)
	if code, _, body := harness.Fetch(t, "PUT", loc, bytes.NewReader(disguised), pngType); code != http.StatusOK {
		t.Errorf("SVG bytes typed image/png: %d %s, want 200", code, body)
	}
	allowed := probe.svg("allowed-put")
	loc = location(t, http.StatusTemporaryRedirect, "PUT", base+"/svg/logo.svg", svgType)
	if code, _, body := harness.Fetch(t, "PUT", loc, bytes.NewReader(allowed), svgType); code != http.StatusOK {
		t.Errorf("an SVG under image/ image/svg+xml: %d %s, want 200", code, body)
	}

	// POST forms
	f := formOf(t, base+"/up/form.png?type=image/png")
	code, body := postToBucket(t, f, "image/svg+xml", "form.png", probe.svg("form-swap"))
	if code != http.StatusForbidden || !strings.Contains(html.UnescapeString(body), `Policy Condition failed: ["eq","$Content-Type","image/png"]`) {
		t.Errorf("a form asked as image/png, posted as image/svg+xml: %d %s, want 403 over the Content-Type", code, body)
	}
	tampered := withFields(f, "policy", harness.TamperString(t, f.Fields["policy"]))
	if code, body := postToBucket(t, tampered, "", "form.png", png); code != http.StatusForbidden || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Errorf("a form with its policy tampered: %d %s, want 403 SignatureDoesNotMatch", code, body)
	}
	if s.Has("up/form.png") {
		t.Fatal("a refused form stored its file")
	}
	if code, body := postToBucket(t, f, "", "form.png", png); code != http.StatusNoContent {
		t.Errorf("the form asked as image/png, posted as such: %d %s, want 204", code, body)
	}
	g := formOf(t, base+"/svg/form.svg?type="+url.QueryEscape("image/svg+xml"))
	allowedForm := probe.svg("allowed-form")
	if code, body := postToBucket(t, g, "", "form.svg", allowedForm); code != http.StatusNoContent {
		t.Errorf("an SVG form under image/ image/svg+xml: %d %s, want 204", code, body)
	}

	if s.Has("up/evil.svg") {
		t.Error("up/evil.svg was stored")
	}
	for _, want := range []struct {
		key, typ string
		data     []byte
	}{
		{"up/cat.png", "image/png", png},
		{"up/form.png", "image/png", png},
		{"up/disguised.png", "image/png", disguised},
		{"svg/logo.svg", "image/svg+xml", allowed},
		{"svg/form.svg", "image/svg+xml", allowedForm},
	} {
		data, typ, ok := s.Object(want.key)
		if !ok || typ != want.typ || !bytes.Equal(data, want.data) {
			t.Errorf("%s stored: %v, %d bytes with Content-Type %q, want the %d uploaded with %q", want.key, ok, len(data), typ, len(want.data), want.typ)
		}
	}

	// in a browser, through the download rule
	checkNoScript(t, probe, base, "svg/logo.svg", "allowed-put",
		[]string{"up/cat.png", "up/form.png", "up/disguised.png", "up/evil.svg"},
		[]string{"put", "swap", "form-swap", "disguised"})
}
