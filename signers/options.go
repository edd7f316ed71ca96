package signers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Options are a rule's signing options: what a rule asks of its profile
// beyond the key. The handler's rule embeds them, so that each is a field of
// the rule in the JSON config (under the JSON name below), and the rule's
// Caddyfile block sets each with the subdirective of the same name (see
// UnmarshalCaddyfileOption). The profile's kind uses them and refuses in
// CheckRule those it does not support.
//
// Adding an option is a field here and its row in ruleOptions; the kinds
// that serve it name it in their RegisterKind and check its value in
// CheckRule (RuleInfo.Check, for the values they check alike), and the
// others refuse it.
type Options struct {
	// S3, Azure, GCS: "attachment" or "inline": sets the download's
	// Content-Disposition (S3 and GCS: response-content-disposition, Azure:
	// rscd) with the key's last segment as the file name (an ASCII fallback
	// plus RFC 6266 filename* for other names).
	ContentDisposition string `json:"content_disposition,omitempty"`

	// S3, Azure, GCS: the Content-Type of the download
	// (response-content-type, Azure: rsct).
	ContentType string `json:"content_type,omitempty"`

	// S3, Azure: the Cache-Control of the download (response-cache-control,
	// Azure: rscc). Cloud Storage has no such override: set Cache-Control in
	// the object's metadata there.
	CacheControl string `json:"cache_control,omitempty"`

	// S3 and GCS POST, and S3 uppy: the largest upload in bytes, a
	// content-length-range condition of the policy; uppy multipart uploads
	// over it are aborted at completion (413). In the Caddyfile a size such
	// as 100MB (1000-based) or 100MiB.
	MaxSize int64 `json:"max_size,omitempty"`

	// S3 and GCS POST and PUT, and S3 uppy: the upload's Content-Type must
	// be one media type whose type/subtype starts with one of these, e.g.
	// "image/". A type a browser may run as a page (HTML, XML and any
	// +xml such as image/svg+xml, JavaScript, application/pdf, and the
	// types browsers sniff) passes only when one of these names it
	// exactly, e.g. ["image/", "image/svg+xml"]. A string or a list in
	// JSON (see TypePrefixes). Uppy: checked when the upload starts
	// (400); PUT: checked by Caddy (415 or 400) and signed, so that the
	// store refuses any other type; POST: the client names the type with
	// ?type=<media type>, Caddy checks it and the policy pins it (eq
	// $Content-Type). Azure refuses it on PUT: its signed URLs cannot bind the
	// uploaded type.
	ContentTypePrefix TypePrefixes `json:"content_type_prefix,omitempty"`

	// S3: the rule answers Uppy's S3 protocol (@uppy/aws-s3 with
	// companionEndpoint set to the rule's path) under its path after
	// strip_prefix: POST policy forms for small files (s3/params), and
	// multipart uploads (s3/multipart...) that Caddy creates, lists,
	// completes and aborts with the profile's credentials, and whose parts
	// it presigns. The key template may hold {presign.filename} (the
	// client's file name, one key segment) and {presign.uuid} (a fresh
	// random ID per upload); every call after the create carries a key,
	// which is accepted only when this rule could have produced it for this
	// request. max_size is enforced at completion, content_type_prefix at
	// creation. The rule's methods do not apply.
	Uppy bool `json:"uppy,omitempty"`

	// CloudFront: the resource of a custom policy: a URL pattern that may
	// hold * and placeholders, e.g.
	// "https://d111111abcdef8.cloudfront.net/results/experiment.zarr/*".
	// Every URL the rule answers with must fall inside it, or CloudFront
	// refuses it. Local: a folder of object keys ending in "/*" (placeholders
	// allowed), e.g. "experiment.zarr/*": the link opens every file under it.
	Resource string `json:"resource,omitempty"`

	// CloudFront: bind the URL to the client's IP (Caddy's client IP, which
	// honours trusted_proxies) with a custom policy.
	BindClientIP bool `json:"bind_client_ip,omitempty"`

	// Local, CloudFront: URLs open from this time on, an embargo: RFC 3339
	// in whole seconds, e.g. "2026-12-06T09:00:00Z". A URL issued before it
	// is refused until then, and lives the rule's expires counted from it;
	// one issued after it is valid at once. Local links sign it (pl_nbf);
	// CloudFront, a custom policy's DateGreaterThan.
	NotBefore *time.Time `json:"not_before,omitempty"`

	// CloudFront: answer with signed cookies and a redirect to the unsigned
	// URL, which opens a whole tree (a Zarr store, an HLS stream). Local:
	// answer with a signed cookie for the rule's folder (resource), or for
	// the one file without resource, and a redirect to the file's plain
	// link under serve.
	Cookies bool `json:"cookies,omitempty"`

	// CloudFront: the Domain attribute of the signed cookies; default none
	// (host-only cookies). In the Caddyfile the argument of cookies.
	CookieDomain string `json:"cookie_domain,omitempty"`

	// S3, Azure, GCS: a GET or HEAD for a path that ends in "/" lists the
	// objects and folders directly under the key prefix it maps to
	// (ListObjectsV2; Azure: List Blobs; GCS: its XML API's ListObjectsV2;
	// with delimiter "/", at most 1000 entries a page), as JSON (Accept:
	// application/json) or HTML. The key template must end with
	// {presign.path}, after a "/" or alone. Needs s3:ListBucket (Azure:
	// list on the container, see account_key; GCS: storage.objects.list).
	Browse bool `json:"browse,omitempty"`

	// S3, Azure, GCS: the html/template file of browse's HTML answers
	// instead of the built-in page; parsed at start. In the Caddyfile the
	// argument of browse.
	BrowseTemplate string `json:"browse_template,omitempty"`

	// S3, Azure, GCS: before a GET or HEAD is answered, ask the store
	// whether the object exists (HeadObject; Azure: Get Blob Properties;
	// GCS: a HEAD of the object); a missing one is answered 404 through
	// Caddy's error handling. Answers, both ways, are cached for this
	// window. In the Caddyfile `check_exists [<window>]`, default 10s.
	// Needs s3:GetObject (and s3:ListBucket, or S3 answers 403 for a
	// missing key).
	CheckExists caddy.Duration `json:"check_exists,omitempty"`
}

