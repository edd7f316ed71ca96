package presign

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-presign/presign/signers"
)

// maxContentType bounds the Content-Type of an upload, as S3 bounds
// header values well above any real media type.
const maxContentType = 255

// checkContentType tells whether v may be the Content-Type of an upload
// under content_type_prefix prefixes: one media type, parsed as
// mime.ParseMediaType does (type/subtype and parameters; no list, no
// control or non-ASCII character), whose type/subtype (compared
// case-insensitively) starts with one of prefixes, and equals one of them
// when it is a type a browser may run as a page (runsAsPage). Without
// prefixes any well-formed type may. It returns "" when it may, else why
// not, and whether v is malformed rather than another type. Every place
// that checks an upload's type (PUT, POST forms, uppy's create and
// s3/params) calls it, so that "video/mp4,text/html" and
// "image/svg+xml" are one answer everywhere.
func checkContentType(v string, prefixes signers.TypePrefixes) (why string, malformed bool) {
	if v == "" {
		return "no content type", false
	}
	if len(v) > maxContentType || !printableASCII(v) {
		return "bad content type", true
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil || strings.IndexByte(mt, '/') < 0 {
		return "bad content type: not one media type", true
	}
	if len(prefixes) == 0 {
		return "", false
	}
	starts := false
	for _, p := range prefixes {
		if strings.EqualFold(mt, p) {
			return "", false
		}
		starts = starts || len(mt) >= len(p) && strings.EqualFold(mt[:len(p)], p)
	}
	switch {
	case !starts:
		return "content type must start with " + strings.Join(prefixes, " or "), false
	case runsAsPage(mt):
		return mt + " can carry script: name it exactly in content_type_prefix to allow it", false
	}
	return "", false
}

// runsAsPage tells whether mt, a lower-case type/subtype, is a type that a
// browser opening the object may run as a document with script, so that a
// prefix never allows it: the WHATWG MIME Sniffing standard's scriptable
// types (HTML, XML: text/xml, application/xml and any +xml subtype such as
// image/svg+xml and application/xhtml+xml, and application/pdf), text/xsl,
// which browsers parse as XML too, its JavaScript types, and the types
// after which browsers sniff the content, which may be HTML.
func runsAsPage(mt string) bool {
	return strings.HasSuffix(mt, "+xml") || pageTypes[mt]
}

// pageTypes are the types of runsAsPage that no suffix names.
var pageTypes = map[string]bool{
	"text/html": true, "text/xml": true, "application/xml": true, "text/xsl": true,
	"application/pdf": true,
	// the sniffing standard's JavaScript MIME type essences
	"application/ecmascript": true, "application/javascript": true,
	"application/x-ecmascript": true, "application/x-javascript": true,
	"text/ecmascript": true, "text/javascript": true, "text/javascript1.0": true,
	"text/javascript1.1": true, "text/javascript1.2": true, "text/javascript1.3": true,
	"text/javascript1.4": true, "text/javascript1.5": true, "text/jscript": true,
	"text/livescript": true, "text/x-ecmascript": true, "text/x-javascript": true,
	// an unknown type: browsers sniff the content, and may find HTML
	"unknown/unknown": true, "application/unknown": true, "*/*": true,
}

// uploadType is the Content-Type of r, a PUT or POST of a rule with
// content_type_prefix, once checked: a PUT's Content-Type header, a POST's
// ?type= (the type of the file the form will carry). A missing one is 400
// on POST, a missing or other type 415 on PUT; a malformed one (or two
// Content-Type headers, or two ?type=) 400.
func uploadType(r *http.Request, rule *Rule) (string, error) {
	v, what := r.Header.Values("Content-Type"), "Content-Type"
	if r.Method == http.MethodPost {
		v, what = r.URL.Query()["type"], "?type="
		if len(v) == 0 || v[0] == "" {
			return "", caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("%s: a POST form of a rule with content_type_prefix pins the file's type: ask with ?type=<media type>, e.g. ?type=image/png", rule.name))
		}
	}
	if len(v) > 1 {
		return "", caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("%s: more than one %s", rule.name, what))
	}
	ct := ""
	if len(v) == 1 {
		ct = v[0]
	}
	why, malformed := checkContentType(ct, rule.ContentTypePrefix)
	switch {
	case why == "":
		return ct, nil
	case malformed:
		return "", caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("%s: %s", rule.name, why))
	}
	return "", caddyhttp.Error(http.StatusUnsupportedMediaType, fmt.Errorf("%s: %s", rule.name, why))
}
