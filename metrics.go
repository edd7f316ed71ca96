package presign

import (
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-presign/presign/signers"
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
	answers       *prometheus.CounterVec
	signing       *prometheus.HistogramVec
	verifications *prometheus.CounterVec
	remote        *prometheus.CounterVec   // remote signing calls
	remoteSeconds *prometheus.HistogramVec // their latency
}

// ruleMetrics are one rule's series. Each is created on its first use and
// kept in an atomic slot: a rule that sees no traffic adds no series, and a
// request pays no label lookup once its series exists.
type ruleMetrics struct {
	m       *metrics
	profile string
	rule    string // the rule label: its name, or its path patterns
	answers [len(methodLabels)][numOutcomes]counterSlot
	signing atomic.Pointer[prometheus.Observer]
}

// counterSlot holds a series of caddy_presign_answers_total once it exists.
type counterSlot = atomic.Pointer[prometheus.Counter]

// answerCounter counts one rule's answers to one method.
type answerCounter struct {
	rm     *ruleMetrics
	method int
}

// inc counts an answer with the given outcome.
func (c answerCounter) inc(outcome int) {
	c.rm.inc(&c.rm.answers[c.method][outcome], methodLabels[c.method], outcomeNames[outcome])
}

// counter returns the counter of the rule's answers to method.
func (rm *ruleMetrics) counter(method string) answerCounter {
	return answerCounter{rm, methodIndex(method)}
}

// inc adds one to the series of slot, the rule's series with the given
// method and outcome labels, creating it on first use.
func (rm *ruleMetrics) inc(slot *counterSlot, method, outcome string) {
	c := slot.Load()
	if c == nil {
		c = rm.create(slot, method, outcome)
	}
	(*c).Inc()
}

// create fills slot with the rule's series of method and outcome. Callers
// that race here get the same series: the vector keeps one per labels.
func (rm *ruleMetrics) create(slot *counterSlot, method, outcome string) *prometheus.Counter {
	c := rm.m.answers.WithLabelValues(rm.profile, rm.rule, method, outcome)
	slot.Store(&c)
	return &c
}

// observeSigning records the time spent signing one answer.
func (rm *ruleMetrics) observeSigning(d time.Duration) {
	o := rm.signing.Load()
	if o == nil {
		h := rm.m.signing.WithLabelValues(rm.profile)
		o = &h
		rm.signing.Store(o)
	}
	(*o).Observe(d.Seconds())
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
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy",
			Subsystem: "presign",
			Name:      "verifications_total",
			Help:      "Links checked under a guarded prefix, by profile and outcome (verified, refused, expired).",
		}, []string{"profile", "outcome"}),
		remote: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy",
			Subsystem: "presign",
			Name:      "remote_signatures_total",
			Help:      "Calls of profiles that sign without a key on the host to their remote signer (a KMS, a signing API), by profile and outcome (ok, error, timeout).",
		}, []string{"profile", "outcome"}),
		remoteSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "caddy",
			Subsystem: "presign",
			Name:      "remote_sign_duration_seconds",
			Help:      "Time of each call to a remote signer, the identity's token included, by profile.",
			Buckets:   prometheus.ExponentialBuckets(1e-3, 2, 14), // 1ms to about 8s
		}, []string{"profile"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.answers, err = register(reg, m.answers); err != nil {
		return nil, err
	}
	if m.signing, err = register(reg, m.signing); err != nil {
		return nil, err
	}
	if m.verifications, err = register(reg, m.verifications); err != nil {
		return nil, err
	}
	if m.remote, err = register(reg, m.remote); err != nil {
		return nil, err
	}
	if m.remoteSeconds, err = register(reg, m.remoteSeconds); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c in reg, or returns the collector already there:
// several presign handlers in one config share the collectors.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(c); errors.As(err, &are) {
		return are.ExistingCollector.(C), nil
	} else if err != nil {
		return c, err
	}
	return c, nil
}

// remoteOutcomeNames are the outcome labels of
// caddy_presign_remote_signatures_total.
var remoteOutcomeNames = [signers.NumRemoteOutcomes]string{"ok", "error", "timeout"}

// remoteObserver counts the remote signing calls of one profile. Such a
// call takes milliseconds: the label lookup of each is no cost worth a
// cache, and a profile that makes none adds no series.
type remoteObserver struct {
	m       *metrics
	profile string
}

// ObserveRemote implements signers.RemoteObserver.
func (o remoteObserver) ObserveRemote(outcome signers.RemoteOutcome, took time.Duration) {
	o.m.remote.WithLabelValues(o.profile, remoteOutcomeNames[outcome]).Inc()
	o.m.remoteSeconds.WithLabelValues(o.profile).Observe(took.Seconds())
}

// ruleLabel is the rule label of r's series: its name, or else its path
// patterns, which stay the same when rules are added or moved around it.
func ruleLabel(r *Rule) string {
	if r.Name != "" {
		return r.Name
	}
	return strings.Join(r.Path, " ")
}

// forRule sets up rm for a rule of profile with the given label; its
// series are created as the rule answers.
func (m *metrics) forRule(rm *ruleMetrics, profile, label string) {
	rm.m, rm.profile, rm.rule = m, profile, label
}
