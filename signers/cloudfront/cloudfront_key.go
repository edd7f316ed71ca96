package cloudfront

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/caddy-presign/presign/signers/internal/pemtext"
)

// cfKeyFormats is what every refused key is told.
const cfKeyFormats = "CloudFront needs an unencrypted RSA key of 2048 bits or more as PKCS#1 or PKCS#8 PEM, or an ECDSA P-256 key as PKCS#8 or SEC 1 PEM"

// parseCloudFrontKey loads a PEM private key that CloudFront can verify
// signatures of. Its errors never quote the key.
func parseCloudFrontKey(data []byte) (crypto.Signer, error) {
	data = pemtext.Normalize(data)
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("not a PEM private key")
		}
		if block.Type != "EC PARAMETERS" { // `openssl ecparam -genkey` writes one ahead of the key
			break
		}
	}
	if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("the key is encrypted; give it unencrypted (openssl pkcs8 -topk8 -nocrypt) and protect the file instead")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#1 RSA private key")
		}
		return checkRSAKey(k)
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid SEC 1 EC private key (or its curve is not supported)")
		}
		return checkECKey(k)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#8 private key (or its algorithm is not supported)")
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return checkRSAKey(k)
		case *ecdsa.PrivateKey:
			return checkECKey(k)
		default:
			return nil, fmt.Errorf("an %s key cannot sign for CloudFront", keyKind(k))
		}
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("this is a %s, not the private key", strings.ToLower(block.Type))
	case "OPENSSH PRIVATE KEY":
		return nil, errors.New("an OpenSSH key; convert it with ssh-keygen -p -m PKCS8 -f <file>")
	default:
		return nil, fmt.Errorf("a PEM block of type %q is not a private key CloudFront can use", block.Type)
	}
}

func keyKind(k any) string {
	switch k.(type) {
	case ed25519.PrivateKey:
		return "Ed25519"
	case *ecdh.PrivateKey:
		return "X25519 (ECDH)"
	}
	return fmt.Sprintf("%T", k)
}

func checkRSAKey(k *rsa.PrivateKey) (crypto.Signer, error) {
	if bits := k.N.BitLen(); bits < 2048 {
		return nil, fmt.Errorf("an RSA key of %d bits is too short", bits)
	}
	return k, nil
}

func checkECKey(k *ecdsa.PrivateKey) (crypto.Signer, error) {
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("an ECDSA key on %s, not P-256 (prime256v1)", k.Curve.Params().Name)
	}
	return deterministicECDSA{k}, nil
}

// deterministicECDSA signs with RFC 6979 (a nil random source), so that
// the same policy always gets the same signature, as with RSA PKCS #1 v1.5:
// `stable` URLs then agree across a fleet of instances, not only within
// one instance's signature cache.
type deterministicECDSA struct{ *ecdsa.PrivateKey }

func (k deterministicECDSA) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.PrivateKey.Sign(nil, digest, opts)
}

// Interface guards
var _ crypto.Signer = deterministicECDSA{}
