package harness

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/gcsverify"
)

// GCSAccount is the service account of Google's V4 signing conformance
// tests (signers/gcs/testdata): its key File, Email and Public key.
type GCSAccount = gcsverify.Account

// GCSTestAccount writes the conformance service account to a temporary
// file and returns it.
func GCSTestAccount(t testing.TB) GCSAccount {
	t.Helper()
	a, err := gcsverify.WriteAccount(RepoPath("signers/gcs/testdata/service-account"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// GCSServer is the tests' Cloud Storage: one in-memory bucket served on
// 127.0.0.1 through the XML API's calls that presign needs: ListObjectsV2
// (GET /<bucket>?list-type=2 with prefix, delimiter, max-keys and
// continuation-token, of the pages it served alone), HEAD, GET, PUT and DELETE of an object, path style
// (/<bucket>/<key>) or virtual-hosted (Host <bucket>.<anything>), and a
// POST policy form to the bucket (/<bucket>/, or / virtual-hosted). An
// object keeps the Content-Type it was uploaded with, and is served with
// it (application/octet-stream when it had none).
//
// Every request but a form must carry a V4 query signature
// (GOOG4-RSA-SHA256) of the account that verifies (internal/gcsverify) and
// is valid now; a form must pass gcsverify.VerifyPolicy. Others are
// refused (403, or 400 where Cloud Storage answers 400), and counted:
// Unsigned tells whether any request came without a signature at all.
type GCSServer struct {
	// URL is the endpoint, "http://127.0.0.1:PORT".
	URL    string
	Bucket string

	account GCSAccount
	srv     *httptest.Server

	mu       sync.Mutex
	objects  map[string]gcsObject
	issued   map[string]bool // the continuation tokens of the pages served
	unsigned int
	refused  int
	served   int
}

type gcsObject struct {
	data        []byte
	contentType string
	modTime     time.Time
}

// newGCSObject is data stored now with the Content-Type contentType.
func newGCSObject(data []byte, contentType string) gcsObject {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	return gcsObject{data: data, contentType: contentType, modTime: time.Now().UTC()}
}

// StartGCSServer starts a server with an empty bucket, signed for by
// account; t.Cleanup stops it.
func StartGCSServer(t testing.TB, bucket string, account GCSAccount) *GCSServer {
	t.Helper()
	s, err := LaunchGCSServer(bucket, account)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// LaunchGCSServer is StartGCSServer for programs (the load benchmark): the
// caller stops it with Stop.
func LaunchGCSServer(bucket string, account GCSAccount) (*GCSServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &GCSServer{Bucket: bucket, account: account, objects: map[string]gcsObject{}, issued: map[string]bool{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener = l
	s.srv.Start()
	s.URL = s.srv.URL
	return s, nil
}

// Stop stops the server; it may be called more than once.
func (s *GCSServer) Stop() { s.srv.Close() }

// Put stores an object directly (seeding), untyped.
func (s *GCSServer) Put(key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = newGCSObject(data, "")
}

// Object is what the bucket holds at key: the data and its Content-Type.
func (s *GCSServer) Object(key string) (data []byte, contentType string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	return o.data, o.contentType, ok
}

// Has tells whether the bucket holds key.
func (s *GCSServer) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[key]
	return ok
}

// Counts are how many requests were served, refused (signature missing,
// wrong or expired; a form's policy not met) and, of those, unsigned (no
// X-Goog-Signature at all, in the query or the form).
func (s *GCSServer) Counts() (served, refused, unsigned int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served, s.refused, s.unsigned
}

// gcsError is the XML API's error document.
type gcsError struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

func writeGCSError(w http.ResponseWriter, status int, code, msg string) {
	writeXML(w, status, gcsError{Code: code, Message: msg})
}

// writeXML answers status with the XML document v.
func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), b...)) // a client that went away fails its own check
}

func (s *GCSServer) serve(w http.ResponseWriter, r *http.Request) {
	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	if r.Method == http.MethodPost {
		s.post(w, r, rawPath)
		return
	}
	if !strings.Contains(rawQuery, "X-Goog-Signature=") {
		s.count(&s.unsigned)
		s.count(&s.refused)
		writeGCSError(w, http.StatusForbidden, "AccessDenied", "the request is not signed")
		return
	}
	contentType := "" // signed on an upload only
	if r.Method == http.MethodPut {
		contentType = r.Header.Get("Content-Type")
	}
	_, q, err := gcsverify.Request(s.account.Public, r.Method, r.Host, contentType, rawPath, rawQuery)
	if err == nil {
		err = gcsverify.Valid(q, s.account.Email, time.Now())
	}
	if err != nil {
		s.count(&s.refused)
		writeGCSError(w, http.StatusForbidden, "SignatureDoesNotMatch", err.Error())
		return
	}
	s.count(&s.served)
	key, ok := s.locate(w, r.Host, rawPath)
	if !ok {
		return
	}
	if key == "" {
		if r.Method != http.MethodGet || q["list-type"] != "2" {
			writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "the bucket answers GET ?list-type=2 alone")
			return
		}
		s.list(w, q)
		return
	}
	s.object(w, r, key)
}

