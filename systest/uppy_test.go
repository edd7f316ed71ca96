package systest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/caddy-presign/presign/systest/harness"
)

// Uppy's S3 protocol through Caddy (an uppy rule behind basic_auth) against
// versitygw: the multipart upload is created, its parts presigned, PUT on
// the real server, listed and completed by Caddy; the users' keys are kept
// apart, and limits and errors hold.

// uppySite starts versitygw with bucket "media" (CORS exposing ETag) and
// Caddy with an uppy rule at /uppy/ for alice and bob; extra lines go into
// the rule. It returns the server and the site's base URL.
func uppySite(t *testing.T, extra ...string) (*harness.S3, string) {
	t.Helper()
	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	allowUppyCORS(t, s, "media", "*")
	base := loadSite(t, basicAuth(t, "/uppy/*", "alice", "bob")+"\n\t"+presignBlock(s.Profile("media", "media", "api_timeout 3s"), `rule /uppy/* {
			profile media
			strip_prefix /uppy
			uppy
			key uploads/{http.auth.user.id}/{presign.uuid}/{presign.filename}
			expires 1h`+strings.Join(append([]string{""}, extra...), "\n\t\t\t")+`
		}`))
	return s, base
}

// allowUppyCORS sets the bucket's CORS rule that Uppy needs: PUT and POST
// from origin, and the ETag header exposed.
func allowUppyCORS(t *testing.T, s *harness.S3, bucket, origin string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: aws.String(bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
			AllowedOrigins: []string{origin},
			AllowedMethods: []string{"GET", "PUT", "POST"},
			AllowedHeaders: []string{"*"},
			ExposeHeaders:  []string{"ETag"},
		}}},
	})
	if err != nil {
		t.Fatalf("PutBucketCors: %v", err)
	}
}

// uppy does one call of the protocol as user and decodes the JSON answer
// into out (when not nil and the answer is 200). It returns the status and
// the body.
func uppy(t *testing.T, base, user, method, path string, body any, out any) (int, string) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	code, hdr, b := harness.Fetch(t, method, base+"/uppy/s3/"+path, rd, as(user), func(r *http.Request) {
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
	})
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if code != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Errorf("%s %s: error body %q is not {\"error\": ...}", method, path, b)
		}
	} else if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, path, err, b)
		}
	}
	return code, string(b)
}

// upload is a created multipart upload.
type upload struct {
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
}

func (u upload) q() string { return "?key=" + url.QueryEscape(u.Key) }

func create(t *testing.T, base, user, name, typ string) upload {
	t.Helper()
	var u upload
	code, body := uppy(t, base, user, "POST", "multipart", map[string]any{
		"filename": name, "type": typ, "metadata": map[string]any{"name": name, "type": typ, "purpose": "test"},
	}, &u)
	if code != http.StatusOK || u.Key == "" || u.UploadID == "" {
		t.Fatalf("create %s: %d %s", name, code, body)
	}
	return u
}

// putPart PUTs data to a presigned part URL and returns the ETag.
func putPart(t *testing.T, u string, data []byte) string {
	t.Helper()
	code, hdr, body := harness.Fetch(t, "PUT", u, bytes.NewReader(data))
	if code != http.StatusOK || hdr.Get("ETag") == "" {
		t.Fatalf("PUT part: %d %s, ETag %q", code, body, hdr.Get("ETag"))
	}
	return hdr.Get("ETag")
}

type listedPart struct {
	PartNumber int32
	Size       int64
	ETag       string
}

// partsOf are the upload's parts (PartNumber and ETag, ETag without its
// quotes, as Uppy sends them) for complete.
func partsOf(etags ...string) map[string]any {
	var parts []map[string]any
	for i, e := range etags {
		parts = append(parts, map[string]any{"PartNumber": i + 1, "ETag": strings.Trim(e, `"`)})
	}
	return map[string]any{"parts": parts}
}

