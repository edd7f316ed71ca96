package systest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/caddy-presign/presign/systest/harness"
)

// Upload limits against a hostile client, on versitygw: the type of a PUT,
// the size of an uppy upload raced during its completion, and refusals
// that are the client's doing.

// TestTypedPut: a PUT rule with content_type_prefix image/ answers a 307
// whose URL signs content-type; versitygw takes it with image/png and
// refuses it with text/html or tampered; Caddy refuses a text/html request
// itself.
func TestTypedPut(t *testing.T) {
	s, base := s3Site(t, "media", `rule /up/* {
			profile media
			strip_prefix /up
			methods PUT
			content_type_prefix image/
		}`)
	png := func(r *http.Request) { r.Header.Set("Content-Type", "image/png") }
	loc := location(t, http.StatusTemporaryRedirect, "PUT", base+"/up/cat.png", png)
	if !strings.Contains(loc, "X-Amz-SignedHeaders=content-type%3Bhost") {
		t.Fatalf("URL does not sign content-type: %s", loc)
	}
	put := func(u, ct string) int {
		code, _, _ := harness.Fetch(t, "PUT", u, strings.NewReader("<script>alert(1)</script>"), func(r *http.Request) { r.Header.Set("Content-Type", ct) })
		return code
	}
	if code := put(loc, "text/html"); code != http.StatusForbidden {
		t.Errorf("the URL with text/html: %d, want 403", code)
	}
	if code := put(harness.Tamper(t, loc), "image/png"); code != http.StatusForbidden {
		t.Errorf("the tampered URL: %d, want 403", code)
	}
	if code := put(loc, "image/png"); code != http.StatusOK {
		t.Fatalf("the URL with image/png: %d, want 200", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	head, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("media"), Key: aws.String("cat.png")})
	if err != nil || aws.ToString(head.ContentType) != "image/png" {
		t.Errorf("stored object: %v, Content-Type %q", err, aws.ToString(head.ContentType))
	}
	if code, _, _ := harness.Fetch(t, "PUT", base+"/up/x.html", nil, func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }); code != http.StatusUnsupportedMediaType {
		t.Errorf("Caddy with text/html: %d, want 415", code)
	}
}

// raceParts is how many one-byte padding parts the race uploads after
// part 1: just over one page of ListParts (1000), so that listing takes
// two requests and completion a while, the window the attack aims at.
const raceParts = 1001

// TestUppyCompleteRace: the attack on max_size. An upload holds a 1 KiB
// part 1 and raceParts one-byte parts; a PUT of a part 1 over max_size
// is started with its last byte held back, complete is posted, and the
// last byte sent after a delay. With the big part's ETag (the attack) the
// answer is 400 or 413; with the small one's, 200 only for an object
// within max_size. Either way no object over max_size is left.
func TestUppyCompleteRace(t *testing.T) {
	const max = 1 << 20
	s, base := uppySite(t, "max_size "+strconv.Itoa(max))
	small := bytes.Repeat([]byte("s"), 1024)
	big := bytes.Repeat([]byte("B"), max+max/2)
	bigSum := md5.Sum(big)
	bigETag := hex.EncodeToString(bigSum[:])

	n := 0
	for _, delay := range []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond, 150 * time.Millisecond} {
		for _, claim := range []string{"big", "small"} {
			n++
			u := create(t, base, "alice", fmt.Sprintf("race%d.bin", n), "application/octet-stream")
			id := url.PathEscape(u.UploadID)
			nums := make([]string, raceParts+1)
			for i := range nums {
				nums[i] = strconv.Itoa(i + 1)
			}
			var batch struct{ PresignedUrls map[string]string }
			if code, body := uppy(t, base, "alice", "GET", "multipart/"+id+"/batch"+u.q()+"&partNumbers="+strings.Join(nums, ","), nil, &batch); code != 200 {
				t.Fatalf("batch: %d %.200s", code, body)
			}
			smallETag := putPart(t, batch.PresignedUrls["1"], small)
			padding(t, batch.PresignedUrls)
			etags := []string{bigETag}
			if claim == "small" {
				etags[0] = smallETag
			}
			pad := md5.Sum([]byte("p"))
			for range raceParts {
				etags = append(etags, hex.EncodeToString(pad[:]))
			}

			// the big part 1, all but its last byte
			pr, pw := io.Pipe()
			bigDone := make(chan int, 1)
			go func() {
				req, _ := http.NewRequest("PUT", batch.PresignedUrls["1"], pr)
				req.ContentLength = int64(len(big))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					bigDone <- 0
					return
				}
				resp.Body.Close()
				bigDone <- resp.StatusCode
			}()
			if _, err := pw.Write(big[:len(big)-1]); err != nil {
				t.Fatal(err)
			}
			var code int
			var body string
			var wg sync.WaitGroup
			wg.Go(func() {
				code, body = uppy(t, base, "alice", "POST", "multipart/"+id+"/complete"+u.q(), partsOf(etags...), nil)
			})
			time.Sleep(delay)
			_, _ = pw.Write(big[len(big)-1:])
			pw.Close()
			wg.Wait()
			<-bigDone

			size, exists := objectSize(t, s, u.Key)
			switch {
			case exists && size > max:
				t.Errorf("delay %s, %s ETag: complete %d %s left an object of %d bytes over max_size %d", delay, claim, code, body, size, max)
			case claim == "big" && code != http.StatusBadRequest && code != http.StatusRequestEntityTooLarge:
				t.Errorf("delay %s, big ETag: complete %d %s, want 400 or 413", delay, code, body)
			case code == http.StatusOK && !exists, code != http.StatusOK && exists:
				t.Errorf("delay %s, %s ETag: complete %d %s, and the object exists: %v", delay, claim, code, body, exists)
			}
			t.Logf("delay %s, %s ETag: complete %d %s", delay, claim, code, strings.TrimSpace(body))
		}
	}
}

