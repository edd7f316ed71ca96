package presign

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-presign/presign/signers"
)

// The handlers of Uppy's upload protocol (uppy.go): one uppyCall per request,
// routed, its key checked, then answered by the call's method.

// badRequest is a 400 with its reason.
func badRequest(reason string) *failure {
	return &failure{status: http.StatusBadRequest, reason: reason}
}

// failed is the answer to a call whose signing or (fromStore) store call
// failed.
func failed(err error, fromStore bool) *failure {
	f := failureOf(err, fromStore)
	return &f
}

// uppyCall is one request of the protocol being answered.
type uppyCall struct {
	h        *Handler
	rule     *Rule
	w        http.ResponseWriter
	r        *http.Request
	pieces   keyPieces // the key template, the request's placeholders expanded
	uploadID string
	sub      string // what follows the upload ID in the path: a part number, batch, complete
	key      string
}

// serveUppy answers a request of Uppy's upload protocol for rule.
func (h *Handler) serveUppy(w http.ResponseWriter, r *http.Request, rule *Rule) error {
	c := &uppyCall{h: h, rule: rule, w: w, r: r}
	call, e := c.route(rule.presignPath(r.URL.Path))
	if e == nil {
		e = c.serve(call)
	}
	status := http.StatusOK
	if e != nil {
		status = e.status
	}
	o := uppyOutcome(status)
	rule.metrics.inc(&rule.uppy.answers[call][o], uppyCallNames[call], uppyOutcomeNames[o])
	if e == nil {
		return nil
	}
	fields := []zap.Field{zap.String("call", uppyCallNames[call])}
	if c.key != "" {
		fields = append(fields, zap.String("key", c.key))
	}
	e.answer(h, w, rule, "uppy call failed", "uppy call refused", fields...)
	return writeJSON(w, e.status, map[string]string{"error": e.reason})
}

// route finds the call of the path p ({presign.path}) and the request's
// method, and checks the upload ID of the path.
func (c *uppyCall) route(p string) (int, *failure) {
	m := c.r.Method
	rest, ok := strings.CutPrefix(p, "s3/multipart")
	switch {
	case p == "s3/params":
		return c.method(uppyParams, m == http.MethodGet, "GET")
	case !ok || rest != "" && rest[0] != '/':
		return uppyUnknown, &failure{status: http.StatusNotFound, reason: "not an uppy call"}
	case rest == "":
		return c.method(uppyCreate, m == http.MethodPost, "POST")
	}
	id, sub, _ := strings.Cut(rest[1:], "/")
	if !c.rule.uppy.limits.ValidUploadID(id) {
		return uppyUnknown, badRequest("malformed uploadId")
	}
	c.uploadID, c.sub = id, sub
	switch sub {
	case "":
		switch m {
		case http.MethodGet:
			return uppyList, nil
		case http.MethodDelete:
			return uppyAbort, nil
		}
		return c.method(uppyList, false, "GET, DELETE")
	case "batch":
		return c.method(uppyBatch, m == http.MethodGet, "GET")
	case "complete":
		return c.method(uppyComplete, m == http.MethodPost, "POST")
	}
	return c.method(uppySignPart, m == http.MethodGet, "GET")
}

// method is call when ok, else a 405 that allows allow.
func (c *uppyCall) method(call int, ok bool, allow string) (int, *failure) {
	if ok {
		return call, nil
	}
	c.w.Header().Set("Allow", allow)
	return call, &failure{status: http.StatusMethodNotAllowed, reason: "method not allowed"}
}

