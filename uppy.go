package presign

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-presign/presign/signers"
)

// Uppy's S3 protocol (@uppy/aws-s3 with companionEndpoint), answered by
// rules with the uppy option under their path after strip_prefix:
//
//	GET    s3/params?filename=F&type=T          POST policy form (one request)
//	POST   s3/multipart {filename,type,metadata} CreateMultipartUpload
//	GET    s3/multipart/{id}/{n}?key=K          UploadPart presigned for PUT
//	GET    s3/multipart/{id}/batch?key=K&partNumbers=1,2
//	GET    s3/multipart/{id}?key=K              ListParts, every page
//	POST   s3/multipart/{id}/complete?key=K {parts:[{PartNumber,ETag}]}
//	DELETE s3/multipart/{id}?key=K              AbortMultipartUpload
//
// No state is kept between calls: a key sent by the client is accepted
// only when the rule's template could have produced it for this request.

// S3's limits of multipart uploads.
const (
	maxParts    = 10000
	maxUploadID = 1024
)

// The calls of the protocol, the method label of their answers.
const (
	uppyParams = iota
	uppyCreate
	uppySignPart
	uppyBatch
	uppyList
	uppyComplete
	uppyAbort
	uppyUnknown // a path or method that is none of the above
	numUppyCalls
)

var uppyCallNames = [numUppyCalls]string{"uppy_params", "uppy_create", "uppy_sign_part", "uppy_sign_batch",
	"uppy_list", "uppy_complete", "uppy_abort", "uppy_unknown"}

// The outcomes of uppy calls, by the status of the answer.
const (
	uppyOK = iota
	uppyBadRequest
	uppyForbidden
	uppyNotFound
	uppyTooLarge
	uppyUnavailable
	uppyStoreError
	uppyFailed
	numUppyOutcomes
)

var uppyOutcomeNames = [numUppyOutcomes]string{"ok", "bad_request", "forbidden", "not_found", "too_large",
	"unavailable", "store_error", "error"}

func uppyOutcome(status int) int {
	switch {
	case status < 300:
		return uppyOK
	case status == http.StatusForbidden:
		return uppyForbidden
	case status == http.StatusNotFound:
		return uppyNotFound
	case status == http.StatusRequestEntityTooLarge:
		return uppyTooLarge
	case status == http.StatusServiceUnavailable:
		return uppyUnavailable
	case status == http.StatusBadGateway:
		return uppyStoreError
	case status < 500:
		return uppyBadRequest
	}
	return uppyFailed
}

// uppyRule is what a rule with the uppy option needs beyond a rule.
type uppyRule struct {
	mp      signers.Multipart
	answers [numUppyCalls][numUppyOutcomes]counterSlot // see ruleMetrics
}

// provisionUppy checks a rule with the uppy option and prepares it, before
// the rule's defaults are filled; its key's default is
// "{presign.uuid}/{presign.filename}".
func (r *Rule) provisionUppy() error {
	mp, ok := r.signer.(signers.Multipart)
	if !ok {
		return fmt.Errorf("profile %q cannot run uppy uploads (S3 profiles can)", r.Profile)
	}
	if r.Key == "" {
		r.Key = uuidPlaceholder + "/" + filenamePlaceholder
	}
	if strings.Contains(r.Key, pathPlaceholder) {
		return fmt.Errorf("the key of an uppy rule cannot use %s (the protocol's paths); use %s and %s", pathPlaceholder, filenamePlaceholder, uuidPlaceholder)
	}
	if r.Stable != 0 || r.Respond != "" || r.Status != 0 || len(r.Methods) != 0 {
		return errors.New("methods, stable, respond and status do not apply to an uppy rule")
	}
	r.uppy = &uppyRule{mp: mp}
	return nil
}

// checkFilename returns why name cannot be {presign.filename}, or "" when
// it can: one key segment, valid UTF-8, not empty, ".", or "..", without
// "/", "\" or control characters.
func checkFilename(name string) string {
	if strings.IndexByte(name, '/') >= 0 {
		return "slash in file name"
	}
	if why := checkKey(name); why != "" {
		return strings.Replace(strings.Replace(why, "key", "file name", 1), "dot segment in", ". or .. as", 1)
	}
	return ""
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// validUUID tells whether s is shaped as newUUID makes them.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// validUploadID accepts the upload IDs of S3 and S3-compatible stores:
// 1 to 1024 bytes of letters, digits and ._~+=-.
func validUploadID(id string) bool {
	if id == "" || len(id) > maxUploadID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._~+=-", c) >= 0) {
			return false
		}
	}
	return true
}

// parsePartNumber parses a part number, 1 to 10000; 0 when it is not one.
func parsePartNumber(s string) int32 {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxParts {
		return 0
	}
	return int32(n)
}

// userMetadata keeps of Uppy's metadata what S3 stores as x-amz-meta-*:
// names of letters, digits, '-' and '_' (lower-cased), string or number
// values of printable ASCII, 2 KB in all (S3's limit); the rest is left out.
func userMetadata(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	size := 0
	for k, v := range m {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			continue
		}
		k = strings.ToLower(k)
		if k == "" || !metaName(k) || !printableASCII(s) || size+len(k)+len(s) > 2048 {
			continue
		}
		size += len(k) + len(s)
		out[k] = s
	}
	return out
}

func metaName(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
