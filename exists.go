package presign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-presign/presign/signers"
)

// checkExists answers, for a rule with check_exists, whether key may be
// presigned at now: nil when the object exists; a 404 (which Caddy's
// handle_errors renders) when it does not; a 502 or 503 when the store
// cannot tell, never a 404.
func (h *Handler) checkExists(ctx context.Context, w http.ResponseWriter, rule *Rule, key string, now time.Time, count answerCounter) error {
	ok, err := rule.store.Exists(ctx, key, now, time.Duration(rule.CheckExists))
	if err != nil {
		return h.storeFailure(w, rule, count, err)
	}
	if !ok {
		count.inc(outcomeNotFound)
		return caddyhttp.Error(http.StatusNotFound, fmt.Errorf("%s: no object %q", rule.name, key))
	}
	return nil
}

// storeErrorOf is the StoreError that err, the error of a call to a
// profile's store, holds: its status and reason for the client. The
// profiles return nothing else; anything else would be a 502 too.
func storeErrorOf(err error) *signers.StoreError {
	var se *signers.StoreError
	if !errors.As(err, &se) {
		se = &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store failed", Err: err}
	}
	return se
}

// storeFailure answers a failed request to the rule's store with its
// StoreError's status: a refusal the request caused (a key the store
// cannot hold, 400) logged at debug level; the store's failure (502, or
// 503 with Retry-After when the credentials cannot be had) at error level.
// The error that Caddy's error handling sees ({err.message}) holds the
// rule and the reason only: the store's error, which may name its internal
// address, the bucket or an upload, goes to the log.
func (h *Handler) storeFailure(w http.ResponseWriter, rule *Rule, count answerCounter, err error) error {
	se := storeErrorOf(err)
	fields := []zap.Field{zap.String("rule", rule.name), zap.String("profile", rule.Profile), zap.Int("status", se.Status), zap.Error(err)}
	switch {
	case se.Status < 500:
		count.inc(outcomeBadKey)
		if ce := h.logger.Check(zapcore.DebugLevel, "store refused the request"); ce != nil {
			ce.Write(fields...)
		}
	case se.Status == http.StatusServiceUnavailable:
		count.inc(outcomeUnavailable)
		w.Header().Set("Retry-After", retryAfter)
		h.logger.Error("store request failed", fields...)
	default:
		count.inc(outcomeStoreError)
		h.logger.Error("store request failed", fields...)
	}
	return caddyhttp.Error(se.Status, fmt.Errorf("%s: %s", rule.name, se.Reason))
}
