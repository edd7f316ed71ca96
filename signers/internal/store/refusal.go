package store

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-presign/presign/signers"
)

// Refusal classifies an answer of the store other than the one asked for,
// from what the kind read of it: its HTTP status, the store's error code
// ("" when it named none) and what happened (err, for the log). names is
// the kind's table: whether a 4xx with that code names the request. Only
// then is it the request's doing (400); 401 and 403 (Caddy's own
// credentials refused) and everything else are the store's (502). The
// code is shown only when it is a plain token, never the store's text.
func Refusal(status int, code string, names func(status int, code string) bool, err error) *signers.StoreError {
	if strings.ContainsFunc(code, func(r rune) bool { return r <= ' ' || r > '~' }) || len(code) > 64 {
		code = ""
	}
	if status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusForbidden && names(status, code) {
		return &signers.StoreError{Status: http.StatusBadRequest, Reason: "the store refused the request: " + orStatus(code, status), Err: err}
	}
	return &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store refused: " + orStatus(code, status), Err: err}
}

// orStatus is code, or the status when the store named no code.
func orStatus(code string, status int) string {
	if code == "" {
		return strconv.Itoa(status)
	}
	return code
}

// NoETag is the 502 of a 200 to an existence check without an ETag: a
// store's answer about an object always has one, a proxy's page does not.
func NoETag(what string) *signers.StoreError {
	return &signers.StoreError{
		Status: http.StatusBadGateway, Reason: "the store answered something other than an object",
		Err: fmt.Errorf("%s answered 200 without an ETag", what),
	}
}
