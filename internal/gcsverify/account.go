package gcsverify

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Account is the service account of Google's V4 signing conformance tests
// (signers/gcs/testdata, see its README.md).
type Account struct {
	// File is the key file, written with the comma that the published
	// file lacks after its "comment" line.
	File   string
	Email  string
	Public *rsa.PublicKey
	// Key is the private key, which a test IAM Credentials server
	// (internal/gcsiam) signs with for profiles that hold none.
	Key *rsa.PrivateKey
}

// WriteAccount reads the conformance tests' key file at src, writes it as
// valid JSON into dir, and returns the account.
func WriteAccount(src, dir string) (Account, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return Account{}, err
	}
	s := strings.Replace(string(b), "public.\"\n", "public.\",\n", 1)
	var sa struct {
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal([]byte(s), &sa); err != nil {
		return Account{}, err
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return Account{}, errors.New("private_key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return Account{}, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return Account{}, errors.New("private_key is not an RSA key")
	}
	p := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil { //nolint:gosec // G703: the file goes in the directory its caller gave
		return Account{}, err
	}
	return Account{File: p, Email: sa.ClientEmail, Public: &rk.PublicKey, Key: rk}, nil
}
