package signerstest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// SignTogether has p sign r from n goroutines let go at once, as n
// concurrent first requests for one URL, and fails t unless each got the
// same URL, which it returns. A kind that signs remotely counts its calls
// around it: concurrent requests for one URL share one (single flight).
func SignTogether(t *testing.T, p signers.Signer, r signers.Request, n int) string {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	urls := make([]string, n)
	errs := make([]error, n)
	for i := range urls {
		wg.Go(func() {
			<-start
			s, err := p.Sign(context.Background(), r)
			if errs[i] = err; err == nil {
				urls[i] = s.URL
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range urls {
		if errs[i] != nil || urls[i] != urls[0] {
			t.Fatalf("request %d: %v, %q; want %q", i, errs[i], urls[i], urls[0])
		}
	}
	return urls[0]
}

// RemoteCalls is a signers.RemoteObserver that records what a profile
// tells it of its remote signing calls.
type RemoteCalls struct {
	mu       sync.Mutex
	outcomes []signers.RemoteOutcome
	took     []time.Duration
}

// ObserveRemote implements signers.RemoteObserver.
func (r *RemoteCalls) ObserveRemote(o signers.RemoteOutcome, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes, r.took = append(r.outcomes, o), append(r.took, took)
}

// Calls returns the outcomes and times of the calls so far, in order.
func (r *RemoteCalls) Calls() ([]signers.RemoteOutcome, []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.outcomes), slices.Clone(r.took)
}
