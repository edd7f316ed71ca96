package harness

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Azurite's well-known development account, documented by Microsoft for
// the emulator only (its key is in azurite/dist/src/blob/utils/constants.js).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a running Azurite blob service owned by one test.
type Azurite struct {
	// Endpoint is the account's blob endpoint,
	// "http(s)://127.0.0.1:PORT/devstoreaccount1" (no trailing slash).
	Endpoint string
	// Client talks to it, without following redirects, and trusts its
	// certificate in OAuth mode.
	Client *http.Client
	// CertFile is the PEM certificate it serves in OAuth mode, which a
	// client must trust (for a Caddy process: SSL_CERT_FILE); "" otherwise.
	CertFile string

	proc *Process
}

// AzuriteOptions choose how Azurite runs.
type AzuriteOptions struct {
	// OAuth serves https with a fresh self-signed certificate for
	// 127.0.0.1 and accepts bearer tokens (--oauth basic: the token is
	// decoded and its issuer, audience and lifetime checked, its signature
	// not), which Get User Delegation Key needs.
	OAuth bool
}

// AzuriteTool is where scripts/tools.sh installs Azurite's blob service.
func AzuriteTool() string {
	return filepath.Join(RepoRoot(), ".tools", "npm", "node_modules", ".bin", "azurite-blob")
}

// StartAzurite starts Azurite's blob service on a free loopback port with a
// fresh t.TempDir() as its storage, waits until it answers, and stops it in
// t.Cleanup. A missing node or Azurite fails the test in CI and skips it
// elsewhere (Missing).
func StartAzurite(t testing.TB, o AzuriteOptions) *Azurite {
	t.Helper()
	LookTool(t, "node")
	bin := AzuriteTool()
	if !isExecutable(bin) {
		Missing(t, "Azurite (npm package azurite) not found at %s", bin)
		return nil
	}
	a := &Azurite{Client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: NoRedirect.CheckRedirect}}
	dir, logDir := t.TempDir(), t.TempDir()
	var tlsArgs []string
	scheme := "http"
	if o.OAuth {
		scheme = "https"
		var keyFile string
		var pool *x509.CertPool
		a.CertFile, keyFile, pool = selfSignedCert(t, logDir)
		tlsArgs = []string{"--cert", a.CertFile, "--key", keyFile, "--oauth", "basic"}
		a.Client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	if err := a.launch(bin, dir, logDir, scheme, tlsArgs); err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() {
		a.proc.Stop(0)
		if t.Failed() {
			t.Logf("harness: Azurite %s log (tail):\n%s", a.Endpoint, a.LogTail(8000))
		}
	})
	return a
}

// LaunchAzurite is StartAzurite for programs (the load benchmark), without
// OAuth: Azurite's blob service with its storage in dir and its logs in
// logDir. The caller stops it with Stop.
func LaunchAzurite(dir, logDir string) (*Azurite, error) {
	bin := AzuriteTool()
	if !isExecutable(bin) {
		return nil, fmt.Errorf("Azurite (npm package azurite) not found at %s", bin)
	}
	a := &Azurite{Client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: NoRedirect.CheckRedirect}}
	return a, a.launch(bin, dir, logDir, "http", nil)
}

// launch starts Azurite on a free loopback port, again on another port
// when the one it was given was taken meanwhile.
func (a *Azurite) launch(bin, dir, logDir, scheme string, tlsArgs []string) error {
	var lastErr error
	for attempt := 1; attempt <= 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return err
		}
		base := scheme + "://127.0.0.1:" + strconv.Itoa(port)
		a.proc, lastErr = StartProcess(ProcessSpec{
			Path: bin,
			Args: append([]string{
				"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dir, "--disableTelemetry",
				"--debug", filepath.Join(logDir, fmt.Sprintf("azurite-%d.debug.log", attempt)),
			}, tlsArgs...),
			// the well-known account alone: no AZURITE_ACCOUNTS
			Env:     environ(func(name string) bool { return strings.HasPrefix(name, "AZURITE_") }),
			LogPath: filepath.Join(logDir, fmt.Sprintf("azurite-%d.log", attempt)),
			// any HTTP answer means it serves
			Ready: func() bool {
				resp, err := a.Client.Get(base + "/")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				return err == nil
			},
			Timeout: 60 * time.Second, // node starts slowly on a busy machine
		})
		if lastErr == nil {
			a.Endpoint = base + "/" + AzuriteAccount
			return nil
		}
		if !strings.Contains(lastErr.Error(), "EADDRINUSE") {
			break
		}
	}
	return fmt.Errorf("Azurite did not start: %v", lastErr)
}

