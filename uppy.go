package presign

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// Uppy's S3 protocol (@uppy/aws-s3 with companionEndpoint), answered by
// rules with the uppy option under their path after strip_prefix:
//
//	GET    s3/params?filename=F&type=T          POST policy form (one request)
//	POST   s3/multipart {filename,type,metadata} CreateMultipartUpload
//	GET    s3/multipart/{id}/{n}?key=K          UploadPart presigned for PUT
//	GET    s3/multipart/{id}/batch?key=K&partNumbers=1,2
//	GET    s3/multipart/{id}?key=K              ListParts, every page
//	POST   s3/multipart/{id}/complete?key=K {parts:[{PartNumber,ETag}]}
//	DELETE s3/multipart/{id}?key=K              AbortMultipartUpload
//
// No state is kept between calls: a key sent by the client is accepted
// only when the rule's template could have produced it for this request.

// The placeholders of uppy key templates.
const (
	filenamePlaceholder = "{presign.filename}"
	uuidPlaceholder     = "{presign.uuid}"
)

// S3's limits of multipart uploads.
const (
	maxParts    = 10000
	maxUploadID = 1024
)

// The calls of the protocol, the method label of their answers.
const (
	uppyParams = iota
	uppyCreate
	uppySignPart
	uppyBatch
	uppyList
	uppyComplete
	uppyAbort
	uppyUnknown // a path or method that is none of the above
	numUppyCalls
)

var uppyCallNames = [numUppyCalls]string{"uppy_params", "uppy_create", "uppy_sign_part", "uppy_sign_batch",
	"uppy_list", "uppy_complete", "uppy_abort", "uppy_unknown"}

// The outcomes of uppy calls, by the status of the answer.
const (
	uppyOK = iota
	uppyBadRequest
	uppyForbidden
	uppyNotFound
	uppyTooLarge
	uppyUnavailable
	uppyStoreError
	uppyFailed
	numUppyOutcomes
)

var uppyOutcomeNames = [numUppyOutcomes]string{"ok", "bad_request", "forbidden", "not_found", "too_large",
	"unavailable", "store_error", "error"}

func uppyOutcome(status int) int {
	switch {
	case status < 300:
		return uppyOK
	case status == http.StatusForbidden:
		return uppyForbidden
	case status == http.StatusNotFound:
		return uppyNotFound
	case status == http.StatusRequestEntityTooLarge:
		return uppyTooLarge
	case status == http.StatusServiceUnavailable:
		return uppyUnavailable
	case status == http.StatusBadGateway:
		return uppyStoreError
	case status < 500:
		return uppyBadRequest
	}
	return uppyFailed
}

// uppyRule is what a rule with the uppy option needs beyond a rule.
type uppyRule struct {
	mp      signers.Multipart
	key     []keyPiece                                 // the key template
	answers [numUppyCalls][numUppyOutcomes]counterSlot // see ruleMetrics
}

// keyPiece is a piece of an uppy key template: literal text and other
// placeholders (expanded per request), or one of the parts the client
// chooses.
type keyPiece struct {
	text string // free == 0: the template text, placeholders included
	free byte   // 'f': {presign.filename}; 'u': {presign.uuid}
}

// provisionUppy checks a rule with the uppy option and prepares it, before
// the rule's defaults are filled; its key's default is
// "{presign.uuid}/{presign.filename}".
func (r *Rule) provisionUppy() error {
	mp, ok := r.signer.(signers.Multipart)
	if !ok {
		return fmt.Errorf("profile %q cannot run uppy uploads (S3 profiles can)", r.Profile)
	}
	if r.Key == "" {
		r.Key = uuidPlaceholder + "/" + filenamePlaceholder
	}
	if strings.Contains(r.Key, pathPlaceholder) {
		return fmt.Errorf("the key of an uppy rule cannot use %s (the protocol's paths); use %s and %s", pathPlaceholder, filenamePlaceholder, uuidPlaceholder)
	}
	if r.Stable != 0 || r.Respond != "" || r.Status != 0 || len(r.Methods) != 0 {
		return errors.New("methods, stable, respond and status do not apply to an uppy rule")
	}
	r.uppy = &uppyRule{mp: mp, key: parseUppyKey(r.Key)}
	return nil
}

