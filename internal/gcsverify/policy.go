package gcsverify

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A V4 POST policy form, from Google's documentation ("Upload an object
// with HTML forms" and "Policy document" of Cloud Storage's XML API): a
// multipart/form-data POST to the bucket's URL whose fields are key,
// policy (the base64 of a JSON document: an expiration and conditions),
// x-goog-algorithm, x-goog-credential, x-goog-date, x-goog-signature
// (the hex RSA-SHA256 signature of the base64 policy), whatever else the
// upload sets (Content-Type, success_action_status, x-goog-meta-*, ...),
// and the file last.

// PolicySignature checks the signature of a V4 POST policy: signature is
// the hex RSA PKCS #1 v1.5 signature, under pub, of the SHA-256 of policy
// as sent (its base64, not the JSON it encodes).
func PolicySignature(pub *rsa.PublicKey, policy, signature string) error {
	sig, err := hex.DecodeString(signature)
	if err != nil || len(sig) == 0 {
		return Error("x-goog-signature is not hex")
	}
	digest := sha256.Sum256([]byte(policy))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return Error("the policy's signature does not verify: " + err.Error())
	}
	return nil
}

// PolicyError is a refused POST policy form, with the status and the
// error code Cloud Storage answers it with: 400 for a form or policy it
// cannot read and for a file outside content-length-range
// (EntityTooSmall, EntityTooLarge), 403 for the rest.
type PolicyError struct {
	Status  int
	Code    string
	Message string
}

func (e *PolicyError) Error() string { return e.Code + ": " + e.Message }

func refused(msg string) *PolicyError {
	return &PolicyError{http.StatusForbidden, "AccessDenied", "Invalid according to Policy: " + msg}
}

func badForm(code, msg string) *PolicyError {
	return &PolicyError{http.StatusBadRequest, code, msg}
}

// formExempt are the fields that no condition needs to cover.
var formExempt = map[string]bool{"policy": true, "x-goog-signature": true, "file": true}

