package local

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// TestStore: Exists and List read root through os.Root: a symlink within
// root is followed, one that leaves it (or "..") does not exist; listings
// are in name order, a page at most ListPageSize entries, continued from
// the last name.
func TestStore(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "root")
	for _, name := range []string{"a.txt", "b.txt", "sub/c.txt"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(base, "outside.txt"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(base, "outside.txt"), filepath.Join(dir, "escape"))
	os.Symlink("a.txt", filepath.Join(dir, "inner"))
	l := newLocal(t, func(l *Local) { l.Root = dir })
	ctx := context.Background()
	for key, want := range map[string]bool{
		"a.txt": true, "sub/c.txt": true, "inner": true, "sub": false,
		"escape": false, "missing": false, "../outside.txt": false, "a.txt/x": false,
	} {
		if got, err := l.Exists(ctx, key); err != nil || got != want {
			t.Errorf("Exists(%q) = %v, %v; want %v", key, got, err, want)
		}
	}
	ls, err := l.List(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range ls.Objects {
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"a.txt", "b.txt", "inner"}) || !slices.Equal(ls.Folders, []string{"sub/"}) || ls.Next != "" {
		t.Errorf("List: objects %v, folders %v, next %q", keys, ls.Folders, ls.Next)
	}
	if ls, err := l.List(ctx, "sub/", ""); err != nil || len(ls.Objects) != 1 || ls.Objects[0].Key != "sub/c.txt" || ls.Objects[0].Size != 9 {
		t.Errorf("List(sub/): %+v, %v", ls, err)
	}

	// pages
	many := filepath.Join(dir, "many")
	os.Mkdir(many, 0o755)
	for i := range signers.ListPageSize + 5 {
		os.WriteFile(filepath.Join(many, "f"+strconv.Itoa(10000+i)), nil, 0o644)
	}
	p1, err := l.List(ctx, "many/", "")
	if err != nil || len(p1.Objects) != signers.ListPageSize || p1.Next != "f"+strconv.Itoa(10000+signers.ListPageSize-1) {
		t.Fatalf("page 1: %d objects, next %q, %v", len(p1.Objects), p1.Next, err)
	}
	p2, err := l.List(ctx, "many/", p1.Next)
	if err != nil || len(p2.Objects) != 5 || p2.Next != "" || p2.Objects[0].Key != "many/f"+strconv.Itoa(10000+signers.ListPageSize) {
		t.Errorf("page 2: %d objects, next %q, %v", len(p2.Objects), p2.Next, err)
	}
}
