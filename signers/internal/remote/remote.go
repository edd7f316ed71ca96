// Package remote calls a remote signer, for the kinds that sign without a
// private key on the host (cloudfront through AWS KMS, gcs through the IAM
// Credentials API): one call per message at a time, bounded, backed off
// after a failure, and told to the profile's metrics.
package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/caddy-presign/presign/signers"
)

// Call signs msg remotely within ctx, which carries the signer's timeout.
// Its error is the cause alone: Signer.Sign says what failed.
type Call func(ctx context.Context, msg []byte) ([]byte, error)

// Signer signs messages through a Call. Concurrent requests for the same
// message share one call (single flight); after a failed call, requests
// fail at once for signers.CredentialsBackoff, as with unavailable
// credentials, so that a signer in trouble is not asked once per request.
// Its errors wrap signers.ErrCredentials: a remote signer down, slow or
// refusing passes, and is answered 503.
type Signer struct {
	what     string // the call, for errors: "kms:Sign with <key>"
	timeout  time.Duration
	call     Call
	observer signers.RemoteObserver
	flight   singleflight.Group // by message: Sign
	answers  singleflight.Group // by the kind's cache key: Once

	mu       sync.Mutex
	failedAt time.Time
	lastErr  error
}

// New returns a Signer that makes call, named what in errors, within
// timeout.
func New(what string, timeout time.Duration, call Call) *Signer {
	return &Signer{what: what, timeout: timeout, call: call, observer: unobserved{}}
}

// SetRemoteObserver implements signers.RemoteSigner for the kind that
// holds s: o is told of each call from now on.
func (s *Signer) SetRemoteObserver(o signers.RemoteObserver) { s.observer = o }

// unobserved is the observer of a Signer that the handler has not given
// one (a profile loaded on its own).
type unobserved struct{}

func (unobserved) ObserveRemote(signers.RemoteOutcome, time.Duration) {}

// Once runs fresh once among the concurrent callers with the same key and
// gives each its result. A kind wraps in it the look-up of its own cache,
// Sign and the store into that cache: a request that comes as a call ends
// then finds the answer cached, where a flight around Sign alone ends
// before the kind stores the answer, and a request in between calls again.
func (s *Signer) Once(key string, fresh func() (any, error)) (any, error) {
	v, err, _ := s.answers.Do(key, fresh)
	return v, err
}

// Sign returns msg's signature; calls for the same msg at once share one
// call, which outlives a caller that goes away (others may wait for it).
func (s *Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	s.mu.Lock()
	if err := s.lastErr; err != nil && time.Since(s.failedAt) < signers.CredentialsBackoff {
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	v, err, _ := s.flight.Do(string(msg), func() (any, error) {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		start := time.Now()
		sig, err := s.call(ctx, msg)
		outcome := signers.RemoteOK
		if err != nil {
			outcome = signers.RemoteError
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				outcome = signers.RemoteTimeout
				err = fmt.Errorf("no answer within %s", s.timeout)
			}
		}
		s.observer.ObserveRemote(outcome, time.Since(start))
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.failedAt, s.lastErr = time.Now(), fmt.Errorf("%w: %s: %v", signers.ErrCredentials, s.what, err)
			return nil, s.lastErr
		}
		s.lastErr = nil
		return sig, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}
