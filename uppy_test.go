package presign

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/caddy-presign/presign/signers"
)

// uppyBlock is an uppy rule on an S3 profile at endpoint (path-style),
// with the user's ID in the key.
func uppyBlock(endpoint string, extra ...string) string {
	return `presign {
		` + s3Static("media", "media", "us-east-1", "endpoint "+endpoint, "path_style", "api_timeout 2s") + `
		rule /uppy/* {
			profile media
			strip_prefix /uppy
			uppy
			key uploads/{http.auth.user.id}/{presign.uuid}/{presign.filename}
			expires 1h
			` + strings.Join(extra, "\n\t\t\t") + `
		}
	}`
}

// uppyServe runs one uppy call as user with an optional JSON body.
func uppyServe(t *testing.T, h *Handler, user, method, target, body string) answer {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return serveRequest(t, h, r, user)
}

func jsonError(t *testing.T, a answer) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(a.Body), &e); err != nil || e.Error == "" {
		t.Fatalf("error body %q is not {\"error\": ...}", a.Body)
	}
	return e.Error
}

const aliceKey = "uploads/alice/0f8fad5b-d9cb-469f-a165-70867728950e/big.bin"

// TestUppySignParts: a part URL and a batch are presigned for PUT with the
// partNumber and uploadId of the call, under the profile's origin, for the
// user's own key only.
func TestUppySignParts(t *testing.T) {
	h := newHandler(t, uppyBlock("http://127.0.0.1:9"))
	q := "?key=" + url.QueryEscape(aliceKey)
	a := uppyServe(t, h, "alice", "GET", "/uppy/s3/multipart/upl.ID-1/2"+q, "")
	if a.Code != 200 {
		t.Fatalf("sign part: %d %s", a.Code, a.Body)
	}
	var one struct {
		URL     string
		Expires int64
	}
	if err := json.Unmarshal([]byte(a.Body), &one); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(one.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "127.0.0.1:9" || u.Path != "/media/"+aliceKey || u.Query().Get("partNumber") != "2" ||
		u.Query().Get("uploadId") != "upl.ID-1" || u.Query().Get("X-Amz-Expires") != "3600" || u.Query().Get("X-Amz-Signature") == "" {
		t.Errorf("part URL %s: want a PUT of part 2 of upl.ID-1 at the key, for 1h", one.URL)
	}
	if one.Expires < 3590 || one.Expires > 3600 {
		t.Errorf("expires %d, want about 3600 seconds", one.Expires)
	}

	a = uppyServe(t, h, "alice", "GET", "/uppy/s3/multipart/upl.ID-1/batch"+q+"&partNumbers=1,2,3", "")
	var batch struct{ PresignedUrls map[string]string }
	if err := json.Unmarshal([]byte(a.Body), &batch); err != nil || a.Code != 200 {
		t.Fatalf("batch: %d %s %v", a.Code, a.Body, err)
	}
	if len(batch.PresignedUrls) != 3 {
		t.Fatalf("batch gave %d URLs, want 3", len(batch.PresignedUrls))
	}
	for n, s := range batch.PresignedUrls {
		if u, _ := url.Parse(s); u == nil || u.Query().Get("partNumber") != n {
			t.Errorf("batch URL for part %s is %s", n, s)
		}
	}

	// the most an upload can use: 10,000 distinct parts, each answered once
	nums := make([]string, 10000)
	for i := range nums {
		nums[i] = strconv.Itoa(10000 - i)
	}
	a = uppyServe(t, h, "alice", "GET", "/uppy/s3/multipart/upl.ID-1/batch"+q+"&partNumbers="+strings.Join(nums, ","), "")
	batch.PresignedUrls = nil
	if err := json.Unmarshal([]byte(a.Body), &batch); err != nil || a.Code != 200 || len(batch.PresignedUrls) != 10000 {
		t.Fatalf("batch of 10000: %d, %d URLs, %v", a.Code, len(batch.PresignedUrls), err)
	}
	if u, _ := url.Parse(batch.PresignedUrls["10000"]); u == nil || u.Query().Get("partNumber") != "10000" {
		t.Errorf("part 10000's URL is %s", batch.PresignedUrls["10000"])
	}

	// bob knows alice's key and uploadId: refused, nothing signed
	calls := countSigns(h)
	for _, c := range [][2]string{
		{"GET", "/uppy/s3/multipart/upl.ID-1/2" + q},
		{"GET", "/uppy/s3/multipart/upl.ID-1/batch" + q + "&partNumbers=1"},
		{"GET", "/uppy/s3/multipart/upl.ID-1" + q},
		{"POST", "/uppy/s3/multipart/upl.ID-1/complete" + q},
		{"DELETE", "/uppy/s3/multipart/upl.ID-1" + q},
	} {
		a := uppyServe(t, h, "bob", c[0], c[1], `{"parts":[{"PartNumber":1,"ETag":"x"}]}`)
		if a.Code != 403 || jsonError(t, a) != "key not allowed" {
			t.Errorf("bob: %s %s: %d %s, want 403", c[0], c[1], a.Code, a.Body)
		}
	}
	if *calls != 0 {
		t.Errorf("%d signatures for bob", *calls)
	}
}

// TestUppyBadRequests: bad part numbers, upload IDs, keys and file names
// are 400 (or 403 for a key the rule cannot produce), never 500, and
// nothing reaches the store (which does not exist here).
func TestUppyBadRequests(t *testing.T) {
	h := newHandler(t, uppyBlock("http://127.0.0.1:9", "content_type_prefix video/"))
	q := "?key=" + url.QueryEscape(aliceKey)
	many := strings.Repeat("1,", 10000) + "1"
	nums := make([]string, 10000)
	for i := range nums {
		nums[i] = strconv.Itoa(i + 1)
	}
	distinct10000 := strings.Join(nums, ",")
	for _, c := range []struct {
		method, target, body string
		code                 int
	}{
		{"GET", "/uppy/s3/multipart/id/0" + q, "", 400},
		{"GET", "/uppy/s3/multipart/id/10001" + q, "", 400},
		{"GET", "/uppy/s3/multipart/id/-1" + q, "", 400},
		{"GET", "/uppy/s3/multipart/id/x" + q, "", 400},
		{"GET", "/uppy/s3/multipart/id/batch" + q + "&partNumbers=1,0", "", 400},
		{"GET", "/uppy/s3/multipart/id/batch" + q + "&partNumbers=", "", 400},
		{"GET", "/uppy/s3/multipart/id/batch" + q + "&partNumbers=" + many, "", 400},
		{"GET", "/uppy/s3/multipart/id/batch" + q + "&partNumbers=1,2,1", "", 400},
		{"GET", "/uppy/s3/multipart/id/batch" + q + "&partNumbers=" + strings.Repeat("1,", 9999) + "1", "", 400},
		{"GET", "/uppy/s3/multipart/id/batch" + q + "&partNumbers=" + distinct10000 + ",1", "", 400},
		{"GET", "/uppy/s3/multipart/" + url.PathEscape("id;x") + "/1" + q, "", 400},
		{"GET", "/uppy/s3/multipart/" + strings.Repeat("a", 1025) + "/1" + q, "", 400},
		{"GET", "/uppy/s3/multipart/id/1", "", 400}, // no key
		{"GET", "/uppy/s3/multipart/id/1?key=" + url.QueryEscape("uploads/alice/0f8fad5b-d9cb-469f-a165-70867728950e/a/b"), "", 403},
		{"GET", "/uppy/s3/multipart/id/1?key=" + url.QueryEscape("uploads/alice/not-a-uuid/big.bin"), "", 403},
		{"GET", "/uppy/s3/multipart/id/1?key=" + url.QueryEscape("uploads/alice/0f8fad5b-d9cb-469f-a165-70867728950e/.."), "", 403},
		{"POST", "/uppy/s3/multipart/id/complete" + q, `{"parts":[{"PartNumber":0,"ETag":"e"}]}`, 400},
		{"POST", "/uppy/s3/multipart/id/complete" + q, `{"parts":[]}`, 400},
		{"POST", "/uppy/s3/multipart/id/complete" + q, `not json`, 400},
		{"POST", "/uppy/s3/multipart", `{"filename":"..","type":"video/mp4"}`, 400},
		{"POST", "/uppy/s3/multipart", `{"filename":"a/b","type":"video/mp4"}`, 400},
		{"POST", "/uppy/s3/multipart", `{"filename":"a\\b","type":"video/mp4"}`, 400},
		{"POST", "/uppy/s3/multipart", `{"filename":"a\u0007","type":"video/mp4"}`, 400},
		{"POST", "/uppy/s3/multipart", `{"filename":"","type":"video/mp4"}`, 400},
		{"POST", "/uppy/s3/multipart", `{"filename":"a.txt","type":"text/plain"}`, 400},
		{"GET", "/uppy/s3/params?filename=..&type=video/mp4", "", 400},
		{"GET", "/uppy/s3/params?filename=ok.mp4&type=text/plain", "", 400},
		{"PUT", "/uppy/s3/multipart", "", 405},
		{"GET", "/uppy/s3/other", "", 404},
	} {
		a := uppyServe(t, h, "alice", c.method, c.target, c.body)
		if a.Code != c.code {
			t.Errorf("%s %.120s %s: %d %s, want %d", c.method, c.target, c.body, a.Code, a.Body, c.code)
			continue
		}
		jsonError(t, a)
	}
}

// TestUppyParams: a small file gets a POST policy form for a key of the
// template whose fields hold the Content-Type Uppy does not send itself.
func TestUppyParams(t *testing.T) {
	h := newHandler(t, uppyBlock("http://127.0.0.1:9"))
	a := uppyServe(t, h, "alice", "GET", "/uppy/s3/params?filename=small.txt&type=text%2Fplain&metadata%5Bname%5D=small.txt", "")
	var p struct {
		Method, URL string
		Fields      map[string]string
		Expires     int64
	}
	if err := json.Unmarshal([]byte(a.Body), &p); err != nil || a.Code != 200 {
		t.Fatalf("params: %d %s", a.Code, a.Body)
	}
	if p.Method != "POST" || p.URL != "http://127.0.0.1:9/media/" || p.Fields["Content-Type"] != "text/plain" || p.Fields["policy"] == "" {
		t.Errorf("params answer %+v", p)
	}
	if k := p.Fields["key"]; !strings.HasPrefix(k, "uploads/alice/") || !strings.HasSuffix(k, "/small.txt") || !validUUID(k[14:len(k)-10]) {
		t.Errorf("key %q is not the template's", k)
	}
	b := uppyServe(t, h, "alice", "GET", "/uppy/s3/params?filename=small.txt&type=text%2Fplain", "")
	var p2 struct{ Fields map[string]string }
	_ = json.Unmarshal([]byte(b.Body), &p2)
	if p2.Fields["key"] == p.Fields["key"] {
		t.Errorf("two uploads of one name got the same key %q", p.Fields["key"])
	}
}

// TestUppyStoreDown: a store that is not there is 502 quickly, JSON.
func TestUppyStoreDown(t *testing.T) {
	h := newHandler(t, uppyBlock("http://127.0.0.1:9"))
	start := time.Now()
	a := uppyServe(t, h, "alice", "POST", "/uppy/s3/multipart", `{"filename":"a.bin","type":"video/mp4"}`)
	if a.Code != http.StatusBadGateway || time.Since(start) > 5*time.Second {
		t.Fatalf("create against no store: %d %s after %s, want 502 within api_timeout", a.Code, a.Body, time.Since(start))
	}
	jsonError(t, a)
}

// TestUppyKeyAllowed: only keys the template could produce for the
// request are accepted.
func TestUppyKeyAllowed(t *testing.T) {
	for _, c := range []struct {
		tmpl, key string
		ok        bool
	}{
		{"u/bob/{presign.filename}", "u/bob/a.txt", true},
		{"u/bob/{presign.filename}", "u/alice/a.txt", false},
		{"u/bob/{presign.filename}", "u/bob/a/b.txt", false},
		{"u/bob/{presign.filename}", "u/bob/", false},
		{"u/bob/{presign.filename}.bin", "u/bob/a.bin.bin", true},
		{"u/bob/{presign.filename}.bin", "u/bob/a.txt", false},
		{"{presign.uuid}-{presign.filename}", "0f8fad5b-d9cb-469f-a165-70867728950e-x", true},
		{"{presign.uuid}-{presign.filename}", "0F8FAD5B-D9CB-469F-A165-70867728950E-x", false},
		{"{presign.filename}/{presign.filename}", "a/a", true},
		{"{presign.filename}/{presign.filename}", "a/b", false},
		{"fixed", "fixed", true},
		{"fixed", "fixed2", false},
	} {
		if got := parseKeyTemplate(c.tmpl).pieces.allows(c.key); got != c.ok {
			t.Errorf("template %q, key %q: allowed %v, want %v", c.tmpl, c.key, got, c.ok)
		}
	}
	if id := newUUID(); !validUUID(id) || parseKeyTemplate("{presign.uuid}").pieces.allows(id) != true {
		t.Errorf("newUUID %q is not accepted", id)
	}
}

// TestUppyConfig: what an uppy rule cannot be is refused at start.
func TestUppyConfig(t *testing.T) {
	for _, c := range []struct{ block, want string }{
		{cfRuleConfig(t, "/u/*", "uppy"), "cannot run uppy uploads"},
		{uppyBlock("http://127.0.0.1:9", "key x/{presign.path}"), "cannot use {presign.path}"},
		{uppyBlock("http://127.0.0.1:9", "methods GET"), "do not apply to an uppy rule"},
		{uppyBlock("http://127.0.0.1:9", "content_disposition inline"), "no uppy"},
	} {
		h, err := parseBlock(c.block)
		if err == nil {
			_, err = provisionJSON(t, caddyconfig.JSON(h, nil))
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

// TestUppyUserMetadata: of Uppy's metadata, the string and number entries
// are kept as the kind's limits say (its names, its values, its size in
// all); others are left out.
func TestUppyUserMetadata(t *testing.T) {
	limits := signers.MultipartLimits{
		MetadataName:       func(n string) (string, bool) { return strings.ToUpper(n), n != "bad" },
		ValidMetadataValue: func(v string) bool { return v != "refused" },
		MaxMetadataSize:    12,
	}
	got := userMetadata(map[string]any{"a": "xy", "n": 1.5, "bad": "v", "b": "refused", "o": map[string]any{}, "t": true}, &limits)
	if len(got) != 2 || got["A"] != "xy" || got["N"] != "1.5" {
		t.Errorf("kept %v, want A=xy and N=1.5", got)
	}
	// 12 bytes in all: of two 6-byte entries and a third, two are kept
	got = userMetadata(map[string]any{"k1": "abcd", "k2": "efgh", "k3": "ijkl"}, &limits)
	if len(got) != 2 {
		t.Errorf("kept %v, want two entries within 12 bytes", got)
	}
}
