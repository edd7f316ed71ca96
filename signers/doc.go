// Package signers is the contract every profile kind meets: what turns a
// validated object key into a presigned URL. It holds the Signer interface
// and its optional companions (Binder, Checker, Store, Multipart, Guard), what the
// handler hands a kind (Request, RuleInfo, Options) and what it gets back
// (Signed, Listing, StoreError, ErrCredentials), the table of rule options
// with the checks every kind makes alike, and the Caddyfile helpers of
// profiles. It names no kind and carries no provider's SDK.
//
// Each kind is a package of its own below this one, and a Caddy module in
// the namespace "http.handlers.presign.profiles" (Namespace), named in the
// handler's JSON config by its "type"; it declares itself with RegisterKind.
// The handler never names one: the root package imports the kinds for
// their registration only, as Caddy's modules/standard does.
//
// The contract's files:
//
//	doc.go          this overview
//	signer.go       Signer, Request, Signed, RuleInfo, ErrCredentials; the optional Binder
//	                and Checker; CheckExpires, Expand
//	store.go        Store, Listing, Object, StoreError: a store Caddy asks itself (browse,
//	                check_exists); RuleInfo.CheckStore, the checks of their options
//	exists.go       Existence: check_exists's one cache over a Store's raw Exists, per profile
//	multipart.go    Multipart, Part: multipart uploads Caddy runs (uppy)
//	guard.go        Guard, Verdict: a kind that checks its own links under a path prefix
//	                (local); ClientIP
//	remote.go       RemoteSigner, RemoteObserver, RemoteOutcome: a kind that signs through a
//	                remote service tells the handler's metrics of each call
//	kinds.go        RegisterKind, Kind, KindNamed: a kind's name and the rule options it serves
//	options.go      Options, one row per option (JSON name, Caddyfile parsing), RuleInfo.Check
//	typeprefixes.go TypePrefixes, content_type_prefix's values: a string or a list in JSON
//	caddyfile.go    the Caddyfile helpers of profiles (ProfileBlock) and options (OneArg, ...)
//
// The kinds:
//
//	s3/             S3 and S3-compatible stores: signed URLs, POST policy forms, AWS
//	                credentials, the S3 API for Store and Multipart
//	cloudfront/     CloudFront signed URLs and cookies
//	azure/          Azure Blob Storage signed URLs, user delegation keys, the Blob service
//	                for Store
//	gcs/            Google Cloud Storage V4 signed URLs and POST policies, and Store
//	                through the XML API, signed the same way
//	local/          links Caddy signs and checks itself (HMAC-SHA256), a Guard, and
//	                Store over a directory through os.Root
//
// What several kinds share, under internal/ (a kind's own code stays in its
// package):
//
//	credcache/      the credential cache, generic over a kind's credential
//	urlcache/       the cache of recently signed URLs, generic over the credential
//	slotcache/      the lock-free slot cache under the hot-key caches
//	store/          what the Stores share: the ListObjectsV2 document, a page's check,
//	                the refusal classification, the api_timeout default
//	endpoint/       endpoint parsing and checking, the signed host header, bucket names
//	escape/         percent-encoding, query parameters, the compact ISO 8601 time
//	download/       the response overrides of downloads (Content-Disposition and the like)
//	pemtext/        PEM normalization of keys given inline
//	remote/         a remote signer's calls: single flight, timeout, backoff, observed
//
// The conformance suite, signerstest/, holds every kind to this contract:
// each kind's tests run it (signerstest.Run) with a constructor of its
// profiles, an independent verifier of what it signs and, for a Store, its
// store's protocol; a kind is done when it passes.
//
// Adding a kind is its package here, its conformance test, its blank import
// in the root's kinds.go, its golden adapt file and the docs
// (docs/development.md lists the steps): the handler, the Caddyfile parser
// and the JSON config need no change.
package signers
