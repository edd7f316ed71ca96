package presign

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// contentTypeCases are Content-Type values under content_type_prefix
// video/, and whether each passes: one media type, parsed; no list, no
// control character; the type/subtype compared lower-cased.
var contentTypeCases = []struct {
	value string
	ok    bool
}{
	{"video/mp4", true},
	{"video/mp4; codecs=avc1", true},
	{`video/mp4; codecs="avc1.42E01E, mp4a.40.2"`, true},
	{"VIDEO/MP4", true},
	{"Video/Webm;Codecs=VP9", true},
	{"video/mp4,text/html", false},
	{"video/mp4, text/html", false},
	{"video/mp4;a=1,text/html", false},
	{"video/mp4 text/html", false},
	{"text/html", false},
	{"text/html; x=video/", false},
	{"video", false},
	{"video/", false},
	{"videos/mp4", false},
	{"video/mp4\r\nX: y", false},
	{"video/mp4\nX: y", false},
	{"video/mp4\x00", false},
	{"video/mp4\t", false},
	{"vidéo/mp4", false},
	{"video/mp4; codecs=a; codecs=b", false},
	{"video/" + strings.Repeat("a", 300), false},
}

// TestContentTypeEverywhere: the same values pass and fail at uppy's
// create and s3/params, on a PUT and on a POST form's ?type=; a PUT (and a
// POST) refuses a missing or other type with 415 and a malformed one with
// 400.
func TestContentTypeEverywhere(t *testing.T) {
	h := newHandler(t, strings.Replace(uppyBlock("http://127.0.0.1:9", "content_type_prefix video/"), "\t\trule /uppy/*", `		rule /put/* {
			profile media
			strip_prefix /put
			methods PUT POST
			content_type_prefix video/
		}
		rule /uppy/*`, 1))
	for _, c := range contentTypeCases {
		body, _ := json.Marshal(map[string]string{"filename": "a.mp4", "type": c.value})
		a := uppyServe(t, h, "alice", "POST", "/uppy/s3/multipart", string(body))
		// a type that passes reaches the store, which is not there: 502
		if (a.Code == http.StatusBadGateway) != c.ok || !c.ok && a.Code != http.StatusBadRequest {
			t.Errorf("create with %q: %d %s, want it to pass %v", c.value, a.Code, a.Body, c.ok)
		}
		a = uppyServe(t, h, "alice", "GET", "/uppy/s3/params?filename=a.mp4&type="+url.QueryEscape(c.value), "")
		if (a.Code == http.StatusOK) != c.ok || !c.ok && a.Code != http.StatusBadRequest {
			t.Errorf("params with %q: %d %s, want it to pass %v", c.value, a.Code, a.Body, c.ok)
		}
		a = serve(t, h, "PUT", "/put/a.mp4", func(r *http.Request) { r.Header["Content-Type"] = []string{c.value} })
		want := http.StatusTemporaryRedirect
		if !c.ok {
			want = http.StatusBadRequest
			if why, malformed := checkContentType(c.value, signers.TypePrefixes{"video/"}); !malformed && why != "" {
				want = http.StatusUnsupportedMediaType
			}
		}
		if a.Code != want {
			t.Errorf("PUT with %q: %d, want %d", c.value, a.Code, want)
		}
		if want == http.StatusTemporaryRedirect {
			want = http.StatusOK
		}
		if a = serve(t, h, "POST", "/put/a.mp4?type="+url.QueryEscape(c.value)); a.Code != want {
			t.Errorf("POST ?type=%q: %d, want %d", c.value, a.Code, want)
		}
	}
	for _, c := range []struct {
		name string
		mod  func(r *http.Request)
		want int
	}{
		{"no Content-Type", func(r *http.Request) {}, http.StatusUnsupportedMediaType},
		{"empty", func(r *http.Request) { r.Header["Content-Type"] = []string{""} }, http.StatusUnsupportedMediaType},
		{"text/html", func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, http.StatusUnsupportedMediaType},
		{"two headers", func(r *http.Request) { r.Header["Content-Type"] = []string{"video/mp4", "video/webm"} }, http.StatusBadRequest},
	} {
		if a := serve(t, h, "PUT", "/put/a.mp4", c.mod); a.Code != c.want {
			t.Errorf("PUT, %s: %d, want %d", c.name, a.Code, c.want)
		}
	}
}

