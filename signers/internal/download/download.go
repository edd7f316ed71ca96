// Package download is the response overrides of downloads
// (Content-Disposition and the like).
package download

import (
	"strings"
	"unicode/utf8"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// ResponseOverrides are the response-* parameters of a download.
func ResponseOverrides(o *signers.Options, key string) []escape.QueryParam {
	if o.ContentDisposition == "" && o.ContentType == "" && o.CacheControl == "" {
		return nil
	}
	q := make([]escape.QueryParam, 0, 3)
	if o.CacheControl != "" {
		q = append(q, escape.QueryParam{Name: "response-cache-control", Value: o.CacheControl})
	}
	if o.ContentDisposition != "" {
		q = append(q, escape.QueryParam{Name: "response-content-disposition", Value: ContentDisposition(o.ContentDisposition, key)})
	}
	if o.ContentType != "" {
		q = append(q, escape.QueryParam{Name: "response-content-type", Value: o.ContentType})
	}
	return q
}

// ContentDisposition returns a Content-Disposition value of the given type
// ("attachment" or "inline") that names the file after the key's last
// segment: a quoted ASCII filename, and for other names also the RFC 6266
// filename* parameter (UTF-8, percent-encoded) that browsers prefer.
func ContentDisposition(typ, key string) string {
	name := key[strings.LastIndexByte(key, '/')+1:]
	b := make([]byte, 0, len(typ)+len(name)+16)
	b = append(b, typ...)
	b = append(b, `; filename="`...)
	ascii := true
	for _, r := range name {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\')
			b = utf8.AppendRune(b, r)
		case r < 0x20 || r == 0x7f:
			b = append(b, '_')
		case r >= 0x80:
			ascii = false
			b = append(b, '_')
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	b = append(b, '"')
	if !ascii {
		b = append(b, "; filename*=UTF-8''"...)
		b = escape.Append(b, name, &escape.Unreserved)
	}
	return string(b)
}
