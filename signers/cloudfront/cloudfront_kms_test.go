package cloudfront

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/awscreds"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// fakeKMS answers GetPublicKey and Sign of the KMS JSON protocol for a few
// keys, as AWS KMS does; it can be made to fail or to be slow.
type fakeKMS struct {
	*httptest.Server
	keys  map[string]fakeKMSKey
	signs atomic.Int64 // Sign calls
	down  atomic.Bool  // answer 500
	delay atomic.Int64 // before each Sign, in nanoseconds
	last  atomic.Value // the last Sign's SigningAlgorithm
}

type fakeKMSKey struct {
	spec, usage string
	key         crypto.Signer
}

func newFakeKMS(t *testing.T) *fakeKMS {
	t.Helper()
	f := &fakeKMS{keys: map[string]fakeKMSKey{}}
	for id, file := range map[string]string{"rsa": cfRSAPKCS1, "ec": cfECSEC1} {
		k := loadPrivateKey(t, file)
		spec := "RSA_2048"
		if d, ok := k.(deterministicECDSA); ok {
			k, spec = d.PrivateKey, "ECC_NIST_P256"
		}
		f.keys[id] = fakeKMSKey{spec, "SIGN_VERIFY", k}
	}
	f.keys["enc"] = fakeKMSKey{"RSA_2048", "ENCRYPT_DECRYPT", f.keys["rsa"].key}
	f.keys["secp256k1"] = fakeKMSKey{"ECC_SECG_P256K1", "SIGN_VERIFY", f.keys["ec"].key}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeKMS) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(status int, typ, msg string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	if f.down.Load() {
		fail(http.StatusInternalServerError, "KMSInternalException", "down")
		return
	}
	var in struct {
		KeyId, MessageType, SigningAlgorithm string
		Message                              []byte
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(http.StatusBadRequest, "ValidationException", "bad request")
		return
	}
	k, ok := f.keys[in.KeyId]
	if !ok {
		fail(http.StatusBadRequest, "NotFoundException", "Key '"+in.KeyId+"' does not exist")
		return
	}
	alg := "RSASSA_PKCS1_V1_5_SHA_256"
	if strings.HasPrefix(k.spec, "ECC") {
		alg = "ECDSA_SHA_256"
	}
	switch r.Header.Get("X-Amz-Target") {
	case "TrentService.GetPublicKey":
		der, _ := x509.MarshalPKIXPublicKey(k.key.Public())
		json.NewEncoder(w).Encode(map[string]any{
			"KeyId": in.KeyId, "KeySpec": k.spec, "KeyUsage": k.usage,
			"PublicKey": der, "SigningAlgorithms": []string{alg},
		})
	case "TrentService.Sign":
		f.signs.Add(1)
		time.Sleep(time.Duration(f.delay.Load()))
		f.last.Store(in.SigningAlgorithm)
		if k.usage != "SIGN_VERIFY" || in.MessageType != "DIGEST" || in.SigningAlgorithm != alg || len(in.Message) != 32 {
			fail(http.StatusBadRequest, "InvalidKeyUsageException", "cannot sign")
			return
		}
		var sig []byte
		var err error
		switch key := k.key.(type) {
		case *rsa.PrivateKey:
			sig, err = rsa.SignPKCS1v15(nil, key, crypto.SHA256, in.Message)
		case *ecdsa.PrivateKey:
			sig, err = ecdsa.SignASN1(rand.Reader, key, in.Message)
		}
		if err != nil {
			fail(http.StatusInternalServerError, "KMSInternalException", err.Error())
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"KeyId": in.KeyId, "Signature": sig, "SigningAlgorithm": alg})
	default:
		fail(http.StatusBadRequest, "UnknownOperationException", "")
	}
}