// DefaultCheckExists is the window of `check_exists` without an argument.
const DefaultCheckExists = 10 * time.Second

// ruleOptions are the options, one row each, in the order error messages
// list them: the JSON name, which is also the Caddyfile subdirective, and
// how the Caddyfile sets it. Each kind names the options it serves in its
// own file (RegisterKind), and refuses the others that are set.
var ruleOptions = []ruleOption{
	{
		"content_disposition", func(o *Options) bool { return o.ContentDisposition != "" },
		func(d *caddyfile.Dispenser, o *Options) error { return OneArg(d, &o.ContentDisposition) },
	},
	{
		"content_type", func(o *Options) bool { return o.ContentType != "" },
		func(d *caddyfile.Dispenser, o *Options) error { return OneArg(d, &o.ContentType) },
	},
	{
		"cache_control", func(o *Options) bool { return o.CacheControl != "" },
		func(d *caddyfile.Dispenser, o *Options) error { return OneArg(d, &o.CacheControl) },
	},
	{
		"max_size", func(o *Options) bool { return o.MaxSize != 0 },
		func(d *caddyfile.Dispenser, o *Options) error { return sizeArg(d, &o.MaxSize) },
	},
	{
		"content_type_prefix", func(o *Options) bool { return len(o.ContentTypePrefix) > 0 },
		func(d *caddyfile.Dispenser, o *Options) error { return typePrefixesArg(d, &o.ContentTypePrefix) },
	},
	{
		"uppy", func(o *Options) bool { return o.Uppy },
		func(d *caddyfile.Dispenser, o *Options) error { return FlagArg(d, &o.Uppy) },
	},
	{
		"resource", func(o *Options) bool { return o.Resource != "" },
		func(d *caddyfile.Dispenser, o *Options) error { return OneArg(d, &o.Resource) },
	},
	{
		"bind_client_ip", func(o *Options) bool { return o.BindClientIP },
		func(d *caddyfile.Dispenser, o *Options) error { return FlagArg(d, &o.BindClientIP) },
	},
	{"not_before", func(o *Options) bool { return o.NotBefore != nil }, notBeforeArg},
	// cookies [<domain>]
	{
		"cookies", func(o *Options) bool { return o.Cookies },
		func(d *caddyfile.Dispenser, o *Options) error {
			return flagOptArg(d, &o.Cookies, &o.CookieDomain, "the cookie domain")
		},
	},
	{"cookie_domain", func(o *Options) bool { return o.CookieDomain != "" }, nil},
	// browse [<template file>]
	{
		"browse", func(o *Options) bool { return o.Browse },
		func(d *caddyfile.Dispenser, o *Options) error {
			return flagOptArg(d, &o.Browse, &o.BrowseTemplate, "the template file")
		},
	},
	{"browse_template", func(o *Options) bool { return o.BrowseTemplate != "" }, nil},
	// check_exists [<window>]
	{
		"check_exists", func(o *Options) bool { return o.CheckExists != 0 },
		func(d *caddyfile.Dispenser, o *Options) error {
			if d.CountRemainingArgs() == 0 {
				o.CheckExists = caddy.Duration(DefaultCheckExists)
				return nil
			}
			return DurationArg(d, &o.CheckExists)
		},
	},
}