// padding PUTs the one-byte parts 2 to raceParts+1, a few at a time.
func padding(t *testing.T, urls map[string]string) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan string)
	for range 8 {
		wg.Go(func() {
			for u := range next {
				req, _ := http.NewRequest("PUT", u, strings.NewReader("p"))
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("padding part: %v %v", err, resp)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		})
	}
	for i := 2; i <= raceParts+1; i++ {
		next <- urls[strconv.Itoa(i)]
	}
	close(next)
	wg.Wait()
}

// objectSize is the size of the object key in bucket media, and whether it
// exists.
func objectSize(t *testing.T, s *harness.S3, key string) (int64, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	head, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("media"), Key: aws.String(key)})
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey") {
		return 0, false
	}
	if err != nil {
		t.Fatalf("HeadObject %s: %v", key, err)
	}
	return aws.ToInt64(head.ContentLength), true
}

// TestUppyCompleteForeignETag: a complete whose ETag is not the listed
// part's is 400 and completes nothing.
func TestUppyCompleteForeignETag(t *testing.T) {
	s, base := uppySite(t)
	u := create(t, base, "alice", "a.bin", "application/octet-stream")
	var one struct{ URL string }
	if code, body := uppy(t, base, "alice", "GET", "multipart/"+url.PathEscape(u.UploadID)+"/1"+u.q(), nil, &one); code != 200 {
		t.Fatalf("sign part: %d %s", code, body)
	}
	etag := putPart(t, one.URL, []byte("part one"))
	other := md5.Sum([]byte("another part"))
	if code, body := uppy(t, base, "alice", "POST", "multipart/"+url.PathEscape(u.UploadID)+"/complete"+u.q(), partsOf(hex.EncodeToString(other[:])), nil); code != http.StatusBadRequest {
		t.Errorf("complete with a foreign ETag: %d %s, want 400", code, body)
	}
	if _, exists := objectSize(t, s, u.Key); exists {
		t.Error("a complete refused with 400 completed the object")
	}
	if code, body := uppy(t, base, "alice", "POST", "multipart/"+url.PathEscape(u.UploadID)+"/complete"+u.q(), partsOf(etag), nil); code != http.StatusOK {
		t.Errorf("complete with the listed ETag: %d %s, want 200", code, body)
	}
}

// TestStoreRefusalsAndMessages: a key segment of 300 bytes, which
// versitygw refuses, is a 4xx and writes no error-level log line; a store
// that is not there is 502, the {err.message} a handle_errors shows
// names neither the api_endpoint's address nor the bucket, and the log
// says why (connection refused) without the address either.
func TestStoreRefusalsAndMessages(t *testing.T) {
	s := harness.StartS3(t)
	s.CreateBucket(t, "vault7")
	port, dead := harness.Port(t), harness.Port(t)
	deadAddr := "127.0.0.1:" + strconv.Itoa(dead)
	c := harness.StartCaddy(t, site(port, presignBlock(
		s.Profile("vault7", "vault7"),
		s.Profile("gone", "vault7", "api_endpoint http://"+deadAddr, "api_timeout 2s"),
		`rule /dl/* {
			profile vault7
			strip_prefix /dl
			check_exists
			browse
		}
		rule /down/* {
			profile gone
			strip_prefix /down
			check_exists
			browse
		}`)+"\n\t"+`handle_errors {
		respond "error {err.status_code}: {err.message}" {err.status_code}
	}`), []int{port})
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	long := strings.Repeat("x", 300)
	for _, p := range []string{"/dl/" + long, "/dl/a/" + long + "/b.txt"} {
		code, _, body := harness.Fetch(t, "GET", base+p, nil)
		if code < 400 || code >= 500 {
			t.Errorf("GET %.40s...: %d %q, want 4xx", p, code, body)
		}
	}
	for _, p := range []string{"/down/x.txt", "/down/"} {
		code, _, body := harness.Fetch(t, "GET", base+p, nil)
		if code != http.StatusBadGateway || !strings.HasPrefix(string(body), "error 502: ") {
			t.Errorf("GET %s: %d %q, want 502 through handle_errors", p, code, body)
		}
		for _, secret := range []string{deadAddr, strconv.Itoa(dead), "vault7"} {
			if strings.Contains(string(body), secret) {
				t.Errorf("GET %s: the message %q names %s", p, body, secret)
			}
		}
	}
	log := c.LogText()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"level":"error"`) && strings.Contains(line, long) {
			t.Errorf("an error-level line for the client's key: %.300s", line)
		}
	}
	if strings.Contains(log, deadAddr) || !strings.Contains(log, "connection refused") {
		t.Errorf("the log names the store outage's address %s, or not its cause (connection refused):\n%s", deadAddr, harness.Clipped(log, 2000))
	}
}
