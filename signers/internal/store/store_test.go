package store

import (
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// TestExistsCacheWindow: an answer is given for its window and not after,
// nor for another key, nor when the clock went back.
func TestExistsCacheWindow(t *testing.T) {
	c := NewExistsCache()
	t0 := time.Unix(1700000000, 0).UnixNano()
	win := int64(10 * time.Second)
	h := c.hash("a")
	if c.lookup(h, "a", t0, win) != nil {
		t.Fatal("a hit in an empty cache")
	}
	c.Store(h, &existsEntry{key: "a", exists: false, at: t0})
	if e := c.lookup(h, "a", t0+win-1, win); e == nil || e.exists {
		t.Errorf("within the window: %+v, want the cached absence", e)
	}
	if e := c.lookup(h, "a", t0+win, win); e != nil {
		t.Errorf("after the window: %+v, want a miss", e)
	}
	if e := c.lookup(h, "a", t0-1, win); e != nil {
		t.Errorf("clock went back: %+v, want a miss", e)
	}
	if e := c.lookup(h, "b", t0, win); e != nil {
		t.Errorf("another key in the same slot: %+v", e)
	}
	if n := testing.AllocsPerRun(100, func() { c.lookup(h, "a", t0+1, win) }); n != 0 {
		t.Errorf("a hit allocates %.0f times", n)
	}
}

// TestListingCheck: a page with a key outside the prefix, or truncated
// without a token, is refused.
func TestListingCheck(t *testing.T) {
	ok := &signers.Listing{Folders: []string{"p/a/"}, Objects: []signers.Object{{Key: "p/x"}}}
	if err := Check(ok, "p/", false); err != nil {
		t.Errorf("a good page: %v", err)
	}
	for name, c := range map[string]struct {
		l         *signers.Listing
		truncated bool
	}{
		"object outside": {&signers.Listing{Objects: []signers.Object{{Key: "q/x"}}}, false},
		"folder outside": {&signers.Listing{Folders: []string{"pq/"}}, false},
		"no token":       {&signers.Listing{Objects: []signers.Object{{Key: "p/x"}}}, true},
		"too many":       {&signers.Listing{Objects: make([]signers.Object, signers.ListPageSize+1)}, false},
	} {
		if err := Check(c.l, "p/", c.truncated); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
