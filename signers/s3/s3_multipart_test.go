package s3

import (
	"strings"
	"testing"
)

// TestS3MultipartLimits: S3's rules for multipart uploads: parts 1 to
// 10000; upload ids of 1 to 1024 letters, digits and ._~+=-; metadata names
// lower-cased and of letters, digits, '-' and '_'; values of printable
// ASCII; 2 KB of names and values in all.
func TestS3MultipartLimits(t *testing.T) {
	l := (&S3{}).MultipartLimits()
	if l.MaxPartNumber != 10000 || l.MaxMetadataSize != 2048 {
		t.Errorf("max part number %d, metadata size %d; want 10000 and 2048", l.MaxPartNumber, l.MaxMetadataSize)
	}
	for id, ok := range map[string]bool{
		"upl.ID-1": true, "a": true, "AbC._~+=-09": true, strings.Repeat("a", 1024): true,
		"": false, strings.Repeat("a", 1025): false, "id;x": false, "a/b": false, "a b": false, "ü": false, "a%2F": false,
	} {
		if got := l.ValidUploadID(id); got != ok {
			t.Errorf("upload id %.40q: valid %v, want %v", id, got, ok)
		}
	}
	for name, want := range map[string]string{
		"name": "name", "Camera-Model": "camera-model", "x_1": "x_1",
		"": "", "a b": "", "a.b": "", "ü": "", "a:b": "",
	} {
		got, ok := l.MetadataName(name)
		if ok != (want != "") || got != want {
			t.Errorf("metadata name %q: %q %v, want %q", name, got, ok, want)
		}
	}
	for v, ok := range map[string]bool{"": true, "a b ~!": true, "tab\t": false, "ü": false, "\x7f": false} {
		if got := l.ValidMetadataValue(v); got != ok {
			t.Errorf("metadata value %q: valid %v, want %v", v, got, ok)
		}
	}
}