// TestUppyMultipart: create, a batch of three part URLs, three parts PUT
// (5 MiB, 5 MiB, 1 KiB), a listing after two that shows exactly those, a
// completion: the object has the bytes, size, Content-Type and metadata.
// A tampered part URL is refused by the server. After an abort, every call
// on the upload is 404.
func TestUppyMultipart(t *testing.T) {
	s, base := uppySite(t)
	data := make([]byte, 10<<20+1024)
	for i := range data {
		data[i] = byte(i * 7 / 13)
	}
	chunks := [][]byte{data[:5<<20], data[5<<20 : 10<<20], data[10<<20:]}

	u := create(t, base, "alice", "big video.bin", "video/mp4")
	if !strings.HasPrefix(u.Key, "uploads/alice/") || !strings.HasSuffix(u.Key, "/big video.bin") {
		t.Fatalf("key %q is not the template's", u.Key)
	}
	var batch struct{ PresignedUrls map[string]string }
	if code, body := uppy(t, base, "alice", "GET", "multipart/"+url.PathEscape(u.UploadID)+"/batch"+u.q()+"&partNumbers=1,2,3", nil, &batch); code != 200 || len(batch.PresignedUrls) != 3 {
		t.Fatalf("batch: %d %s", code, body)
	}
	// a part URL with one signature character changed is refused (a small
	// body: the server answers before reading it, and would reset a 5 MiB one)
	if code, _, _ := harness.Fetch(t, "PUT", harness.Tamper(t, batch.PresignedUrls["1"]), bytes.NewReader(chunks[2])); code != http.StatusForbidden {
		t.Errorf("tampered part URL: %d, want 403", code)
	}
	etags := []string{putPart(t, batch.PresignedUrls["1"], chunks[0]), putPart(t, batch.PresignedUrls["2"], chunks[1])}

	var listed []listedPart
	if code, body := uppy(t, base, "alice", "GET", "multipart/"+url.PathEscape(u.UploadID)+u.q(), nil, &listed); code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	if len(listed) != 2 || listed[0].PartNumber != 1 || listed[1].PartNumber != 2 ||
		listed[0].Size != 5<<20 || listed[1].Size != 5<<20 || listed[0].ETag != etags[0] || listed[1].ETag != etags[1] {
		t.Errorf("listing after two parts: %+v, want parts 1 and 2 of 5 MiB with ETags %v", listed, etags)
	}

	// the single-part call signs the third
	var one struct {
		URL     string
		Expires int64
	}
	if code, body := uppy(t, base, "alice", "GET", "multipart/"+url.PathEscape(u.UploadID)+"/3"+u.q(), nil, &one); code != 200 || one.Expires < 3500 {
		t.Fatalf("sign part 3: %d %s", code, body)
	}
	etags = append(etags, putPart(t, one.URL, chunks[2]))

	var done struct{ Location, Key string }
	if code, body := uppy(t, base, "alice", "POST", "multipart/"+url.PathEscape(u.UploadID)+"/complete"+u.q(), partsOf(etags...), &done); code != 200 {
		t.Fatalf("complete: %d %s", code, body)
	}
	if want := s.Endpoint + "/media/" + (&url.URL{Path: u.Key}).EscapedPath(); done.Location != want {
		t.Errorf("location %q, want %q", done.Location, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	head, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("media"), Key: aws.String(u.Key)})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(data)) || aws.ToString(head.ContentType) != "video/mp4" || head.Metadata["purpose"] != "test" {
		t.Errorf("object: %d bytes, Content-Type %q, metadata %v; want %d, video/mp4, purpose=test",
			aws.ToInt64(head.ContentLength), aws.ToString(head.ContentType), head.Metadata, len(data))
	}
	if got, err := s.Get(t, "media", u.Key); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the object's bytes differ from the parts' (%d bytes, %v)", len(got), err)
	}

	// abort, then every call on that upload: 404
	a := create(t, base, "alice", "gone.bin", "video/mp4")
	p := "multipart/" + url.PathEscape(a.UploadID)
	uppy(t, base, "alice", "GET", p+"/1"+a.q(), nil, &one)
	gone := putPart(t, one.URL, chunks[2])
	if code, body := uppy(t, base, "alice", "DELETE", p+a.q(), nil, nil); code != 200 || strings.TrimSpace(body) != "{}" {
		t.Fatalf("abort: %d %s", code, body)
	}
	for _, c := range [][3]string{{"GET", p + a.q()}, {"POST", p + "/complete" + a.q()}, {"DELETE", p + a.q()}} {
		if code, body := uppy(t, base, "alice", c[0], c[1], partsOf(gone), nil); code != http.StatusNotFound {
			t.Errorf("%s %s after abort: %d %s, want 404", c[0], c[1], code, body)
		}
	}
}

