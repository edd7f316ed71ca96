package signers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// credCache holds a provider's current credentials. It answers from memory
// while they are valid, starts a refresh in the background when their
// remaining life falls under the refresh-ahead window (so that requests never
// wait for a rotation), and waits for the provider only when it holds nothing
// valid, at most for timeout.
//
// The SDK's aws.CredentialsCache is not used on top of providers built here
// because it reports Expires moved earlier by its refresh window, and the
// handler needs the credentials' true expiry to cut URL lifetimes to it.
type credCache struct {
	provider aws.CredentialsProvider
	timeout  time.Duration // the longest a request waits for the provider
	ahead    time.Duration // refresh this long before expiry (at most half the lifetime)
	now      func() time.Time

	cur atomic.Pointer[credEntry]

	mu       sync.Mutex
	inflight chan struct{} // closed when the running fetch ends; nil when none
	lastErr  error
	errUntil time.Time
}

type credEntry struct {
	creds     aws.Credentials
	refreshAt time.Time // zero: never (static credentials)
}

// refreshAhead is the usual renew-ahead window of a credential cache: a
// kind sizes its own from it and its URLs' lifetime.
const refreshAhead = 5 * time.Minute

// CredentialsBackoff is how long after a failed fetch of credentials a
// profile answers requests with that failure (ErrCredentials) before it asks
// the provider again. The handler's 503 answers say it in Retry-After.
const CredentialsBackoff = time.Second

func newCredCache(p aws.CredentialsProvider, timeout, ahead time.Duration) *credCache {
	return &credCache{provider: p, timeout: timeout, ahead: ahead, now: time.Now}
}

// Get returns valid credentials, or an error wrapping ErrCredentials.
func (c *credCache) Get(ctx context.Context) (aws.Credentials, error) {
	e := c.cur.Load()
	if e != nil && !e.creds.CanExpire {
		return e.creds, nil // static credentials: no clock needed
	}
	now := c.now()
	if e != nil && valid(&e.creds, now) {
		if !e.refreshAt.IsZero() && !now.Before(e.refreshAt) {
			c.start(now) // rotate ahead of expiry; this request uses the current ones
		}
		return e.creds, nil
	}
	done, err := c.start(now)
	if err != nil {
		return aws.Credentials{}, err
	}
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return aws.Credentials{}, fmt.Errorf("%w: no answer from the credential provider within %s", ErrCredentials, c.timeout)
	case <-ctx.Done():
		return aws.Credentials{}, fmt.Errorf("%w: %v", ErrCredentials, ctx.Err())
	}
	if e := c.cur.Load(); e != nil && valid(&e.creds, c.now()) {
		return e.creds, nil
	}
	c.mu.Lock()
	err = c.lastErr
	c.mu.Unlock()
	if err == nil {
		err = fmt.Errorf("%w: the provider gave no valid credentials", ErrCredentials)
	}
	return aws.Credentials{}, err
}

func valid(c *aws.Credentials, now time.Time) bool {
	return c.HasKeys() && (!c.CanExpire || now.Before(c.Expires))
}

// start begins a fetch unless one is running or the last one failed less than
// CredentialsBackoff ago (then it returns that failure). It returns a channel closed
// when the fetch ends.
func (c *credCache) start(now time.Time) (<-chan struct{}, error) {
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

// fetch asks the provider once. It is bounded by a context of its own, longer
// than the request's wait, so that a hung provider frees the slot and a
// later request tries again: the cache recovers by itself.
func (c *credCache) fetch(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*c.timeout)
	defer cancel()
	// A provider with a cache of its own (the SDK's default chain wraps
	// every provider in an aws.CredentialsCache, which renews only at
	// expiry) would answer a refresh ahead of expiry with the credentials
	// held already: URLs would then be cut to seconds, and fail, near each
	// expiry. Make it fetch new ones.
	if inv, ok := c.provider.(interface{ Invalidate() }); ok {
		inv.Invalidate()
	}
	creds, err := c.provider.Retrieve(ctx)
	now := c.now()
	if err == nil && !valid(&creds, now) {
		err = errors.New("the provider returned expired or empty credentials")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.lastErr = fmt.Errorf("%w: %v", ErrCredentials, err)
		c.errUntil = now.Add(CredentialsBackoff)
	} else {
		e := &credEntry{creds: creds}
		if creds.CanExpire {
			ahead := min(c.ahead, creds.Expires.Sub(now)/2)
			e.refreshAt = creds.Expires.Add(-ahead)
		}
		c.cur.Store(e)
		c.lastErr = nil
	}
	c.inflight = nil
	close(done)
}
