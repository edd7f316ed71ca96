// Package signers holds what turns a validated object key into a presigned
// URL: the Signer interface, the rules' signing Options, and the profile
// kinds. Each kind is a Caddy module in the namespace
// "http.handlers.presign.profiles", named in the handler's JSON config by
// its "type", and stands on its own: the handler never names one.
//
// The files, what every kind shares first:
//
//	doc.go          this overview
//	signer.go       Signer, Request, Signed, RuleInfo; the optional Binder and Checker
//	store.go        Store, Listing, Object, StoreError: a store Caddy asks itself (browse,
//	                check_exists); RuleInfo.checkStore, the checks of their options
//	store_shared.go what the Stores share: the ListObjectsV2 document, a page's check,
//	                the api_timeout default, the cache of existence checks
//	multipart.go    Multipart, Part: multipart uploads Caddy runs (uppy)
//	kinds.go        registerKind: a kind's name and the rule options it serves
//	options.go      Options, one row per option (JSON name, Caddyfile parsing), RuleInfo.check
//	typeprefixes.go TypePrefixes, content_type_prefix's values: a string or a list in JSON
//	caddyfile.go    the Caddyfile helpers of profiles and options
//	creds.go        the credential cache, generic over a kind's credential
//	urlcache.go     the cache of recently signed URLs, generic over the credential
//	slotcache.go    the lock-free slot cache under the hot-key caches
//	endpoint.go     endpoint parsing and checking, the signed host header, bucket names
//	escape.go       percent-encoding, query parameters, the compact ISO 8601 time
//	download.go     the response overrides of downloads (Content-Disposition and the like)
//	pem.go          PEM normalization of keys given inline
//
// Then one file or a few per kind, each declaring itself with registerKind:
//
//	s3.go           S3 and S3-compatible stores: the profile, SigV4 URLs (sigv4.go),
//	                POST policy forms (s3_post.go), AWS credentials (creds_aws.go), the
//	                S3 API for Store (s3_list.go) and Multipart (s3_multipart.go, s3_api.go)
//	cloudfront.go   CloudFront signed URLs and cookies (cloudfront_sign.go, its key in
//	                cloudfront_key.go, its caches in cloudfront_cache.go)
//	azure.go        Azure Blob Storage SAS (user delegation keys in azure_udk.go), the
//	                Blob service for Store (azure_store.go)
//	gcs.go          Google Cloud Storage V4 signed URLs and POST policies, and Store
//	                through the XML API, signed the same way (gcs_store.go)
//
// Adding a kind is its file here, its test, its golden adapt file and the
// README (its "Development" section lists the steps): the handler, the
// Caddyfile parser and the JSON config need no change.
package signers