// serve answers the call, routed already.
func (c *uppyCall) serve(call int) *failure {
	repl, _ := c.r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	c.pieces = c.rule.key.pieces.expand(repl)
	if call != uppyParams && call != uppyCreate {
		c.key = c.r.URL.Query().Get("key")
		if c.key == "" {
			return badRequest("missing key")
		}
		if checkKey(c.key) != "" || !c.pieces.allows(c.key) {
			return &failure{status: http.StatusForbidden, reason: "key not allowed"}
		}
	}
	switch call {
	case uppyParams:
		return c.params()
	case uppyCreate:
		return c.create()
	case uppySignPart:
		return c.signParts(c.sub, false)
	case uppyBatch:
		return c.signParts(c.r.URL.Query().Get("partNumbers"), true)
	case uppyList:
		return c.list()
	case uppyComplete:
		return c.complete()
	}
	return c.abort()
}

// newKey checks the client's file name and content type and returns the
// key of a new upload.
func (c *uppyCall) newKey(name, contentType string) *failure {
	if why := checkFilename(name); why != "" {
		return badRequest(why)
	}
	if why, _ := checkContentType(contentType, c.rule.ContentTypePrefix); why != "" {
		return badRequest(why)
	}
	c.key = c.pieces.fill(name, newUUID())
	if why := checkKey(c.key); why != "" {
		return badRequest(why)
	}
	return nil
}

// params answers GET s3/params with a POST policy form for one request.
func (c *uppyCall) params() *failure {
	q := c.r.URL.Query()
	contentType := q.Get("type")
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if e := c.newKey(q.Get("filename"), contentType); e != nil {
		return e
	}
	// Uppy appends only the file: the policy pins the checked type, and
	// the form's fields carry it
	sreq := c.signRequest(http.MethodPost)
	sreq.ContentType = contentType
	signed, err := c.rule.signer.Sign(c.r.Context(), sreq)
	if err != nil {
		return failed(err, false)
	}
	c.logAnswer(uppyParams)
	return c.answer(struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Fields  map[string]string `json:"fields"`
		Expires int64             `json:"expires"`
	}{http.MethodPost, signed.URL, signed.Fields, c.secondsLeft(signed.ExpiresAt)})
}

// create answers POST s3/multipart: it starts a multipart upload.
func (c *uppyCall) create() *failure {
	var body struct {
		Filename string         `json:"filename"`
		Type     string         `json:"type"`
		Metadata map[string]any `json:"metadata"`
	}
	if e := c.readJSON(64<<10, &body); e != nil {
		return e
	}
	if body.Type == "" {
		body.Type = "application/octet-stream"
	}
	if e := c.newKey(body.Filename, body.Type); e != nil {
		return e
	}
	id, err := c.rule.uppy.mp.CreateMultipart(c.r.Context(), c.key, body.Type, userMetadata(body.Metadata, &c.rule.uppy.limits))
	if err != nil {
		return failed(err, true)
	}
	c.uploadID = id
	c.logAnswer(uppyCreate)
	return c.answer(map[string]string{"key": c.key, "uploadId": id})
}

