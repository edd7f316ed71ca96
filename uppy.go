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

// Uppy's upload protocol (the @uppy/aws-s3 plugin with companionEndpoint;
// its paths say s3, whatever the store), answered by rules with the uppy
// option under their path after strip_prefix, for a profile whose kind
// runs multipart uploads (signers.Multipart, within its MultipartLimits):
//
//	GET    s3/params?filename=F&type=T          POST policy form (one request)
//	POST   s3/multipart {filename,type,metadata} start a multipart upload
//	GET    s3/multipart/{id}/{n}?key=K          a part's PUT, presigned
//	GET    s3/multipart/{id}/batch?key=K&partNumbers=1,2
//	GET    s3/multipart/{id}?key=K              the parts so far, every page
//	POST   s3/multipart/{id}/complete?key=K {parts:[{PartNumber,ETag}]}
//	DELETE s3/multipart/{id}?key=K              abort the upload
//
// No state is kept between calls: a key sent by the client is accepted
// only when the rule's template could have produced it for this request.

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

var uppyCallNames = [numUppyCalls]string{
	"uppy_params", "uppy_create", "uppy_sign_part", "uppy_sign_batch",
	"uppy_list", "uppy_complete", "uppy_abort", "uppy_unknown",
}

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

var uppyOutcomeNames = [numUppyOutcomes]string{
	"ok", "bad_request", "forbidden", "not_found", "too_large",
	"unavailable", "store_error", "error",
}

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
	limits  signers.MultipartLimits                    // mp's
	answers [numUppyCalls][numUppyOutcomes]counterSlot // see ruleMetrics
}

// provisionUppy checks a rule with the uppy option and prepares it, before
// the rule's defaults are filled; its key's default is
// "{presign.uuid}/{presign.filename}".
func (r *Rule) provisionUppy() error {
	mp, ok := r.signer.(signers.Multipart)
	if !ok {
		return fmt.Errorf("profile %q cannot run uppy uploads: its kind has no multipart uploads", r.Profile)
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
	r.uppy = &uppyRule{mp: mp, limits: mp.MultipartLimits()}
	return nil
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

// parsePartNumber parses a part number, 1 to highest; 0 when it is not
// one.
func parsePartNumber(s string, highest int32) int32 {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 || n > int64(highest) {
		return 0
	}
	return int32(n)
}

// userMetadata keeps of Uppy's metadata the entries with a string or
// number value that the store can keep, as its limits say, within its
// size in all; the rest is left out.
func userMetadata(m map[string]any, limits *signers.MultipartLimits) map[string]string {
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
		name, ok := limits.MetadataName(k)
		if !ok || !limits.ValidMetadataValue(s) || size+len(name)+len(s) > limits.MaxMetadataSize {
			continue
		}
		size += len(name) + len(s)
		out[name] = s
	}
	return out
}
