// Package cloudfront is the profile kind "cloudfront" (module
// http.handlers.presign.profiles.cloudfront): Amazon CloudFront signed URLs
// and signed cookies, with canned or custom policies.
//
// The files:
//
//	cloudfront.go        the profile: its config, Provision, CheckRule, the Caddyfile
//	cloudfront_sign.go   Sign: policies, signatures, URLs and cookies; Bind and Check
//	cloudfront_key.go    the key pair's private key (RSA or ECDSA, PEM in any usual form)
//	cloudfront_kms.go    kms_key: the key kept in AWS KMS, checked at start, signing through kms:Sign
//	cloudfront_cache.go  the caches of signatures and of whole answers
package cloudfront
