package awscreds

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/credcache"
)

// stepProvider hands out numbered credentials with a fixed lifetime from a
// clock the test controls; fail makes it error, gate makes it wait.
type stepProvider struct {
	mu       sync.Mutex
	clock    func() time.Time
	lifetime time.Duration
	n        atomic.Int32
	fail     bool
	gate     chan struct{}
}

func (p *stepProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	fail, gate := p.fail, p.gate
	p.mu.Unlock()
	now := p.clock()
	if gate != nil {
		<-gate
	}
	n := p.n.Add(1)
	if fail {
		return aws.Credentials{}, errors.New("provider down")
	}
	return aws.Credentials{AccessKeyID: "AKID" + string(rune('0'+n)), SecretAccessKey: "s", CanExpire: true, Expires: now.Add(p.lifetime)}, nil
}

// TestCredCacheRefreshesAhead: the true expiry is kept; within the
// refresh-ahead window a request gets the current credentials at once while
// new ones are fetched in the background; a failed fetch is answered from
// memory for the backoff and retried after it.
func TestCredCacheRefreshesAhead(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	p := &stepProvider{clock: clock, lifetime: time.Hour}
	c := credcache.New(Fetch(p), time.Second, 5*time.Minute)
	c.Now = clock

	got, err := c.Get(context.Background())
	if err != nil || got.AccessKeyID != "AKID1" {
		t.Fatalf("first Get: %v %v", got.AccessKeyID, err)
	}
	if want := clock().Add(time.Hour); !got.Expires.Equal(want) {
		t.Errorf("expiry %s, want the provider's own %s (not moved earlier)", got.Expires, want)
	}

	advance(56 * time.Minute) // 4 minutes left: inside the 5-minute window
	gate := make(chan struct{})
	p.mu.Lock()
	p.gate = gate
	p.mu.Unlock()
	start := time.Now()
	got, err = c.Get(context.Background())
	if err != nil || got.AccessKeyID != "AKID1" || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("Get inside the refresh window: %s %v after %s; want the current credentials at once", got.AccessKeyID, err, time.Since(start))
	}
	close(gate) // let the background refresh finish
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, _ = c.Get(context.Background())
		if got.AccessKeyID == "AKID2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background refresh never replaced the credentials")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// the provider goes down when the credentials have expired
	p.mu.Lock()
	p.gate, p.fail = nil, true
	p.mu.Unlock()
	advance(2 * time.Hour)
	calls := p.n.Load()
	if _, err := c.Get(context.Background()); !errors.Is(err, signers.ErrCredentials) {
		t.Fatalf("Get with expired credentials and the provider down: %v, want signers.ErrCredentials", err)
	}
	for i := 0; i < 50; i++ {
		if _, err := c.Get(context.Background()); !errors.Is(err, signers.ErrCredentials) {
			t.Fatalf("Get during backoff: %v", err)
		}
	}
	if n := p.n.Load() - calls; n != 1 {
		t.Errorf("the provider was asked %d times within the backoff, want 1", n)
	}
	p.mu.Lock()
	p.fail = false
	p.mu.Unlock()
	advance(2 * time.Second) // past the backoff
	if got, err := c.Get(context.Background()); err != nil || got.AccessKeyID == "AKID2" {
		t.Fatalf("Get after the provider came back: %s %v", got.AccessKeyID, err)
	}
}

// TestCredCacheStatic: static credentials are fetched once and never
// refreshed.
func TestCredCacheStatic(t *testing.T) {
	var n atomic.Int32
	p := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		n.Add(1)
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}, nil
	})
	c := credcache.New(Fetch(p), time.Second, 5*time.Minute)
	for i := 0; i < 100; i++ {
		if _, err := c.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n.Load() != 1 {
		t.Errorf("static credentials fetched %d times, want 1", n.Load())
	}
}