// TestPutSignsContentType: a PUT under content_type_prefix is presigned
// with the request's Content-Type as a signed header, and a respond json
// answer tells the client to send it.
func TestPutSignsContentType(t *testing.T) {
	h := newHandler(t, `presign {
		`+s3Static("p", "bkt", "us-east-1", "endpoint http://127.0.0.1:9000", "path_style")+`
		rule /put/* {
			profile p
			strip_prefix /put
			methods PUT
			content_type_prefix image/
		}
		rule /json/* {
			profile p
			strip_prefix /json
			methods GET PUT
			content_type_prefix image/
			respond json
		}
		rule /plain/* {
			profile p
			strip_prefix /plain
			methods PUT
		}
	}`)
	png := func(r *http.Request) { r.Header.Set("Content-Type", "image/png") }
	a := serve(t, h, "PUT", "/put/cat.png", png)
	loc := a.Header.Get("Location")
	if a.Code != http.StatusTemporaryRedirect || !strings.Contains(loc, "X-Amz-SignedHeaders=content-type%3Bhost") {
		t.Fatalf("typed PUT: %d %s, want a 307 that signs content-type", a.Code, loc)
	}
	if b := serve(t, h, "PUT", "/put/cat.png", func(r *http.Request) { r.Header.Set("Content-Type", "image/gif") }); b.Header.Get("Location") == loc {
		t.Error("two types got one URL")
	}
	a = serve(t, h, "PUT", "/json/cat.png", png)
	var j urlAnswer
	if err := json.Unmarshal([]byte(a.Body), &j); err != nil || a.Code != http.StatusOK {
		t.Fatalf("json PUT: %d %s", a.Code, a.Body)
	}
	if j.Headers["Content-Type"] != "image/png" || !strings.Contains(j.URL, "X-Amz-SignedHeaders=content-type%3Bhost") {
		t.Errorf("json PUT answer %+v, want headers with the Content-Type and a URL that signs it", j)
	}
	// GET on the same rule, and a PUT without the option: host alone, no headers
	for _, c := range []struct{ method, path string }{{"GET", "/json/cat.png"}, {"PUT", "/plain/cat.png"}} {
		a = serve(t, h, c.method, c.path, png)
		if strings.Contains(a.Body+a.Header.Get("Location"), "content-type") {
			t.Errorf("%s %s signs or names a Content-Type: %s %s", c.method, c.path, a.Header.Get("Location"), a.Body)
		}
	}
}

// TestBrowseNotAListing: a store (or a proxy in front of it) that answers
// a listing with 200 and something other than a ListBucketResult of the
// asked prefix is a store failure, never an empty folder.
func TestBrowseNotAListing(t *testing.T) {
	for name, body := range map[string]string{
		"HTML":  "<html><body><h1>Down for maintenance</h1></body></html>",
		"empty": "",
		"JSON":  `{"status":"maintenance","items":[]}`,
		"other prefix": `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><Prefix>other/</Prefix>` +
			`<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated></ListBucketResult>`,
		"other bucket": `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>x</Name><Prefix>pub/</Prefix>` +
			`<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated></ListBucketResult>`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(body))
		}))
		a := browseStore(t, srv.URL)
		if a.Code != http.StatusBadGateway {
			t.Errorf("%s: %d %q, want 502", name, a.Code, a.Body)
		}
		srv.Close()
	}
	// the well-formed empty listing of the prefix is an empty folder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><Prefix>pub/</Prefix>` +
			`<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated></ListBucketResult>`))
	}))
	defer srv.Close()
	if a := browseStore(t, srv.URL); a.Code != http.StatusOK {
		t.Errorf("an empty listing: %d %q, want 200", a.Code, a.Body)
	}
}

