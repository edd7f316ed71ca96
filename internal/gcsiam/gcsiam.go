// Package gcsiam is a test double of what a gcs profile without a key
// calls: the IAM Credentials API's signBlob, holding a service account's
// RSA key as Google does, and a metadata server that gives the identity's
// OAuth token (what GCE_METADATA_HOST points the client libraries at). The
// signBlob server takes only that token, and signs only as its account.
package gcsiam

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Server is the pair of test servers.
type Server struct {
	// IAM is the IAM Credentials endpoint (a profile's iam_endpoint).
	IAM *httptest.Server
	// Metadata is the metadata server; MetadataHost is its address.
	Metadata *httptest.Server

	email  string
	key    *rsa.PrivateKey
	token  string
	signs  atomic.Int64 // signBlob calls that signed
	calls  atomic.Int64 // signBlob calls, signed or not
	tokens atomic.Int64 // tokens given
	refuse atomic.Bool  // signBlob answers 403
	delay  atomic.Int64 // before each signBlob answer, in nanoseconds
}

// Start starts the servers for the service account email whose key is key.
// Close stops them.
func Start(email string, key *rsa.PrivateKey) *Server {
	var b [16]byte
	rand.Read(b[:])
	s := &Server{email: email, key: key, token: "ya29.test-" + hex.EncodeToString(b[:])}
	s.IAM = httptest.NewServer(http.HandlerFunc(s.signBlob))
	s.Metadata = httptest.NewServer(http.HandlerFunc(s.metadata))
	return s
}

// Close stops the servers.
func (s *Server) Close() {
	s.IAM.Close()
	s.Metadata.Close()
}

// Email is the service account's email.
func (s *Server) Email() string { return s.email }

// Key is the service account's private key.
func (s *Server) Key() *rsa.PrivateKey { return s.key }

// MetadataHost is the metadata server's host:port, for GCE_METADATA_HOST.
func (s *Server) MetadataHost() string { return strings.TrimPrefix(s.Metadata.URL, "http://") }

// Refuse makes signBlob answer 403 PERMISSION_DENIED (on), as Google does
// for an identity without iam.serviceAccounts.signBlob, or sign again.
func (s *Server) Refuse(on bool) { s.refuse.Store(on) }

// Delay holds each signBlob answer for d.
func (s *Server) Delay(d time.Duration) { s.delay.Store(int64(d)) }

// Signs is the number of signatures signBlob gave.
func (s *Server) Signs() int64 { return s.signs.Load() }

// Calls is the number of signBlob calls, refused ones included.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Tokens is the number of tokens the metadata server gave.
func (s *Server) Tokens() int64 { return s.tokens.Load() }

// metadata answers the default service account's token, to requests with
// the header "Metadata-Flavor: Google" only, as the metadata server does.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	switch r.URL.Path {
	case "/computeMetadata/v1/instance/service-accounts/default/token":
		s.tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": s.token, "expires_in": 3599, "token_type": "Bearer"})
	case "/computeMetadata/v1/instance/service-accounts/default/email":
		_, _ = w.Write([]byte(s.email))
	default:
		http.NotFound(w, r)
	}
}

// signBlob answers POST /v1/projects/-/serviceAccounts/{email}:signBlob
// with the RSA-SHA256 (PKCS #1 v1.5) signature of the payload under the
// account's key, as Google's API does, for the metadata server's token.
func (s *Server) signBlob(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	time.Sleep(time.Duration(s.delay.Load()))
	fail := func(status int, state, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": state}})
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		fail(http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	}
	path, err := url.PathUnescape(r.URL.EscapedPath())
	if err != nil || r.Method != http.MethodPost || path != "/v1/projects/-/serviceAccounts/"+s.email+":signBlob" || s.refuse.Load() {
		fail(http.StatusForbidden, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.signBlob' denied on resource (or it may not exist).")
		return
	}
	var in struct {
		Payload []byte `json:"payload"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Payload) == 0 {
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid payload.")
		return
	}
	digest := sha256.Sum256(in.Payload)
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, digest[:])
	if err != nil {
		fail(http.StatusInternalServerError, "INTERNAL", "cannot sign")
		return
	}
	s.signs.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"keyId": "test-key", "signedBlob": base64.StdEncoding.EncodeToString(sig)})
}