// parseUppyKey splits t at {presign.filename} and {presign.uuid}.
func parseUppyKey(t string) []keyPiece {
	var pieces []keyPiece
	for t != "" {
		i, free, n := len(t), byte(0), 0
		if j := strings.Index(t, filenamePlaceholder); j >= 0 {
			i, free, n = j, 'f', len(filenamePlaceholder)
		}
		if j := strings.Index(t, uuidPlaceholder); j >= 0 && j < i {
			i, free, n = j, 'u', len(uuidPlaceholder)
		}
		if i > 0 {
			pieces = append(pieces, keyPiece{text: t[:i]})
		}
		if free != 0 {
			pieces = append(pieces, keyPiece{free: free})
		}
		t = t[i+n:]
	}
	return pieces
}

// expandUppyKey expands the request's own placeholders of the pieces;
// the free pieces stay.
func expandUppyKey(pieces []keyPiece, repl *caddy.Replacer) []keyPiece {
	out := make([]keyPiece, len(pieces))
	for i, p := range pieces {
		out[i] = p
		if p.free == 0 && strings.IndexByte(p.text, '{') >= 0 {
			out[i].text = repl.ReplaceAll(p.text, "")
		}
	}
	return out
}

// uppyKey is the key of a new upload of the file name, with a fresh
// random ID.
func uppyKey(pieces []keyPiece, name string) string {
	var b strings.Builder
	id := newUUID()
	for _, p := range pieces {
		switch p.free {
		case 'f':
			b.WriteString(name)
		case 'u':
			b.WriteString(id)
		default:
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// keyAllowed tells whether the expanded pieces could have produced key:
// the literal pieces equal, each free piece a valid file name or UUID,
// and a placeholder used twice the same value both times.
func keyAllowed(pieces []keyPiece, key string) bool {
	return matchPieces(pieces, key, "", "")
}

func matchPieces(pieces []keyPiece, key, name, id string) bool {
	if len(pieces) == 0 {
		return key == ""
	}
	p := pieces[0]
	switch p.free {
	case 0:
		return strings.HasPrefix(key, p.text) && matchPieces(pieces[1:], key[len(p.text):], name, id)
	case 'u':
		if len(key) < 36 || !validUUID(key[:36]) || id != "" && key[:36] != id {
			return false
		}
		return matchPieces(pieces[1:], key[36:], name, key[:36])
	}
	// a file name: no "/", so it ends before the next one at the latest
	end := strings.IndexByte(key, '/')
	if end < 0 {
		end = len(key)
	}
	for i := end; i > 0; i-- {
		v := key[:i]
		if (name == "" || v == name) && checkFilename(v) == "" && matchPieces(pieces[1:], key[i:], v, id) {
			return true
		}
	}
	return false
}

// checkFilename returns why name cannot be {presign.filename}, or "" when
// it can: one key segment, valid UTF-8, not empty, ".", or "..", without
// "/", "\" or control characters.
func checkFilename(name string) string {
	if strings.IndexByte(name, '/') >= 0 {
		return "slash in file name"
	}
	if why := checkKey(name); why != "" {
		return strings.Replace(strings.Replace(why, "key", "file name", 1), "dot segment in", ". or .. as", 1)
	}
	return ""
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// validUUID tells whether s is shaped as newUUID makes them.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// validUploadID accepts the upload IDs of S3 and S3-compatible stores:
// 1 to 1024 bytes of letters, digits and ._~+=-.
func validUploadID(id string) bool {
	if id == "" || len(id) > maxUploadID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._~+=-", c) >= 0) {
			return false
		}
	}
	return true
}

// parsePartNumber parses a part number, 1 to 10000; 0 when it is not one.
func parsePartNumber(s string) int32 {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxParts {
		return 0
	}
	return int32(n)
}

// uppyError is an answer other than 200: its status and the short reason
// sent as {"error": reason}.
type uppyError struct {
	status int
	reason string
	err    error // for the log; nil when the reason says it all
}

func badRequest(reason string) *uppyError {
	return &uppyError{status: http.StatusBadRequest, reason: reason}
}

// storeFailure turns the error of a profile's API call into an answer,
// with the status and reason that browse and check_exists give too.
func storeFailure(err error) *uppyError {
	se := storeErrorOf(err)
	return &uppyError{status: se.Status, reason: se.Reason, err: err}
}

// signFailure turns the error of presigning into an answer.
func signFailure(err error) *uppyError {
	if errors.Is(err, signers.ErrCredentials) {
		return &uppyError{status: http.StatusServiceUnavailable, reason: "credentials unavailable", err: err}
	}
	return &uppyError{status: http.StatusInternalServerError, reason: "internal error", err: err}
}

// uppyCall is one request of the protocol being answered.
type uppyCall struct {
	h        *Handler
	rule     *Rule
	w        http.ResponseWriter
	r        *http.Request
	pieces   []keyPiece // the key template, the request's placeholders expanded
	uploadID string
	sub      string // what follows the upload ID in the path: a part number, batch, complete
	key      string
}

// serveUppy answers a request of Uppy's S3 protocol for rule.
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
	fields := []zap.Field{zap.String("rule", rule.name), zap.String("profile", rule.Profile),
		zap.String("call", uppyCallNames[call]), zap.Int("status", e.status), zap.String("reason", e.reason)}
	if c.key != "" {
		fields = append(fields, zap.String("key", c.key))
	}
	if e.err != nil {
		fields = append(fields, zap.Error(e.err))
	}
	if e.status >= 500 {
		h.logger.Error("uppy call failed", fields...)
	} else if ce := h.logger.Check(zapcore.DebugLevel, "uppy call refused"); ce != nil {
		ce.Write(fields...)
	}
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	return writeJSON(w, e.status, map[string]string{"error": e.reason})
}

// route finds the call of the path p ({presign.path}) and the request's
// method, and checks the upload ID of the path.
func (c *uppyCall) route(p string) (int, *uppyError) {
	m := c.r.Method
	rest, ok := strings.CutPrefix(p, "s3/multipart")
	switch {
	case p == "s3/params":
		return c.method(uppyParams, m == http.MethodGet, "GET")
	case !ok || rest != "" && rest[0] != '/':
		return uppyUnknown, &uppyError{status: http.StatusNotFound, reason: "not an uppy call"}
	case rest == "":
		return c.method(uppyCreate, m == http.MethodPost, "POST")
	}
	id, sub, _ := strings.Cut(rest[1:], "/")
	if !validUploadID(id) {
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
func (c *uppyCall) method(call int, ok bool, allow string) (int, *uppyError) {
	if ok {
		return call, nil
	}
	c.w.Header().Set("Allow", allow)
	return call, &uppyError{status: http.StatusMethodNotAllowed, reason: "method not allowed"}
}

// serve answers the call, routed already.
func (c *uppyCall) serve(call int) *uppyError {
	repl, _ := c.r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	c.pieces = expandUppyKey(c.rule.uppy.key, repl)
	if call != uppyParams && call != uppyCreate {
		c.key = c.r.URL.Query().Get("key")
		if c.key == "" {
			return badRequest("missing key")
		}
		if checkKey(c.key) != "" || !keyAllowed(c.pieces, c.key) {
			return &uppyError{status: http.StatusForbidden, reason: "key not allowed"}
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
func (c *uppyCall) newKey(name, contentType string) *uppyError {
	if why := checkFilename(name); why != "" {
		return badRequest(why)
	}
	if why, _ := checkContentType(contentType, c.rule.ContentTypePrefix); why != "" {
		return badRequest(why)
	}
	c.key = uppyKey(c.pieces, name)
	if why := checkKey(c.key); why != "" {
		return badRequest(why)
	}
	return nil
}

// params answers GET s3/params with a POST policy form for one request.
func (c *uppyCall) params() *uppyError {
	q := c.r.URL.Query()
	contentType := q.Get("type")
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if e := c.newKey(q.Get("filename"), contentType); e != nil {
		return e
	}
	sreq := c.signRequest(http.MethodPost)
	signed, err := sign(c.r.Context(), c.rule.signer, &sreq)
	if err != nil {
		return signFailure(err)
	}
	// Uppy appends only the file: the Content-Type the policy asks for
	// must be among the fields
	signed.Fields["Content-Type"] = contentType
	c.logAnswer(uppyParams)
	return c.answer(struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Fields  map[string]string `json:"fields"`
		Expires int64             `json:"expires"`
	}{http.MethodPost, signed.URL, signed.Fields, c.secondsLeft(signed.ExpiresAt)})
}

// create answers POST s3/multipart: CreateMultipartUpload.
func (c *uppyCall) create() *uppyError {
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
	id, err := c.rule.uppy.mp.CreateMultipart(c.r.Context(), c.key, body.Type, userMetadata(body.Metadata))
	if err != nil {
		return storeFailure(err)
	}
	c.uploadID = id
	c.logAnswer(uppyCreate)
	return c.answer(map[string]string{"key": c.key, "uploadId": id})
}

// userMetadata keeps of Uppy's metadata what S3 stores as x-amz-meta-*:
// names of letters, digits, '-' and '_' (lower-cased), string or number
// values of printable ASCII, 2 KB in all (S3's limit); the rest is left out.
func userMetadata(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	size := 0
	for k, v := range m {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			continue
		}
		k = strings.ToLower(k)
		if k == "" || !metaName(k) || !printableASCII(s) || size+len(k)+len(s) > 2048 {
			continue
		}
		size += len(k) + len(s)
		out[k] = s
	}
	return out
}

func metaName(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// signParts answers GET s3/multipart/{id}/{n} ({"url","expires"}), and
// for batch GET s3/multipart/{id}/batch?partNumbers=1,2
// ({"presignedUrls":{"1":url,...}}).
func (c *uppyCall) signParts(list string, batch bool) *uppyError {
	if list == "" {
		return badRequest("no part number")
	}
	if strings.Count(list, ",") >= maxParts {
		return badRequest("more than 10000 part numbers")
	}
	parts := make([]int32, 0, strings.Count(list, ",")+1)
	for s := range strings.SplitSeq(list, ",") {
		n := parsePartNumber(s)
		if n == 0 || !batch && len(parts) > 0 {
			return badRequest("part numbers are 1 to 10000")
		}
		parts = append(parts, n)
	}
	sreq := c.signRequest(http.MethodPut)
	urls, expiresAt, err := c.rule.uppy.mp.SignParts(c.r.Context(), &sreq, c.uploadID, parts)
	if err != nil {
		return signFailure(err)
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
func (c *uppyCall) list() *uppyError {
	parts, err := c.rule.uppy.mp.ListParts(c.r.Context(), c.key, c.uploadID)
	if err != nil {
		return storeFailure(err)
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
// (HeadObject) and deleted when over it (413), which holds whatever the
// store did between listing and completing.
func (c *uppyCall) complete() *uppyError {
	var body struct {
		Parts []struct {
			PartNumber int32  `json:"PartNumber"`
			ETag       string `json:"ETag"`
		} `json:"parts"`
	}
	if e := c.readJSON(2<<20, &body); e != nil {
		return e
	}
	if len(body.Parts) == 0 || len(body.Parts) > maxParts {
		return badRequest("parts: 1 to 10000 are needed")
	}
	for _, p := range body.Parts {
		if p.PartNumber < 1 || p.PartNumber > maxParts {
			return badRequest("part numbers are 1 to 10000")
		}
		if p.ETag == "" || len(p.ETag) > 256 || !printableASCII(p.ETag) {
			return badRequest("bad ETag")
		}
	}
	mp, ctx := c.rule.uppy.mp, c.r.Context()
	listed, err := mp.ListParts(ctx, c.key, c.uploadID)
	if err != nil {
		return storeFailure(err)
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
			return storeFailure(err)
		}
		return tooLarge(total, max, "aborted")
	}
	location, err := mp.CompleteMultipart(ctx, c.key, c.uploadID, parts)
	if err != nil {
		return storeFailure(err)
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
func (c *uppyCall) checkCompleted(max int64) *uppyError {
	mp, ctx := c.rule.uppy.mp, c.r.Context()
	size, err := mp.ObjectSize(ctx, c.key)
	if err == nil && size <= max {
		return nil
	}
	if derr := mp.DeleteObject(ctx, c.key); derr != nil {
		return storeFailure(derr)
	}
	if err != nil {
		return storeFailure(err)
	}
	return tooLarge(size, max, "deleted")
}

// tooLarge is the 413 of an upload of size bytes over max, and what was
// done about it.
func tooLarge(size, max int64, done string) *uppyError {
	return &uppyError{status: http.StatusRequestEntityTooLarge,
		reason: fmt.Sprintf("upload of %d bytes is over max_size %d; %s", size, max, done)}
}

// abort answers DELETE s3/multipart/{id}.
func (c *uppyCall) abort() *uppyError {
	if err := c.rule.uppy.mp.AbortMultipart(c.r.Context(), c.key, c.uploadID); err != nil {
		return storeFailure(err)
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
func (c *uppyCall) readJSON(limit int64, v any) *uppyError {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, limit+1))
	if err != nil {
		return badRequest("cannot read the body")
	}
	if int64(len(b)) > limit {
		return &uppyError{status: http.StatusRequestEntityTooLarge, reason: "body too large"}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("body is not the expected JSON")
	}
	return nil
}

// answer writes v as the 200 answer.
func (c *uppyCall) answer(v any) *uppyError {
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