// TestUppyOtherUser: bob knows alice's key and uploadId and is refused
// (403) for sign, batch, list, complete and abort; her upload is intact.
func TestUppyOtherUser(t *testing.T) {
	_, base := uppySite(t)
	u := create(t, base, "alice", "mine.bin", "video/mp4")
	p := "multipart/" + url.PathEscape(u.UploadID)
	for _, c := range [][2]string{
		{"GET", p + "/1" + u.q()},
		{"GET", p + "/batch" + u.q() + "&partNumbers=1,2"},
		{"GET", p + u.q()},
		{"POST", p + "/complete" + u.q()},
		{"DELETE", p + u.q()},
	} {
		if code, body := uppy(t, base, "bob", c[0], c[1], partsOf("x"), nil); code != http.StatusForbidden {
			t.Errorf("bob: %s %s: %d %s, want 403", c[0], c[1], code, body)
		}
	}
	if code, body := uppy(t, base, "alice", "GET", p+u.q(), nil, nil); code != 200 {
		t.Errorf("alice's upload after bob's tries: list %d %s", code, body)
	}
}

// TestUppyMaxSize: an upload over max_size is aborted at completion
// (413) and no object is made; one under it completes.
func TestUppyMaxSize(t *testing.T) {
	s, base := uppySite(t, "max_size 6MiB", "content_type_prefix video/")
	u := create(t, base, "alice", "too big.bin", "video/mp4")
	p := "multipart/" + url.PathEscape(u.UploadID)
	var batch struct{ PresignedUrls map[string]string }
	uppy(t, base, "alice", "GET", p+"/batch"+u.q()+"&partNumbers=1,2", nil, &batch)
	e1 := putPart(t, batch.PresignedUrls["1"], make([]byte, 5<<20))
	e2 := putPart(t, batch.PresignedUrls["2"], make([]byte, 2<<20))
	if code, body := uppy(t, base, "alice", "POST", p+"/complete"+u.q(), partsOf(e1, e2), nil); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("complete over max_size: %d %s, want 413", code, body)
	}
	if s.Exists(t, "media", u.Key) {
		t.Errorf("an object was made over max_size")
	}
	if code, _ := uppy(t, base, "alice", "GET", p+u.q(), nil, nil); code != http.StatusNotFound {
		t.Errorf("the upload over max_size was not aborted: list %d", code)
	}
	if code, _ := uppy(t, base, "alice", "POST", "multipart", map[string]string{"filename": "a.txt", "type": "text/plain"}, nil); code != http.StatusBadRequest {
		t.Errorf("create with a type outside content_type_prefix: %d, want 400", code)
	}

	ok := create(t, base, "alice", "fits.bin", "video/mp4")
	var one struct{ URL string }
	uppy(t, base, "alice", "GET", "multipart/"+url.PathEscape(ok.UploadID)+"/1"+ok.q(), nil, &one)
	e := putPart(t, one.URL, make([]byte, 1<<20))
	if code, body := uppy(t, base, "alice", "POST", "multipart/"+url.PathEscape(ok.UploadID)+"/complete"+ok.q(), partsOf(e), nil); code != 200 || !s.Exists(t, "media", ok.Key) {
		t.Errorf("complete under max_size: %d %s", code, body)
	}
}

