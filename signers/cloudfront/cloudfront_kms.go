package cloudfront

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/awscreds"
	"github.com/caddy-presign/presign/signers/internal/credcache"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/remote"
)

// kmsDefaultTimeout is the default of kms_timeout and credentials_timeout.
const kmsDefaultTimeout = 5 * time.Second

// kmsSpecs are the KMS key specs CloudFront can verify signatures of, with
// the signing algorithm that signs a SHA-256 digest as CloudFront wants:
// RSA PKCS #1 v1.5, or ECDSA P-256 with a DER signature.
var kmsSpecs = map[types.KeySpec]types.SigningAlgorithmSpec{
	types.KeySpecRsa2048:     types.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
	types.KeySpecRsa3072:     types.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
	types.KeySpecRsa4096:     types.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
	types.KeySpecEccNistP256: types.SigningAlgorithmSpecEcdsaSha256,
}

const kmsSupported = "CloudFront needs an asymmetric SIGN_VERIFY key of spec RSA_2048, RSA_3072, RSA_4096 or ECC_NIST_P256"

// kmsSigner signs policy digests through AWS KMS (kms:Sign), with the key
// that never leaves KMS; remote shares, bounds and backs off its calls.
type kmsSigner struct {
	client  *kms.Client
	keyID   string
	alg     types.SigningAlgorithmSpec
	timeout time.Duration
	remote  *remote.Signer
}

// provisionKMS checks the kms_key options and the key itself (GetPublicKey:
// a SIGN_VERIFY key of a spec CloudFront takes), and sets c up to sign
// through it with SHA-256.
func (c *CloudFront) provisionKMS(ctx caddy.Context) error {
	signers.ExpandAll(&c.KMSKey, &c.KMSEndpoint, &c.Region)
	if c.PrivateKeyFile != "" || c.PrivateKey != "" {
		return errors.New("kms_key excludes private_key_file and private_key: the key is in KMS, set one of them")
	}
	if c.KMSKey == "" {
		return errors.New("kms_key expanded to an empty value (is its placeholder's variable set?)")
	}
	switch c.HashAlgorithm {
	case "":
		c.HashAlgorithm = "sha256"
	case "sha1":
		return errors.New("hash_algorithm sha1 with kms_key: KMS signs SHA-256 digests only; remove hash_algorithm or set sha256")
	}
	for _, d := range []*caddy.Duration{&c.KMSTimeout, &c.CredentialsTimeout} {
		if *d == 0 {
			*d = caddy.Duration(kmsDefaultTimeout)
		}
	}
	if c.KMSTimeout < 0 || c.CredentialsTimeout < 0 {
		return errors.New("kms_timeout and credentials_timeout must be positive")
	}
	region := c.Region
	if region == "" {
		// arn:aws:kms:<region>:<account>:key/<id> or :alias/<name>
		if parts := strings.SplitN(c.KMSKey, ":", 6); len(parts) == 6 && parts[0] == "arn" && parts[2] == "kms" {
			region = parts[3]
		}
	}
	if region == "" {
		return fmt.Errorf("kms_key %q: region is required unless the key is given as its ARN (arn:aws:kms:<region>:...)", c.KMSKey)
	}
	provider, err := c.Provider(ctx, region, time.Duration(c.CredentialsTimeout))
	if err != nil {
		return err
	}
	creds := credcache.New(awscreds.Fetch(provider), time.Duration(c.CredentialsTimeout), credcache.RefreshAhead)
	var opts []func(*kms.Options)
	if c.KMSEndpoint != "" {
		scheme, host, err := endpoint.Parse("kms_endpoint", c.KMSEndpoint, "https://kms.example.com", true)
		if err != nil {
			return err
		}
		base := scheme + "://" + host
		opts = append(opts, func(o *kms.Options) { o.BaseEndpoint = &base })
	}
	k := &kmsSigner{
		client:  kms.NewFromConfig(aws.Config{Region: region, Credentials: aws.CredentialsProviderFunc(creds.Get)}, opts...),
		keyID:   c.KMSKey,
		timeout: time.Duration(c.KMSTimeout),
	}
	if k.alg, err = k.check(ctx); err != nil {
		return err
	}
	k.remote = remote.New("kms:Sign with "+k.keyID, k.timeout, k.sign)
	c.kms, c.hash, c.hashParam = k, crypto.SHA256, "SHA256"
	return nil
}

// check asks KMS for the key's public key and returns the signing
// algorithm for CloudFront, or why the key cannot sign for it.
func (k *kmsSigner) check(ctx context.Context) (types.SigningAlgorithmSpec, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	out, err := k.client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: &k.keyID})
	if err != nil {
		var nf *types.NotFoundException
		if errors.As(err, &nf) {
			return "", fmt.Errorf("kms_key %q: KMS has no such key (kms:GetPublicKey: %s)", k.keyID, nf.ErrorMessage())
		}
		return "", fmt.Errorf("kms_key %q: cannot check the key with kms:GetPublicKey (Caddy needs kms:GetPublicKey and kms:Sign on it): %v", k.keyID, endpoint.Scrub(err))
	}
	if out.KeyUsage != types.KeyUsageTypeSignVerify {
		return "", fmt.Errorf("kms_key %q is a %s key; %s", k.keyID, out.KeyUsage, kmsSupported)
	}
	alg, ok := kmsSpecs[out.KeySpec]
	if !ok {
		return "", fmt.Errorf("kms_key %q is a %s key; %s", k.keyID, out.KeySpec, kmsSupported)
	}
	for _, a := range out.SigningAlgorithms {
		if a == alg {
			return alg, nil
		}
	}
	return "", fmt.Errorf("kms_key %q does not offer %s, which CloudFront needs", k.keyID, alg)
}

// once returns what fresh returns for the policy of cache key ck; calls for
// the same policy at once share one fresh, that is one kms:Sign. fresh
// caches its signature before the flight ends, so that a request that comes
// as it ends finds it there rather than calling KMS again.
func (k *kmsSigner) once(ck string, fresh func() (cfSignature, error)) (cfSignature, error) {
	v, err := k.remote.Once(ck, func() (any, error) { return fresh() })
	if err != nil {
		return cfSignature{}, err
	}
	return v.(cfSignature), nil
}

// sign asks KMS for the signature of a policy digest (SHA-256). Its
// errors name no address.
func (k *kmsSigner) sign(ctx context.Context, digest []byte) ([]byte, error) {
	out, err := k.client.Sign(ctx, &kms.SignInput{
		KeyId: &k.keyID, Message: digest, MessageType: types.MessageTypeDigest, SigningAlgorithm: k.alg,
	})
	if err != nil {
		return nil, endpoint.Scrub(err)
	}
	return out.Signature, nil
}

// SetRemoteObserver implements signers.RemoteSigner: with kms_key, o is
// told of each kms:Sign call.
func (c *CloudFront) SetRemoteObserver(o signers.RemoteObserver) {
	if c.kms != nil {
		c.kms.remote.SetRemoteObserver(o)
	}
}
