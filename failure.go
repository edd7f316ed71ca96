package presign

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-presign/presign/signers"
)

// retryAfter is the Retry-After of 503 answers: the credential cache's
// backoff, after which it asks the provider again, in whole seconds.
var retryAfter = strconv.FormatInt(int64((signers.CredentialsBackoff+time.Second-1)/time.Second), 10)

// failure is the answer to a request that failed: its status, a short
// reason for the client that holds no secret, and the error for the log.
type failure struct {
	status int
	reason string
	err    error
}

// failureOf maps err, an error of signing or (fromStore) of a call to
// the profile's store, to its answer: a StoreError's own status and reason
// (the store unreachable 502, a missing upload 404, a bad part or a
// refusal the request caused 400, no credentials 503: every kind's Store
// classifies its answers into that one contract, see signers.StoreError); 503 when credentials cannot be had
// (signers.ErrCredentials); else 502 for a store's call, which the
// profiles never return, and 500 for signing, which is a bug.
func failureOf(err error, fromStore bool) failure {
	var se *signers.StoreError
	switch {
	case errors.As(err, &se):
		return failure{status: se.Status, reason: se.Reason, err: err}
	case errors.Is(err, signers.ErrCredentials):
		return failure{status: http.StatusServiceUnavailable, reason: "credentials unavailable", err: err}
	case fromStore:
		return failure{status: http.StatusBadGateway, reason: "the store failed", err: err}
	}
	return failure{status: http.StatusInternalServerError, reason: "internal error", err: err}
}

// fail answers a request of a rule's redirects, browse or check_exists
// that failed with err (fromStore: in a call to the rule's store): it
// counts the outcome, answers as failure.answer does, and returns the
// error that Caddy's error handling answers with. A store's error may name
// its internal address, the bucket or an upload: that error holds the
// rule and the reason only, the store's error goes to the log.
func (h *Handler) fail(w http.ResponseWriter, rule *Rule, count answerCounter, err error, fromStore bool) error {
	f := failureOf(err, fromStore)
	count.inc(f.outcome())
	if !fromStore {
		f.answer(h, w, rule, "cannot presign", "")
		return caddyhttp.Error(f.status, fmt.Errorf("%s: %w", rule.name, err))
	}
	f.answer(h, w, rule, "store request failed", "store refused the request")
	return caddyhttp.Error(f.status, fmt.Errorf("%s: %s", rule.name, f.reason))
}

// answer does for f what every failed request's answer does, whichever
// part of the handler it fails in (redirects, browse, check_exists, uppy):
// a 503 says when to try again (Retry-After); a 5xx, the store's or ours,
// is logged at error level as failed, a refusal the request caused (4xx)
// at debug level as refused; both with the rule, the profile, the status,
// the reason, the given fields and the error.
func (f *failure) answer(h *Handler, w http.ResponseWriter, rule *Rule, failed, refused string, fields ...zap.Field) {
	if f.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	if f.status >= 500 {
		h.logger.Error(failed, f.fields(rule, fields)...)
	} else if ce := h.logger.Check(zapcore.DebugLevel, refused); ce != nil {
		ce.Write(f.fields(rule, fields)...)
	}
}

// fields are the log fields of f for rule, with extra ones before the
// error.
func (f *failure) fields(rule *Rule, extra []zap.Field) []zap.Field {
	fs := append([]zap.Field{
		zap.String("rule", rule.name), zap.String("profile", rule.Profile),
		zap.Int("status", f.status), zap.String("reason", f.reason),
	}, extra...)
	if f.err != nil {
		fs = append(fs, zap.Error(f.err))
	}
	return fs
}

// outcome is the outcome of a rule's answer that f is, for its metrics.
func (f *failure) outcome() int {
	switch {
	case f.status == http.StatusServiceUnavailable:
		return outcomeUnavailable
	case f.status == http.StatusInternalServerError:
		return outcomeError
	case f.status < 500:
		return outcomeBadKey // a refusal the request caused
	}
	return outcomeStoreError
}
