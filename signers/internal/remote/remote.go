// Package remote calls a remote signer, for the kinds that sign without a
// private key on the host (cloudfront through AWS KMS, gcs through the IAM
// Credentials API): calls shared among the requests that need the same
// signature, bounded, backed off after a failure, and told to the
// profile's metrics.
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
// answer share one call (single flight, Once); after a failed call,
// requests fail at once for signers.CredentialsBackoff, as with
// unavailable credentials, so that a signer in trouble is not asked once
// per request. Its errors wrap signers.ErrCredentials: a remote signer
// down, slow or refusing passes, and is answered 503.
type Signer struct {
	what     string // the call, for errors: "kms:Sign with <key>"
	timeout  time.Duration
	call     Call
	observer signers.RemoteObserver
	flight   singleflight.Group // by the kind's key: Once

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
// gives each its result, errors included; it keeps nothing once fresh
// returns. It is how calls are shared: a kind wraps in it the look-up of
// its own cache, Sign and the store into that cache, so that a request
// that comes as a call ends finds the answer cached (a flight around Sign
// alone would end before the kind stores the answer, and a request in
// between would call again). The key names the answer, and one key always
// names answers of one type.
func (s *Signer) Once(key string, fresh func() (any, error)) (any, error) {
	v, err, _ := s.flight.Do(key, fresh)
	return v, err
}

// Sign returns msg's signature from one call, within the timeout, or the
// error of the last failed call within signers.CredentialsBackoff of it,
// without a call. The call outlives a caller that goes away: the others of
// its Once may wait for it.
func (s *Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	s.mu.Lock()
	if err := s.lastErr; err != nil && time.Since(s.failedAt) < signers.CredentialsBackoff {
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
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
}
