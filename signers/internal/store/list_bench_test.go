package store

import (
	"bytes"
	"testing"

	"github.com/caddy-presign/presign/signers/internal/store/pagetest"
)

// BenchmarkParseListObjectsV2 decodes a page of 1,000 objects (the most a
// page holds) into a checked listing.
func BenchmarkParseListObjectsV2(b *testing.B) {
	page := []byte(pagetest.ListObjectsV2("bench", "docs/", 1000))
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		l, err := ParseListObjectsV2(bytes.NewReader(page), "bench", "docs/")
		if err != nil || len(l.Objects) != 1000 {
			b.Fatal(len(l.Objects), err)
		}
	}
}