// signParts answers GET s3/multipart/{id}/{n} ({"url","expires"}), and
// for batch GET s3/multipart/{id}/batch?partNumbers=1,2
// ({"presignedUrls":{"1":url,...}}): at most 10000 distinct part numbers,
// a number asked twice is 400 (an answer never grows past what the
// upload can use).
func (c *uppyCall) signParts(list string, batch bool) *failure {
	if list == "" {
		return badRequest("no part number")
	}
	maxPart := c.rule.uppy.limits.MaxPartNumber
	if strings.Count(list, ",") >= int(maxPart) {
		return badRequest(fmt.Sprintf("more than %d part numbers", maxPart))
	}
	parts := make([]int32, 0, strings.Count(list, ",")+1)
	// the part numbers so far, one bit each: on the stack up to 10000
	// (S3's limit), else on the heap
	var onStack [10000/64 + 1]uint64
	seen := onStack[:]
	if int(maxPart)/64+1 > len(seen) {
		seen = make([]uint64, maxPart/64+1)
	}
	for s := range strings.SplitSeq(list, ",") {
		n := parsePartNumber(s, maxPart)
		if n == 0 || !batch && len(parts) > 0 {
			return badRequest(fmt.Sprintf("part numbers are 1 to %d", maxPart))
		}
		if seen[n/64]&(1<<(n%64)) != 0 {
			return badRequest("part number " + strconv.Itoa(int(n)) + " asked twice")
		}
		seen[n/64] |= 1 << (n % 64)
		parts = append(parts, n)
	}
	sreq := c.signRequest(http.MethodPut)
	urls, expiresAt, err := c.rule.uppy.mp.SignParts(c.r.Context(), &sreq, c.uploadID, parts)
	if err != nil {
		return failed(err, false)
	}
	if !batch {
		c.logAnswer(uppySignPart)
		return c.answer(struct {
			URL     string `json:"url"`
			Expires int64  `json:"expires"`
		}{urls[0], c.secondsLeft(expiresAt)})
	}
	// written by hand: a map through encoding/json costs more than the
	// signatures; a presigned URL has nothing to escape
	b := make([]byte, 0, 32+len(urls)*(len(urls[0])+10))
	b = append(b, `{"presignedUrls":{`...)
	for i, u := range urls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(parts[i]), 10)
		b = append(b, `":"`...)
		b = append(b, u...)
		b = append(b, '"')
	}
	b = append(b, "}}\n"...)
	c.logAnswer(uppyBatch)
	if err := writeBody(c.w, http.StatusOK, "application/json", b); err != nil {
		c.h.logger.Debug("writing an uppy answer", zap.Error(err))
	}
	return nil
}

// list answers GET s3/multipart/{id}: every part so far.
func (c *uppyCall) list() *failure {
	parts, err := c.rule.uppy.mp.ListParts(c.r.Context(), c.key, c.uploadID)
	if err != nil {
		return failed(err, true)
	}
	type part struct {
		PartNumber int32  `json:"PartNumber"`
		Size       int64  `json:"Size"`
		ETag       string `json:"ETag"`
	}
	out := make([]part, len(parts))
	for i, p := range parts {
		out[i] = part(p)
	}
	c.logAnswer(uppyList)
	return c.answer(out)
}

// complete answers POST s3/multipart/{id}/complete. It completes the
// upload with the parts as ListParts returned them, never with the
// client's ETags, in this order: the client's parts must each be listed,
// with the listed ETag (else 400, and nothing is completed); with max_size,
// the listed sizes of those parts must not sum over it (else the upload is
// aborted, 413); then, with max_size, the completed object is measured
// (ObjectSize) and deleted when over it (413), which holds whatever the
// store did between listing and completing.
func (c *uppyCall) complete() *failure {
	var body struct {
		Parts []struct {
			PartNumber int32  `json:"PartNumber"`
			ETag       string `json:"ETag"`
		} `json:"parts"`
	}
	if e := c.readJSON(2<<20, &body); e != nil {
		return e
	}
	maxPart := c.rule.uppy.limits.MaxPartNumber
	if len(body.Parts) == 0 || len(body.Parts) > int(maxPart) {
		return badRequest(fmt.Sprintf("parts: 1 to %d are needed", maxPart))
	}
	for _, p := range body.Parts {
		if p.PartNumber < 1 || p.PartNumber > maxPart {
			return badRequest(fmt.Sprintf("part numbers are 1 to %d", maxPart))
		}
		if p.ETag == "" || len(p.ETag) > 256 || !printableASCII(p.ETag) {
			return badRequest("bad ETag")
		}
	}
	mp, ctx := c.rule.uppy.mp, c.r.Context()
	listed, err := mp.ListParts(ctx, c.key, c.uploadID)
	if err != nil {
		return failed(err, true)
	}
	byNumber := make(map[int32]signers.Part, len(listed))
	for _, p := range listed {
		byNumber[p.PartNumber] = p
	}
	parts := make([]signers.Part, len(body.Parts))
	var total int64
	for i, p := range body.Parts {
		l, ok := byNumber[p.PartNumber]
		if !ok {
			return badRequest(fmt.Sprintf("part %d was not uploaded", p.PartNumber))
		}
		// Uppy sends the ETag without its quotes
		if strings.Trim(p.ETag, `"`) != strings.Trim(l.ETag, `"`) {
			return badRequest(fmt.Sprintf("part %d: the ETag is not the uploaded part's", p.PartNumber))
		}
		parts[i] = l
		total += l.Size
	}
	max := c.rule.MaxSize
	if max > 0 && total > max {
		if err := mp.AbortMultipart(ctx, c.key, c.uploadID); err != nil {
			return failed(err, true)
		}
		return tooLarge(total, max, "aborted")
	}
	location, err := mp.CompleteMultipart(ctx, c.key, c.uploadID, parts)
	if err != nil {
		return failed(err, true)
	}
	if max > 0 {
		if e := c.checkCompleted(max); e != nil {
			return e
		}
	}
	c.logAnswer(uppyComplete)
	return c.answer(map[string]string{"location": location, "key": c.key})
}

