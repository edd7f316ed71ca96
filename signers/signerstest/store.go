package signerstest

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// Wire is a store's protocol, as the suite's recording server speaks it
// for a kind with a Store: the server reads each call Caddy makes, checks
// its credential, and answers whatever the check at hand needs.
type Wire struct {
	// Call reads a request Caddy made to the store: what it asks (a
	// listing or an existence check), and nil when its credential allows
	// exactly that call and no more (least privilege), else why not. A
	// request that is neither call is an error.
	Call func(r *http.Request) (Call, error)

	// WriteList answers a listing with the page p.
	WriteList func(w http.ResponseWriter, c Call, p Page)

	// WriteExists answers an existence check: the object (with an ETag),
	// or the store's answer that there is none.
	WriteExists func(w http.ResponseWriter, exists bool)

	// AzureErrors: the store names its error codes in x-ms-error-code, as
	// Azure's blob service does, besides the XML Error body.
	AzureErrors bool

	// TokenIsTruncation: the store says that a page is truncated by its
	// token alone (Azure's NextMarker), so that no page can be truncated
	// without one.
	TokenIsTruncation bool

	// ListRefusals and ExistsRefusals are the kind's table of the store's
	// other answers and what each must be classified as (see RefusalCase):
	// for List at least one case of the request's doing (400) and one
	// outage (502), for Exists at least one outage.
	ListRefusals, ExistsRefusals []RefusalCase
}

// Call is one call of Caddy's to the store.
type Call struct {
	Op          string            // "list" or "exists"; of a multipart upload: "create", "parts", "complete" or "abort"
	Prefix      string            // list: the prefix asked
	Token       string            // list: the store's continuation token; parts: its marker ("" for the first page)
	Key         string            // exists and multipart calls: the object's key
	UploadID    string            // parts, complete, abort: the upload
	ContentType string            // create: the object's Content-Type
	Meta        map[string]string // create: the user metadata the store is asked to keep, by name
	Parts       []signers.Part    // complete: the parts asked for (number and ETag), in order
}

// Page is a page of a listing as the store sends it.
type Page struct {
	Prefix    string // the prefix the page says it lists
	Folders   []string
	Objects   []signers.Object
	Next      string // the store's continuation token
	Truncated bool
}

// ListObjectsV2 is the Wire of a store that speaks S3's protocol for the
// calls of browse and check_exists, as S3 and Cloud Storage's XML API do,
// with bucket in the path: a listing is GET /<bucket>?list-type=2 (prefix,
// continuation-token), answered with a ListObjectsV2 document; an
// existence check is HEAD /<bucket>/<key>, answered 200 with an ETag or
// 404. authorize is the kind's check of a call's credential (its
// signature, scoped to the call's method and path); the kind adds its
// refusal tables.
func ListObjectsV2(bucket string, authorize func(r *http.Request) error) *Wire {
	return &Wire{
		Call: func(r *http.Request) (Call, error) {
			var c Call
			err := authorize(r)
			q := r.URL.Query()
			switch {
			case r.Method == http.MethodGet && r.URL.Path == "/"+bucket && q.Get("list-type") == "2":
				c = Call{Op: "list", Prefix: q.Get("prefix"), Token: q.Get("continuation-token")}
			case r.Method == http.MethodHead && strings.HasPrefix(r.URL.Path, "/"+bucket+"/"):
				key, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/"+bucket+"/"))
				c = Call{Op: "exists", Key: key}
			default:
				return c, fmt.Errorf("not a call of browse or check_exists: %s %s", r.Method, r.URL.Path)
			}
			return c, err
		},
		WriteList: func(w http.ResponseWriter, _ Call, p Page) { writeListObjectsV2(w, bucket, p) },
		WriteExists: func(w http.ResponseWriter, exists bool) {
			if !exists {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.Header().Set("ETag", `"0123abcd"`)
		},
	}
}

// writeListObjectsV2 writes p as a ListObjectsV2 answer (ListBucketResult)
// of bucket.
func writeListObjectsV2(w http.ResponseWriter, bucket string, p Page) {
	type content struct {
		Key          string
		Size         int64
		LastModified string
		ETag         string
	}
	type folder struct{ Prefix string }
	doc := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Name, Prefix          string
		Delimiter             string
		KeyCount              int
		IsTruncated           bool
		NextContinuationToken string `xml:",omitempty"`
		Contents              []content
		CommonPrefixes        []folder
	}{Name: bucket, Prefix: p.Prefix, Delimiter: "/", KeyCount: len(p.Objects) + len(p.Folders), IsTruncated: p.Truncated, NextContinuationToken: p.Next}
	for _, o := range p.Objects {
		doc.Contents = append(doc.Contents, content{o.Key, o.Size, o.ModTime.UTC().Format(time.RFC3339), `"e"`})
	}
	for _, f := range p.Folders {
		doc.CommonPrefixes = append(doc.CommonPrefixes, folder{f})
	}
	writeXML(w, doc)
}

