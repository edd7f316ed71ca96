// Package credcache is the credential cache of the profiles, generic over a
// kind's credential.
package credcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
)

// Cache holds a profile's current credential, of whatever type its
// kind signs with (C: AWS credentials, an Azure user delegation key), with
// its expiry. It answers from memory while the credential is valid, starts
// a renewal in the background when its remaining life falls under the
// renew-ahead window (so that requests never wait for a rotation), and
// waits for the source only when it holds nothing valid, at most for
// timeout. One fetch runs at a time, and a failed one is answered for
// signers.CredentialsBackoff before the source is asked again.
//
// The cache keeps the credential's true expiry, which the kinds need to cut
// URL lifetimes to it.
type Cache[C any] struct {
	fetchCred Fetch[C]
	timeout   time.Duration    // the longest a request waits for the source
	ahead     time.Duration    // renew this long before expiry (at most half the lifetime)
	Now       func() time.Time // the clock: time.Now

	cur atomic.Pointer[entry[C]]

	mu       sync.Mutex
	inflight chan struct{} // closed when the running fetch ends; nil when none
	lastErr  error
	errUntil time.Time
}

// Fetch asks a kind's credential source for a fresh credential and
// when it expires (zero: never). Its errors hold no secret.
type Fetch[C any] func(ctx context.Context) (cred C, expires time.Time, err error)

type entry[C any] struct {
	cred      C
	expires   time.Time // zero: never (static credentials)
	refreshAt time.Time // zero: never
}

// valid tells whether e can be used at now.
func (e *entry[C]) valid(now time.Time) bool {
	return e.expires.IsZero() || now.Before(e.expires)
}

// RefreshAhead is the usual renew-ahead window of a credential cache: a
// kind sizes its own from it and its URLs' lifetime.
const RefreshAhead = 5 * time.Minute

func New[C any](fetch Fetch[C], timeout, ahead time.Duration) *Cache[C] {
	return &Cache[C]{fetchCred: fetch, timeout: timeout, ahead: ahead, Now: time.Now}
}

// Get returns a valid credential, or an error wrapping signers.ErrCredentials.
func (c *Cache[C]) Get(ctx context.Context) (C, error) {
	var none C
	e := c.cur.Load()
	if e != nil && e.expires.IsZero() {
		return e.cred, nil // static credentials: no clock needed
	}
	now := c.Now()
	if e != nil && e.valid(now) {
		if !e.refreshAt.IsZero() && !now.Before(e.refreshAt) {
			_, _ = c.start(now) // rotate ahead of expiry; this request uses the current one, whatever the last fetch did
		}
		return e.cred, nil
	}
	done, err := c.start(now)
	if err != nil {
		return none, err
	}
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return none, fmt.Errorf("%w: no answer from the credential provider within %s", signers.ErrCredentials, c.timeout)
	case <-ctx.Done():
		return none, fmt.Errorf("%w: %v", signers.ErrCredentials, ctx.Err())
	}
	if e := c.cur.Load(); e != nil && e.valid(c.Now()) {
		return e.cred, nil
	}
	c.mu.Lock()
	err = c.lastErr
	c.mu.Unlock()
	if err == nil {
		err = fmt.Errorf("%w: the provider gave no valid credentials", signers.ErrCredentials)
	}
	return none, err
}

// start begins a fetch unless one is running or the last one failed less than
// signers.CredentialsBackoff ago (then it returns that failure). It returns a channel closed
// when the fetch ends.
func (c *Cache[C]) start(now time.Time) (<-chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != nil {
		return c.inflight, nil
	}
	if c.lastErr != nil && now.Before(c.errUntil) {
		return nil, c.lastErr
	}
	done := make(chan struct{})
	c.inflight = done
	go c.fetch(done)
	return done, nil
}

// fetch asks the source once. It is bounded by a context of its own, longer
// than the request's wait, so that a hung source frees the slot and a
// later request tries again: the cache recovers by itself. A failure is
// kept without the addresses of the provider's endpoints (endpoint.Scrub:
// an instance metadata service, STS, a token service), as it is logged.
func (c *Cache[C]) fetch(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*c.timeout)
	defer cancel()
	cred, expires, err := c.fetchCred(ctx)
	now := c.Now()
	if err == nil && !expires.IsZero() && !now.Before(expires) {
		err = errors.New("the provider returned expired or empty credentials")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.lastErr = fmt.Errorf("%w: %v", signers.ErrCredentials, endpoint.Scrub(err))
		c.errUntil = now.Add(signers.CredentialsBackoff)
	} else {
		e := &entry[C]{cred: cred, expires: expires}
		if !expires.IsZero() {
			ahead := min(c.ahead, expires.Sub(now)/2)
			e.refreshAt = expires.Add(-ahead)
		}
		c.cur.Store(e)
		c.lastErr = nil
	}
	c.inflight = nil
	close(done)
}
