package signers

import (
	"context"
	"errors"
	"testing"
	"time"
)

// countStore is a Store whose Exists answers from a map, or with err, and
// counts the calls.
type countStore struct {
	objects map[string]bool
	err     error
	calls   int
}

func (s *countStore) List(context.Context, string, string) (*Listing, error) { return nil, nil }

func (s *countStore) Exists(_ context.Context, key string) (bool, error) {
	s.calls++
	return s.objects[key], s.err
}

// TestExistenceWindow: an answer, both ways, is given for its window and
// not after, nor for another key, nor when the clock went back; a failure
// is an error, never absence, and is not remembered; a hit does not
// allocate.
func TestExistenceWindow(t *testing.T) {
	st := &countStore{objects: map[string]bool{"a": true}}
	e := NewExistence(st)
	ctx := context.Background()
	t0 := time.Unix(1700000000, 0)
	win := 10 * time.Second
	ask := func(key string, at time.Time, want bool, calls int) {
		t.Helper()
		got, err := e.Exists(ctx, key, at, win)
		if err != nil || got != want || st.calls != calls {
			t.Errorf("%s at %s: %v %v after %d calls, want %v after %d", key, at.Sub(t0), got, err, st.calls, want, calls)
		}
	}
	ask("a", t0, true, 1)
	ask("a", t0.Add(win-1), true, 1)           // within the window
	ask("a", t0.Add(win), true, 2)             // after it: asked again
	ask("b", t0.Add(win), false, 3)            // another key
	ask("b", t0.Add(win+1), false, 3)          // its absence is remembered too
	ask("a", t0.Add(win-time.Second), true, 4) // the clock went back

	st.err = &StoreError{Status: 502, Reason: "the store is unreachable", Err: errors.New("dial")}
	st.objects["c"] = true
	for i := range 2 {
		if ok, err := e.Exists(ctx, "c", t0, win); ok || err != st.err {
			t.Errorf("failure %d: %v %v, want the error and false", i, ok, err)
		}
	}
	if st.calls != 6 {
		t.Errorf("%d calls: a failure was remembered", st.calls)
	}
	st.err = nil
	ask("c", t0, true, 7)
	if n := testing.AllocsPerRun(100, func() { e.Exists(ctx, "c", t0.Add(time.Second), win) }); n != 0 {
		t.Errorf("a hit allocates %.0f times", n)
	}
}
