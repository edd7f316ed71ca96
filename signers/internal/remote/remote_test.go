package remote_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/remote"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// counted is a Call that counts its calls and answers what answer says.
type counted struct {
	calls  atomic.Int64
	answer func(ctx context.Context, msg []byte) ([]byte, error)
}

func (c *counted) call(ctx context.Context, msg []byte) ([]byte, error) {
	c.calls.Add(1)
	return c.answer(ctx, msg)
}

// signature is the test signer's signature of msg.
func signature(msg []byte) []byte { return append([]byte("sig:"), msg...) }

// together runs n callers of Once(key) at once, each signing msg through
// s; the call is held (see held) until all of them wait for it.
func together(s *remote.Signer, key string, msg []byte, n int) ([]any, []error) {
	vs, errs := make([]any, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			vs[i], errs[i] = s.Once(key, func() (any, error) { return s.Sign(context.Background(), msg) })
		})
	}
	close(start)
	wg.Wait()
	return vs, errs
}

// held is a Call answer that waits for release before signing.
func held(release <-chan struct{}, err error) func(context.Context, []byte) ([]byte, error) {
	return func(_ context.Context, msg []byte) ([]byte, error) {
		<-release
		if err != nil {
			return nil, err
		}
		return signature(msg), nil
	}
}

// TestOnceShares: concurrent callers of Once with one key share one call
// and its signature; another key makes its own call; Sign makes a call
// each time (sharing is Once's).
func TestOnceShares(t *testing.T) {
	release := make(chan struct{})
	c := &counted{answer: held(release, nil)}
	s := remote.New("test sign", time.Minute, c.call)
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	vs, errs := together(s, "k", []byte("m"), 500)
	for i := range vs {
		if errs[i] != nil || !bytes.Equal(vs[i].([]byte), signature([]byte("m"))) {
			t.Fatalf("caller %d: %q, %v; want the signature", i, vs[i], errs[i])
		}
	}
	if n := c.calls.Load(); n != 1 {
		t.Errorf("500 callers of one key: %d calls, want 1", n)
	}
	release = make(chan struct{})
	c.answer = held(release, nil)
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	together(s, "other", []byte("m2"), 10)
	for range 2 {
		if _, err := s.Sign(context.Background(), []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.calls.Load(); n != 4 {
		t.Errorf("%d calls, want 4: one per key, one per Sign", n)
	}
}

// TestErrorShared: a failed call's error reaches every caller that shared
// it, wraps signers.ErrCredentials and names the call; within
// signers.CredentialsBackoff, Sign fails at once without a call; after it,
// a call is made again and signs: neither Once nor the backoff keeps the
// error longer.
func TestErrorShared(t *testing.T) {
	release := make(chan struct{})
	refused := errors.New("answered 403 Forbidden")
	c := &counted{answer: held(release, refused)}
	s := remote.New("test sign as a@b", time.Minute, c.call)
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	_, errs := together(s, "k", []byte("m"), 100)
	const want = "credentials unavailable: test sign as a@b: answered 403 Forbidden"
	for i, err := range errs {
		if !errors.Is(err, signers.ErrCredentials) || err.Error() != want {
			t.Fatalf("caller %d: %v, want %q", i, err, want)
		}
	}
	if n := c.calls.Load(); n != 1 {
		t.Errorf("100 callers of a failing key: %d calls, want 1", n)
	}
	if _, err := s.Sign(context.Background(), []byte("other")); err == nil || err.Error() != want {
		t.Errorf("within the backoff: %v, want the last error %q", err, want)
	}
	if n := c.calls.Load(); n != 1 {
		t.Errorf("within the backoff: %d calls, want none more", n)
	}
	c.answer = held(release, nil) // the call signs again; release is closed
	time.Sleep(signers.CredentialsBackoff + 50*time.Millisecond)
	v, err := s.Once("k", func() (any, error) { return s.Sign(context.Background(), []byte("m")) })
	if err != nil || !bytes.Equal(v.([]byte), signature([]byte("m"))) {
		t.Errorf("after the backoff: %q, %v; want the signature", v, err)
	}
	if n := c.calls.Load(); n != 2 {
		t.Errorf("after the backoff: %d calls, want 2", n)
	}
	// Once keeps nothing: a fresh that failed runs anew
	if _, err := s.Once("x", func() (any, error) { return nil, refused }); err != refused {
		t.Errorf("Once: %v, want fresh's error", err)
	}
	if v, err := s.Once("x", func() (any, error) { return "fresh", nil }); v != "fresh" || err != nil {
		t.Errorf("Once after a failure: %v, %v; want fresh's answer", v, err)
	}
}

// TestTimeout: a call that does not answer within the timeout fails, at
// the timeout, with ErrCredentials saying so, whether the call returns
// its context's error or another one once its context is done.
func TestTimeout(t *testing.T) {
	for _, answer := range []func(ctx context.Context, msg []byte) ([]byte, error){
		func(ctx context.Context, _ []byte) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() },
		func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, errors.New("connection closed")
		},
	} {
		s := remote.New("test sign", 100*time.Millisecond, (&counted{answer: answer}).call)
		start := time.Now()
		_, err := s.Sign(context.Background(), []byte("m"))
		took := time.Since(start)
		const want = "credentials unavailable: test sign: no answer within 100ms"
		if !errors.Is(err, signers.ErrCredentials) || err.Error() != want {
			t.Errorf("%v, want %q", err, want)
		}
		if took < 100*time.Millisecond || took > 600*time.Millisecond {
			t.Errorf("the timeout came after %s, want 100ms", took)
		}
	}
}

