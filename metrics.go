package presign

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// The outcomes counted in caddy_presign_answers_total.
const (
	outcomeSigned      = iota // a redirect, JSON or POST form
	outcomeBadKey             // 400
	outcomeNotAllowed         // 405
	outcomeUnavailable        // 503: credentials could not be had
	outcomeError              // 500
	outcomeListed             // browse: a page of a listing
	outcomeNotFound           // check_exists: 404
	outcomeStoreError         // 502: the store failed a listing or a check
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"signed", "bad_key", "method_not_allowed", "unavailable", "error", "listed", "not_found", "store_error"}

// methodLabels bounds the method label: clients choose the method, and a
// metric label must not let them create series at will.
var methodLabels = [...]string{"GET", "HEAD", "PUT", "POST", "DELETE", "other"}

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "PUT":
		return 2
	case "POST":
		return 3
	case "DELETE":
		return 4
	}
	return 5
}

// metrics are the handler's Prometheus collectors, in Caddy's registry
// (served by Caddy's metrics endpoint with its own).
type metrics struct {
	answers *prometheus.CounterVec
	signing *prometheus.HistogramVec
}

// ruleMetrics are one rule's collectors, resolved at start so that a request
// pays no label lookup.
type ruleMetrics struct {
	answers [len(methodLabels)][numOutcomes]prometheus.Counter
	signing prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy",
			Subsystem: "presign",
			Name:      "answers_total",
			Help:      "Answers of the presign handler by profile, rule, method and outcome (signed, bad_key, method_not_allowed, unavailable, error, listed, not_found, store_error; uppy calls: method uppy_*, outcome ok, bad_request, forbidden, not_found, too_large, unavailable, store_error, error).",
		}, []string{"profile", "rule", "method", "outcome"}),
		signing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "caddy",
			Subsystem: "presign",
			Name:      "sign_duration_seconds",
			Help:      "Time spent signing one answer (credentials and signature), by profile.",
			Buckets:   prometheus.ExponentialBuckets(1e-6, 4, 11), // 1µs to about 1s
		}, []string{"profile"}),
	}
	if reg == nil {
		return m, nil
	}
	// several presign handlers in one config share the collectors
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(m.answers); errors.As(err, &are) {
		m.answers = are.ExistingCollector.(*prometheus.CounterVec)
	} else if err != nil {
		return nil, err
	}
	if err := reg.Register(m.signing); errors.As(err, &are) {
		m.signing = are.ExistingCollector.(*prometheus.HistogramVec)
	} else if err != nil {
		return nil, err
	}
	return m, nil
}

// forRule resolves a rule's collectors.
func (m *metrics) forRule(profile, rule string) *ruleMetrics {
	rm := &ruleMetrics{signing: m.signing.WithLabelValues(profile)}
	for i, method := range methodLabels {
		for o, outcome := range outcomeNames {
			rm.answers[i][o] = m.answers.WithLabelValues(profile, rule, method, outcome)
		}
	}
	return rm
}
