package signerstest

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// checkMultipart: the parts of a multipart upload are signed as the
// contract says, as far as it shows without the store: one URL per part
// number, in order, each under the origin, naming its part and the
// upload, each a PUT the verifier accepts until the answer's expiry and
// no later, and refused for another part.
func checkMultipart(t *testing.T, k Kind) {
	p := k.New(t, "http://127.0.0.1:9")
	mp := p.(signers.Multipart)
	r := request(t, p, http.MethodPut, suiteKey, signTime(), new(signers.Options))
	parts := []int32{1, 2, mp.MultipartLimits().MaxPartNumber}
	urls, expiresAt, err := mp.SignParts(context.Background(), &r, "upload-1", parts)
	if err != nil {
		t.Fatalf("SignParts: %v", err)
	}
	if len(urls) != len(parts) {
		t.Fatalf("SignParts: %d URLs for %d parts", len(urls), len(parts))
	}
	if want := r.SignTime.Add(r.Expires); !expiresAt.Equal(want) {
		t.Errorf("SignParts: expires at %s, want %s", expiresAt, want)
	}
	for i, u := range urls {
		if !underOrigin(u, p.Origin()) {
			t.Errorf("part %d: URL %s is not under the origin %s", parts[i], u, p.Origin())
		}
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatalf("part %d: %v", parts[i], err)
		}
		q := pu.Query()
		if q.Get("partNumber") != strconv.Itoa(int(parts[i])) || q.Get("uploadId") != "upload-1" {
			t.Errorf("part %d: URL %s does not name its part and the upload", parts[i], u)
		}
		s := &signers.Signed{URL: u, ExpiresAt: expiresAt}
		if err := k.Verify(r, s, r.SignTime.Add(time.Second)); err != nil {
			t.Errorf("part %d: the verifier refuses %s: %v", parts[i], u, err)
		}
		if err := k.Verify(r, s, expiresAt); err == nil {
			t.Errorf("part %d: the verifier accepts %s at its expiry", parts[i], u)
		}
		q.Set("partNumber", strconv.Itoa(int(parts[i])+1))
		pu.RawQuery = q.Encode()
		if err := k.Verify(r, &signers.Signed{URL: pu.String(), ExpiresAt: expiresAt}, r.SignTime.Add(time.Second)); err == nil {
			t.Errorf("part %d: the verifier accepts the URL for part %d", parts[i], parts[i]+1)
		}
	}
}

// mpCall is one of the calls of a multipart upload to the store, as the
// checks make it: what it gave (shown in a failure) and its error.
type mpCall struct {
	op string
	do func(ctx context.Context, mp signers.Multipart, id string) (any, error)
}

// mpParts are the parts the checks complete an upload with.
var mpParts = []signers.Part{{PartNumber: 1, ETag: `"e1"`}, {PartNumber: 3, ETag: `"e3"`}}

// mpMeta is the user metadata the checks start uploads with, as the
// handler passes it (names as the kind's MetadataName gives them).
func mpMeta(l signers.MultipartLimits) map[string]string {
	name, _ := l.MetadataName("Name")
	return map[string]string{name: "holiday.mp4"}
}

// mpCalls are the four calls of an upload of suiteKey, each with id.
var mpCalls = []mpCall{
	{"create", func(ctx context.Context, mp signers.Multipart, _ string) (any, error) {
		return mp.CreateMultipart(ctx, suiteKey, "video/mp4", mpMeta(mp.MultipartLimits()))
	}},
	{"parts", func(ctx context.Context, mp signers.Multipart, id string) (any, error) {
		return mp.ListParts(ctx, suiteKey, id)
	}},
	{"complete", func(ctx context.Context, mp signers.Multipart, id string) (any, error) {
		return mp.CompleteMultipart(ctx, suiteKey, id, mpParts)
	}},
	{"abort", func(ctx context.Context, mp signers.Multipart, id string) (any, error) {
		return "aborted", mp.AbortMultipart(ctx, suiteKey, id)
	}},
}

// cut is the answer write sends, cut off halfway through its body.
func cut(write func(http.ResponseWriter)) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		full := httptest.NewRecorder()
		write(full)
		maps.Copy(w.Header(), full.Header())
		w.WriteHeader(full.Code)
		b := full.Body.Bytes()
		_, _ = w.Write(b[:len(b)/2])
	}
}