// TestCallOutlivesCaller: the call is bounded by the timeout, not by the
// context of the caller that made it, which others of its Once may wait
// for: a caller gone does not fail them.
func TestCallOutlivesCaller(t *testing.T) {
	var deadline time.Time
	var callerErr error
	c := &counted{answer: func(ctx context.Context, msg []byte) ([]byte, error) {
		deadline, _ = ctx.Deadline()
		callerErr = ctx.Err()
		return signature(msg), nil
	}}
	s := remote.New("test sign", time.Minute, c.call)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Sign(ctx, []byte("m")); err != nil || callerErr != nil {
		t.Errorf("a caller gone: %v, the call's context %v; want a signature", err, callerErr)
	}
	if left := time.Until(deadline); left < 50*time.Second || left > time.Minute {
		t.Errorf("the call's deadline is %s away, want the timeout (1m)", left)
	}
}

// TestObserved: the observer is told of each call, with its outcome (ok,
// error, timeout) and how long it took; not of a failure within the
// backoff, which makes no call; a Signer without an observer signs too.
func TestObserved(t *testing.T) {
	var mode atomic.Int64 // 0 sign, 1 refuse, 2 wait for the timeout
	c := &counted{answer: func(ctx context.Context, msg []byte) ([]byte, error) {
		time.Sleep(20 * time.Millisecond)
		switch mode.Load() {
		case 1:
			return nil, errors.New("refused")
		case 2:
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return signature(msg), nil
	}}
	s := remote.New("test sign", 150*time.Millisecond, c.call)
	if _, err := s.Sign(context.Background(), []byte("unobserved")); err != nil {
		t.Fatal(err)
	}
	var seen signerstest.RemoteCalls
	s.SetRemoteObserver(&seen)
	sign := func(m int64) {
		mode.Store(m)
		_, _ = s.Sign(context.Background(), []byte("m"))
	}
	sign(0)
	sign(1)
	sign(1) // within the backoff: no call
	time.Sleep(signers.CredentialsBackoff + 50*time.Millisecond)
	sign(2)
	outcomes, took := seen.Calls()
	if want := []signers.RemoteOutcome{signers.RemoteOK, signers.RemoteError, signers.RemoteTimeout}; !slices.Equal(outcomes, want) {
		t.Fatalf("observed %v, want %v", outcomes, want)
	}
	if took[0] < 20*time.Millisecond || took[1] < 20*time.Millisecond || took[2] < 150*time.Millisecond || took[2] > 650*time.Millisecond {
		t.Errorf("observed times %v: want ≥ 20ms for a signature and a refusal, about the timeout (150ms) for the timeout", took)
	}
}
