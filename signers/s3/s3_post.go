package s3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/caddy-presign/presign/signers"
)

// signPOST builds an S3 POST policy form for exactly r.Key. The client
// posts the returned fields (with r.ContentType, a Content-Type field; else
// a Content-Type field of its own, of any value), then the file, last, as
// multipart/form-data to the returned URL.
func (s *S3) signPOST(r *signers.Request, creds aws.Credentials, expiresAt time.Time) (*signers.Signed, error) {
	date := r.SignTime.UTC().Format("20060102T150405Z")
	credential := creds.AccessKeyID + "/" + date[:8] + "/" + s.Region + "/s3/aws4_request"
	fields := map[string]string{
		"key":              r.Key,
		"x-amz-algorithm":  "AWS4-HMAC-SHA256",
		"x-amz-credential": credential,
		"x-amz-date":       date,
	}
	conds := []any{
		map[string]string{"bucket": s.Bucket},
		[]string{"eq", "$key", r.Key},
		map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": credential},
		map[string]string{"x-amz-date": date},
	}
	if creds.SessionToken != "" {
		fields["x-amz-security-token"] = creds.SessionToken
		conds = append(conds, map[string]string{"x-amz-security-token": creds.SessionToken})
	}
	if r.Options.MaxSize > 0 {
		conds = append(conds, []any{"content-length-range", 0, r.Options.MaxSize})
	}
	// S3 refuses every form field that no condition covers: without a
	// condition on it, a form could not set the object's Content-Type at
	// all. The form must therefore carry a Content-Type field: the type
	// the handler checked when there is one (a prefix cannot be trusted:
	// image/svg+xml starts with image/), else of any value.
	if r.ContentType != "" {
		fields["Content-Type"] = r.ContentType
		conds = append(conds, []string{"eq", "$Content-Type", r.ContentType})
	} else {
		conds = append(conds, []string{"starts-with", "$Content-Type", ""})
	}
	policy, err := json.Marshal(map[string]any{
		"expiration": expiresAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"conditions": conds,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the POST policy: %v", err)
	}
	b64 := base64.StdEncoding.EncodeToString(policy)
	fields["policy"] = b64
	key := signingKey(creds.SecretAccessKey, date[:8], s.Region, "s3")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(b64))
	fields["x-amz-signature"] = hex.EncodeToString(mac.Sum(nil))
	return &signers.Signed{URL: s.origin + "/", ExpiresAt: expiresAt, Fields: fields}, nil
}