// LogTail returns the last n bytes of Azurite's output.
func (a *Azurite) LogTail(n int) string { return a.proc.Tail(n) }

// Stop stops Azurite now, for tests of a store that went away.
func (a *Azurite) Stop() { a.proc.Stop(0) }

// selfSignedCert writes a certificate and key for 127.0.0.1 into dir and
// returns their paths and a pool that trusts the certificate.
func selfSignedCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// accountSAS is a one-hour account SAS with every blob permission: the
// test's own access for setup and checks, signed as the storage service
// documents account SAS (version 2020-12-06 and later), independently of
// the module.
func (a *Azurite) accountSAS() string {
	const sv, sp, ss, srt = "2025-05-05", "rwdlacup", "b", "sco"
	se := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05Z")
	spr := ""
	if strings.HasPrefix(a.Endpoint, "https://") {
		spr = "https"
	}
	sts := strings.Join([]string{AzuriteAccount, sp, ss, srt, "", se, "", spr, sv, "", ""}, "\n")
	key, _ := base64.StdEncoding.DecodeString(AzuriteKey)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sts))
	q := url.Values{"sv": {sv}, "ss": {ss}, "srt": {srt}, "sp": {sp}, "se": {se}, "sig": {base64.StdEncoding.EncodeToString(mac.Sum(nil))}}
	if spr != "" {
		q.Set("spr", spr)
	}
	return q.Encode()
}

// do sends a request with the account SAS and returns the status and body.
func (a *Azurite) do(t testing.TB, method, path, query string, body []byte, hdr map[string]string) (int, []byte) {
	t.Helper()
	code, b, err := a.Do(method, path, query, body, hdr)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return code, b
}

// Do sends a request to path (percent-encoded, under the account) with the
// account SAS and query, and returns the status and body.
func (a *Azurite) Do(method, path, query string, body []byte, hdr map[string]string) (int, []byte, error) {
	u := a.Endpoint + path + "?" + a.accountSAS()
	if query != "" {
		u += "&" + query
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("Azurite %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// blobPath is the URL path of a blob under the account, percent-encoded.
func blobPath(container, key string) string {
	return (&url.URL{Path: "/" + container + "/" + key}).EscapedPath()
}

// CreateContainer creates a private container, failing the test on error.
func (a *Azurite) CreateContainer(t testing.TB, name string) {
	t.Helper()
	if code, b := a.do(t, http.MethodPut, "/"+name, "restype=container", nil, nil); code != http.StatusCreated {
		t.Fatalf("harness: create container %q: %d %s", name, code, b)
	}
}

// Put stores body as a block blob, failing the test on error.
func (a *Azurite) Put(t testing.TB, container, key string, body []byte, contentType string) {
	t.Helper()
	hdr := map[string]string{"x-ms-blob-type": "BlockBlob"}
	if contentType != "" {
		hdr["Content-Type"] = contentType
	}
	if code, b := a.do(t, http.MethodPut, blobPath(container, key), "", body, hdr); code != http.StatusCreated {
		t.Fatalf("harness: put %s/%q: %d %s", container, key, code, b)
	}
}

// Get returns the status and bytes of a blob, read with the test's own
// access.
func (a *Azurite) Get(t testing.TB, container, key string) (int, []byte) {
	t.Helper()
	return a.do(t, http.MethodGet, blobPath(container, key), "", nil, nil)
}
