package presign

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// laxStore is a store that completes an upload without checking the
// parts' ETags, as the store of the race in issue 16 may: it assembles
// whatever the parts are by the time it completes, so the object can be
// larger than the listed parts added up. It records what it was asked.
type laxStore struct {
	signers.Multipart
	listed    []signers.Part
	completed []signers.Part
	size      int64 // the object's size after completion
	sizeErr   error
	deleted   []string
}

func (s *laxStore) ListParts(context.Context, string, string) ([]signers.Part, error) {
	return s.listed, nil
}

func (s *laxStore) CompleteMultipart(_ context.Context, _, _ string, parts []signers.Part) (string, error) {
	s.completed = parts
	return "http://127.0.0.1:9/media/" + aliceKey, nil
}

func (s *laxStore) ObjectSize(context.Context, string) (int64, error) { return s.size, s.sizeErr }

func (s *laxStore) DeleteObject(_ context.Context, key string) error {
	s.deleted = append(s.deleted, key)
	return nil
}

// TestUppyCompleteMeasuresObject: complete assembles the parts as they
// were listed, and with max_size it measures what it assembled. An object
// over max_size (a part swapped between the listing and the completion)
// is deleted and answered 413; one that cannot be measured is deleted and
// answered 502; one within the limit is kept and answered 200.
func TestUppyCompleteMeasuresObject(t *testing.T) {
	listed := []signers.Part{{PartNumber: 1, ETag: `"e1"`, Size: 1024}, {PartNumber: 2, ETag: `"e2"`, Size: 10}}
	body := `{"parts":[{"PartNumber":1,"ETag":"e1"},{"PartNumber":2,"ETag":"e2"}]}`
	target := "/uppy/s3/multipart/upl.ID-1/complete?key=" + url.QueryEscape(aliceKey)
	for _, c := range []struct {
		name    string
		size    int64
		sizeErr error
		code    int
		deleted bool
	}{
		{"within max_size", 2000, nil, http.StatusOK, false},
		{"swapped part over max_size", 20_500_000, nil, http.StatusRequestEntityTooLarge, true},
		{"size unknown", 0, errors.New("connection reset"), http.StatusBadGateway, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHandler(t, uppyBlock("http://127.0.0.1:9", "max_size 20MB"))
			store := &laxStore{listed: listed, size: c.size, sizeErr: c.sizeErr}
			h.Rules[0].uppy.mp = store
			a := uppyServe(t, h, "alice", "POST", target, body)
			if a.Code != c.code {
				t.Fatalf("complete: %d %s, want %d", a.Code, a.Body, c.code)
			}
			if len(store.completed) != 2 || store.completed[0] != listed[0] || store.completed[1] != listed[1] {
				t.Errorf("completed with %v, want the listed parts %v", store.completed, listed)
			}
			if got := len(store.deleted) == 1 && store.deleted[0] == aliceKey; got != c.deleted {
				t.Errorf("deleted %v, want the object deleted: %v", store.deleted, c.deleted)
			}
			if c.code != http.StatusOK {
				jsonError(t, a)
			}
		})
	}
}
