package presign

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// maxContentType bounds the Content-Type of an upload, as S3 bounds
// header values well above any real media type.
const maxContentType = 255

// checkContentType tells whether v may be the Content-Type of an upload
// under content_type_prefix prefix: one media type, parsed as
// mime.ParseMediaType does (type/subtype and parameters; no list, no
// control or non-ASCII character), whose lower-cased type/subtype starts
// with the lower-cased prefix. It returns "" when it may, else why not, and
// whether v is malformed rather than another type. Every place that checks
// an upload's type (uppy's create and s3/params, PUT) calls it, so that
// "video/mp4,text/html" is one answer everywhere.
func checkContentType(v, prefix string) (why string, malformed bool) {
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
	if !strings.HasPrefix(mt, strings.ToLower(prefix)) {
		return "content type must start with " + prefix, false
	}
	return "", false
}

// uploadType is the Content-Type of r, a PUT of a rule with
// content_type_prefix, once checked: a missing or other type is 415, a
// malformed one (or two Content-Type headers) 400.
func uploadType(r *http.Request, rule *Rule) (string, error) {
	v := r.Header.Values("Content-Type")
	if len(v) > 1 {
		return "", caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("%s: more than one Content-Type", rule.name))
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
