// Package awscreds is the AWS credential options' provider, shared by the
// kinds that call AWS with the credential chain (s3, and cloudfront's
// kms_key).
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

// Options are a profile's AWS credential options, as the profile's config
// holds them (the keys and token still with their placeholders; the rest
// expanded).
type Options struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	AWSProfile, RoleARN, ExternalID            string
	Region                                     string
	// bounds each call made for credentials (four times it, retries
	// included)
	Timeout time.Duration
}

// Provider builds the provider the options name: static keys, a shared
// config profile or the default chain, and a role assumed on top.
func Provider(ctx context.Context, s Options) (aws.CredentialsProvider, error) {
	id, secret, token := signers.Expand(s.AccessKeyID), signers.Expand(s.SecretAccessKey), signers.Expand(s.SessionToken)
	if (id == "") != (secret == "") {
		if s.AccessKeyID != "" && s.SecretAccessKey != "" {
			return nil, errors.New("access_key_id or secret_access_key expanded to an empty value (is its placeholder's variable or file set?)")
		}
		return nil, errors.New("access_key_id and secret_access_key go together: set both or neither")
	}
	if token != "" && id == "" {
		return nil, errors.New("session_token needs access_key_id and secret_access_key")
	}
	if id != "" && s.AWSProfile != "" {
		return nil, errors.New("aws_profile and static access keys exclude each other")
	}

	var base aws.CredentialsProvider
	var cfg aws.Config
	if id != "" {
		base = credentials.NewStaticCredentialsProvider(id, secret, token)
	}
	if base == nil || s.RoleARN != "" {
		opts := []func(*config.LoadOptions) error{
			config.WithRegion(s.Region),
			config.WithAPIOptions(deadline(4 * s.Timeout)),
			// the SDK's own cache refreshes a little ahead; ours sits on top
			config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 0 }),
		}
		if s.AWSProfile != "" {
			opts = append(opts, config.WithSharedConfigProfile(s.AWSProfile))
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
	if s.RoleARN == "" {
		return base, nil
	}
	if !strings.HasPrefix(s.RoleARN, "arn:") {
		return nil, fmt.Errorf("role_arn %q is not an ARN (arn:aws:iam::123456789012:role/NAME)", s.RoleARN)
	}
	cfg.Credentials = base
	if cfg.Region == "" || cfg.Region == "auto" {
		cfg.Region = "us-east-1"
	}
	return stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), s.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "caddy-presign"
		o.Duration = roleDuration
		if s.ExternalID != "" {
			o.ExternalID = aws.String(s.ExternalID)
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

// Fields point at a profile's fields of the credential options.
type Fields struct {
	AccessKeyID, SecretAccessKey, SessionToken *string
	AWSProfile, RoleARN, ExternalID            *string
}

// Subdirectives parse the credential options in a profile's Caddyfile
// block into f: access_key_id, secret_access_key, session_token,
// aws_profile and role_arn <arn> [<external_id>].
func Subdirectives(d *caddyfile.Dispenser, f Fields) []signers.Subdirective {
	return []signers.Subdirective{
		{Name: "access_key_id", Parse: func() error { return signers.OneArg(d, f.AccessKeyID) }},
		{Name: "secret_access_key", Parse: func() error { return signers.SecretArg(d, f.SecretAccessKey) }},
		{Name: "session_token", Parse: func() error { return signers.SecretArg(d, f.SessionToken) }},
		{Name: "aws_profile", Parse: func() error { return signers.OneArg(d, f.AWSProfile) }},
		{Name: "role_arn", Parse: func() error { return roleARNArg(d, f.RoleARN, f.ExternalID) }},
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
