// Package presign is a Caddy HTTP handler that answers requests for private
// objects with freshly presigned URLs: redirects, JSON answers and upload
// forms, for the profile kinds under the signers package (S3, CloudFront,
// Azure Blob Storage, Google Cloud Storage), which it imports for their
// registration only (kinds.go) and never names.
//
// Profiles name the places to sign for (a bucket with its credentials, a
// CloudFront distribution with its key pair); rules map request paths to
// object keys in a profile. A request that no rule matches goes on to the
// next handler untouched.
//
// The files:
//
//	module.go       the Handler and Rule config, Provision
//	handler.go      ServeHTTP: match a rule, expand the key, check_exists, sign, answer
//	caddyfile.go    the Caddyfile parser
//	keys.go         key templates ({presign.path} and placeholders), the checks of keys,
//	                file names ({presign.filename}), UUIDs ({presign.uuid}) and printable text
//	ruleindex.go    the rule lookup: an index of the rules' path patterns
//	browse.go       folder listings (browse; browse.html is the built-in page)
//	failure.go      one mapping from an error to its answer (status, Retry-After, log line)
//	mediatype.go    the Content-Type of an upload: one media type, then content_type_prefix,
//	                where a type that can carry script passes only when named exactly
//	uppy.go         Uppy's upload protocol (the uppy option): calls, outcomes, and the
//	                checks of part numbers and metadata under the kind's MultipartLimits
//	uppy_calls.go   its handlers: one uppyCall per request
//	metrics.go      Prometheus collectors and their resolvers
//	kinds.go        the profile kinds, imported for their registration only
package presign