// browseStore is a JSON browse of the folder pub/ of bucket bkt on the S3
// API at endpoint.
func browseStore(t *testing.T, endpoint string) answer {
	t.Helper()
	h := newHandler(t, `presign {
		`+s3Static("p", "bkt", "us-east-1", "endpoint "+endpoint, "path_style")+`
		rule /files/* {
			profile p
			strip_prefix /files
			key pub/{presign.path}
			browse
		}
	}`)
	return serve(t, h, "GET", "/files/", func(r *http.Request) { r.Header.Set("Accept", "application/json") })
}

// TestScriptableTypes: a type a browser may run as a page is refused under
// every prefix it starts with, whatever its case and parameters, with a
// message that names it and says how to allow it, and passes when a value
// of content_type_prefix names it exactly; the types next to them pass.
func TestScriptableTypes(t *testing.T) {
	scriptable := []string{
		"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
		"application/atom+xml", "application/rss+xml", "application/mathml+xml", "application/xslt+xml",
		"text/xsl", "application/pdf", "image/foo+xml",
		"application/ecmascript", "application/javascript", "application/x-ecmascript",
		"application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0",
		"text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
		"text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript", "text/x-javascript",
		"application/unknown",
	}
	for _, mt := range scriptable {
		typ, _, _ := strings.Cut(mt, "/")
		for _, v := range []string{mt, strings.ToUpper(mt), mt + "; charset=utf-8", strings.ToUpper(mt) + "; Charset=UTF-8"} {
			why, malformed := checkContentType(v, signers.TypePrefixes{typ + "/"})
			if malformed || why != mt+" can carry script: name it exactly in content_type_prefix to allow it" {
				t.Errorf("%q under %s/: %q (malformed %v), want refused as one that can carry script", v, typ, why, malformed)
			}
			for _, allow := range []signers.TypePrefixes{{typ + "/", mt}, {strings.ToUpper(mt)}, {"video/", mt}} {
				if why, _ := checkContentType(v, allow); why != "" {
					t.Errorf("%q under %v: %q, want it allowed", v, allow, why)
				}
			}
		}
		// a prefix of the type that is not the type allows nothing more
		if why, _ := checkContentType(mt, signers.TypePrefixes{mt[:len(mt)-1]}); why == "" {
			t.Errorf("%s passes under %s", mt, mt[:len(mt)-1])
		}
	}
	for _, v := range []string{"*/*", "unknown/unknown"} {
		if why, _ := checkContentType(v, signers.TypePrefixes{"*/", "unknown/"}); why != v+" can carry script: name it exactly in content_type_prefix to allow it" {
			t.Errorf("%s: %q, want refused as one that can carry script", v, why)
		}
	}
	for _, c := range []struct {
		v      string
		prefix signers.TypePrefixes
	}{
		{"image/png", signers.TypePrefixes{"image/"}},
		{"IMAGE/PNG; x=1", signers.TypePrefixes{"image/"}},
		{"image/svg", signers.TypePrefixes{"image/"}},
		{"image/svg+xml2", signers.TypePrefixes{"image/"}},
		{"text/plain; charset=utf-8", signers.TypePrefixes{"text/"}},
		{"text/css", signers.TypePrefixes{"text/"}},
		{"application/json", signers.TypePrefixes{"application/"}},
		{"application/octet-stream", signers.TypePrefixes{"application/"}},
		{"application/zip", signers.TypePrefixes{"application/"}},
		{"image/png", signers.TypePrefixes{"video/", "image/png"}},
		{"text/html", nil}, // no content_type_prefix: any type
	} {
		if why, _ := checkContentType(c.v, c.prefix); why != "" {
			t.Errorf("%q under %v: %q, want it allowed", c.v, c.prefix, why)
		}
	}
	if why, _ := checkContentType("text/plain", signers.TypePrefixes{"image/", "video/"}); why != "content type must start with image/ or video/" {
		t.Errorf("text/plain under image/ video/: %q", why)
	}
}

