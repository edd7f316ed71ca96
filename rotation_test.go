package presign

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-presign/presign/internal/testenv"
)

// TestCredentialRotationUnderLoad: with credentials that live 6 s (from the
// fake container endpoint), 8 workers ask for URLs over loopback HTTP for
// 15 s while the cache rotates them about every 3 s (it refreshes at
// min(5m, lifetime/2) ahead, in the background). No request fails: every
// answer is a 302, a sample of the URLs is fetched 200 from versitygw, and
// the URLs' expiries follow the rotating credentials, none cut to less than
// half their life (less a second of rounding). The provider is asked
// about once per rotation, not once per request or per worker, and no
// goroutine is left behind.
func TestCredentialRotationUnderLoad(t *testing.T) {
	const (
		lifetime = 6 * time.Second
		duration = 15 * time.Second
		workers  = 8
		sample   = 25 // fetch every 25th URL of each worker
	)
	s := testenv.StartS3(t)
	s.CreateBucket(t, "rotate")
	s.Put(t, "rotate", "f.txt", []byte("rotating"), "text/plain")
	f := useContainerCreds(t, s.AccessKey, s.SecretKey, "", lifetime)
	h := newHandler(t, `presign {
		profile p s3 {
			bucket rotate
			region `+s.Region+`
			endpoint `+s.Endpoint+`
			path_style
			credentials_timeout 2s
		}
		rule /* {
			profile p
		}
	}`)
	h.logger = zap.NewNop()
	srv := handlerServer(t, h, nil)
	client := loadClient(workers)
	defer client.CloseIdleConnections()

	// warm up: the first credentials, the client's and the SDK's connections
	if code, _, _, err := procGet(context.Background(), client, "GET", srv.URL+"/f.txt"); err != nil || code != http.StatusFound {
		t.Fatalf("first request: %d %v", code, err)
	}
	time.Sleep(200 * time.Millisecond)
	g0 := runtime.NumGoroutine()

	var (
		total, fetched atomic.Int64
		mu             sync.Mutex
		failures       []string
		expiries       = map[int64]bool{} // X-Amz-Date + X-Amz-Expires: the credentials' expiry
		shortest       = int(lifetime / time.Second)
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 1_000_000; i++ {
				code, hdr, _, err := procGet(context.Background(), client, "GET", srv.URL+"/f.txt")
				total.Add(1)
				if err != nil || code != http.StatusFound {
					fail("request: %d %v", code, err)
					continue
				}
				loc := hdr.Get("Location")
				u, err := url.Parse(loc)
				if err != nil {
					fail("Location %q: %v", loc, err)
					continue
				}
				date, err1 := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
				secs, err2 := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
				if err1 != nil || err2 != nil || secs < 1 || secs > int(lifetime/time.Second) {
					fail("Location %q: X-Amz-Expires should be cut to the credentials' life", loc)
					continue
				}
				mu.Lock()
				expiries[date.Unix()+int64(secs)] = true
				shortest = min(shortest, secs)
				mu.Unlock()
				if i%sample == 0 {
					fetched.Add(1)
					code, _, body, err := procGet(context.Background(), client, "GET", loc)
					if err != nil || code != http.StatusOK || string(body) != "rotating" {
						fail("fetching a URL signed %s, expiring in %ds: %d %q %v", u.Query().Get("X-Amz-Date"), secs, code, body, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()

	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	t.Logf("%d requests (%.0f/s), %d URLs fetched, %d provider calls, %d distinct credential expiries, shortest URL life %ds",
		total.Load(), float64(total.Load())/duration.Seconds(), fetched.Load(), calls, len(expiries), shortest)
	for _, f := range failures {
		t.Error(f)
	}
	if total.Load() < 100 || fetched.Load() < 4 {
		t.Errorf("only %d requests and %d fetches in %s", total.Load(), fetched.Load(), duration)
	}
	// one call at first, then one per rotation: about every lifetime/2
	rotations := int(duration / (lifetime / 2))
	if calls < rotations-1 || calls > rotations+3 {
		t.Errorf("the provider was asked %d times in %s with %s credentials; want about %d (one per rotation)", calls, duration, lifetime, rotations+1)
	}
	// renewed at half their life, the credentials leave every URL at least
	// that long, less the second the signing time is rounded down by
	if want := int(lifetime/2/time.Second) - 1; shortest < want {
		t.Errorf("a URL lived only %ds: the credentials were not renewed ahead of their expiry (want at least %ds)", shortest, want)
	}
	if len(expiries) < rotations-1 {
		t.Errorf("URLs carried %d distinct credential expiries; the credentials did not rotate", len(expiries))
	}

	// no goroutine left behind (fetches, timers, connections)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > g0+2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > g0+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before the load, %d after it settled\n%s", g0, g, buf[:runtime.Stack(buf, true)])
	} else {
		t.Logf("goroutines: %d before the load, %d after", g0, g)
	}
}
