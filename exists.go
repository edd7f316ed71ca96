package presign

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// checkExists answers, for a rule with check_exists, whether key may be
// presigned at now: nil when the object exists; a 404 (which Caddy's
// handle_errors renders) when it does not; a 502 or 503 when the store
// cannot tell, never a 404.
func (h *Handler) checkExists(ctx context.Context, w http.ResponseWriter, rule *Rule, key string, now time.Time, count answerCounter) error {
	ok, err := rule.exists.Exists(ctx, key, now, time.Duration(rule.CheckExists))
	if err != nil {
		return h.fail(w, rule, count, err, true)
	}
	if !ok {
		count.inc(outcomeNotFound)
		return caddyhttp.Error(http.StatusNotFound, fmt.Errorf("%s: no object %q", rule.name, key))
	}
	return nil
}