// kmsProfile is a profile that signs with the fake KMS's key id.
func kmsProfile(f *fakeKMS, id string, mod func(*CloudFront)) *CloudFront {
	c := &CloudFront{
		Domain: cfTestDomain, KeyPairID: cfTestKeyID, KMSKey: id, KMSEndpoint: f.URL, Region: "us-east-1",
		Config: awscreds.Config{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, KMSTimeout: caddy.Duration(2 * time.Second),
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func provisionKMS(t *testing.T, c *CloudFront) error {
	t.Helper()
	return c.Provision(caddy.Context{Context: context.Background()})
}

// TestCloudFrontKMS: with kms_key, an RSA and an ECC key in KMS sign
// canned and custom policies, URLs and cookies, over SHA-256; the verifier
// accepts them with the public key and refuses them tampered; RSA
// signatures are byte-equal to a sha256 profile's with the same key in PEM.
func TestCloudFrontKMS(t *testing.T) {
	f := newFakeKMS(t)
	ip := netip.MustParseAddr("198.51.100.1")
	for _, k := range []struct{ id, pem, pub, alg string }{
		{"rsa", cfRSAPKCS1, cfRSAPublic, "RSASSA_PKCS1_V1_5_SHA_256"},
		{"ec", cfECSEC1, cfECPublic, "ECDSA_SHA_256"},
	} {
		cf := kmsProfile(f, k.id, nil)
		if err := provisionKMS(t, cf); err != nil {
			t.Fatalf("%s: %v", k.id, err)
		}
		if cf.HashAlgorithm != "sha256" {
			t.Errorf("%s: hash_algorithm %q, want sha256 implied", k.id, cf.HashAlgorithm)
		}
		pemCF := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile, c.HashAlgorithm = k.pem, "sha256" })
		v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, k.pub)}
		for _, opts := range []signers.Options{{}, {Resource: wildcardResource, BindClientIP: true}, {Cookies: true}, {Cookies: true, Resource: wildcardResource}} {
			s := cfSign(t, cf, "results/experiment.zarr/.zattrs", opts, opts.Resource, ip)
			req := cfverify.Request{URL: s.URL, Cookies: s.Cookies, Time: cfSignTime, IP: ip}
			if _, err := v.Check(req); err != nil {
				t.Errorf("%s %+v: verifier refuses %s %v: %v", k.id, opts, s.URL, s.Cookies, err)
			}
			if !opts.Cookies && !strings.HasSuffix(s.URL, "&Hash-Algorithm=SHA256") {
				t.Errorf("%s: URL %s without Hash-Algorithm=SHA256", k.id, s.URL)
			}
			if !opts.Cookies {
				req.URL = strings.Replace(s.URL, "&Signature=", "&Signature=AAAA", 1)
				if _, err := v.Check(req); err == nil {
					t.Errorf("%s: verifier accepts a tampered signature", k.id)
				}
			}
			if k.id == "rsa" {
				if p := cfSign(t, pemCF, "results/experiment.zarr/.zattrs", opts, opts.Resource, ip); p.URL != s.URL {
					t.Errorf("KMS and PEM RSA SHA-256 URLs differ:\n%s\n%s", s.URL, p.URL)
				}
			}
		}
		if got, _ := f.last.Load().(string); got != k.alg {
			t.Errorf("%s: signed with %s, want %s", k.id, got, k.alg)
		}
	}
}

// TestCloudFrontKMSStartChecks: Caddy does not start with a key KMS does
// not have, a key made for ENCRYPT_DECRYPT or of a spec CloudFront cannot
// verify, hash_algorithm sha1, a PEM key beside kms_key, no region for a key
// that is not an ARN, KMS options without kms_key, or a KMS it cannot
// reach; the messages say what is wrong.
func TestCloudFrontKMSStartChecks(t *testing.T) {
	f := newFakeKMS(t)
	for _, c := range []struct {
		name string
		mod  func(*CloudFront)
		want string
	}{
		{"missing key", func(c *CloudFront) { c.KMSKey = "nope" }, `kms_key "nope": KMS has no such key`},
		{"encrypt key", func(c *CloudFront) { c.KMSKey = "enc" }, `kms_key "enc" is a ENCRYPT_DECRYPT key; CloudFront needs an asymmetric SIGN_VERIFY key`},
		{"secp256k1", func(c *CloudFront) { c.KMSKey = "secp256k1" }, "is a ECC_SECG_P256K1 key"},
		{"sha1", func(c *CloudFront) { c.HashAlgorithm = "sha1" }, "KMS signs SHA-256 digests only"},
		{"pem too", func(c *CloudFront) { c.PrivateKeyFile = cfRSAPKCS1 }, "kms_key excludes private_key_file"},
		{"no region", func(c *CloudFront) { c.Region = "" }, "region is required unless the key is given as its ARN"},
		{"unreachable", func(c *CloudFront) { c.KMSEndpoint = "http://127.0.0.1:1" }, "cannot check the key with kms:GetPublicKey"},
		{"options without kms_key", func(c *CloudFront) { c.KMSKey, c.PrivateKeyFile = "", cfRSAPKCS1 }, "go with kms_key only"},
	} {
		err := provisionKMS(t, kmsProfile(f, "rsa", c.mod))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "wJalrXUtnFEMI") {
			t.Errorf("%s: the error shows the secret: %v", c.name, err)
		}
	}
	// the region comes from the key's ARN
	arn := "arn:aws:kms:eu-west-1:111122223333:key/rsa"
	f.keys[arn] = f.keys["rsa"]
	if err := provisionKMS(t, kmsProfile(f, arn, func(c *CloudFront) { c.Region = "" })); err != nil {
		t.Errorf("key ARN without region: %v", err)
	}
}

