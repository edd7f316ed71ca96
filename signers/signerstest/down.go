package signerstest

import (
	"net"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// downStore is a store that fails as one down does: its URL, and the
// causes a call's error may name, one of which it must.
type downStore struct {
	name, url string
	causes    []string
}

// resetCauses are what a reset shows as: to a reader "connection reset"
// (or EOF, before it reads), to a writer of a body "broken pipe", or the
// connection closed under it.
var resetCauses = []string{"connection reset", "EOF", "broken pipe", "use of closed network connection"}

// downStores are a store at an address where nothing listens (connection
// refused) and one that resets every connection once it has read the
// request (connection reset).
func downStores(t *testing.T) []downStore {
	return []downStore{
		{"refused", DownURL(), []string{"connection refused"}},
		{"reset", resetting(t, nil), resetCauses},
	}
}

// cutStore is a store that answers every request 200 with the head of a
// long body, then resets the connection: a listing cut off while it is
// read.
func cutStore(t *testing.T) downStore {
	return downStore{"cut", resetting(t, []byte("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 100000\r\n\r\n"+
		`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>`)), resetCauses}
}

// resetting serves a loopback address where each connection's request is
// read, answered with answer (if any), then reset; it returns the URL.
func resetting(t *testing.T, answer []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = c.Read(make([]byte, 4096)) // the request (its head at least)
				if answer != nil {
					_, _ = c.Write(answer)
					time.Sleep(50 * time.Millisecond) // for the client to read it
				}
				_ = c.(*net.TCPConn).SetLinger(0) // close with a reset
				_ = c.Close()
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// DownURL is the URL of a loopback address where nothing listens: an
// endpoint that is down, whose calls fail with "connection refused".
func DownURL() string {
	srv := httptest.NewServer(nil)
	srv.Close()
	return srv.URL
}

// AddressIn is the part of the address of the endpoint at rawURL that text
// holds, its host or its port, or "" for none (a URL that does not parse
// is all held, so that no check passes by it): the house rule is that no
// error holds an internal address.
func AddressIn(text, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	for _, addr := range []string{u.Hostname(), ":" + u.Port()} {
		if strings.Contains(text, addr) {
			return addr
		}
	}
	return ""
}

// checkNoAddress checks that err, of a call to the down store d, names its
// cause but not the store's address (AddressIn). Only an error is checked;
// checkStatus checks that there is one.
func checkNoAddress(t *testing.T, what string, err error, d downStore) {
	t.Helper()
	if err == nil {
		return
	}
	text := err.Error()
	if addr := AddressIn(text, d.url); addr != "" {
		t.Errorf("%s, store %s: the error %q holds the store's address (%s)", what, d.name, text, addr)
	}
	if !slices.ContainsFunc(d.causes, func(c string) bool { return strings.Contains(text, c) }) {
		t.Errorf("%s, store %s: the error %q does not name the cause, one of %q", what, d.name, text, d.causes)
	}
}