// TestPostFormPinsType: under content_type_prefix, S3 and GCS POST forms
// are asked with ?type=, which is checked as a PUT's Content-Type is, and
// the policy pins it (eq $Content-Type) with the form's Content-Type field;
// a form asked without a type is 400 and says how to give one; a form of a
// rule without content_type_prefix lets the client choose the type.
func TestPostFormPinsType(t *testing.T) {
	file := gcsTestAccount(t).File
	h := newHandler(t, `presign {
		`+s3Static("s", "bkt", "us-east-1", nowhere...)+`
		profile g gcs {
			bucket bkt
			service_account_file `+file+`
		}
		rule /s3/* {
			profile s
			strip_prefix /s3
			methods POST
			content_type_prefix image/ image/svg+xml
		}
		rule /gcs/* {
			profile g
			strip_prefix /gcs
			methods POST
			content_type_prefix image/
		}
		rule /any/* {
			profile s
			strip_prefix /any
			methods POST
		}
	}`)
	policyOf := func(a answer) (string, map[string]string) {
		t.Helper()
		var form postAnswer
		if err := json.Unmarshal([]byte(a.Body), &form); err != nil || a.Code != http.StatusOK {
			t.Fatalf("POST: %d %q (%v)", a.Code, a.Body, err)
		}
		raw, err := base64.StdEncoding.DecodeString(form.Fields["policy"])
		if err != nil {
			t.Fatal(err)
		}
		return string(raw), form.Fields
	}
	for _, c := range []struct{ target, typ string }{
		{"/s3/a.png?type=image/png", "image/png"},
		{"/s3/a.svg?type=" + url.QueryEscape("image/svg+xml"), "image/svg+xml"},
		{"/gcs/a.png?type=" + url.QueryEscape("IMAGE/PNG; x=1"), "IMAGE/PNG; x=1"},
	} {
		policy, fields := policyOf(serve(t, h, "POST", c.target))
		want, _ := json.Marshal([]string{"eq", "$Content-Type", c.typ})
		if !strings.Contains(policy, string(want)) || strings.Contains(policy, "starts-with") {
			t.Errorf("%s: policy %s, want %s and no starts-with", c.target, policy, want)
		}
		if fields["Content-Type"] != c.typ {
			t.Errorf("%s: Content-Type field %q, want %q", c.target, fields["Content-Type"], c.typ)
		}
	}
	for _, c := range []struct {
		target, msg string
		code        int
	}{
		{"/s3/a.png", "ask with ?type=<media type>, e.g. ?type=image/png", http.StatusBadRequest},
		{"/gcs/a.png?type=", "ask with ?type=<media type>, e.g. ?type=image/png", http.StatusBadRequest},
		{"/gcs/a.svg?type=" + url.QueryEscape("image/svg+xml"), "image/svg+xml can carry script: name it exactly in content_type_prefix to allow it", http.StatusUnsupportedMediaType},
		{"/s3/a.html?type=text/html", "content type must start with image/ or image/svg+xml", http.StatusUnsupportedMediaType},
		{"/s3/a.png?type=image/png&type=image/gif", "more than one ?type=", http.StatusBadRequest},
		{"/s3/a.png?type=image/png,text/html", "not one media type", http.StatusBadRequest},
	} {
		a := serve(t, h, "POST", c.target)
		if a.Code != c.code || a.Err == nil || !strings.Contains(a.Err.Error(), c.msg) {
			t.Errorf("%s: %d %v, want %d with %q", c.target, a.Code, a.Err, c.code, c.msg)
		}
	}
	policy, fields := policyOf(serve(t, h, "POST", "/any/a.html?type=text/html"))
	if !strings.Contains(policy, `["starts-with","$Content-Type",""]`) || fields["Content-Type"] != "" {
		t.Errorf("without content_type_prefix: policy %s, fields %v, want any Content-Type of the client's", policy, fields)
	}
}