// checkCompleted measures the object an upload completed into and deletes
// it when it is over max (413), or when it cannot be measured (the store's
// failure): no object over max_size is left behind.
func (c *uppyCall) checkCompleted(max int64) *failure {
	mp, ctx := c.rule.uppy.mp, c.r.Context()
	size, err := mp.ObjectSize(ctx, c.key)
	if err == nil && size <= max {
		return nil
	}
	if derr := mp.DeleteObject(ctx, c.key); derr != nil {
		return failed(derr, true)
	}
	if err != nil {
		return failed(err, true)
	}
	return tooLarge(size, max, "deleted")
}

// tooLarge is the 413 of an upload of size bytes over max, and what was
// done about it.
func tooLarge(size, max int64, done string) *failure {
	return &failure{
		status: http.StatusRequestEntityTooLarge,
		reason: fmt.Sprintf("upload of %d bytes is over max_size %d; %s", size, max, done),
	}
}

// abort answers DELETE s3/multipart/{id}.
func (c *uppyCall) abort() *failure {
	if err := c.rule.uppy.mp.AbortMultipart(c.r.Context(), c.key, c.uploadID); err != nil {
		return failed(err, true)
	}
	c.logAnswer(uppyAbort)
	return c.answer(struct{}{})
}

// signRequest is the presign request of the call's key.
func (c *uppyCall) signRequest(method string) signers.Request {
	return signers.Request{
		Method:   method,
		Key:      c.key,
		SignTime: time.Unix(c.h.now().Unix(), 0).UTC(),
		Expires:  c.rule.expires,
		Options:  &c.rule.Options,
	}
}

// secondsLeft is the lifetime left at t, in whole seconds, as Companion
// answers it.
func (c *uppyCall) secondsLeft(t time.Time) int64 {
	return max(int64(t.Sub(c.h.now())/time.Second), 0)
}

// readJSON decodes the request's JSON body of at most limit bytes into v.
func (c *uppyCall) readJSON(limit int64, v any) *failure {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, limit+1))
	if err != nil {
		return badRequest("cannot read the body")
	}
	if int64(len(b)) > limit {
		return &failure{status: http.StatusRequestEntityTooLarge, reason: "body too large"}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("body is not the expected JSON")
	}
	return nil
}

// answer writes v as the 200 answer.
func (c *uppyCall) answer(v any) *failure {
	if err := writeJSON(c.w, http.StatusOK, v); err != nil {
		c.h.logger.Debug("writing an uppy answer", zap.Error(err))
	}
	return nil
}

// logAnswer writes the debug line of a successful call.
func (c *uppyCall) logAnswer(call int) {
	if ce := c.h.logger.Check(zapcore.DebugLevel, "uppy"); ce != nil {
		ce.Write(zap.String("rule", c.rule.name), zap.String("profile", c.rule.Profile),
			zap.String("call", uppyCallNames[call]), zap.String("key", c.key), zap.String("upload_id", c.uploadID))
	}
}
