// Package gcs is the profile kind "gcs" (module
// http.handlers.presign.profiles.gcs): Google Cloud Storage, signed natively
// with V4 signatures (GOOG4-RSA-SHA256) by a service account's key, or
// without a key through the IAM Credentials API's signBlob.
//
// The files:
//
//	gcs.go             the profile: its config, Provision, CheckRule, Sign (V4 signed URLs
//	                   and POST policies), the Caddyfile
//	gcs_credentials.go what signs: the key file (or Application Default Credentials'),
//	                   or a service account's email for signBlob
//	gcs_iam.go         signBlob as a service account with the identity's OAuth token
//	gcs_store.go       Store: the XML API's ListObjectsV2 and a HEAD of the object, signed
//	                   the same way
package gcs