// VerifyPolicy checks a V4 POST policy form as Cloud Storage does before
// it stores the file: fields are the form's fields but the file, by their
// names as sent (which compare without regard to case, so that two names
// that differ only in case are a malformed form); bucket is the one the
// form was posted to and size the file's length. It checks, in this order:
//
//   - the algorithm is GOOG4-RSA-SHA256 and the signature of the policy
//     verifies under pub (PolicySignature);
//   - x-goog-credential is email's for the day of x-goog-date, region
//     "auto", service "storage";
//   - the policy is valid at now: signed at most a minute in the future,
//     not expired, and expiring at most 7 days after x-goog-date;
//   - every condition holds: {"field": value} and ["eq", "$field",
//     value] an exact match, ["starts-with", "$field", prefix] a prefix,
//     ["content-length-range", min, max] size (a missing field is empty;
//     "bucket" is the bucket posted to, and a bucket field must name it
//     too);
//   - every field but policy, x-goog-signature and those named
//     x-ignore-* is the subject of a condition.
//
// It returns nil or a *PolicyError.
func VerifyPolicy(pub *rsa.PublicKey, email, bucket string, fields map[string]string, size int64, now time.Time) error {
	form := make(map[string]string, len(fields))
	for name, value := range fields {
		lower := strings.ToLower(name)
		if _, dup := form[lower]; dup {
			return badForm("InvalidArgument", "the form field "+lower+" is given twice")
		}
		form[lower] = value
	}
	policy, ok := form["policy"]
	if !ok || form["x-goog-signature"] == "" {
		return &PolicyError{http.StatusForbidden, "AccessDenied", "the form carries no policy or no x-goog-signature"}
	}
	if form["x-goog-algorithm"] != "GOOG4-RSA-SHA256" {
		return badForm("InvalidArgument", "x-goog-algorithm is not GOOG4-RSA-SHA256")
	}
	if err := PolicySignature(pub, policy, form["x-goog-signature"]); err != nil {
		return &PolicyError{http.StatusForbidden, "SignatureDoesNotMatch", err.Error()}
	}
	date, err := credential(form["x-goog-credential"], email, form["x-goog-date"])
	if err != nil {
		return &PolicyError{http.StatusForbidden, "AccessDenied", err.Error()}
	}
	doc, err := base64.StdEncoding.DecodeString(policy)
	if err != nil {
		return badForm("InvalidPolicyDocument", "the policy is not base64")
	}
	var p struct {
		Conditions []json.RawMessage `json:"conditions"`
		Expiration string            `json:"expiration"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return badForm("InvalidPolicyDocument", "the policy is not a JSON document: "+err.Error())
	}
	expiration, err := time.Parse(time.RFC3339, p.Expiration)
	if err != nil {
		return badForm("InvalidPolicyDocument", "the policy's expiration is not an ISO 8601 time")
	}
	switch {
	case now.Before(date.Add(-time.Minute)):
		return refused("signed in the future")
	case !now.Before(expiration):
		return refused("Policy expired.")
	case expiration.Sub(date) > 7*24*time.Hour:
		return refused("the policy expires more than 7 days after x-goog-date")
	}
	if b, given := form["bucket"]; given && b != bucket {
		return refused("the bucket field names another bucket than the form was posted to")
	}
	value := func(field string) string {
		if field == "bucket" {
			return bucket
		}
		return form[field]
	}
	covered := map[string]bool{}
	for _, raw := range p.Conditions {
		field, err := condition(raw, value, size)
		if err != nil {
			return err
		}
		covered[field] = true
	}
	for name := range form {
		if !covered[name] && !formExempt[name] && !strings.HasPrefix(name, "x-ignore-") {
			return refused("Extra input fields: " + name)
		}
	}
	return nil
}

// condition checks one condition of a policy, raw as the policy holds it,
// against the form's field values and the file's size, and returns the
// field it is about ("" for content-length-range).
func condition(raw json.RawMessage, value func(string) string, size int64) (string, *PolicyError) {
	failed := func() *PolicyError { return refused("Policy Condition failed: " + string(raw)) }
	malformed := func() *PolicyError {
		return badForm("InvalidPolicyDocument", "the policy condition "+string(raw)+" is not one Cloud Storage knows")
	}
	switch {
	case bytes.HasPrefix(raw, []byte("{")):
		var exact map[string]string
		if json.Unmarshal(raw, &exact) != nil || len(exact) != 1 {
			return "", malformed()
		}
		for field, want := range exact { // the one
			field = strings.ToLower(field)
			if value(field) != want {
				return "", failed()
			}
			return field, nil
		}
	case bytes.HasPrefix(raw, []byte("[")):
		var parts []json.RawMessage
		var op string
		if json.Unmarshal(raw, &parts) != nil || len(parts) != 3 || json.Unmarshal(parts[0], &op) != nil {
			return "", malformed()
		}
		if strings.ToLower(op) == "content-length-range" {
			lo, err1 := strconv.ParseInt(string(parts[1]), 10, 64)
			hi, err2 := strconv.ParseInt(string(parts[2]), 10, 64)
			switch {
			case err1 != nil || err2 != nil || lo < 0 || hi < lo:
				return "", malformed()
			case size < lo:
				return "", badForm("EntityTooSmall", "Your proposed upload is smaller than the minimum object size specified in your Policy Document.")
			case size > hi:
				return "", badForm("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
			}
			return "", nil
		}
		var subject, want string
		if json.Unmarshal(parts[1], &subject) != nil || json.Unmarshal(parts[2], &want) != nil || !strings.HasPrefix(subject, "$") {
			return "", malformed()
		}
		field := strings.ToLower(subject[1:])
		switch strings.ToLower(op) {
		case "eq":
			if value(field) != want {
				return "", failed()
			}
		case "starts-with":
			if !strings.HasPrefix(value(field), want) {
				return "", failed()
			}
		default:
			return "", malformed()
		}
		return field, nil
	}
	return "", malformed()
}
