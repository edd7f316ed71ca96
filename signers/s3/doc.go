// Package s3 is the profile kind "s3" (module
// http.handlers.presign.profiles.s3): Amazon S3 and S3-compatible stores
// (MinIO, R2, versitygw, ...), signed with SigV4.
//
// The files:
//
//	s3.go           the profile: its config, Provision, CheckRule, Sign, the Caddyfile
//	sigv4.go        SigV4 presigned URLs, byte-identical to the AWS SDK's, and the
//	                cache of signing keys
//	s3_post.go      POST policy forms (browser uploads)
//	creds_aws.go    the AWS credentials the options name (static keys, a shared
//	                profile, the default chain, role_arn)
//	s3_api.go       the SDK's API client for the calls Caddy makes itself, and the
//	                classification of their errors
//	s3_list.go      Store: ListObjectsV2 and HeadObject
//	s3_multipart.go Multipart: the multipart upload calls of uppy, and S3's limits of
//	                them (parts, upload ids, x-amz-meta-* metadata)
package s3