// checkMultipartCalls: the calls of a multipart upload to the store
// (create, list the parts, complete, abort), against the recording store
// of the kind's MultipartWire: each signed for exactly that call (least
// privilege), naming the key, the upload and what the call carries; the
// store's answers read as they are (the upload id, every page of parts
// with their sizes and ETags, the object's URL under the origin); junk or
// cut answers, an error in a 200, the store's refusals, an unreachable
// store and missing credentials never read as success. The limits are
// every one set, and the upload ids the store issues pass them.
func checkMultipartCalls(t *testing.T, k Kind) {
	w := k.Multipart
	rec := newRecorder(t, w.Call)
	mp := k.New(t, rec.URL).(signers.Multipart)
	origin := k.New(t, rec.URL).Origin()
	l := mp.MultipartLimits()
	ctx := context.Background()
	id := w.UploadID
	answer := func(write func(http.ResponseWriter, Call)) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.answer = func(rw http.ResponseWriter, _ *http.Request, c Call) { write(rw, c) }
	}
	created := func(rw http.ResponseWriter, c Call) { w.WriteCreate(rw, c, id) }

	t.Run("Limits", func(t *testing.T) {
		if l.MaxPartNumber < 1 || l.MaxMetadataSize < 1 || l.ValidUploadID == nil || l.MetadataName == nil || l.ValidMetadataValue == nil {
			t.Fatalf("MultipartLimits %+v: every field must be set", l)
		}
		if !l.ValidUploadID(id) || l.ValidUploadID("") {
			t.Errorf("ValidUploadID: the store's upload id %q valid %v, the empty one %v", id, l.ValidUploadID(id), l.ValidUploadID(""))
		}
		if name, ok := l.MetadataName("Name"); !ok || name == "" || !l.ValidMetadataValue("holiday.mp4") {
			t.Errorf("MultipartLimits refuse the metadata name=holiday.mp4: %q %v", name, ok)
		}
	})

	t.Run("Create", func(t *testing.T) {
		answer(created)
		for _, key := range suiteKeys {
			got, err := mp.CreateMultipart(ctx, key, "video/mp4", mpMeta(l))
			if err != nil || got != id {
				t.Errorf("CreateMultipart %q: %q, %v; want the store's upload id %q", key, got, err, id)
			}
			if c := rec.last(); c.Op != "create" || c.Key != key || c.ContentType != "video/mp4" || !maps.Equal(c.Meta, mpMeta(l)) {
				t.Errorf("CreateMultipart %q asked the store %+v, want a create of the key, video/mp4 and the metadata %v", key, c, mpMeta(l))
			}
		}
	})

	t.Run("ListParts", func(t *testing.T) {
		first := PartsPage{
			UploadID: id, Next: "2", Truncated: true,
			Parts: []signers.Part{{PartNumber: 1, Size: 5 << 20, ETag: `"e1"`}, {PartNumber: 2, Size: 5 << 20, ETag: `"e2"`}},
		}
		last := PartsPage{UploadID: id, Parts: []signers.Part{{PartNumber: 4, Size: 7, ETag: `"e4"`}}}
		n := rec.count()
		answer(func(rw http.ResponseWriter, c Call) {
			if c.Token == "" {
				w.WriteParts(rw, c, first)
			} else {
				w.WriteParts(rw, c, last)
			}
		})
		parts, err := mp.ListParts(ctx, suiteKey, id)
		if want := append(slices.Clone(first.Parts), last.Parts...); err != nil || !slices.Equal(parts, want) {
			t.Errorf("ListParts: %+v, %v; want both pages' parts %+v", parts, err, want)
		}
		calls := rec.since(n)
		asked := make([]string, 0, len(calls))
		for _, c := range calls {
			if c.Op != "parts" || c.Key != suiteKey || c.UploadID != id {
				t.Errorf("ListParts asked the store %+v, want the upload's parts", c)
			}
			asked = append(asked, c.Token)
		}
		if !slices.Equal(asked, []string{"", first.Next}) {
			t.Errorf("ListParts asked for the pages from %q, want from the start, then from %q", asked, first.Next)
		}
	})

	t.Run("Complete", func(t *testing.T) {
		answer(w.WriteComplete)
		for _, key := range suiteKeys {
			u, err := mp.CompleteMultipart(ctx, key, id, mpParts)
			if err != nil {
				t.Errorf("CompleteMultipart %q: %v", key, err)
				continue
			}
			if c := rec.last(); c.Op != "complete" || c.Key != key || c.UploadID != id || !slices.Equal(c.Parts, mpParts) {
				t.Errorf("CompleteMultipart %q asked the store %+v, want a completion of the upload with the parts %+v", key, c, mpParts)
			}
			pu, err := url.Parse(u)
			if !underOrigin(u, origin) || err != nil || pu.RawQuery != "" || !strings.HasSuffix(pu.Path, "/"+key) {
				t.Errorf("CompleteMultipart %q: URL %s, want the object's unsigned URL under the origin %s", key, u, origin)
			}
		}
	})

	t.Run("Abort", func(t *testing.T) {
		answer(w.WriteAbort)
		if err := mp.AbortMultipart(ctx, suiteKey, id); err != nil {
			t.Errorf("AbortMultipart: %v", err)
		}
		if c := rec.last(); c.Op != "abort" || c.Key != suiteKey || c.UploadID != id {
			t.Errorf("AbortMultipart asked the store %+v, want an abort of the upload", c)
		}
	})

	t.Run("Junk", func(t *testing.T) {
		html := func(rw http.ResponseWriter, _ Call) {
			rw.Header().Set("Content-Type", "text/html")
			_, _ = rw.Write([]byte("<html><body>maintenance</body></html>"))
		}
		junk := map[string]func(http.ResponseWriter, Call){
			"an HTML page": html,
			"JSON": func(rw http.ResponseWriter, _ Call) {
				rw.Header().Set("Content-Type", "application/json")
				_, _ = rw.Write([]byte(`{"uploadId": "x"}`))
			},
			"nothing": func(http.ResponseWriter, Call) {},
		}
		page := func(p PartsPage) func(http.ResponseWriter, Call) {
			return func(rw http.ResponseWriter, c Call) { w.WriteParts(rw, c, p) }
		}
		one := []signers.Part{{PartNumber: 1, Size: 1, ETag: `"e1"`}}
		for op, answers := range map[string]map[string]func(http.ResponseWriter, Call){
			"create": {"a cut answer": func(rw http.ResponseWriter, c Call) { cut(func(rw http.ResponseWriter) { created(rw, c) })(rw) }},
			"parts": {
				"a cut answer": func(rw http.ResponseWriter, c Call) {
					cut(func(rw http.ResponseWriter) { page(PartsPage{UploadID: id, Parts: one})(rw, c) })(rw)
				},
				"another upload's parts":     page(PartsPage{UploadID: id + "x", Parts: one}),
				"truncated without a marker": page(PartsPage{UploadID: id, Parts: one, Truncated: true}),
				"parts out of order":         page(PartsPage{UploadID: id, Parts: []signers.Part{{PartNumber: 2, Size: 1, ETag: `"e2"`}, one[0]}}),
			},
			"complete": {"a cut answer": func(rw http.ResponseWriter, c Call) { cut(func(rw http.ResponseWriter) { w.WriteComplete(rw, c) })(rw) }},
		} {
			if op == "complete" && w.Error200 {
				answers["an error in a 200"] = func(rw http.ResponseWriter, _ Call) {
					writeXML(rw, struct {
						XMLName xml.Name `xml:"Error"`
						Code    string
						Message string
					}{Code: "InternalError", Message: "We encountered an internal error. Please try again."})
				}
			}
			maps.Copy(answers, junk)
			i := slices.IndexFunc(mpCalls, func(c mpCall) bool { return c.op == op })
			for what, a := range answers {
				answer(a)
				got, err := mpCalls[i].do(ctx, mp, id)
				checkStatus(t, fmt.Sprintf("%s answered with %s (gave %v)", op, what, got), err, http.StatusBadGateway)
			}
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		for _, want := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusBadGateway} {
			if !slices.ContainsFunc(w.Refusals, func(c RefusalCase) bool { return c.Want == want }) {
				t.Errorf("the kind's multipart refusal table needs a %d case", want)
			}
		}
		for _, c := range w.Refusals {
			rec.mu.Lock()
			rec.answer = func(rw http.ResponseWriter, r *http.Request, _ Call) { writeRefusal(rw, r, false, &c) }
			rec.mu.Unlock()
			for _, call := range mpCalls {
				got, err := call.do(ctx, mp, id)
				checkStatus(t, fmt.Sprintf("%s refused %d %s (gave %v)", call.op, c.Status, c.Code, got), err, c.Want)
			}
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		calls := append(slices.Clip(mpCalls),
			mpCall{"size", func(ctx context.Context, mp signers.Multipart, _ string) (any, error) {
				return mp.ObjectSize(ctx, suiteKey)
			}},
			mpCall{"delete", func(ctx context.Context, mp signers.Multipart, _ string) (any, error) {
				return "deleted", mp.DeleteObject(ctx, suiteKey)
			}})
		for _, down := range downStores(t) {
			p := k.New(t, down.url).(signers.Multipart)
			for _, call := range calls {
				got, err := call.do(ctx, p, id)
				checkStatus(t, fmt.Sprintf("%s, store %s (gave %v)", call.op, down.name, got), err, http.StatusBadGateway)
				checkNoAddress(t, call.op, err, down)
			}
		}
	})

	if k.NoCredentials != nil {
		t.Run("Credentials", func(t *testing.T) {
			p := k.NoCredentials(t, rec.URL).(signers.Multipart)
			n := rec.count()
			for _, call := range mpCalls {
				got, err := call.do(ctx, p, id)
				checkStatus(t, fmt.Sprintf("%s without credentials (gave %v)", call.op, got), err, http.StatusServiceUnavailable)
				if !errors.Is(err, signers.ErrCredentials) {
					t.Errorf("%s without credentials: %v does not wrap ErrCredentials", call.op, err)
				}
			}
			r := request(t, k.New(t, rec.URL), http.MethodPut, suiteKey, signTime(), new(signers.Options))
			if _, _, err := p.SignParts(ctx, &r, id, []int32{1}); !errors.Is(err, signers.ErrCredentials) {
				t.Errorf("SignParts without credentials: %v, want an ErrCredentials", err)
			}
			if calls := rec.since(n); len(calls) != 0 {
				t.Errorf("without credentials, the store was called: %+v", calls)
			}
		})
	}

	rec.checkPrivilege(t)
}
