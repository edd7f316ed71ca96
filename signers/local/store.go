package local

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"

	"github.com/caddy-presign/presign/signers"
)

// The profile's Store reads root through os.Root: a name that leaves the
// directory, by ".." or through a symlink, does not exist for it.

// Exists implements signers.Store: whether key is a regular file under
// root (a symlink is followed only within root).
func (l *Local) Exists(_ context.Context, key string) (bool, error) {
	fi, err := l.root.Stat(key)
	if err != nil {
		if missing(err) {
			return false, nil
		}
		return false, &signers.StoreError{Status: 502, Reason: "cannot read the file", Err: err}
	}
	return fi.Mode().IsRegular(), nil
}

// List implements signers.Store: the files and folders directly under
// prefix, in name order, from the name after token; symlinks that leave
// root, and entries that are neither files nor folders, are left out.
func (l *Local) List(_ context.Context, prefix, token string) (*signers.Listing, error) {
	dir := strings.TrimSuffix(prefix, "/")
	if dir == "" {
		dir = "."
	}
	f, err := l.root.Open(dir)
	if err != nil {
		if missing(err) {
			return &signers.Listing{}, nil
		}
		return nil, &signers.StoreError{Status: 502, Reason: "cannot list the folder", Err: err}
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, &signers.StoreError{Status: 502, Reason: "cannot list the folder", Err: err}
	}
	slices.Sort(names)
	l0 := &signers.Listing{}
	for _, name := range names {
		if name <= token {
			continue
		}
		if len(l0.Folders)+len(l0.Objects) == signers.ListPageSize {
			l0.Next = token
			break
		}
		fi, err := l.root.Stat(prefix + name) // follows symlinks within root only
		switch {
		case err != nil:
			continue
		case fi.IsDir():
			l0.Folders = append(l0.Folders, prefix+name+"/")
		case fi.Mode().IsRegular():
			l0.Objects = append(l0.Objects, signers.Object{Key: prefix + name, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		token = name
	}
	return l0, nil
}

// missing tells whether err, from os.Root, means that the name does not
// exist within root: it does not exist, a segment is no directory, or it
// leaves root (os.Root's error for that carries no errno).
func missing(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return true
	}
	return errors.Is(err, fs.ErrNotExist) || errno == syscall.ENOTDIR || errno == syscall.ELOOP || errno == syscall.ENAMETOOLONG
}