// TestUppyBadInput: bad part numbers, uploadIds and file names are 400.
func TestUppyBadInput(t *testing.T) {
	_, base := uppySite(t)
	u := create(t, base, "alice", "x.bin", "video/mp4")
	p := "multipart/" + url.PathEscape(u.UploadID)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", p + "/0" + u.q(), nil},
		{"GET", p + "/10001" + u.q(), nil},
		{"GET", p + "/batch" + u.q() + "&partNumbers=1,10001", nil},
		{"GET", p + "/batch" + u.q() + "&partNumbers=" + strings.Repeat("1,", 10000) + "1", nil},
		{"GET", "multipart/" + url.PathEscape("bad id!") + "/1" + u.q(), nil},
		{"POST", p + "/complete" + u.q(), map[string]any{"parts": []map[string]any{{"PartNumber": 0, "ETag": "x"}}}},
		{"POST", "multipart", map[string]string{"filename": "..", "type": "video/mp4"}},
		{"POST", "multipart", map[string]string{"filename": "a/b.bin", "type": "video/mp4"}},
		{"POST", "multipart", map[string]string{"filename": "a\x01.bin", "type": "video/mp4"}},
		{"GET", "params?filename=" + url.QueryEscape("a\\b"), nil},
	} {
		if code, body := uppy(t, base, "alice", c.method, c.path, c.body, nil); code != http.StatusBadRequest {
			t.Errorf("%s %.100s: %d %s, want 400", c.method, c.path, code, body)
		}
	}
}

// TestUppyParamsForm: the POST form of s3/params, posted as Uppy does
// (the fields, then the file), lands with the file's Content-Type.
func TestUppyParamsForm(t *testing.T) {
	s, base := uppySite(t)
	var p struct {
		Method, URL string
		Fields      map[string]string
	}
	if code, body := uppy(t, base, "alice", "GET", "params?filename=small.txt&type=text%2Fplain&metadata%5Bname%5D=small.txt", nil, &p); code != 200 || p.Method != "POST" {
		t.Fatalf("params: %d %s", code, body)
	}
	// the Content-Type is among the fields: postToBucket adds none
	code, body := postToBucket(t, postForm{URL: p.URL, Fields: p.Fields}, "", "small.txt", []byte("small file"))
	if code/100 != 2 {
		t.Fatalf("posting the form: %d %s", code, body)
	}
	if got, err := s.Get(t, "media", p.Fields["key"]); err != nil || string(got) != "small file" {
		t.Errorf("object %q: %q %v", p.Fields["key"], got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if head, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("media"), Key: aws.String(p.Fields["key"])}); err != nil || aws.ToString(head.ContentType) != "text/plain" {
		t.Errorf("object's Content-Type: %v %v, want text/plain", head, err)
	}
}

// TestUppyStoreDown: with the store gone, every call that needs it is 502
// or 503 within api_timeout, never a hang.
func TestUppyStoreDown(t *testing.T) {
	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	// api_endpoint: a port where nothing listens; presigned URLs keep endpoint
	dead := fmt.Sprintf("http://127.0.0.1:%d", harness.Port(t))
	base := loadSite(t, basicAuth(t, "/uppy/*", "alice")+"\n\t"+presignBlock(s.Profile("media", "media", "api_endpoint "+dead, "api_timeout 2s"), `rule /uppy/* {
			profile media
			strip_prefix /uppy
			uppy
			key uploads/{http.auth.user.id}/{presign.filename}
		}`))
	q := "?key=" + url.QueryEscape("uploads/alice/a.bin")
	for _, c := range [][2]string{{"POST", "multipart"}, {"GET", "multipart/id" + q}, {"POST", "multipart/id/complete" + q}, {"DELETE", "multipart/id" + q}} {
		start := time.Now()
		code, body := uppy(t, base, "alice", c[0], c[1], map[string]any{"filename": "a.bin", "type": "video/mp4", "parts": []map[string]any{{"PartNumber": 1, "ETag": "x"}}}, nil)
		if code != http.StatusBadGateway && code != http.StatusServiceUnavailable || time.Since(start) > 5*time.Second {
			t.Errorf("%s %s with the store down: %d %s after %s, want 502 or 503 within api_timeout", c[0], c[1], code, body, time.Since(start))
		}
	}
}
