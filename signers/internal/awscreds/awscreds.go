// Package awscreds is the AWS credential options (Config) and their
// provider, shared by the kinds that call AWS with the credential chain
// (s3, and cloudfront's kms_key).
package awscreds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/credcache"
)

// roleDuration is the lifetime of the sessions of role_arn.
const roleDuration = time.Hour

// Config is a profile's AWS credential options, with their JSON fields,
// embedded in the config of each kind that calls AWS with them: static
// keys, a profile of the shared config files, or else the default chain;
// a role assumed on top.
type Config struct {
	// Static access key ID. Placeholders are expanded at start, so
	// "{env.AWS_ACCESS_KEY_ID}" keeps the key out of the config.
	AccessKeyID string `json:"access_key_id,omitempty"`

	// Static secret access key; goes with AccessKeyID. Placeholders are
	// expanded at start ("{env.S3_SECRET}", "{file./run/secrets/s3}").
	SecretAccessKey string `json:"secret_access_key,omitempty"`

	// Session token of temporary static credentials. Placeholders are
	// expanded at start.
	SessionToken string `json:"session_token,omitempty"`

	// A profile of the shared AWS config and credentials files
	// (~/.aws/config, ~/.aws/credentials) to take credentials from, instead
	// of the default chain.
	AWSProfile string `json:"aws_profile,omitempty"`

	// The ARN of a role to assume (AWS STS) with the base credentials.
	// Sessions last one hour and are renewed ahead of expiry.
	RoleARN string `json:"role_arn,omitempty"`

	// The external ID the role's trust policy asks for, if any.
	ExternalID string `json:"external_id,omitempty"`
}

// AnyCredentials tells whether any of the credential options is set.
func (c *Config) AnyCredentials() bool { return *c != Config{} }

// Provider expands the placeholders of the options (the keys and the
// token only into the provider, never into c) and builds the provider
// they name: static keys, a shared config profile or the default chain,
// and a role assumed on top. region is where STS is called; timeout
// bounds each call made for credentials (four times it, retries
// included).
func (c *Config) Provider(ctx context.Context, region string, timeout time.Duration) (aws.CredentialsProvider, error) {
	signers.ExpandAll(&c.AWSProfile, &c.RoleARN, &c.ExternalID)
	id, secret, token := signers.Expand(c.AccessKeyID), signers.Expand(c.SecretAccessKey), signers.Expand(c.SessionToken)
	if (id == "") != (secret == "") {
		if c.AccessKeyID != "" && c.SecretAccessKey != "" {
			return nil, errors.New("access_key_id or secret_access_key expanded to an empty value (is its placeholder's variable or file set?)")
		}
		return nil, errors.New("access_key_id and secret_access_key go together: set both or neither")
	}
	if token != "" && id == "" {
		return nil, errors.New("session_token needs access_key_id and secret_access_key")
	}
	if id != "" && c.AWSProfile != "" {
		return nil, errors.New("aws_profile and static access keys exclude each other")
	}

	var base aws.CredentialsProvider
	var cfg aws.Config
	if id != "" {
		base = credentials.NewStaticCredentialsProvider(id, secret, token)
	}
	if base == nil || c.RoleARN != "" {
		opts := []func(*config.LoadOptions) error{
			config.WithRegion(region),
			config.WithAPIOptions(deadline(4 * timeout)),
			// the SDK's own cache refreshes a little ahead; ours sits on top
			config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 0 }),
		}
		if c.AWSProfile != "" {
			opts = append(opts, config.WithSharedConfigProfile(c.AWSProfile))
		}
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("loading the AWS configuration: %v", err)
		}
		if base == nil {
			base = cfg.Credentials
		}
	}
	if c.RoleARN == "" {
		return base, nil
	}
	if !strings.HasPrefix(c.RoleARN, "arn:") {
		return nil, fmt.Errorf("role_arn %q is not an ARN (arn:aws:iam::123456789012:role/NAME)", c.RoleARN)
	}
	cfg.Credentials = base
	if cfg.Region == "" || cfg.Region == "auto" {
		cfg.Region = "us-east-1"
	}
	return stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "caddy-presign"
		o.Duration = roleDuration
		if c.ExternalID != "" {
			o.ExternalID = aws.String(c.ExternalID)
		}
	}), nil
}

// Fetch is the credential cache's fetch from an AWS credentials
// provider. The expiry is the credentials' own: the SDK's
// aws.CredentialsCache is not used on top of providers built here because
// it reports Expires moved earlier by its refresh window.
func Fetch(p aws.CredentialsProvider) credcache.Fetch[aws.Credentials] {
	return func(ctx context.Context) (aws.Credentials, time.Time, error) {
		// A provider with a cache of its own (the SDK's default chain wraps
		// every provider in an aws.CredentialsCache, which renews only at
		// expiry) would answer a renewal ahead of expiry with the
		// credentials held already: URLs would then be cut to seconds, and
		// fail, near each expiry. Make it fetch new ones.
		if inv, ok := p.(interface{ Invalidate() }); ok {
			inv.Invalidate()
		}
		creds, err := p.Retrieve(ctx)
		if err != nil {
			return creds, time.Time{}, err
		}
		if !creds.HasKeys() || creds.CanExpire && creds.Expires.IsZero() {
			return creds, time.Time{}, errors.New("the provider returned expired or empty credentials")
		}
		var expires time.Time
		if creds.CanExpire {
			expires = creds.Expires
		}
		return creds, expires, nil
	}
}

// deadline bounds every SDK call made for credentials (container endpoint,
// instance metadata, STS, SSO), retries included. The SDK's credential cache
// hides the caller's context from providers, so without it a provider that
// hangs would hold every later refresh and the profile would never recover.
func deadline(d time.Duration) []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("presignDeadline",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				ctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}}
}

// Subdirectives parse the credential options in a profile's Caddyfile
// block into c: access_key_id, secret_access_key, session_token,
// aws_profile and role_arn <arn> [<external_id>].
func (c *Config) Subdirectives(d *caddyfile.Dispenser) []signers.Subdirective {
	return []signers.Subdirective{
		{Name: "access_key_id", Parse: func() error { return signers.OneArg(d, &c.AccessKeyID) }},
		{Name: "secret_access_key", Parse: func() error { return signers.SecretArg(d, &c.SecretAccessKey) }},
		{Name: "session_token", Parse: func() error { return signers.SecretArg(d, &c.SessionToken) }},
		{Name: "aws_profile", Parse: func() error { return signers.OneArg(d, &c.AWSProfile) }},
		{Name: "role_arn", Parse: func() error { return roleARNArg(d, &c.RoleARN, &c.ExternalID) }},
	}
}

// roleARNArg parses the arguments of role_arn <arn> [<external_id>].
func roleARNArg(d *caddyfile.Dispenser, arn, externalID *string) error {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return d.Errf("role_arn takes the role's ARN and optionally an external ID, got %d arguments", len(args))
	}
	*arn = args[0]
	if len(args) == 2 {
		*externalID = args[1]
	}
	return nil
}