// ruleOption is one option's row.
type ruleOption struct {
	name  string
	isSet func(o *Options) bool
	parse func(d *caddyfile.Dispenser, o *Options) error // nil: set by another subdirective
}

// Check checks what every kind checks of a rule alike, for a profile of
// kind k whose URLs live at most max (0: no limit): the rule's lifetime,
// that it sets no option k does not serve, and the values of the options
// the kinds share. The kind checks its methods and its own options itself.
func (r *RuleInfo) Check(k *Kind, max time.Duration) error {
	if err := CheckExpires(r.Expires, max, fmt.Sprintf("profile %q's", r.Profile)); err != nil {
		return err
	}
	o := r.Options
	for _, ro := range ruleOptions {
		if !k.serves(ro.name) && ro.isSet(o) {
			if others := servers(ro.name); len(others) > 0 {
				return fmt.Errorf("%s is an option of %s profiles, not of %s ones", ro.name, joinKinds(others), k.Name)
			}
			return fmt.Errorf("%s is not an option of %s profiles", ro.name, k.Name) // no kind that serves it is built in
		}
	}
	if !r.downloads() && (o.ContentDisposition != "" || o.ContentType != "" || o.CacheControl != "") {
		return errors.New("content_disposition, content_type and cache_control shape downloads: the rule needs GET or HEAD, and no uppy")
	}
	if !o.Uppy && !slices.Contains(r.Methods, http.MethodPost) && o.MaxSize != 0 {
		return errors.New("max_size is an upload condition: the rule needs POST or uppy")
	}
	if !o.Uppy && !slices.Contains(r.Methods, http.MethodPost) && !slices.Contains(r.Methods, http.MethodPut) && len(o.ContentTypePrefix) > 0 {
		return errors.New("content_type_prefix is an upload condition: the rule needs POST, PUT or uppy")
	}
	if o.MaxSize < 0 {
		return errors.New("max_size must be positive")
	}
	if err := o.ContentTypePrefix.check(); err != nil {
		return err
	}
	if nb := o.NotBefore; nb != nil && (nb.Unix() <= 0 || nb.Nanosecond() != 0) {
		return fmt.Errorf("not_before %s: a time after 1970 in whole seconds, such as 2026-12-06T09:00:00Z", nb.Format(time.RFC3339Nano))
	}
	switch o.ContentDisposition {
	case "", "attachment", "inline":
		return nil
	}
	return fmt.Errorf("content_disposition must be attachment or inline, got %q", o.ContentDisposition)
}

// downloads tells whether the rule answers downloads: GET or HEAD, and no
// uppy (whose protocol the rule answers instead).
func (r *RuleInfo) downloads() bool {
	return !r.Options.Uppy && (slices.Contains(r.Methods, http.MethodGet) || slices.Contains(r.Methods, http.MethodHead))
}

// joinKinds lists kinds for an error: "s3", "s3 and gcs", "s3, azure and
// gcs".
func joinKinds(kinds []string) string {
	if len(kinds) == 1 {
		return kinds[0]
	}
	return strings.Join(kinds[:len(kinds)-1], ", ") + " and " + kinds[len(kinds)-1]
}

// UnmarshalCaddyfileOption reads the rule subdirective the dispenser stands
// on, with its arguments, when it is one of the options; known tells
// whether it was.
func (o *Options) UnmarshalCaddyfileOption(d *caddyfile.Dispenser) (known bool, err error) {
	for _, ro := range ruleOptions {
		if ro.parse != nil && ro.name == d.Val() {
			return true, ro.parse(d, o)
		}
	}
	return false, nil
}

// OptionNames are the rule subdirectives that set Options, for the error
// that lists the known ones.
func OptionNames() []string {
	var names []string
	for _, ro := range ruleOptions {
		if ro.parse != nil {
			names = append(names, ro.name)
		}
	}
	return names
}
