package signerstest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// checkFiles: for a kind whose Store is a directory, with files the suite
// writes: pages of at most ListPageSize entries in name order whose
// continuation tokens lose and repeat nothing, folders and objects with
// their sizes, confinement to the prefix (nothing beside or outside it,
// no symlink out of the directory), and Exists true and false for the
// escaped keys, a folder, a name with ".." and a symlink out.
func checkFiles(t *testing.T, k Kind) {
	dir, outside := t.TempDir(), t.TempDir()
	write := func(name string, size int) {
		t.Helper()
		name = filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n := signers.ListPageSize + 3
	want := make([]string, 0, n)
	for i := range n {
		key := fmt.Sprintf("docs/many/f%05d.txt", i)
		write(key, i%7)
		want = append(want, key)
	}
	for _, key := range suiteKeys {
		write(key, 42)
	}
	write("docsx", 1)
	write("other/x.txt", 1)
	write("secret.txt", 1) // in the directory, but not under docs/
	if err := os.WriteFile(filepath.Join(outside, "out.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "out.txt"), filepath.Join(dir, "docs", "link-out.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "docs", "dir-out")); err != nil {
		t.Fatal(err)
	}
	st := k.Files(t, dir).(signers.Store)
	ctx := context.Background()

	t.Run("Pages", func(t *testing.T) {
		var got []string
		token, pages := "", 0
		for {
			l, err := st.List(ctx, "docs/many/", token)
			if err != nil {
				t.Fatalf("List docs/many/ from %q: %v", token, err)
			}
			pages++
			if len(l.Folders)+len(l.Objects) > signers.ListPageSize {
				t.Errorf("page %d has %d entries, more than ListPageSize", pages, len(l.Folders)+len(l.Objects))
			}
			for _, o := range l.Objects {
				var i int
				if _, err := fmt.Sscanf(o.Key, "docs/many/f%05d.txt", &i); err != nil || o.Size != int64(i%7) || o.ModTime.IsZero() {
					t.Errorf("object %+v: not a written file, its size or its time", o)
				}
				got = append(got, o.Key)
			}
			if l.Next == "" || pages > n {
				break
			}
			token = l.Next
		}
		if pages < 2 || !slices.Equal(got, want) {
			t.Errorf("%d pages of %d objects, want the %d written in name order on 2 or more pages", pages, len(got), n)
		}
	})

	t.Run("Confined", func(t *testing.T) {
		l, err := st.List(ctx, "docs/", "")
		if err != nil {
			t.Fatalf("List docs/: %v", err)
		}
		for _, f := range l.Folders {
			if !strings.HasPrefix(f, "docs/") || !strings.HasSuffix(f, "/") || strings.Count(f, "/") != 2 {
				t.Errorf("folder %q is not directly under docs/", f)
			}
		}
		for _, o := range l.Objects {
			if !strings.HasPrefix(o.Key, "docs/") || strings.Contains(o.Key[len("docs/"):], "/") {
				t.Errorf("object %q is not directly under docs/", o.Key)
			}
		}
		keys := make([]string, 0, len(l.Objects))
		for _, o := range l.Objects {
			keys = append(keys, o.Key)
		}
		if !slices.Equal(keys, []string{suiteKey}) {
			t.Errorf("objects of docs/: %q, want only %q (no symlink out of the directory)", keys, suiteKey)
		}
		for _, f := range []string{"docs/.hidden/", "docs/a b/", "docs/many/"} {
			if !slices.Contains(l.Folders, f) {
				t.Errorf("folders of docs/: %q, want %q among them", l.Folders, f)
			}
		}
		if slices.Contains(l.Folders, "docs/dir-out/") {
			t.Error("the symlink to a directory outside is listed as a folder")
		}
		root, err := st.List(ctx, "", "")
		if err != nil || !slices.Equal(root.Folders, []string{"docs/", "other/"}) {
			t.Errorf("List of the root: %+v, %v; want the folders docs/ and other/", root, err)
		}
		if l, err := st.List(ctx, "missing/", ""); err != nil || len(l.Objects)+len(l.Folders) != 0 || l.Next != "" {
			t.Errorf("List of a missing folder: %+v, %v; want an empty page", l, err)
		}
	})

	t.Run("Exists", func(t *testing.T) {
		for key, want := range map[string]bool{
			suiteKeys[0]: true, suiteKeys[1]: true, suiteKeys[2]: true,
			"docs/missing.txt": false, "docs/a b/ü ñ?#%&=+;.tx": false, "docs/many": false, "docs/": false,
			"docs/../../secret.txt": false, "../" + filepath.Base(outside) + "/out.txt": false,
			"docs/link-out.txt": false, "docs/dir-out/out.txt": false,
		} {
			ok, err := st.Exists(ctx, key)
			if err != nil || ok != want {
				t.Errorf("Exists %q: %v %v, want %v", key, ok, err, want)
			}
		}
	})
}