// TestCloudFrontKMSUnavailable: a KMS that fails or is slower than
// kms_timeout makes Sign fail with signers.ErrCredentials (which the
// handler answers 503 with Retry-After), within the timeout; once KMS is
// back, signing works again without a new profile.
func TestCloudFrontKMSUnavailable(t *testing.T) {
	f := newFakeKMS(t)
	cf := kmsProfile(f, "rsa", func(c *CloudFront) { c.KMSTimeout = caddy.Duration(300 * time.Millisecond) })
	if err := provisionKMS(t, cf); err != nil {
		t.Fatal(err)
	}
	try := func(key string) error {
		_, err := cf.Sign(context.Background(), signers.Request{Method: "GET", Key: key, SignTime: cfSignTime, Expires: time.Hour, Options: &signers.Options{}})
		return err
	}
	f.down.Store(true)
	if err := try("a"); !errors.Is(err, signers.ErrCredentials) {
		t.Errorf("KMS down: %v, want ErrCredentials", err)
	}
	f.down.Store(false)
	time.Sleep(signers.CredentialsBackoff + 100*time.Millisecond)
	f.delay.Store(int64(time.Second))
	start := time.Now()
	if err := try("b"); !errors.Is(err, signers.ErrCredentials) {
		t.Errorf("KMS slow: %v, want ErrCredentials", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("a slow KMS held the request %s, kms_timeout is 300ms", d)
	}
	f.delay.Store(0)
	time.Sleep(signers.CredentialsBackoff + 100*time.Millisecond)
	if err := try("c"); err != nil {
		t.Errorf("KMS back: %v", err)
	}
}

// TestCloudFrontKMSUnreachable: a KMS that cannot be reached (a loopback
// port that nothing listens on) makes Sign fail with ErrCredentials, and
// Provision fail, with errors that say why without its address.
func TestCloudFrontKMSUnreachable(t *testing.T) {
	f := newFakeKMS(t)
	cf := kmsProfile(f, "rsa", func(c *CloudFront) { c.KMSTimeout = caddy.Duration(10 * time.Second) })
	if err := provisionKMS(t, cf); err != nil {
		t.Fatal(err)
	}
	addr := f.Listener.Addr().String()
	f.Close()
	noAddress := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s: %v, want an error saying the connection was refused", what, err)
		} else if host, _, _ := strings.Cut(addr, ":"); strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), host) {
			t.Errorf("%s: the error names the address of KMS, %s: %v", what, addr, err)
		}
	}
	_, err := cf.Sign(context.Background(), signers.Request{Method: "GET", Key: "a", SignTime: cfSignTime, Expires: time.Hour, Options: &signers.Options{}})
	if !errors.Is(err, signers.ErrCredentials) {
		t.Errorf("KMS unreachable: %v, want ErrCredentials", err)
	}
	noAddress("kms:Sign", err)
	noAddress("provisioning", provisionKMS(t, kmsProfile(f, "rsa", nil)))
}

// TestCloudFrontKMSSingleFlight: a thousand concurrent first requests for
// one URL make one kms:Sign call, and all get the same URL.
func TestCloudFrontKMSSingleFlight(t *testing.T) {
	f := newFakeKMS(t)
	cf := kmsProfile(f, "rsa", nil)
	if err := provisionKMS(t, cf); err != nil {
		t.Fatal(err)
	}
	f.delay.Store(int64(500 * time.Millisecond))
	signerstest.SignTogether(t, cf, signers.Request{Method: "GET", Key: "hot.bin", SignTime: cfSignTime, Expires: time.Hour, Options: &signers.Options{}}, 1000)
	if n := f.signs.Load(); n != 1 {
		t.Errorf("%d kms:Sign calls for one URL, want 1", n)
	}
}

// TestCloudFrontKMSObserved: each kms:Sign call is told to the profile's
// observer with its outcome and time: a signature (ok), a KMS failing
// (error), a KMS slower than kms_timeout (timeout); a signature from the
// cache is no call.
func TestCloudFrontKMSObserved(t *testing.T) {
	f := newFakeKMS(t)
	cf := kmsProfile(f, "rsa", func(c *CloudFront) { c.KMSTimeout = caddy.Duration(300 * time.Millisecond) })
	if err := provisionKMS(t, cf); err != nil {
		t.Fatal(err)
	}
	var seen signerstest.RemoteCalls
	var rs signers.RemoteSigner = cf
	rs.SetRemoteObserver(&seen)
	try := func(key string) {
		cf.Sign(context.Background(), signers.Request{Method: "GET", Key: key, SignTime: cfSignTime, Expires: time.Hour, Options: &signers.Options{}})
	}
	f.delay.Store(int64(20 * time.Millisecond))
	try("a")
	try("a") // cached
	f.down.Store(true)
	try("b")
	time.Sleep(signers.CredentialsBackoff + 100*time.Millisecond)
	f.down.Store(false)
	f.delay.Store(int64(time.Second))
	try("c")
	outcomes, took := seen.Calls()
	if want := []signers.RemoteOutcome{signers.RemoteOK, signers.RemoteError, signers.RemoteTimeout}; !slices.Equal(outcomes, want) {
		t.Fatalf("observed %v, want %v", outcomes, want)
	}
	if took[0] < 20*time.Millisecond || took[2] < 300*time.Millisecond || took[2] > 900*time.Millisecond {
		t.Errorf("observed times %v: want ≥ 20ms for the signature, about kms_timeout (300ms) for the timeout", took)
	}
}
