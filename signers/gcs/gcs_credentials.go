package gcs

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/pemtext"
)

// provisionCredentials sets up how the profile signs: with a service
// account's key (service_account_file, service_account as the key file's
// JSON, or Application Default Credentials that are a key file), or, when
// service_account is an email, through IAM signBlob as that account
// (gcs_iam.go).
func (g *GCS) provisionCredentials(ctx context.Context) error {
	if g.ServiceAccountFile == "" {
		if email := g.serviceAccountValue(); isEmail(email) {
			return g.provisionIAM(ctx, email)
		}
	}
	if g.IAMEndpoint != "" || g.IAMTimeout != 0 {
		return errors.New("iam_endpoint and iam_timeout go with service_account <email> only: with a key, Caddy signs itself")
	}
	data, from, err := g.keyFile()
	if err != nil {
		return err
	}
	if g.email, g.key, err = parseServiceAccount(data); err != nil {
		return fmt.Errorf("%s: %v", from, err)
	}
	return nil
}

// serviceAccountValue is service_account as given when it is JSON (its
// braces are no placeholders), else with its placeholders expanded.
func (g *GCS) serviceAccountValue() string {
	v := strings.TrimSpace(g.ServiceAccount)
	if json.Valid([]byte(v)) {
		return v
	}
	return signers.Expand(v)
}

// isEmail tells whether service_account's value is a service account's
// email rather than a key file.
func isEmail(v string) bool {
	at := strings.IndexByte(v, '@')
	return at > 0 && at == strings.LastIndexByte(v, '@') && at < len(v)-1 && !strings.ContainsAny(v, "{}\" \t\r\n/")
}

// sign returns the RSA-SHA256 (PKCS #1 v1.5) signature of data: the
// service account's key's, or IAM signBlob's, which is the same bytes.
// signBlob's errors wrap signers.ErrCredentials. POST policies sign
// through it; URLs through signURL, whose flights are keyed by strings to
// sign ("GOOG4-RSA-SHA256\n..."): a policy, in base64, is never one, so
// the two never share a flight.
func (g *GCS) sign(ctx context.Context, data []byte) ([]byte, error) {
	if g.iam != nil {
		v, err := g.iam.Once(string(data), func() (any, error) { return g.iam.Sign(ctx, data) })
		if err != nil {
			return nil, err
		}
		return v.([]byte), nil
	}
	digest := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(nil, g.key, crypto.SHA256, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing with the service account's key: %v", err)
	}
	return sig, nil
}

// adcPath is the file of Application Default Credentials, and whether
// GOOGLE_APPLICATION_CREDENTIALS names it (else it is gcloud's, which may
// not exist).
func adcPath() (path string, fromEnv bool) {
	if path = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); path != "" {
		return path, true
	}
	dir := os.Getenv("CLOUDSDK_CONFIG")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".config", "gcloud")
	}
	return filepath.Join(dir, "application_default_credentials.json"), false
}

// readADC reads the file of Application Default Credentials: its content
// and its name for errors; nil data when there is none (no
// GOOGLE_APPLICATION_CREDENTIALS, and no gcloud login).
func readADC() (data []byte, from string, err error) {
	path, fromEnv := adcPath()
	from = "Application Default Credentials " + path
	if data, err = os.ReadFile(path); err != nil {
		if !fromEnv && errors.Is(err, os.ErrNotExist) {
			return nil, from, nil
		}
		return nil, "", fmt.Errorf("%s: cannot read: %v", from, err)
	}
	return data, from, nil
}

// keyFile returns the service account key file's content and where it
// comes from, for errors.
func (g *GCS) keyFile() (data []byte, from string, err error) {
	switch {
	case g.ServiceAccountFile != "" && g.ServiceAccount != "":
		return nil, "", errors.New("service_account_file and service_account exclude each other: set one")
	case g.ServiceAccountFile != "":
		from = "service_account_file " + g.ServiceAccountFile
		if data, err = os.ReadFile(g.ServiceAccountFile); err != nil {
			return nil, "", fmt.Errorf("%s: cannot read the key file: %v", from, err)
		}
		return data, from, nil
	case g.ServiceAccount != "":
		if data = []byte(g.serviceAccountValue()); len(data) == 0 {
			return nil, "", errors.New("service_account expanded to an empty value (is its placeholder's variable or file set?)")
		}
		return data, "service_account", nil
	}
	// Application Default Credentials, as far as they can hold a key
	if data, from, err = readADC(); err == nil && data == nil {
		return nil, "", errors.New("no service_account_file or service_account, and no Application Default Credentials file: " + gcsNeedsKey)
	}
	return data, from, nil
}

// parseServiceAccount reads a service account key file: its email and RSA
// private key. Its errors never quote the key.
func parseServiceAccount(data []byte) (string, *rsa.PrivateKey, error) {
	var f struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return "", nil, errors.New("not a service account key file (JSON)")
	}
	if f.Type != "service_account" {
		return "", nil, fmt.Errorf("credentials of type %q hold no private key; %s", f.Type, gcsNeedsKey)
	}
	if f.ClientEmail == "" || f.PrivateKey == "" {
		return "", nil, errors.New("the key file lacks client_email or private_key")
	}
	block, _ := pem.Decode(pemtext.Normalize([]byte(f.PrivateKey)))
	if block == nil {
		return "", nil, errors.New("private_key is not a PEM key")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return "", nil, fmt.Errorf("private_key is a PEM block of type %q, not a private key", block.Type)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if err != nil || !ok {
		return "", nil, errors.New("private_key is not an RSA private key")
	}
	return f.ClientEmail, rk, nil
}