// recorder is the recording store: it keeps each call and each call
// whose credential allows more or other than it, and answers with answer.
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []Call
	wider  []string
	answer func(w http.ResponseWriter, r *http.Request, c Call)
}

// newRecorder starts a recording store that reads each request with call
// (a Wire's or a MultipartWire's).
func newRecorder(t *testing.T, call func(r *http.Request) (Call, error)) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := call(r)
		rec.mu.Lock()
		if err != nil {
			rec.wider = append(rec.wider, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
		}
		rec.calls = append(rec.calls, c)
		answer := rec.answer
		rec.mu.Unlock()
		answer(w, r, c)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// count is how many calls were recorded.
func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.calls)
}

// since are the calls recorded after the first n.
func (rec *recorder) since(n int) []Call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.calls[n:])
}

// last is the last call recorded.
func (rec *recorder) last() Call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) == 0 {
		return Call{}
	}
	return rec.calls[len(rec.calls)-1]
}

// checkStore: pages, continuation tokens, confinement to the prefix,
// junk pages as errors, existence, the classification of the store's
// other answers, an unreachable store (refused, reset, a listing cut off;
// its errors without the store's address), missing credentials, and least
// privilege for every call.
func checkStore(t *testing.T, k Kind) {
	w := k.Store
	rec := newRecorder(t, w.Call)
	st := k.New(t, rec.URL).(signers.Store)
	ctx := context.Background()
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	page := func(p Page) func(http.ResponseWriter, *http.Request, Call) {
		return func(rw http.ResponseWriter, _ *http.Request, c Call) { w.WriteList(rw, c, p) }
	}

	t.Run("Pages", func(t *testing.T) {
		first := Page{
			Prefix: "docs/", Folders: []string{"docs/sub/"}, Next: "tok/+= ü1", Truncated: true,
			Objects: []signers.Object{{Key: "docs/a & b.txt", Size: 42, ModTime: mod}, {Key: "docs/ü ñ?#%.txt", Size: 7, ModTime: mod}},
		}
		rec.answer = page(first)
		l, err := st.List(ctx, "docs/", "")
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if c := rec.last(); c.Op != "list" || c.Prefix != "docs/" || c.Token != "" {
			t.Errorf("List asked the store %+v, want a listing of docs/ from the start", c)
		}
		if !slices.Equal(l.Folders, first.Folders) || len(l.Objects) != 2 || l.Objects[0].Key != "docs/a & b.txt" || l.Objects[0].Size != 42 ||
			!l.Objects[0].ModTime.Equal(mod) || l.Objects[1].Key != "docs/ü ñ?#%.txt" || l.Next == "" {
			t.Errorf("listing %+v, want the page's folders and objects and a token", l)
		}
		rec.answer = page(Page{Prefix: "docs/", Objects: []signers.Object{{Key: "docs/z", Size: 1, ModTime: mod}}})
		l2, err := st.List(ctx, "docs/", l.Next)
		if err != nil {
			t.Fatalf("List, second page: %v", err)
		}
		if c := rec.last(); c.Token != first.Next || c.Prefix != "docs/" {
			t.Errorf("the second page asked the store %+v, want the token %q", c, first.Next)
		}
		if l2.Next != "" || len(l2.Objects) != 1 {
			t.Errorf("last page %+v, want one object and no token", l2)
		}
		rec.answer = page(Page{Folders: []string{"docs/"}})
		if _, err := st.List(ctx, "", ""); err != nil || rec.last().Prefix != "" {
			t.Errorf("List of the root: %v, asked %+v", err, rec.last())
		}
	})

	t.Run("Junk", func(t *testing.T) {
		for what, answer := range map[string]func(http.ResponseWriter, *http.Request, Call){
			"an object outside the prefix": page(Page{Prefix: "docs/", Objects: []signers.Object{{Key: "other/x", ModTime: mod}}}),
			"an object beside the prefix":  page(Page{Prefix: "docs/", Objects: []signers.Object{{Key: "docsx", ModTime: mod}}}),
			"a folder outside the prefix":  page(Page{Prefix: "docs/", Folders: []string{"other/"}}),
			"a listing of another prefix":  page(Page{Prefix: "other/"}),
			"truncated without a token":    page(Page{Prefix: "docs/", Truncated: true}),
			"an HTML page": func(rw http.ResponseWriter, _ *http.Request, _ Call) {
				rw.Header().Set("Content-Type", "text/html")
				_, _ = rw.Write([]byte("<html><body>maintenance</body></html>"))
			},
			"JSON": func(rw http.ResponseWriter, _ *http.Request, _ Call) {
				rw.Header().Set("Content-Type", "application/json")
				_, _ = rw.Write([]byte(`{"items": []}`))
			},
			"nothing": func(http.ResponseWriter, *http.Request, Call) {},
		} {
			if what == "truncated without a token" && w.TokenIsTruncation {
				continue
			}
			rec.answer = answer
			l, err := st.List(ctx, "docs/", "")
			var se *signers.StoreError
			if !errors.As(err, &se) || se.Status != http.StatusBadGateway {
				t.Errorf("a page with %s: %+v, %v; want a 502 StoreError", what, l, err)
			}
		}
	})

	t.Run("Exists", func(t *testing.T) {
		for _, key := range suiteKeys {
			for _, want := range []bool{true, false} {
				rec.answer = func(rw http.ResponseWriter, _ *http.Request, _ Call) { w.WriteExists(rw, want) }
				ok, err := st.Exists(ctx, key)
				if err != nil || ok != want {
					t.Errorf("Exists %q: %v %v, want %v", key, ok, err, want)
				}
				if c := rec.last(); c.Op != "exists" || c.Key != key {
					t.Errorf("Exists %q asked the store %+v", key, c)
				}
			}
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		has := func(table []RefusalCase, want int) bool {
			return slices.ContainsFunc(table, func(c RefusalCase) bool { return c.Want == want })
		}
		if !has(w.ListRefusals, http.StatusBadRequest) || !has(w.ListRefusals, http.StatusBadGateway) || !has(w.ExistsRefusals, http.StatusBadGateway) {
			t.Errorf("the kind's refusal tables need a 400 and a 502 case for List, and a 502 case for Exists")
		}
		for _, c := range w.ListRefusals {
			rec.answer = func(rw http.ResponseWriter, r *http.Request, _ Call) { writeRefusal(rw, r, w.AzureErrors, &c) }
			_, err := st.List(ctx, "docs/", "")
			CheckClassified(t, "List", &c, false, err)
		}
		for _, c := range w.ExistsRefusals {
			rec.answer = func(rw http.ResponseWriter, r *http.Request, _ Call) { writeRefusal(rw, r, w.AzureErrors, &c) }
			ok, err := st.Exists(ctx, suiteKey)
			CheckClassified(t, "Exists", &c, ok, err)
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		for _, down := range downStores(t) {
			p := k.New(t, down.url).(signers.Store)
			_, err := p.List(ctx, "docs/", "")
			checkStatus(t, "List, store "+down.name, err, http.StatusBadGateway)
			checkNoAddress(t, "List", err, down)
			ok, err := p.Exists(ctx, suiteKey)
			checkStatus(t, "Exists, store "+down.name, err, http.StatusBadGateway)
			checkNoAddress(t, "Exists", err, down)
			if ok {
				t.Errorf("Exists, store %s: true", down.name)
			}
		}
		cut := cutStore(t)
		_, err := k.New(t, cut.url).(signers.Store).List(ctx, "docs/", "")
		checkStatus(t, "List, store "+cut.name, err, http.StatusBadGateway)
		checkNoAddress(t, "List", err, cut)
	})

	if k.NoCredentials != nil {
		t.Run("Credentials", func(t *testing.T) {
			p := k.NoCredentials(t, rec.URL)
			checkCredentials(t, p)
			_, err := p.(signers.Store).List(ctx, "docs/", "")
			checkStatus(t, "List without credentials", err, http.StatusServiceUnavailable)
			ok, err := p.(signers.Store).Exists(ctx, suiteKey)
			checkStatus(t, "Exists without credentials", err, http.StatusServiceUnavailable)
			if ok {
				t.Error("Exists without credentials: true")
			}
		})
	}

	rec.checkPrivilege(t)
}

// checkPrivilege: every call recorded had a credential for exactly that
// call (least privilege).
func (rec *recorder) checkPrivilege(t *testing.T) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, c := range rec.wider {
		t.Errorf("least privilege: a call's credential is not exactly for that call: %s", c)
	}
}

// checkStatus checks that err is a StoreError of status.
func checkStatus(t *testing.T, what string, err error, status int) {
	t.Helper()
	var se *signers.StoreError
	if !errors.As(err, &se) || se.Status != status {
		t.Errorf("%s: %v, want a %d StoreError", what, err, status)
	}
}