// count adds one to the counter n.
func (s *GCSServer) count(n *int) {
	s.mu.Lock()
	*n++
	s.mu.Unlock()
}

// locate returns the object key that the request for rawPath on host
// names in the bucket ("": the bucket itself), or answers the error and
// returns false.
func (s *GCSServer) locate(w http.ResponseWriter, host, rawPath string) (string, bool) {
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		writeGCSError(w, http.StatusBadRequest, "InvalidURI", "bad path encoding")
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	var key string
	var ok bool
	if strings.HasPrefix(host, s.Bucket+".") {
		key, ok = strings.CutPrefix(path, "/")
	} else if path == "/"+s.Bucket {
		ok = true
	} else {
		key, ok = strings.CutPrefix(path, "/"+s.Bucket+"/")
	}
	if !ok {
		writeGCSError(w, http.StatusNotFound, "NoSuchBucket", "no such bucket")
	}
	return key, ok
}

// post takes a POST policy form to the bucket: its fields, then the file
// (the last part read; Cloud Storage ignores what follows it), verified
// by gcsverify.VerifyPolicy and stored under the key field with the
// Content-Type field. It answers success_action_status: 200 or 201 (with
// the PostResponse document), otherwise 204.
func (s *GCSServer) post(w http.ResponseWriter, r *http.Request, rawPath string) {
	target, ok := s.locate(w, r.Host, rawPath)
	if !ok {
		return
	}
	if target != "" {
		writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "a form is posted to the bucket, not to an object")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "a POST to the bucket is a multipart/form-data form")
		return
	}
	form := map[string]string{} // by lower-case name
	var file []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "the form has no file field")
			return
		}
		if err != nil {
			writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "bad multipart form: "+err.Error())
			return
		}
		name := p.FormName()
		if name == "file" {
			if file, err = io.ReadAll(p); err != nil {
				writeGCSError(w, http.StatusBadRequest, "IncompleteBody", err.Error())
				return
			}
			break
		}
		if _, dup := form[strings.ToLower(name)]; dup {
			writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "the form field "+name+" is given twice")
			return
		}
		v, err := io.ReadAll(io.LimitReader(p, 1<<20))
		if err != nil {
			writeGCSError(w, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
		form[strings.ToLower(name)] = string(v)
	}
	if _, signed := form["x-goog-signature"]; !signed {
		s.count(&s.unsigned)
	}
	if err := gcsverify.VerifyPolicy(s.account.Public, s.account.Email, s.Bucket, form, int64(len(file)), time.Now()); err != nil {
		s.count(&s.refused)
		status, code, msg := http.StatusForbidden, "AccessDenied", err.Error()
		var pe *gcsverify.PolicyError
		if errors.As(err, &pe) {
			status, code, msg = pe.Status, pe.Code, pe.Message
		}
		writeGCSError(w, status, code, msg)
		return
	}
	s.count(&s.served)
	key, contentType, status := form["key"], form["content-type"], form["success_action_status"]
	if key == "" {
		writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "the form has no key")
		return
	}
	o := newGCSObject(file, contentType)
	s.mu.Lock()
	s.objects[key] = o
	s.mu.Unlock()
	w.Header().Set("ETag", o.etag())
	switch status {
	case "200":
		w.WriteHeader(http.StatusOK)
	case "201":
		location := s.URL + (&url.URL{Path: "/" + s.Bucket + "/" + key}).EscapedPath()
		writeXML(w, http.StatusCreated, gcsPostResponse{Location: location, Bucket: s.Bucket, Key: key, ETag: o.etag()})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// gcsPostResponse is the XML API's answer to a form with
// success_action_status 201.
type gcsPostResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// etag is the object's ETag: the quoted hex MD5 of its data.
func (o gcsObject) etag() string {
	sum := md5.Sum(o.data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func (s *GCSServer) object(w http.ResponseWriter, r *http.Request, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	switch r.Method {
	case http.MethodPut:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			writeGCSError(w, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
		s.objects[key] = newGCSObject(data, r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	default:
		writeGCSError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
		return
	}
	if !ok {
		writeGCSError(w, http.StatusNotFound, "NoSuchKey", "no such object")
		return
	}
	if r.Method == http.MethodDelete {
		delete(s.objects, key)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("ETag", o.etag())
	w.Header().Set("Content-Type", o.contentType)
	w.Header().Set("Last-Modified", o.modTime.Format(http.TimeFormat))
	w.Header().Set("Content-Length", strconv.Itoa(len(o.data)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(o.data)
	}
}

// gcsListing is the XML API's answer to list-type=2, shaped as S3's
// ListObjectsV2.
type gcsListing struct {
	XMLName        xml.Name        `xml:"http://doc.s3.amazonaws.com/2006-03-01 ListBucketResult"`
	Name           string          `xml:"Name"`
	Prefix         string          `xml:"Prefix"`
	KeyCount       int             `xml:"KeyCount"`
	MaxKeys        int             `xml:"MaxKeys"`
	Delimiter      string          `xml:"Delimiter,omitempty"`
	IsTruncated    bool            `xml:"IsTruncated"`
	Contents       []gcsContent    `xml:"Contents"`
	CommonPrefixes []gcsCommonPref `xml:"CommonPrefixes"`
	NextToken      string          `xml:"NextContinuationToken,omitempty"`
}

type gcsContent struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int    `xml:"Size"`
}

type gcsCommonPref struct {
	Prefix string `xml:"Prefix"`
}

// list answers one page: the keys under prefix in order, those that hold
// the delimiter after the prefix rolled up into common prefixes, at most
// max-keys entries (default and at most 1000) after the entry that the
// continuation token names. A token that no page served is refused (400
// InvalidArgument), as Cloud Storage refuses a forged one.
func (s *GCSServer) list(w http.ResponseWriter, q map[string]string) {
	prefix, delim := q["prefix"], q["delimiter"]
	maxKeys := 1000
	if v, ok := q["max-keys"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "bad max-keys")
			return
		}
		maxKeys = min(n, 1000)
	}
	var after string
	s.mu.Lock()
	if tok := q["continuation-token"]; tok != "" {
		b, err := base64.StdEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 || !s.issued[tok] {
			s.mu.Unlock()
			writeGCSError(w, http.StatusBadRequest, "InvalidArgument", "Invalid continuation token.")
			return
		}
		after = string(b)
	}
	keys := make([]string, 0, len(s.objects))
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := gcsListing{Name: s.Bucket, Prefix: prefix, MaxKeys: maxKeys, Delimiter: delim}
	last := ""
	for _, k := range keys {
		entry := k
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				entry = k[:len(prefix)+i+len(delim)]
			}
		}
		if entry == last || after != "" && (entry <= after || strings.HasSuffix(after, delim) && delim != "" && strings.HasPrefix(entry, after)) {
			continue
		}
		if out.KeyCount == maxKeys {
			out.IsTruncated = true
			out.NextToken = base64.StdEncoding.EncodeToString([]byte(last))
			s.issued[out.NextToken] = true
			break
		}
		last = entry
		out.KeyCount++
		if entry != k {
			out.CommonPrefixes = append(out.CommonPrefixes, gcsCommonPref{Prefix: entry})
			continue
		}
		o := s.objects[k]
		out.Contents = append(out.Contents, gcsContent{
			Key: k, LastModified: o.modTime.Format("2006-01-02T15:04:05.000Z"),
			ETag: o.etag(), Size: len(o.data),
		})
	}
	s.mu.Unlock()
	writeXML(w, http.StatusOK, out)
}

// GCSNodeSigner returns the command that signs URLs with Google's Node
// library (systest/testdata/gcs_sign.js, @google-cloud/storage from
// scripts/npm): node and its environment. A missing node or package fails
// the test in CI and skips it otherwise.
func GCSNodeSigner(t testing.TB) (node string, env []string) {
	t.Helper()
	node = LookTool(t, "node")
	modules := filepath.Join(RepoRoot(), ".tools", "npm", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@google-cloud", "storage", "package.json")); err != nil {
		Missing(t, "npm package @google-cloud/storage not found in %s", modules)
	}
	return node, append(os.Environ(), "NODE_PATH="+modules)
}
