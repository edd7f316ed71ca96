// The listings of the browse scenarios: a local folder for Caddy's
// file_server browse, and the same 1,000 names as objects in each store
// that presign's browse lists.

package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caddy-presign/presign/internal/gcsverify"
	"github.com/caddy-presign/presign/systest/harness"
)

// listEntries is the size of the listings: a full page of a store.
const listEntries = 1000

// listFolder is the folder that the browse scenarios ask for, under every
// browse route: in the local folder of file_server and in every store,
// the listEntries objects list/file-NNNN.txt.
const listFolder = "list/"

// listStores are the stores of the browse routes, each started only when a
// selected scenario lists it.
type listStores struct {
	azurite *harness.Azurite
	gcs     *harness.GCSServer
}

func (l *listStores) stop() {
	if l.azurite != nil {
		l.azurite.Stop()
	}
	if l.gcs != nil {
		l.gcs.Stop()
	}
}

// listNames are the names of the listed objects and files.
func listNames() []string {
	names := make([]string, listEntries)
	for i := range names {
		names[i] = fmt.Sprintf("file-%04d.txt", i)
	}
	return names
}

// startListStores fills what the selected browse scenarios list: the local
// folder of file_server browse (always: its route must answer its ready
// check), the bucket bench-list of st's versitygw, a Cloud Storage of the
// harness (in this process, not Caddy's) and an Azurite; the routes of
// stores not started point to a closed port and are never asked. It sets
// the BENCH_FS_ROOT, BENCH_GCS_ENDPOINT and BENCH_AZ_ENDPOINT of
// bench/Caddyfile.
func (c *config) startListStores(st *benchStore, selected []scenario) (*listStores, error) {
	needs := func(prefix string) bool {
		return slices.ContainsFunc(selected, func(s scenario) bool { return s.prefix == prefix })
	}
	l := &listStores{}
	fsRoot := filepath.Join(st.dir, "fs")
	if err := os.MkdirAll(filepath.Join(fsRoot, listFolder), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(fsRoot, "ready"), []byte("bench"), 0o600); err != nil {
		return nil, err
	}
	for _, n := range listNames() {
		if err := os.WriteFile(filepath.Join(fsRoot, listFolder, n), []byte("bench"), 0o600); err != nil {
			return nil, err
		}
	}
	gcsEndpoint, azEndpoint := "http://127.0.0.1:9", "http://127.0.0.1:9/"+harness.AzuriteAccount
	if needs("/s3b/") {
		if err := fillS3(st); err != nil {
			return nil, err
		}
	}
	if needs("/gcsb/") {
		acct, err := gcsverify.WriteAccount(filepath.Join(c.repo, "signers", "gcs", "testdata", "service-account"), st.dir)
		if err != nil {
			return nil, err
		}
		if l.gcs, err = harness.LaunchGCSServer("bench-list", acct); err != nil {
			return nil, err
		}
		for _, n := range listNames() {
			l.gcs.Put(listFolder+n, []byte("bench"))
		}
		gcsEndpoint = l.gcs.URL
	}
	if needs("/azb/") {
		if err := l.fillAzurite(st.dir); err != nil {
			l.stop()
			return nil, err
		}
		azEndpoint = l.azurite.Endpoint
	}
	c.storeEnv = append(c.storeEnv, "BENCH_FS_ROOT="+fsRoot, "BENCH_GCS_ENDPOINT="+gcsEndpoint, "BENCH_AZ_ENDPOINT="+azEndpoint)
	return l, nil
}

// fillS3 creates the bucket bench-list in st's versitygw and puts the
// listed objects, a few at a time.
func fillS3(st *benchStore) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := st.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench-list")}); err != nil {
		return fmt.Errorf("versitygw: create bucket: %v", err)
	}
	return putAll(func(name string) error {
		_, err := st.Client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("bench-list"), Key: aws.String(listFolder + name),
			Body: strings.NewReader("bench"),
		})
		return err
	})
}

// fillAzurite starts Azurite with its storage under dir, creates the
// container bench-list and puts the listed blobs.
func (l *listStores) fillAzurite(dir string) error {
	data, logs := filepath.Join(dir, "azurite"), filepath.Join(dir, "azurite-logs")
	for _, d := range []string{data, logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var err error
	if l.azurite, err = harness.LaunchAzurite(data, logs); err != nil {
		return fmt.Errorf("%v (install it with ./scripts/tools.sh npm)", err)
	}
	if code, b, err := l.azurite.Do(http.MethodPut, "/bench-list", "restype=container", nil, nil); err != nil || code != http.StatusCreated {
		return fmt.Errorf("create container in Azurite: %d %s %v", code, b, err)
	}
	return putAll(func(name string) error {
		code, b, err := l.azurite.Do(http.MethodPut, "/bench-list/"+listFolder+name, "", []byte("bench"), map[string]string{"x-ms-blob-type": "BlockBlob"})
		if err == nil && code != http.StatusCreated {
			err = fmt.Errorf("put %s into Azurite: %d %s", name, code, b)
		}
		return err
	})
}

// putAll calls put for every listed name, 8 at a time, and returns the
// first error.
func putAll(put func(name string) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		names = make(chan string)
	)
	for range 8 {
		wg.Go(func() {
			for n := range names {
				if err := put(n); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, n := range listNames() {
		names <- n
	}
	close(names)
	wg.Wait()
	return first
}
